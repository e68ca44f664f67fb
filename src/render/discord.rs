//! Discord message rendering (content, embeds, components) within Discord's limits, which
//! serenity mostly does not check: 2000 characters of content, 10 embeds per message, per
//! embed 256 title / 4096 description / 25 fields of 1024, 6000 characters across a message's
//! embeds. The first message is the headline; the others go in its thread.

use serde::Serialize;
use serde_json::{Value, json};

use super::{Flavor, section_markdown, split};
use crate::knowledge::model::Severity;
use crate::reply::{Action, ActionStyle, Answer, AnswerKind, Reply};

/// Characters of message content.
pub const CONTENT_MAX: usize = 2000;
/// Embeds per message.
pub const EMBEDS_MAX: usize = 10;
/// Characters of an embed title.
pub const EMBED_TITLE_MAX: usize = 256;
/// Characters of an embed description.
pub const EMBED_DESCRIPTION_MAX: usize = 4096;
/// Fields per embed.
pub const EMBED_FIELDS_MAX: usize = 25;
/// Characters of a field value.
pub const EMBED_FIELD_VALUE_MAX: usize = 1024;
/// Characters across all embeds of one message.
pub const EMBED_TOTAL_MAX: usize = 6000;
/// Characters of a button label.
pub const BUTTON_LABEL_MAX: usize = 80;
/// Buttons per action row.
pub const BUTTONS_PER_ROW: usize = 5;
/// Characters of a component custom_id.
pub const CUSTOM_ID_MAX: usize = 100;

/// One Discord message payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiscordMessage {
    /// Text content.
    pub content: String,
    /// Embeds.
    pub embeds: Vec<Embed>,
    /// Action rows of buttons.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Value>,
}

/// An embed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Embed {
    /// Title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Description.
    pub description: String,
    /// Side colour.
    pub color: u32,
    /// Inline fields.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
}

/// An embed field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
    /// Shown side by side.
    pub inline: bool,
}

impl Embed {
    /// Characters counted towards the 6000 per-message limit.
    pub fn size(&self) -> usize {
        self.title.as_deref().map_or(0, |t| t.chars().count())
            + self.description.chars().count()
            + self
                .fields
                .iter()
                .map(|f| f.name.chars().count() + f.value.chars().count())
                .sum::<usize>()
    }
}

fn color(sev: Severity, security: bool) -> u32 {
    if security {
        return 0x00b0_1e2e;
    }
    match sev {
        Severity::Low => 0x0058_a6ff,
        Severity::Medium => 0x00e3_b341,
        Severity::High => 0x00f0_8c00,
        Severity::Critical => 0x00d0_3030,
    }
}

/// `s` cut to `max` characters, ending in `…` when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut o: String = s.chars().take(max - 1).collect();
        o.push('…');
        o
    }
}

fn buttons(actions: &[Action]) -> Vec<Value> {
    actions
        .chunks(BUTTONS_PER_ROW)
        .map(|row| {
            json!({
                "type": 1,
                "components": row.iter().map(|a| json!({
                    "type": 2,
                    "style": match a.style { ActionStyle::Primary => 1, ActionStyle::Normal => 2, ActionStyle::Danger => 4 },
                    "label": clip(&a.label, BUTTON_LABEL_MAX),
                    "custom_id": clip(&a.id, CUSTOM_ID_MAX),
                })).collect::<Vec<_>>(),
            })
        })
        .take(5)
        .collect()
}

/// Embeds for a titled text, split at `EMBED_DESCRIPTION_MAX`.
fn embeds(title: &str, text: &str, color: u32) -> Vec<Embed> {
    let parts = split(text, EMBED_DESCRIPTION_MAX);
    let n = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, d)| Embed {
            title: Some(clip(
                &if i == 0 {
                    title.to_string()
                } else {
                    format!("{title} (cont. {}/{n})", i + 1)
                },
                EMBED_TITLE_MAX,
            )),
            description: d,
            color,
            fields: Vec::new(),
        })
        .collect()
}

/// Packs embeds into messages (10 per message, 6000 characters across them).
fn pack(all: Vec<Embed>) -> Vec<DiscordMessage> {
    let mut out = Vec::new();
    let mut cur: Vec<Embed> = Vec::new();
    let mut size = 0;
    for e in all {
        let s = e.size();
        if !cur.is_empty() && (cur.len() == EMBEDS_MAX || size + s > EMBED_TOTAL_MAX) {
            out.push(DiscordMessage {
                content: String::new(),
                embeds: std::mem::take(&mut cur),
                components: vec![],
            });
            size = 0;
        }
        size += s;
        cur.push(e);
    }
    if !cur.is_empty() {
        out.push(DiscordMessage {
            content: String::new(),
            embeds: cur,
            components: vec![],
        });
    }
    out
}

/// Content messages for text longer than `CONTENT_MAX`.
fn contents(text: &str) -> Vec<DiscordMessage> {
    split(text, CONTENT_MAX)
        .into_iter()
        .map(|c| DiscordMessage {
            content: c,
            embeds: vec![],
            components: vec![],
        })
        .collect()
}

/// Renders a reply: the first message is the headline, the others go in its thread.
pub fn render(reply: &Reply) -> Vec<DiscordMessage> {
    let f = Flavor::Discord;
    let notices: Vec<String> = reply
        .notices()
        .iter()
        .map(|n| format!(":warning: {}", n.text))
        .collect();
    match reply {
        Reply::Answer(a) => answer(a, &notices),
        Reply::PickList(p) => {
            let mut text = p.prompt.clone();
            for n in &notices {
                text.push_str(&format!("\n{n}"));
            }
            for (i, o) in p.options.iter().enumerate() {
                text.push_str(&format!(
                    "\n**{}. {}** `{}` ({:.0}%)\n{}",
                    i + 1,
                    o.title,
                    o.scenario_id,
                    o.score * 100.0,
                    o.summary
                ));
            }
            let mut msgs = contents(&text);
            let acts: Vec<Action> = p
                .options
                .iter()
                .enumerate()
                .map(|(i, o)| Action {
                    id: o.action.id.clone(),
                    label: format!("{}. {}", i + 1, o.title),
                    style: ActionStyle::Normal,
                })
                .collect();
            if let Some(last) = msgs.last_mut() {
                last.components = buttons(&acts);
            }
            msgs
        }
        Reply::NoMatch(n) => {
            let mut text = n.text.clone();
            for x in &notices {
                text.push_str(&format!("\n{x}"));
            }
            for (cat, items) in &n.categories {
                text.push_str(&format!("\n**{cat}**"));
                for (id, _) in items {
                    text.push_str(&format!("\n• `{id}`"));
                }
            }
            contents(&text)
        }
        Reply::Definition(d) => {
            let mut text = d.definition.clone();
            if !d.related.is_empty() {
                let rel: Vec<String> = d.related.iter().map(|(id, t)| format!("• `{id}`: {t}")).collect();
                text.push_str(&format!("\n\n**Related scenarios**\n{}", rel.join("\n")));
            }
            if !d.sources.is_empty() {
                let links: Vec<String> = d
                    .sources
                    .iter()
                    .map(|l| format!("• [{}](<{}>)", l.label, l.url))
                    .collect();
                text.push_str(&format!("\n\n**Sources**\n{}", links.join("\n")));
            }
            let mut msgs = pack(embeds(&d.term, &text, 0x0058_a6ff));
            let _ = f;
            if msgs.is_empty() {
                msgs = contents(&d.term);
            }
            msgs
        }
    }
}

fn answer(a: &Answer, notices: &[String]) -> Vec<DiscordMessage> {
    let f = Flavor::Discord;
    let c = color(a.severity, a.security_incident);
    let tag = match (a.kind, a.confidence) {
        (AnswerKind::Diagnosis, Some(x)) => format!("{:.0}% match", x * 100.0),
        (AnswerKind::Escalation, _) => "escalation".to_string(),
        _ => "explained".to_string(),
    };
    let mut content = format!(
        "{} **{}** · {tag}",
        if a.security_incident {
            ":rotating_light:"
        } else {
            ":mag:"
        },
        a.title
    );
    for n in notices {
        content.push('\n');
        content.push_str(n);
    }
    let mut head = contents(&content);
    let mut desc = a.summary.clone();
    desc.push_str("\nDetails in the thread.");
    let headline_embed = Embed {
        title: None,
        description: clip(&desc, EMBED_DESCRIPTION_MAX),
        color: c,
        fields: vec![
            Field {
                name: "Scenario".into(),
                value: format!("`{}`", clip(&a.scenario_id, EMBED_FIELD_VALUE_MAX - 2)),
                inline: true,
            },
            Field {
                name: "Severity".into(),
                value: a.severity.as_str().to_string(),
                inline: true,
            },
            Field {
                name: "Category".into(),
                value: clip(&a.category, EMBED_FIELD_VALUE_MAX),
                inline: true,
            },
        ],
    };
    if let Some(last) = head.last_mut() {
        last.embeds.push(headline_embed);
        last.components = buttons(&a.actions);
    }
    let mut detail = Vec::new();
    for s in &a.sections {
        detail.extend(embeds(&s.title, &section_markdown(f, s), c));
    }
    head.extend(pack(detail));
    head
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::{Block, Section, SectionKind};

    #[test]
    fn every_message_within_limits() {
        let text: String = (0..3000).map(|i| format!("line {i} of a very long cause\n")).collect();
        let a = Answer {
            kind: AnswerKind::Explanation,
            scenario_id: "x".into(),
            title: "T".repeat(300),
            summary: "S".into(),
            confidence: None,
            severity: Severity::High,
            category: "c".into(),
            security_incident: false,
            notices: vec![],
            sections: (0..3)
                .map(|_| Section {
                    kind: SectionKind::Cause,
                    title: "Root cause".into(),
                    blocks: vec![Block::Text(text.clone())],
                })
                .collect(),
            actions: vec![],
        };
        let msgs = render(&Reply::Answer(a));
        assert!(msgs.len() > 5);
        for m in &msgs {
            assert!(m.content.chars().count() <= CONTENT_MAX);
            assert!(m.embeds.len() <= EMBEDS_MAX);
            assert!(m.embeds.iter().map(Embed::size).sum::<usize>() <= EMBED_TOTAL_MAX);
            for e in &m.embeds {
                assert!(e.description.chars().count() <= EMBED_DESCRIPTION_MAX);
                assert!(e.title.as_deref().map_or(0, |t| t.chars().count()) <= EMBED_TITLE_MAX);
            }
        }
    }
}

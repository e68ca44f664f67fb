//! Slack Block Kit rendering. The first message is the channel-level headline; the rest are
//! thread replies. Limits are Slack's: 3000 characters per section text, 50 blocks per
//! message, and a conservative budget for the whole message (`msg_blocks_too_long`).

use serde::Serialize;
use serde_json::{Value, json};

use super::{Flavor, escape, section_markdown, split};
use crate::reply::{Action, ActionStyle, Answer, AnswerKind, Reply};

/// Characters in one section block's text.
pub const SECTION_TEXT_MAX: usize = 3000;
/// Blocks in one message.
pub const BLOCKS_MAX: usize = 50;
/// Characters of block text per message (Slack rejects much larger block payloads).
pub const MESSAGE_TEXT_BUDGET: usize = 11_000;
/// Characters of the `text` fallback.
pub const FALLBACK_MAX: usize = 3000;
/// Characters of a button label.
pub const BUTTON_TEXT_MAX: usize = 75;

/// One `chat.postMessage` payload (without channel and thread_ts).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlackMessage {
    /// Plain-text fallback for notifications and screen readers.
    pub text: String,
    /// Block Kit blocks.
    pub blocks: Vec<Value>,
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

fn context(text: &str) -> Value {
    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
}

fn button(a: &Action, value: &str) -> Value {
    let mut b = json!({
        "type": "button",
        "action_id": a.id,
        "value": value,
        "text": {"type": "plain_text", "text": clip(&a.label, BUTTON_TEXT_MAX), "emoji": true},
    });
    match a.style {
        ActionStyle::Primary => b["style"] = json!("primary"),
        ActionStyle::Danger => b["style"] = json!("danger"),
        ActionStyle::Normal => {}
    }
    b
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut o: String = s.chars().take(max - 1).collect();
        o.push('…');
        o
    }
}

/// Section blocks for a long mrkdwn text, each within `SECTION_TEXT_MAX`.
fn sections(text: &str) -> Vec<Value> {
    split(text, SECTION_TEXT_MAX).iter().map(|t| section(t)).collect()
}

fn block_len(b: &Value) -> usize {
    b.pointer("/text/text")
        .and_then(Value::as_str)
        .map_or(0, |t| t.chars().count())
        + b.pointer("/elements/0/text")
            .and_then(Value::as_str)
            .map_or(0, |t| t.chars().count())
}

/// Packs blocks into messages within the block and size limits.
fn pack(blocks: Vec<Value>, fallback: &str) -> Vec<SlackMessage> {
    let mut out: Vec<SlackMessage> = Vec::new();
    let mut cur: Vec<Value> = Vec::new();
    let mut size = 0;
    for b in blocks {
        let len = block_len(&b);
        if !cur.is_empty() && (cur.len() + 1 > BLOCKS_MAX || size + len > MESSAGE_TEXT_BUDGET) {
            out.push(SlackMessage {
                text: String::new(),
                blocks: std::mem::take(&mut cur),
            });
            size = 0;
        }
        size += len;
        cur.push(b);
    }
    if !cur.is_empty() {
        out.push(SlackMessage {
            text: String::new(),
            blocks: cur,
        });
    }
    let n = out.len();
    for (i, m) in out.iter_mut().enumerate() {
        let part = if n > 1 {
            format!(" (part {}/{n})", i + 1)
        } else {
            String::new()
        };
        m.text = clip(&format!("{fallback}{part}"), FALLBACK_MAX);
    }
    out
}

/// Renders a reply: the first message is the headline, the others go in its thread.
pub fn render(reply: &Reply) -> Vec<SlackMessage> {
    let f = Flavor::Slack;
    let notice_blocks: Vec<Value> = reply
        .notices()
        .iter()
        .flat_map(|n| sections(&format!(":warning: {}", escape(f, &n.text))))
        .collect();
    match reply {
        Reply::Answer(a) => answer(a, notice_blocks),
        Reply::PickList(p) => {
            let mut blocks = sections(&escape(f, &p.prompt));
            blocks.extend(notice_blocks);
            for o in &p.options {
                let mut s = section(&clip(
                    &format!(
                        "*{}*  `{}` ({:.0}%)\n{}",
                        escape(f, &o.title),
                        o.scenario_id,
                        o.score * 100.0,
                        escape(f, &o.summary)
                    ),
                    SECTION_TEXT_MAX,
                ));
                s["accessory"] = button(
                    &Action {
                        id: o.action.id.clone(),
                        label: "This one".to_string(),
                        style: ActionStyle::Primary,
                    },
                    &o.scenario_id,
                );
                blocks.push(s);
            }
            pack(blocks, &p.prompt)
        }
        Reply::NoMatch(n) => {
            let mut blocks = sections(&escape(f, &n.text));
            blocks.extend(notice_blocks);
            for (cat, items) in &n.categories {
                let list: Vec<String> = items
                    .iter()
                    .map(|(id, t)| format!("• `{id}`: {}", escape(f, t)))
                    .collect();
                blocks.extend(sections(&format!("*{cat}*\n{}", list.join("\n"))));
            }
            pack(blocks, "No known IMDS / EC2-IAM scenario matched.")
        }
        Reply::Definition(d) => {
            let mut text = format!("*{}*\n{}", escape(f, &d.term), escape(f, &d.definition));
            if !d.related.is_empty() {
                let rel: Vec<String> = d
                    .related
                    .iter()
                    .map(|(id, t)| format!("• `{id}`: {}", escape(f, t)))
                    .collect();
                text.push_str(&format!("\n\n*Related scenarios*\n{}", rel.join("\n")));
            }
            let mut blocks = sections(&text);
            if !d.sources.is_empty() {
                let links: Vec<String> = d
                    .sources
                    .iter()
                    .map(|l| format!("<{}|{}>", l.url, escape(f, &l.label)))
                    .collect();
                blocks.push(context(&clip(&links.join(" · "), SECTION_TEXT_MAX)));
            }
            pack(blocks, &format!("{}: {}", d.term, d.definition))
        }
    }
}

fn answer(a: &Answer, notice_blocks: Vec<Value>) -> Vec<SlackMessage> {
    let f = Flavor::Slack;
    let tag = match (a.kind, a.confidence) {
        (AnswerKind::Diagnosis, Some(c)) => format!("{:.0}% match", c * 100.0),
        (AnswerKind::Escalation, _) => "escalation".to_string(),
        _ => "explained".to_string(),
    };
    let mut head = sections(&format!(
        "{}*{}*\n{}",
        if a.security_incident {
            ":rotating_light: "
        } else {
            ":mag: "
        },
        escape(f, &a.title),
        escape(f, &a.summary)
    ));
    head.push(context(&format!(
        "`{}` · {tag} · severity {} · {}{} · details in the thread",
        a.scenario_id,
        a.severity.as_str(),
        a.category,
        if a.security_incident {
            " · *security incident*"
        } else {
            ""
        }
    )));
    head.extend(notice_blocks);
    if !a.actions.is_empty() {
        head.push(json!({
            "type": "actions",
            "block_id": format!("answer:{}", a.scenario_id),
            "elements": a.actions.iter().map(|x| button(x, &a.scenario_id)).collect::<Vec<_>>(),
        }));
    }
    let mut messages = pack(head, &format!("{} ({}, {tag}): {}", a.title, a.scenario_id, a.summary));
    let mut detail = Vec::new();
    for s in &a.sections {
        detail.extend(sections(&format!("*{}*\n{}", s.title, section_markdown(f, s))));
    }
    let titles: Vec<&str> = a.sections.iter().map(|s| s.title.as_str()).collect();
    messages.extend(pack(detail, &format!("{} for {}", titles.join(", "), a.scenario_id)));
    messages
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::{Block, Section, SectionKind};

    #[test]
    fn long_answers_split_within_limits() {
        let code: String = (0..2000)
            .map(|i| format!("aws ec2 describe-instances --instance-ids i-{i:017x}\n"))
            .collect();
        let a = Answer {
            kind: AnswerKind::Explanation,
            scenario_id: "x".into(),
            title: "T".into(),
            summary: "S".into(),
            confidence: None,
            severity: crate::knowledge::model::Severity::Low,
            category: "c".into(),
            security_incident: false,
            notices: vec![],
            sections: vec![Section {
                kind: SectionKind::Fix,
                title: "Fix".into(),
                blocks: vec![Block::Code {
                    lang: "bash".into(),
                    code: code.clone(),
                }],
            }],
            actions: vec![],
        };
        let msgs = render(&Reply::Answer(a));
        assert!(msgs.len() > 3);
        for m in &msgs {
            assert!(m.blocks.len() <= BLOCKS_MAX);
            assert!(m.text.chars().count() <= FALLBACK_MAX);
            for b in &m.blocks {
                assert!(block_len(b) <= SECTION_TEXT_MAX);
            }
        }
        let all: String = msgs
            .iter()
            .flat_map(|m| m.blocks.iter())
            .filter_map(|b| b.pointer("/text/text")?.as_str().map(str::to_string))
            .collect();
        assert!(all.contains("i-000000000000007cf"));
    }
}

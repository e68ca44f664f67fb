//! Terminal rendering: the thread as it would appear in chat, in plain text.

use super::{Flavor, section_markdown};
use crate::reply::{Action, Answer, AnswerKind, Reply};

/// Renders a reply as the chat thread would look, for a terminal.
pub fn render(reply: &Reply) -> String {
    let mut out = String::new();
    match reply {
        Reply::Answer(a) => answer(&mut out, a),
        Reply::PickList(p) => {
            out.push_str("imdsbot  [ambiguous]\n");
            out.push_str(&p.prompt);
            out.push('\n');
            notices(&mut out, reply);
            for (i, o) in p.options.iter().enumerate() {
                out.push_str(&format!(
                    "\n  {}. {}  ({}, {:.0}%)\n     {}\n     [ {} ]\n",
                    i + 1,
                    o.title,
                    o.scenario_id,
                    o.score * 100.0,
                    o.summary,
                    o.action.label
                ));
            }
        }
        Reply::NoMatch(n) => {
            out.push_str("imdsbot  [no match]\n");
            out.push_str(&n.text);
            out.push('\n');
            notices(&mut out, reply);
            for (cat, items) in &n.categories {
                out.push_str(&format!("\n  {cat}\n"));
                for (id, title) in items {
                    out.push_str(&format!("    {id:<46} {title}\n"));
                }
            }
        }
        Reply::Definition(d) => {
            out.push_str(&format!("imdsbot  [glossary]\n{}\n\n{}\n", d.term, d.definition));
            if !d.related.is_empty() {
                out.push_str("\nRelated scenarios:\n");
                for (id, title) in &d.related {
                    out.push_str(&format!("  {id:<46} {title}\n"));
                }
            }
            if !d.sources.is_empty() {
                out.push_str("\nSources:\n");
                for s in &d.sources {
                    out.push_str(&format!("  {}\n    {}\n", s.label, s.url));
                }
            }
        }
    }
    out
}

fn answer(out: &mut String, a: &Answer) {
    let tag = match (a.kind, a.confidence) {
        (AnswerKind::Diagnosis, Some(c)) => format!("match {:.0}%", c * 100.0),
        (AnswerKind::Escalation, _) => "escalation".to_string(),
        _ => "explain".to_string(),
    };
    out.push_str(&format!(
        "imdsbot  [{tag} · severity {} · {}{}]\n",
        a.severity.as_str(),
        a.category,
        if a.security_incident {
            " · SECURITY INCIDENT"
        } else {
            ""
        }
    ));
    out.push_str(&format!("{}  ({})\n{}\n", a.title, a.scenario_id, a.summary));
    for n in &a.notices {
        out.push_str(&format!("! {}\n", n.text));
    }
    out.push_str(&buttons(&a.actions));
    let total = a.sections.len();
    for (i, s) in a.sections.iter().enumerate() {
        out.push_str(&format!("\n  ↳ thread reply {}/{}: {}\n", i + 1, total, s.title));
        for line in section_markdown(Flavor::Plain, s).lines() {
            if line.is_empty() {
                out.push('\n');
            } else {
                out.push_str(&format!("    {line}\n"));
            }
        }
    }
}

fn notices(out: &mut String, reply: &Reply) {
    for n in reply.notices() {
        out.push_str(&format!("! {}\n", n.text));
    }
}

fn buttons(actions: &[Action]) -> String {
    if actions.is_empty() {
        return String::new();
    }
    let b: Vec<String> = actions.iter().map(|a| format!("[ {} ]", a.label)).collect();
    format!("{}\n", b.join(" "))
}

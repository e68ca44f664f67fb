//! Pure renderers of a `Reply`: terminal text, JSON, Slack Block Kit and Discord messages.
//! No I/O; each renderer enforces its platform's limits by splitting into more messages or
//! blocks, never by cutting text.
//!
//! Must not import the adapters.

pub mod discord;
pub mod json;
pub mod slack;
pub mod text;

use crate::reply::{Block, Section};

/// Markup dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Slack mrkdwn: `*bold*`, `<url|label>`.
    Slack,
    /// Discord markdown: `**bold**`, `[label](url)`.
    Discord,
    /// Plain terminal text.
    Plain,
}

impl Flavor {
    /// Bold text.
    pub fn bold(self, s: &str) -> String {
        match self {
            Flavor::Slack => format!("*{s}*"),
            Flavor::Discord => format!("**{s}**"),
            Flavor::Plain => s.to_string(),
        }
    }

    fn link(self, url: &str, label: &str) -> String {
        match self {
            Flavor::Slack => format!("<{url}|{}>", label.replace(['<', '>', '|'], " ")),
            Flavor::Discord => format!("[{}](<{url}>)", label.replace(['[', ']'], " ")),
            Flavor::Plain => format!("{label}\n    {url}"),
        }
    }
}

/// Escapes characters with special meaning in the flavor's text (Slack: `&`, `<`, `>`).
pub fn escape(flavor: Flavor, s: &str) -> String {
    match flavor {
        Flavor::Slack => s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;"),
        _ => s.to_string(),
    }
}

/// Renders a block as markdown pieces; each piece is an indivisible unit for splitting except
/// code, which `split` may break between lines (re-fencing each part).
pub fn block_markdown(flavor: Flavor, block: &Block) -> String {
    match block {
        Block::Text(t) => escape(flavor, t),
        Block::Step {
            number,
            text,
            on_instance,
        } => {
            let on = if *on_instance { " _(on the instance)_" } else { "" };
            let on = if flavor == Flavor::Plain && *on_instance {
                " (on the instance)"
            } else {
                on
            };
            format!("{number}. {}{on}", escape(flavor, text))
        }
        Block::Code { lang, code } => {
            let code = match flavor {
                Flavor::Slack => escape(flavor, code),
                _ => code.replace("```", "`\u{200b}``"),
            };
            match flavor {
                Flavor::Discord => format!("```{lang}\n{code}\n```"),
                Flavor::Slack => format!("```\n{code}\n```"),
                Flavor::Plain => code.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n"),
            }
        }
        Block::Bullets(items) => items
            .iter()
            .map(|i| format!("• {}", escape(flavor, i)))
            .collect::<Vec<_>>()
            .join("\n"),
        Block::Checklist(items) => {
            let mark = if flavor == Flavor::Plain { "[ ]" } else { "☐" };
            items
                .iter()
                .map(|i| format!("{mark} {}", escape(flavor, i)))
                .collect::<Vec<_>>()
                .join("\n")
        }
        Block::Links(links) => links
            .iter()
            .map(|l| format!("• {}", flavor.link(&l.url, &l.label)))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// A section's body as one markdown string (blocks separated by blank lines).
pub fn section_markdown(flavor: Flavor, s: &Section) -> String {
    s.blocks
        .iter()
        .map(|b| block_markdown(flavor, b))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Splits markdown into chunks of at most `max` characters, preferring paragraph, then line,
/// then character boundaries, and re-opening a code fence that a split interrupts. Nothing is
/// dropped: concatenating the chunks (minus added fences) gives the input back.
pub fn split(text: &str, max: usize) -> Vec<String> {
    let max = max.max(16);
    if text.chars().count() <= max {
        return vec![text.to_string()];
    }
    let mut chunks: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut cur_len = 0usize;
    let mut fence: Option<String> = None; // the opening fence line while inside a code block
    for line in text.split('\n') {
        let toggles = line.trim_start().starts_with("```");
        let mut pieces: Vec<String> = Vec::new();
        let line_len = line.chars().count();
        // Reserve room for closing and reopening a fence.
        let room = max - 8;
        if line_len > room {
            let chars: Vec<char> = line.chars().collect();
            for c in chars.chunks(room) {
                pieces.push(c.iter().collect());
            }
        } else {
            pieces.push(line.to_string());
        }
        for piece in pieces {
            let plen = piece.chars().count();
            let extra = if cur.is_empty() { 0 } else { 1 };
            let closing = if fence.is_some() { 4 } else { 0 };
            if cur_len + extra + plen + closing > max && !cur.is_empty() {
                if fence.is_some() {
                    cur.push_str("\n```");
                }
                chunks.push(std::mem::take(&mut cur));
                cur_len = 0;
                if let Some(f) = &fence {
                    cur.push_str(f);
                    cur_len = f.chars().count();
                }
            }
            if !cur.is_empty() {
                cur.push('\n');
                cur_len += 1;
            }
            cur.push_str(&piece);
            cur_len += plen;
        }
        if toggles {
            fence = match fence {
                Some(_) => None,
                None => Some(line.trim_start().to_string()),
            };
        }
    }
    if !cur.is_empty() {
        chunks.push(cur);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_everything_and_refences_code() {
        let code: Vec<String> = (0..200).map(|i| format!("echo line {i}")).collect();
        let text = format!("intro\n\n```bash\n{}\n```\n\noutro", code.join("\n"));
        let parts = split(&text, 500);
        assert!(parts.len() > 4);
        for p in &parts {
            assert!(p.chars().count() <= 500, "{}", p.len());
            assert_eq!(p.matches("```").count() % 2, 0, "fences balanced in {p}");
        }
        let joined = parts.join("\n");
        for l in &code {
            assert!(joined.contains(l));
        }
        assert!(joined.ends_with("outro"));
    }

    #[test]
    fn split_breaks_overlong_lines() {
        let text = "x".repeat(10_000);
        let parts = split(&text, 3000);
        assert!(parts.iter().all(|p| p.chars().count() <= 3000));
        assert_eq!(
            parts.iter().map(|p| p.len()).sum::<usize>() + parts.len() - 1,
            10_000 + parts.len() - 1
        );
    }
}

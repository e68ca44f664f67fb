//! Turning arbitrary pasted bytes into text the matcher can scan in linear time.
//!
//! Pastes arrive as bytes of any size and encoding, with terminal colour codes and CRLF line
//! ends. `prepare` keeps up to `SCAN_LIMIT` bytes whole; beyond that it keeps the first and last
//! `HEAD_TAIL` bytes (errors are often at the end of a log), decodes lossily, strips ANSI escape
//! sequences and control characters, and collapses runs of blanks so literal signals match
//! however the paste was aligned. Every step is a single pass over the input.
//!
//! Must not import the knowledge base, the matcher or any I/O.

/// Inputs up to this size are scanned whole.
pub const SCAN_LIMIT: usize = 1024 * 1024;
/// Beyond `SCAN_LIMIT`, this many bytes from the start and from the end are scanned.
pub const HEAD_TAIL: usize = 512 * 1024;

/// What was left out of a long paste.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncation {
    /// Size of the original input in bytes.
    pub original_len: usize,
    /// Bytes skipped in the middle.
    pub skipped: usize,
}

/// A paste ready for matching.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Normalised text: UTF-8, `\n` line ends, no control characters, single blanks.
    pub text: String,
    /// Set when the middle of the input was skipped.
    pub truncated: Option<Truncation>,
}

/// Prepares raw bytes for matching.
pub fn prepare(input: &[u8]) -> Prepared {
    if input.len() <= SCAN_LIMIT {
        return Prepared {
            text: normalise(input),
            truncated: None,
        };
    }
    prepare_truncated(&input[..HEAD_TAIL], &input[input.len() - HEAD_TAIL..], input.len())
}

/// Prepares the first and last parts of an input of `original_len` bytes whose middle was
/// never read (see `BoundedReader`-style callers such as the CLI's stdin reader).
pub fn prepare_truncated(head: &[u8], tail: &[u8], original_len: usize) -> Prepared {
    let mut text = normalise(head);
    text.push_str("\n[... middle of the paste skipped ...]\n");
    text.push_str(&normalise(tail));
    Prepared {
        text,
        truncated: Some(Truncation {
            original_len,
            skipped: original_len.saturating_sub(head.len() + tail.len()),
        }),
    }
}

/// Lossy UTF-8 decoding, ANSI stripping, line-end and blank normalisation in one pass.
pub fn normalise(input: &[u8]) -> String {
    let decoded = String::from_utf8_lossy(input);
    let mut out = String::with_capacity(decoded.len());
    let mut chars = decoded.chars().peekable();
    let mut pending_blank = false;
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            ' ' | '\t' | '\u{a0}' => pending_blank = true,
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    push_newline(&mut out, &mut pending_blank);
                }
            }
            '\n' => push_newline(&mut out, &mut pending_blank),
            c if c.is_control() || c == '\u{fffd}' || c == '\u{feff}' => {}
            c => {
                if pending_blank && !out.is_empty() && !out.ends_with('\n') {
                    out.push(' ');
                }
                pending_blank = false;
                out.push(c);
            }
        }
    }
    out
}

fn push_newline(out: &mut String, pending_blank: &mut bool) {
    *pending_blank = false;
    out.push('\n');
}

/// Skips one escape sequence after ESC: CSI (`ESC [ ... final`), OSC (`ESC ] ... BEL|ESC \`)
/// or a two-character escape.
fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.peek() {
        Some('[') => {
            chars.next();
            for c in chars.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
        }
        Some(']') => {
            chars.next();
            while let Some(c) = chars.next() {
                if c == '\u{7}' {
                    break;
                }
                if c == '\u{1b}' {
                    chars.next();
                    break;
                }
            }
        }
        Some(_) => {
            chars.next();
        }
        None => {}
    }
}

/// Undoes the escaping chat platforms apply to message text: `&lt;` `&gt;` `&amp;`, and
/// Slack's `<http://x|label>` / `<http://x>` link wrapping. Used by adapters before `prepare`.
pub fn unescape_chat(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find('>') {
            Some(end) if is_link_body(&after[..end]) => {
                let body = &after[..end];
                let target = body.split('|').next().unwrap_or(body);
                out.push_str(target.strip_prefix("mailto:").unwrap_or(target));
                rest = &after[end + 1..];
            }
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

fn is_link_body(body: &str) -> bool {
    !body.contains('\n')
        && body.len() < 2048
        && (body.starts_with("http://")
            || body.starts_with("https://")
            || body.starts_with("mailto:")
            || body.starts_with('#')
            || body.starts_with('@')
            || body.starts_with('!'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_ansi_and_collapses_blanks() {
        let raw = b"\x1b[31mERROR\x1b[0m   status\tcode:  403\r\nnext";
        assert_eq!(normalise(raw), "ERROR status code: 403\nnext");
    }

    #[test]
    fn tolerates_invalid_utf8() {
        let raw = b"abc\xff\xfe def";
        assert_eq!(normalise(raw), "abc def");
    }

    #[test]
    fn long_inputs_keep_head_and_tail() {
        let mut raw = vec![b'a'; SCAN_LIMIT + 10];
        raw.extend_from_slice(b"\nTHE END");
        let p = prepare(&raw);
        let t = p.truncated.expect("truncated");
        assert_eq!(t.original_len, SCAN_LIMIT + 18);
        assert!(p.text.ends_with("THE END"));
        assert!(p.text.len() <= SCAN_LIMIT + 64);
    }

    #[test]
    fn unescapes_slack_text() {
        let s = "&lt; HTTP/1.1 403 Forbidden\n&gt; PUT <http://169.254.169.254/latest/api/token|link> &amp; <@U123>";
        assert_eq!(
            unescape_chat(s),
            "< HTTP/1.1 403 Forbidden\n> PUT http://169.254.169.254/latest/api/token & @U123"
        );
    }
}

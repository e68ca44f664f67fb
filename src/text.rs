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
///
/// Works on bytes: runs of ordinary bytes (printable ASCII and the UTF-8 of ordinary characters)
/// are copied whole; only blanks, controls, escapes and the few special non-ASCII characters
/// (no-break space, C1 controls, U+FEFF, U+FFFD), whose UTF-8 starts with 0xC2 or 0xEF, are
/// looked at one by one.
pub fn normalise(input: &[u8]) -> String {
    // Valid UTF-8 (nearly every paste) is checked a word at a time; only invalid input pays for
    // the lossy decoder.
    let decoded = match std::str::from_utf8(input) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(input),
    };
    let text: &str = &decoded;
    let b = text.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut pending_blank = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            0x1b => i = skip_escape(text, i + 1),
            b' ' | b'\t' => {
                pending_blank = true;
                i += 1;
            }
            b'\r' => {
                if b.get(i + 1) != Some(&b'\n') {
                    push_newline(&mut out, &mut pending_blank);
                }
                i += 1;
            }
            b'\n' => {
                push_newline(&mut out, &mut pending_blank);
                i += 1;
            }
            0..=0x1f | 0x7f => i += 1,
            0xc2 | 0xef => {
                let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
                let len = ch.len_utf8();
                if ch == '\u{a0}' {
                    pending_blank = true;
                } else if !(ch.is_control() || ch == '\u{fffd}' || ch == '\u{feff}') {
                    push_run(&mut out, &text[i..i + len], &mut pending_blank);
                }
                i += len;
            }
            _ => {
                // Ordinary bytes and the single blanks between them are copied as one run.
                let end = run_end(b, i);
                push_run(&mut out, &text[i..end], &mut pending_blank);
                i = end;
            }
        }
    }
    out
}

/// Bytes that end a run of ordinary text: controls and the lead bytes (0xC2, 0xEF) of the few
/// non-ASCII characters that are dropped or turned into blanks. A blank ends a run only when a
/// blank or one of these follows it, or the text ends.
fn ends_run(x: u8) -> bool {
    x < 0x20 || x == 0x7f || x == 0xc2 || x == 0xef
}

/// Where the run of ordinary text starting at `i` (an ordinary byte) ends: at the first byte
/// that `ends_run`, or the first blank that is not a single blank between ordinary bytes.
///
/// Eight bytes at a time (SWAR): in a word, a lane's high bit says whether its byte ends a run
/// or is a blank. The lowest flagged lane is exact and no such byte is ever missed; a higher
/// lane may be flagged wrongly, but only on a blank, `!` or a UTF-8 lead byte, so at worst a
/// run ends early at a character boundary and the next one carries on. Words overlap by one
/// byte so that every blank is seen with the byte after it.
fn run_end(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH;
    let equal = |w: u64, v: u8| below(w ^ (ONES * u64::from(v)), 1);
    while let Some(chunk) = b.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let ends = below(w, 0x20) | equal(w, 0x7f) | equal(w, 0xc2) | equal(w, 0xef);
        let blank = equal(w, b' ');
        let stop = ends | (blank & ((blank | ends) >> 8));
        if stop != 0 {
            return i + (stop.trailing_zeros() / 8) as usize;
        }
        i += 7;
    }
    while i < b.len() {
        let x = b[i];
        if ends_run(x) || (x == b' ' && b.get(i + 1).is_none_or(|&y| y == b' ' || ends_run(y))) {
            return i;
        }
        i += 1;
    }
    i
}

/// Appends ordinary text, after the single blank a preceding run of blanks stands for.
fn push_run(out: &mut String, run: &str, pending_blank: &mut bool) {
    if *pending_blank && !out.is_empty() && !out.ends_with('\n') {
        out.push(' ');
    }
    *pending_blank = false;
    out.push_str(run);
}

fn push_newline(out: &mut String, pending_blank: &mut bool) {
    *pending_blank = false;
    out.push('\n');
}

/// Skips one escape sequence after ESC (at `i`): CSI (`ESC [ ... final`), OSC (`ESC ] ...
/// BEL|ESC \`) or a two-character escape. Returns where the text resumes.
fn skip_escape(text: &str, i: usize) -> usize {
    let b = text.as_bytes();
    // One whole character from `j` (never splitting UTF-8).
    let next_char = |j: usize| text[j..].chars().next().map_or(j, |c| j + c.len_utf8());
    match b.get(i) {
        Some(b'[') => {
            // UTF-8 lead and continuation bytes are never in 0x40..=0x7e.
            let rest = &b[i + 1..];
            rest.iter()
                .position(|x| (0x40..=0x7e).contains(x))
                .map_or(b.len(), |n| i + 1 + n + 1)
        }
        Some(b']') => {
            let rest = &b[i + 1..];
            match rest.iter().position(|&x| x == 0x07 || x == 0x1b) {
                Some(n) if rest[n] == 0x07 => i + 1 + n + 1,
                Some(n) => {
                    let j = i + 1 + n + 1;
                    if j < b.len() { next_char(j) } else { j }
                }
                None => b.len(),
            }
        }
        Some(_) => next_char(i),
        None => i,
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
    fn special_characters_and_escapes() {
        let raw = "a\u{a0}\u{a0}b\u{feff}c\u{85}d é\x1b]0;title\x07e\x1b]x\x1b\\f\x1b(Bg\r\rh\x1bé€i";
        assert_eq!(normalise(raw.as_bytes()), "a bcd éefBg\n\nh€i");
        assert_eq!(normalise(b"  lead\n  x  \n"), "lead\nx\n");
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

    /// The byte-at-a-time implementation `normalise` had before `run_end` read words.
    fn reference(input: &[u8]) -> String {
        let decoded = String::from_utf8_lossy(input);
        let text: &str = &decoded;
        let b = text.as_bytes();
        let mut out = String::with_capacity(b.len());
        let mut pending_blank = false;
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            match c {
                0x1b => i = skip_escape(text, i + 1),
                b' ' | b'\t' => {
                    pending_blank = true;
                    i += 1;
                }
                b'\r' => {
                    if b.get(i + 1) != Some(&b'\n') {
                        push_newline(&mut out, &mut pending_blank);
                    }
                    i += 1;
                }
                b'\n' => {
                    push_newline(&mut out, &mut pending_blank);
                    i += 1;
                }
                0..=0x1f | 0x7f => i += 1,
                0xc2 | 0xef => {
                    let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
                    let len = ch.len_utf8();
                    if ch == '\u{a0}' {
                        pending_blank = true;
                    } else if !(ch.is_control() || ch == '\u{fffd}' || ch == '\u{feff}') {
                        push_run(&mut out, &text[i..i + len], &mut pending_blank);
                    }
                    i += len;
                }
                _ => {
                    // Ordinary bytes and the single blanks between them are copied as one run.
                    let mut end = i;
                    loop {
                        end = b[end..]
                            .iter()
                            .position(|&x| SPECIAL[usize::from(x)])
                            .map_or(b.len(), |n| end + n);
                        if b.get(end) == Some(&b' ') && b.get(end + 1).is_some_and(|&x| !SPECIAL[usize::from(x)]) {
                            end += 1;
                            continue;
                        }
                        break;
                    }
                    push_run(&mut out, &text[i..end], &mut pending_blank);
                    i = end;
                }
            }
        }
        out
    }
    static SPECIAL: [bool; 256] = {
        let mut t = [false; 256];
        let mut i = 0;
        while i <= 0x20 {
            t[i] = true;
            i += 1;
        }
        t[0x7f] = true;
        t[0xc2] = true;
        t[0xef] = true;
        t
    };

    #[test]
    fn word_at_a_time_runs_agree_with_bytes() {
        let pieces: [&[u8]; 16] = [
            b" ",
            b"  ",
            b"\t",
            b"\n",
            b"\r\n",
            b"a",
            b"word",
            b"!",
            b"\x7f",
            b"\x1b[31m",
            "\u{a0}".as_bytes(),
            "\u{feff}".as_bytes(),
            "é".as_bytes(),
            "€".as_bytes(),
            b"\xff",
            b"x y",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..3000 {
            let mut raw = Vec::new();
            for _ in 0..40 {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                raw.extend_from_slice(pieces[(seed >> 60) as usize]);
            }
            assert_eq!(normalise(&raw), reference(&raw), "{raw:?}");
        }
    }
}

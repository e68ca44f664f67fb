//! Maps a field path (`examples[2]`, `signals[0].regex`) back to `line:col` in a YAML file, so
//! semantic problems found after parsing point at the right place. A small indentation-based
//! reader that understands block mappings, block sequences (`- ` items, including
//! `- key: value`) and skips block scalars; flow collections resolve to their key's line.
//!
//! Must not import the matcher or any I/O.

use super::structure::PathSeg;

struct Line<'a> {
    /// 0-based line number.
    no: usize,
    /// Column of the first non-blank character.
    indent: usize,
    /// The rest of the line from `indent`.
    body: &'a str,
}

fn lines(src: &str) -> Vec<Line<'_>> {
    src.lines()
        .enumerate()
        .filter_map(|(no, raw)| {
            let indent = raw.len() - raw.trim_start_matches(' ').len();
            let body = &raw[indent..];
            let significant = !body.is_empty() && !body.starts_with('#') && body != "---";
            significant.then_some(Line { no, indent, body })
        })
        .collect()
}

fn key_of(body: &str) -> Option<&str> {
    let body = body.trim_end();
    let (k, rest) = if let Some(stripped) = body.strip_prefix('"') {
        let end = stripped.find('"')?;
        (&stripped[..end], &stripped[end + 1..])
    } else {
        let i = body.find(':')?;
        (&body[..i], &body[i..])
    };
    (rest.starts_with(':') && (rest.len() == 1 || rest[1..].starts_with(' '))).then_some(k)
}

/// Returns the 1-based (line, col) of the node at `path`, or of its nearest ancestor found.
pub fn locate(src: &str, path: &[PathSeg]) -> (usize, usize) {
    let ls = lines(src);
    // A "container" is a range of line indices plus the indent its children start at; the
    // first child of a sequence item may sit on the item's own line after "- ".
    let mut lo = 0usize;
    let mut hi = ls.len();
    let mut best = ls.first().map_or((1, 1), |l| (l.no + 1, l.indent + 1));
    // Virtual first line: (index, indent, body) for a mapping that starts after "- ".
    let mut inline: Option<(usize, usize, &str)> = None;
    for seg in path {
        let child_indent = match inline {
            Some((_, ind, _)) => ind,
            None => match ls.get(lo) {
                Some(l) if lo < hi => l.indent,
                _ => return best,
            },
        };
        let mut found: Option<(usize, usize, &str)> = None; // (line idx, col, body after key/dash)
        match seg {
            PathSeg::Key(k) => {
                if let Some((idx, ind, body)) = inline
                    && key_of(body) == Some(k.as_str())
                {
                    found = Some((idx, ind, body));
                }
                if found.is_none() {
                    let from = if inline.is_some() { lo + 1 } else { lo };
                    for (i, l) in ls.iter().enumerate().take(hi).skip(from) {
                        if l.indent < child_indent {
                            break;
                        }
                        if l.indent == child_indent && key_of(l.body) == Some(k.as_str()) {
                            found = Some((i, l.indent, l.body));
                            break;
                        }
                    }
                }
            }
            PathSeg::Index(n) => {
                let mut count = 0usize;
                let start = inline.map_or(lo, |(i, _, _)| i);
                for (i, l) in ls.iter().enumerate().take(hi).skip(start) {
                    let (ind, body) = match inline {
                        Some((ii, ind, body)) if ii == i => (ind, body),
                        _ => (l.indent, l.body),
                    };
                    if ind < child_indent {
                        break;
                    }
                    if ind == child_indent && (body == "-" || body.starts_with("- ")) {
                        if count == *n {
                            found = Some((i, ind, body));
                            break;
                        }
                        count += 1;
                    }
                }
            }
        }
        let Some((idx, col, body)) = found else { return best };
        best = (ls[idx].no + 1, col + 1);
        // The node's children: lines after idx that are more indented (sequences may also sit
        // at the key's own indent).
        let own_indent = col;
        let mut end = idx + 1;
        while end < hi {
            let l = &ls[end];
            let deeper = l.indent > own_indent
                || (matches!(seg, PathSeg::Key(_)) && l.indent == own_indent && l.body.starts_with("- "));
            if !deeper {
                break;
            }
            end += 1;
        }
        inline = None;
        if let PathSeg::Index(_) = seg {
            // "- key: value" starts a mapping on the item's line.
            let rest = body.strip_prefix('-').unwrap_or(body);
            let offset = rest.len() - rest.trim_start().len();
            let rest = rest.trim_start();
            if !rest.is_empty() && key_of(rest).is_some() {
                inline = Some((idx, col + 1 + offset, rest));
                lo = idx;
                hi = end;
                continue;
            }
        }
        lo = idx + 1;
        hi = end;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "id: x\ntitle: y\nsignals:\n  - text: a\n    weight: strong\n  - regex: '(['\n    label: b\nfix:\n- text: one\n  code: |\n    - not: an item\n- text: two\nexamples:\n  - one\n  - |\n    two\n  - three\n";

    fn at(path: &[PathSeg]) -> (usize, usize) {
        locate(SRC, path)
    }

    fn k(s: &str) -> PathSeg {
        PathSeg::Key(s.to_string())
    }

    #[test]
    fn finds_keys_items_and_inline_mappings() {
        assert_eq!(at(&[k("title")]), (2, 1));
        assert_eq!(at(&[k("signals"), PathSeg::Index(1)]), (6, 3));
        assert_eq!(at(&[k("signals"), PathSeg::Index(1), k("regex")]), (6, 5));
        assert_eq!(at(&[k("signals"), PathSeg::Index(1), k("label")]), (7, 5));
        assert_eq!(at(&[k("fix"), PathSeg::Index(1), k("text")]), (12, 3));
        assert_eq!(at(&[k("examples"), PathSeg::Index(2)]), (17, 3));
    }

    #[test]
    fn falls_back_to_nearest_ancestor() {
        assert_eq!(at(&[k("examples"), PathSeg::Index(9)]), (13, 1));
        assert_eq!(at(&[k("nope")]), (1, 1));
    }
}

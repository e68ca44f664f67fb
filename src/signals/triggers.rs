//! Where each evidence regex of `signals.rs` can match, found in one pass.
//!
//! Every evidence regex needs some literal on the line it matches ("HTTP/", "169.254.169.254",
//! "arn:aws", "timed out", ...). One case-insensitive literal pass (`crate::literals`) finds all
//! of those literals and collects, per regex family, the lines that hold one of them; the
//! regexes then run on those lines only. A 1 MiB log of ordinary traffic is therefore read once
//! instead of once per regex. The matcher runs the same pass with its own literals added
//! (`literals`, `Lines::from_hits`), so that a diagnosis reads the paste once for both.
//!
//! The pass may report more lines than the regex matches (it ignores case and most of the
//! pattern), never fewer: each family's literals are a superset of what its regex requires.

use std::sync::LazyLock;

use crate::literals::{Hit, LiteralSet};

/// A group of literals that gates one evidence regex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    /// References to the metadata service (`IMDS_REF`).
    Imds,
    /// HTTP statuses in words (`STATUS_WORDS`).
    Status,
    /// `HTTP/1.1 403` status lines, checked by hand at each `HTTP/`.
    HttpSlash,
    /// The IMDSv2 token headers.
    TokenHeader,
    /// Timeouts and hangs.
    Timeout,
    /// Refused or unreachable connections.
    ConnFail,
    /// Containers and orchestrators.
    Container,
    /// Other clouds' metadata services.
    OtherCloud,
    /// `Encoded authorization failure message`.
    Encoded,
    /// Instance ids.
    InstanceId,
    /// ARNs.
    Arn,
    /// Region names.
    Region,
    /// Fleet, launch template, association and DLM policy ids.
    OtherIds,
    /// Role and instance-profile names in CLI arguments and messages.
    Named,
    /// HTTP requests to anything.
    Foreign,
}

const FAMILIES: usize = Family::Foreign as usize + 1;

/// The literal must not follow a letter, digit or `_` (the regex starts with `\b`).
const WORD_START: u8 = 1;
/// The regex may go on to the next line (`%{http_code}` then the status alone on a line).
const NEXT_LINE: u8 = 2;

/// Literals per family, lower case (the automaton ignores ASCII case).
const TRIGGERS: &[(Family, u8, &[&str])] = &[
    (
        Family::Imds,
        0,
        &[
            "169.254.169.254",
            "fd00:ec2::254",
            "instance-data",
            "/latest/",
            "/api/token",
            "/meta-data",
            "/user-data",
            "/dynamic",
        ],
    ),
    (
        Family::Status,
        0,
        &[
            "forbidden",
            "unauthorized",
            "not found",
            "bad request",
            "missing or invalid",
            "method not allowed",
            "too many",
            "proxy authentication required",
            "bad gateway",
            "gateway timeout",
            "service unavailable",
            "internal server error",
            "status",
            "returned",
            "returns",
            "got ",
            "responded with",
            "http ",
            "client error",
            "server error",
        ],
    ),
    (Family::Status, NEXT_LINE, &["%{http_code}"]),
    (Family::HttpSlash, 0, &["http/"]),
    (Family::TokenHeader, 0, &["x-aws-ec2-metadata-token"]),
    (
        Family::Timeout,
        0,
        &[
            "timeout",
            "time out",
            "timed out",
            "timedout",
            "deadline exceeded",
            "hang",
            "hung",
            "curl error 28",
            "no response",
        ],
    ),
    (
        Family::ConnFail,
        0,
        &[
            "connection refused",
            "no route to host",
            "network is unreachable",
            "econnrefused",
            "ehostunreach",
            "enetunreach",
            "unable to connect",
            "failed to connect",
            "connection reset",
            "could not connect",
        ],
    ),
    (
        Family::Container,
        WORD_START,
        &[
            "docker",
            "container",
            "pod",
            "kubernetes",
            "k8s",
            "eks",
            "ecs",
            "fargate",
            "kubelet",
            "kube2iam",
            "kiam",
            "daemonset",
            "sidecar",
        ],
    ),
    (
        Family::OtherCloud,
        0,
        &[
            "metadata.google.internal",
            "/computemetadata/",
            "metadata-flavor",
            "/metadata/",
            "metadata:",
        ],
    ),
    (Family::Encoded, 0, &["encoded authorization failure message"]),
    (Family::InstanceId, WORD_START, &["i-"]),
    (Family::Arn, 0, &["arn:aws"]),
    (Family::Region, 0, &["-north", "-south", "-east", "-west", "-central"]),
    (
        Family::OtherIds,
        WORD_START,
        &["fleet-", "lt-", "iip-assoc-", "policy-"],
    ),
    (
        Family::Named,
        0,
        &[
            "security-credentials/",
            "cannot assume the role",
            "--role-name",
            "--instance-profile-name",
            "iaminstanceprofile",
            "--iam-instance-profile",
            "is not authorized",
        ],
    ),
    (
        Family::Foreign,
        WORD_START,
        &["get ", "put ", "post ", "head ", "delete ", "patch ", "options "],
    ),
    (Family::Foreign, 0, &["http://", "https://"]),
];

/// Most literal hits examined in one paste (the scan stays linear; this bounds the bookkeeping).
pub const MAX_HITS: usize = 200_000;

/// Every trigger literal with its family and flags, in `TRIGGERS` order.
static LITERALS: LazyLock<Vec<(&'static str, Family, u8)>> = LazyLock::new(|| {
    TRIGGERS
        .iter()
        .flat_map(|&(family, flags, literals)| literals.iter().map(move |&l| (l, family, flags)))
        .collect()
});

/// The trigger literals alone, for `Lines::scan`.
static SET: LazyLock<LiteralSet> =
    LazyLock::new(|| LiteralSet::new(LITERALS.iter().map(|(l, _, _)| l)).expect("trigger literals are not empty"));

/// The trigger literals, in the order `Lines::from_hits` numbers them.
pub fn literals() -> impl ExactSizeIterator<Item = &'static str> {
    LITERALS.iter().map(|(l, _, _)| *l)
}

/// The lines of a paste where each family's regex may match.
#[derive(Debug, Default)]
pub struct Lines {
    /// Per family: merged `(start, end)` byte ranges of whole lines, in order.
    windows: [Vec<(usize, usize)>; FAMILIES],
    /// Positions of `HTTP/` (exact case).
    http_slash: Vec<usize>,
}

impl Lines {
    /// One pass of the trigger literals over `text`.
    pub fn scan(text: &str) -> Lines {
        Lines::from_hits(text, SET.hits(text.as_bytes(), MAX_HITS))
    }

    /// The lines from the hits of the trigger literals in `text` (numbered as `literals` lists
    /// them), in order of start; only the first `MAX_HITS` count.
    pub fn from_hits(text: &str, hits: impl IntoIterator<Item = Hit>) -> Lines {
        let b = text.as_bytes();
        let mut out = Lines::default();
        // The line of the previous hit, reused while hits stay on it.
        let mut line = (0usize, 0usize);
        for m in hits.into_iter().take(MAX_HITS) {
            let Some(&(_, family, flags)) = LITERALS.get(m.literal) else {
                continue;
            };
            if flags & WORD_START != 0 && m.start > 0 && is_word(b[m.start - 1]) {
                continue;
            }
            if family == Family::HttpSlash {
                if b[m.start..].starts_with(b"HTTP/") {
                    out.http_slash.push(m.start);
                }
                continue;
            }
            let windows = &mut out.windows[family as usize];
            if windows.last().is_some_and(|&(_, end)| m.end <= end) && flags & NEXT_LINE == 0 {
                continue;
            }
            if !(line.0 <= m.start && m.end <= line.1) {
                let from = if m.start >= line.1 { line.1 } else { 0 };
                let start = memchr::memrchr(b'\n', &b[from..m.start]).map_or(from, |i| from + i + 1);
                let end = memchr::memchr(b'\n', &b[m.end..]).map_or(b.len(), |i| m.end + i);
                line = (start, end);
            }
            let (start, mut end) = line;
            if flags & NEXT_LINE != 0 && end < b.len() {
                end = memchr::memchr(b'\n', &b[end + 1..]).map_or(b.len(), |i| end + 1 + i);
            }
            match windows.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => windows.push((start, end)),
            }
        }
        out
    }

    /// The lines (with their offsets in the paste) where `family`'s regex may match.
    pub(super) fn spans<'t>(&self, family: Family, text: &'t str) -> impl Iterator<Item = (usize, &'t str)> {
        self.windows[family as usize]
            .iter()
            .map(move |&(start, end)| (start, &text[start..end]))
    }

    /// Whether `re` matches on any of `family`'s lines.
    pub(super) fn any(&self, family: Family, text: &str, re: &regex::Regex) -> bool {
        self.spans(family, text).any(|(_, line)| re.is_match(line))
    }

    /// Positions of `HTTP/`.
    pub(super) fn http_slash(&self) -> &[usize] {
        &self.http_slash
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `HTTP/1.1 403` at `pos` (which starts with `HTTP/`): the end of the status code and the code.
pub(super) fn http_status_at(b: &[u8], pos: usize) -> Option<(usize, u16)> {
    let rest = b.get(pos + 5..)?;
    let mut i = 0;
    if !rest.first()?.is_ascii_digit() {
        return None;
    }
    i += 1;
    if rest.get(i) == Some(&b'.') && rest.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 2;
    }
    let blanks = rest[i..]
        .iter()
        .take_while(|&&c| matches!(c, b' ' | b'\t' | b'\x0b' | b'\x0c'))
        .count();
    if blanks == 0 {
        return None;
    }
    i += blanks;
    let code = rest.get(i..i + 3)?;
    if !(b'1'..=b'5').contains(&code[0]) || !code[1].is_ascii_digit() || !code[2].is_ascii_digit() {
        return None;
    }
    if rest.get(i + 3).is_some_and(|&c| is_word(c)) {
        return None;
    }
    let n = u16::from(code[0] - b'0') * 100 + u16::from(code[1] - b'0') * 10 + u16::from(code[2] - b'0');
    Some((pos + 5 + i + 3, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_hold_their_triggers() {
        let t = "noise\nGET http://169.254.169.254/latest/meta-data/ HTTP/1.1\nmore noise\n< HTTP/1.1 401 Unauthorized\nend";
        let l = Lines::scan(t);
        let imds: Vec<&str> = l.spans(Family::Imds, t).map(|(_, s)| s).collect();
        assert_eq!(imds, ["GET http://169.254.169.254/latest/meta-data/ HTTP/1.1"]);
        let status: Vec<&str> = l.spans(Family::Status, t).map(|(_, s)| s).collect();
        assert_eq!(status, ["< HTTP/1.1 401 Unauthorized"]);
        let codes: Vec<u16> = l
            .http_slash()
            .iter()
            .filter_map(|&p| http_status_at(t.as_bytes(), p).map(|(_, c)| c))
            .collect();
        assert_eq!(codes, [401]);
    }

    #[test]
    fn word_start_and_next_line() {
        let t = "ipod is not a pod\ncurl -w '%{http_code}' x\n403\nlast";
        let l = Lines::scan(t);
        let c: Vec<&str> = l.spans(Family::Container, t).map(|(_, s)| s).collect();
        assert_eq!(c, ["ipod is not a pod"]);
        let s: Vec<&str> = l.spans(Family::Status, t).map(|(_, s)| s).collect();
        assert_eq!(s, ["curl -w '%{http_code}' x\n403"]);
    }

    #[test]
    fn http_status_forms() {
        let at = |s: &str| http_status_at(s.as_bytes(), 0).map(|(_, c)| c);
        assert_eq!(at("HTTP/1.1 403 Forbidden"), Some(403));
        assert_eq!(at("HTTP/2 200"), Some(200));
        assert_eq!(at("HTTP/1.1\" 403"), None);
        assert_eq!(at("HTTP/1.1 4030"), None);
        assert_eq!(at("HTTP/1.1 603"), None);
    }
}

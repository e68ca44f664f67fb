//! Finding many short literals in a long text, ignoring ASCII case, at a few instructions per
//! byte.
//!
//! An Aho-Corasick automaton steps through a state per byte, and with a few thousand literals
//! it costs 50 or more instructions a byte here. Most positions of a pasted log start none of
//! them, so `LiteralSet` first asks a cheaper question at each position: could the bytes here
//! begin some literal? The next three bytes, case-folded and reduced to 6-bit classes, form an
//! 18-bit key tested against a 32 KiB bitmap (one shift, one load, one test per byte). Where
//! that says yes, a hash of the four-byte key is tested against a second bitmap (or the key
//! against the literals shorter than four bytes), and only then is a trie of the literals
//! walked from that position, chains of single children compared as one label. This is the
//! idea behind Hyperscan's FDR matcher, without its SIMD.
//!
//! Every occurrence of every literal is reported, overlapping ones included, in order of start
//! (shortest first at one start): the same set of hits as `aho_corasick` finds overlapping with
//! `ascii_case_insensitive(true)` and `MatchKind::Standard`, which the tests check. Building
//! the set is a sort and one pass over the literals, far cheaper than an automaton.
//!
//! Must not import anything but `std`.

use std::ops::Range;

/// Bits in a key: three 6-bit byte classes.
const KEY_BITS: u32 = 18;
const KEY_MASK: u32 = (1 << KEY_BITS) - 1;
/// Bits in the hash of a four-byte key.
const HASH4_BITS: u32 = 16;

/// The hash of a 24-bit key of four byte classes.
fn hash4(key: u32) -> u32 {
    key.wrapping_mul(0x9E37_79B1) >> (32 - HASH4_BITS)
}

/// The 6-bit class of a byte: ASCII letters by letter (either case), digits by digit, anything
/// else spread over the rest. Bytes of one class compare equal only after the full check.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = match b {
            b'a'..=b'z' => b - b'a' + 1,
            b'A'..=b'Z' => b - b'A' + 1,
            b'0'..=b'9' => b - b'0' + 27,
            _ => 37 + b % 27,
        };
        i += 1;
    }
    t
};

fn class(b: u8) -> u32 {
    u32::from(CLASS[usize::from(b)])
}

/// One occurrence of a literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Index of the literal in the list given to `LiteralSet::new`.
    pub literal: usize,
    /// Byte offset of its first byte.
    pub start: usize,
    /// Byte offset just after its last byte.
    pub end: usize,
}

/// A set of literals, searched ignoring ASCII case. See the module documentation.
#[derive(Debug, Clone)]
pub struct LiteralSet {
    /// Number of literals.
    len: usize,
    /// One bit per key: some literal may start with bytes of these classes.
    bits: Box<[u64; 1 << (KEY_BITS - 6)]>,
    /// One bit per hash of a four-byte key (`hash4`): some literal of four bytes or more may
    /// start with bytes of these classes. Asked only where `bits` said yes.
    bits4: Box<[u64; 1 << (HASH4_BITS - 6)]>,
    /// Like `bits`, for the literals shorter than four bytes only.
    short: Box<[u64; 1 << (KEY_BITS - 6)]>,
    /// A trie of the lower-cased literals, node 0 the root; the children of a node are
    /// contiguous and sorted by byte.
    nodes: Vec<Node>,
    /// Literal indices ending at each node, ascending (`Node::ends`).
    ends: Vec<u32>,
    /// Node labels (`Node::label_at`), lower case.
    labels: Vec<u8>,
    /// Child lookup tables of the nodes with many children (`Node::table`): node index by byte,
    /// 0 for none.
    tables: Vec<[u32; 256]>,
}

/// Nodes with more children than this look them up in a table instead of scanning them.
const SCAN_CHILDREN: u32 = 6;

#[derive(Debug, Clone, Copy)]
struct Node {
    /// The byte leading to this node (lower case).
    byte: u8,
    /// The bytes after `byte` on the way to this node: `labels[label_at..label_at + label_n]`.
    label_at: u32,
    label_n: u32,
    /// Children: `nodes[first..first + count]`.
    first: u32,
    count: u32,
    /// Literals that end here: `ends[at..at + n]`.
    ends_at: u32,
    ends_n: u32,
    /// Index into `LiteralSet::tables`, or `u32::MAX` when the children are scanned.
    table: u32,
}

impl Default for Node {
    fn default() -> Node {
        Node {
            byte: 0,
            label_at: 0,
            label_n: 0,
            first: 0,
            count: 0,
            ends_at: 0,
            ends_n: 0,
            table: u32::MAX,
        }
    }
}

/// `LiteralSet::new` was given an empty literal (it would match everywhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmptyLiteral(pub usize);

impl std::fmt::Display for EmptyLiteral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "literal {} is empty", self.0)
    }
}

impl std::error::Error for EmptyLiteral {}

impl LiteralSet {
    /// A set of `literals`, each at least one byte long.
    pub fn new<I, P>(literals: I) -> Result<LiteralSet, EmptyLiteral>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        let literals: Vec<Vec<u8>> = literals.into_iter().map(|l| l.as_ref().to_ascii_lowercase()).collect();
        if let Some(i) = literals.iter().position(Vec::is_empty) {
            return Err(EmptyLiteral(i));
        }
        let mut bits = Box::new([0u64; 1 << (KEY_BITS - 6)]);
        let mut bits4 = Box::new([0u64; 1 << (HASH4_BITS - 6)]);
        let mut short = Box::new([0u64; 1 << (KEY_BITS - 6)]);
        for l in &literals {
            if l.len() >= 4 {
                let key4: u32 = l.iter().take(4).fold(0, |k, &b| (k << 6) | class(b));
                let key = key4 >> 6;
                bits[(key >> 6) as usize] |= 1 << (key & 63);
                let h = hash4(key4);
                bits4[(h >> 6) as usize] |= 1 << (h & 63);
                continue;
            }
            // A literal shorter than three bytes begins every key that extends its classes.
            let prefix: u32 = l.iter().fold(0, |k, &b| (k << 6) | class(b));
            let free = 6 * (3 - l.len().min(3)) as u32;
            for rest in 0..(1u32 << free) {
                let key = (prefix << free) | rest;
                bits[(key >> 6) as usize] |= 1 << (key & 63);
                short[(key >> 6) as usize] |= 1 << (key & 63);
            }
        }
        // The trie, built over the sorted literals: each node's children get one contiguous
        // block, allocated before any of them is expanded, and a chain of nodes with one child
        // and no literal ending is one node with a label.
        let mut sorted: Vec<u32> = (0..literals.len() as u32).collect();
        sorted.sort_by(|&a, &b| literals[a as usize].cmp(&literals[b as usize]).then(a.cmp(&b)));
        let lit = |k: usize| literals[sorted[k] as usize].as_slice();
        let mut nodes = vec![Node::default()];
        let mut labels = Vec::new();
        let mut ends = Vec::with_capacity(literals.len());
        // (node, depth after its byte, range of `sorted` whose literals pass through it)
        let mut work = vec![(0usize, 0usize, 0usize, sorted.len())];
        while let Some((node, mut depth, mut lo, hi)) = work.pop() {
            if node != 0 {
                // Literals sorted: when the first and the last of the range go on with the same
                // byte, all of them do (and none ends, or it would sort first).
                let from = depth;
                while lit(lo).len() > depth && lit(hi - 1).len() > depth && lit(lo)[depth] == lit(hi - 1)[depth] {
                    depth += 1;
                }
                nodes[node].label_at = labels.len() as u32;
                nodes[node].label_n = (depth - from) as u32;
                labels.extend_from_slice(&lit(lo)[from..depth]);
            }
            let ends_at = ends.len() as u32;
            while lo < hi && lit(lo).len() == depth {
                ends.push(sorted[lo]);
                lo += 1;
            }
            ends[ends_at as usize..].sort_unstable();
            nodes[node].ends_at = ends_at;
            nodes[node].ends_n = ends.len() as u32 - ends_at;
            let first = nodes.len();
            let mut i = lo;
            while i < hi {
                let byte = lit(i)[depth];
                let mut j = i;
                while j < hi && lit(j)[depth] == byte {
                    j += 1;
                }
                work.push((nodes.len(), depth + 1, i, j));
                nodes.push(Node {
                    byte,
                    ..Node::default()
                });
                i = j;
            }
            nodes[node].first = first as u32;
            nodes[node].count = (nodes.len() - first) as u32;
        }
        let mut tables = Vec::new();
        for i in 0..nodes.len() {
            let Node { first, count, .. } = nodes[i];
            if count > SCAN_CHILDREN {
                let mut t = [0u32; 256];
                for c in first..first + count {
                    t[usize::from(nodes[c as usize].byte)] = c;
                }
                nodes[i].table = tables.len() as u32;
                tables.push(t);
            }
        }
        Ok(LiteralSet {
            len: literals.len(),
            bits,
            bits4,
            short,
            nodes,
            ends,
            labels,
            tables,
        })
    }

    /// Number of literals.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set holds no literal.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reports the literals that start at `start`, shortest first; `false` once `f` says stop.
    fn at(&self, text: &[u8], start: usize, f: &mut impl FnMut(Hit) -> bool) -> bool {
        let mut node = &self.nodes[0];
        let mut i = start;
        loop {
            for &l in &self.ends[node.ends_at as usize..(node.ends_at + node.ends_n) as usize] {
                let hit = Hit {
                    literal: l as usize,
                    start,
                    end: i,
                };
                if !f(hit) {
                    return false;
                }
            }
            let Some(&b) = text.get(i) else { return true };
            let b = b.to_ascii_lowercase();
            let next = match self.tables.get(node.table as usize) {
                Some(t) => t[usize::from(b)] as usize,
                None => {
                    let first = node.first as usize;
                    let children = &self.nodes[first..first + node.count as usize];
                    children.iter().position(|c| c.byte == b).map_or(0, |k| first + k)
                }
            };
            if next == 0 {
                return true;
            }
            node = &self.nodes[next];
            i += 1;
            let label = &self.labels[node.label_at as usize..(node.label_at + node.label_n) as usize];
            match text.get(i..i + label.len()) {
                Some(t) if t.eq_ignore_ascii_case(label) => i += label.len(),
                _ => return true,
            }
        }
    }

    /// Calls `f` for every occurrence in `text`, in order of start (shortest first at one
    /// start), until it returns `false`.
    pub fn for_each_hit(&self, text: &[u8], f: impl FnMut(Hit) -> bool) {
        self.for_each_hit_in(text, 0..text.len(), f);
    }

    /// `for_each_hit` for the occurrences that start within `starts` (they may end beyond it).
    pub fn for_each_hit_in(&self, text: &[u8], starts: Range<usize>, mut f: impl FnMut(Hit) -> bool) {
        let n = text.len();
        let (from, to) = (starts.start, starts.end.min(n));
        if from >= to || self.len == 0 {
            return;
        }
        let bits = &*self.bits;
        let bits4 = &*self.bits4;
        let short = &*self.short;
        let first = |key: u32| (bits[(key >> 6) as usize] >> (key & 63)) & 1;
        // Where the three-byte key said yes: the four-byte key (or a short literal).
        let second = |key: u32, start: usize| {
            let h = hash4((key << 6) | text.get(start + 3).map_or(0, |&b| class(b)));
            bits4[(h >> 6) as usize] & (1 << (h & 63)) != 0 || short[(key >> 6) as usize] & (1 << (key & 63)) != 0
        };
        // Class 0 stands for "past the end": no byte has it, so only literals shorter than
        // what is left can match there.
        let mut key = (class(text[from]) << 6) | text.get(from + 1).map_or(0, |&b| class(b));
        // Positions whose third byte is in the text, eight at a time: the first test of all
        // eight is one mask, and only its set bits are looked at.
        let full_end = to.min(n.saturating_sub(2)).max(from);
        let (chunks, rest) = text.get(from + 2..full_end + 2).unwrap_or_default().as_chunks::<8>();
        let mut start = from;
        for chunk in chunks {
            let mut keys = [0u32; 8];
            let mut mask = 0u32;
            for (j, &b) in chunk.iter().enumerate() {
                key = ((key << 6) | class(b)) & KEY_MASK;
                keys[j] = key;
                mask |= (first(key) as u32) << j;
            }
            while mask != 0 {
                let j = mask.trailing_zeros() as usize;
                mask &= mask - 1;
                if second(keys[j], start + j) && !self.at(text, start + j, &mut f) {
                    return;
                }
            }
            start += 8;
        }
        for &b in rest {
            key = ((key << 6) | class(b)) & KEY_MASK;
            if first(key) != 0 && second(key, start) && !self.at(text, start, &mut f) {
                return;
            }
            start += 1;
        }
        for start in full_end..to {
            key = (key << 6) & KEY_MASK;
            if first(key) != 0 && second(key, start) && !self.at(text, start, &mut f) {
                return;
            }
        }
    }

    /// Every occurrence in `text`, in order of start (at most `limit` of them).
    pub fn hits(&self, text: &[u8], limit: usize) -> Vec<Hit> {
        let mut out = Vec::new();
        if limit > 0 {
            self.for_each_hit(text, |h| {
                out.push(h);
                out.len() < limit
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::{AhoCorasick, MatchKind};

    /// The automaton's overlapping hits, sorted the way `LiteralSet` reports them.
    fn automaton_hits(literals: &[&str], text: &str) -> Vec<Hit> {
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(literals)
            .expect("automaton");
        let mut v: Vec<Hit> = ac
            .find_overlapping_iter(text)
            .map(|m| Hit {
                literal: m.pattern().as_usize(),
                start: m.start(),
                end: m.end(),
            })
            .collect();
        v.sort_by_key(|h| (h.start, h.end, h.literal));
        v
    }

    fn check(literals: &[&str], text: &str) {
        let set = LiteralSet::new(literals).expect("set");
        let all = set.hits(text.as_bytes(), usize::MAX);
        assert_eq!(all, automaton_hits(literals, text), "{literals:?} in {text:?}");
        // Any split of the start positions finds the same hits, in the same order.
        for mid in [1, text.len() / 3, text.len() / 2, text.len().saturating_sub(1)] {
            let mut parts = Vec::new();
            for range in [0..mid, mid..text.len()] {
                set.for_each_hit_in(text.as_bytes(), range, |h| {
                    parts.push(h);
                    true
                });
            }
            assert_eq!(parts, all, "split at {mid}: {literals:?} in {text:?}");
        }
    }

    #[test]
    fn agrees_with_aho_corasick() {
        let lits = [
            "169.254.169.254",
            "Access Denied",
            "access",
            "i-",
            "x",
            "ss d",
            "NoCredentialsError",
            "credentials",
            "HTTP/",
            "http/1.1 403",
            "403",
        ];
        check(&lits, "GET http://169.254.169.254/latest/ HTTP/1.1 403 Access denied");
        check(
            &lits,
            "botocore.exceptions.NoCredentialsError: Unable to locate credentials\ni-0abc x",
        );
        check(&lits, "");
        check(&lits, "x");
        check(&lits, "i-");
        check(&lits, "ACCESS DENIEDACCESS denied 4034034");
        check(&["aaa", "aa", "a"], "aaaaa");
        check(&["ab", "abc", "bcd"], "ABCD abcd abc");
    }

    #[test]
    fn agrees_on_random_text() {
        // Small alphabet so that literals occur often; a fixed LCG so failures reproduce.
        let alphabet = b"abAB-_ .9\n\xc3\xa9";
        let lits = ["ab", "aba", "b-a", "a b", ".9", "BAB", "9\n", "éa", "abab-"];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..200 {
            let mut t = Vec::new();
            for _ in 0..300 {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                t.push(alphabet[(seed >> 33) as usize % alphabet.len()]);
            }
            let text = String::from_utf8_lossy(&t).into_owned();
            check(&lits, &text);
        }
    }

    #[test]
    fn limits_and_stops() {
        let set = LiteralSet::new(["ab"]).expect("set");
        assert_eq!(set.hits(b"ababab", 2).len(), 2);
        assert!(set.hits(b"ababab", 0).is_empty());
        assert_eq!(LiteralSet::new(["ok", ""]).unwrap_err(), EmptyLiteral(1));
    }
}

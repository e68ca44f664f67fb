//! Ranking scenarios against a paste, and deciding whether to answer.
//!
//! `Matcher::compile` turns every scenario's signals into one Aho-Corasick automaton (all
//! literal kinds: text, codes, operations, IAM names, and the prefix literals of every regex),
//! structural checks on `signals::Signals`, and a small inverted index of phrases. A regex only
//! runs (with `regex-lite`, cheap to compile) on the line where one of its prefixes was seen;
//! the few regexes without a usable prefix run over the whole text with `regex`. `rank` makes one pass of each
//! over the paste, sums the weights of what fired (plus a phrase bonus for short questions) and
//! squashes the sum into a score in [0, 1]. `verdict` applies the thresholds for the two modes.
//!
//! `fuzzy-matcher` is used only on short normalised candidates (single query words against the
//! phrase vocabulary, to forgive typos), never on a whole paste: its scoring is quadratic.
//!
//! Must not import the renderers, the adapters or any I/O.

use std::collections::{HashMap, HashSet};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use fuzzy_matcher::FuzzyMatcher;
use fuzzy_matcher::skim::SkimMatcherV2;

use crate::knowledge::model::{HttpPattern, Mode, Scenario, Segment, SignalMatcher};
use crate::signals::{Exchange, Signals};

/// Command mode: below this the best candidate is not worth showing.
pub const COMMAND_MIN_SCORE: f32 = 0.3;
/// A single answer needs this score.
pub const CONFIDENT_SCORE: f32 = 0.75;
/// Candidates within this distance of the best are "close" (pick-list).
pub const CLOSE_MARGIN: f32 = 0.12;
/// Below `CONFIDENT_SCORE`, candidates within this distance of the best join the pick-list.
pub const UNSURE_MARGIN: f32 = 0.2;
/// Auto mode: the best candidate must reach this score ...
pub const AUTO_MIN_SCORE: f32 = 0.8;
/// ... lead the next one by this much ...
pub const AUTO_MIN_LEAD: f32 = 0.1;
/// ... and rest on at least this much hard (non-phrase) evidence.
pub const AUTO_MIN_HARD_WEIGHT: f32 = 1.5;
/// Most candidates in a pick-list.
pub const PICK_LIST_MAX: usize = 4;
/// Largest phrase bonus (a question that is exactly one of the scenario's phrases).
pub const PHRASE_WEIGHT: f32 = 2.0;
/// Inputs up to this many bytes are matched against phrases whole.
pub const SHORT_INPUT: usize = 600;
/// Maximum number of literal hits examined per paste.
const MAX_LITERAL_HITS: usize = 50_000;

/// How the paste reached the bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchMode {
    /// An explicit question (`/imds ...`, `imdsbot diagnose`): always answer.
    Command,
    /// A message in a watched channel: stay silent unless confident.
    Auto,
}

/// One reason a scenario scored.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    /// Human description.
    pub label: String,
    /// Contribution (negative for evidence against).
    pub weight: f32,
}

/// A scored scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Index into `KnowledgeBase::scenarios`.
    pub scenario: usize,
    /// Score in [0, 1].
    pub score: f32,
    /// Sum of fired hard-signal weights (without the phrase bonus).
    pub hard_weight: f32,
    /// What fired, strongest first.
    pub reasons: Vec<Reason>,
}

/// What to do with a ranking.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Answer with this hit.
    Match(Hit),
    /// Ask which of these (2-4) it is.
    Ambiguous(Vec<Hit>),
    /// No answer (command mode: a helpful "no match"; auto mode: silence).
    None,
}

impl Verdict {
    /// `match`, `ambiguous` or `none`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Match(_) => "match",
            Verdict::Ambiguous(_) => "ambiguous",
            Verdict::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LitKind {
    Text,
    Code,
    Iam,
    /// Operation in its PascalCase form (case-sensitive).
    OpPascal,
    /// Operation in its CLI/SDK form (`run-instances`, `run_instances`).
    OpLower,
    /// A prefix of a regex: verify the regex around the hit (`cond` is the regex index).
    RegexPrefix,
}

#[derive(Debug)]
struct Verifier {
    src: String,
    re: regex_lite::Regex,
    /// Every match is exactly one of the prefix literals (plus `\b`-style assertions), so the
    /// hit itself, with one character of context on each side, is enough to verify.
    exact: bool,
    /// The pattern may match across lines (`\s`, `\n`, `[^...]`, `(?s)`).
    multiline: bool,
    /// The full engine, compiled on first use, for pastes where the prefix hits too often.
    full: std::sync::OnceLock<Option<regex::Regex>>,
}

/// Line verifications per regex and paste before the whole text is scanned instead.
const MAX_LINE_VERIFICATIONS: usize = 24;

#[derive(Debug)]
struct LitCheck {
    cond: usize,
    kind: LitKind,
    original: String,
}

#[derive(Debug, Clone)]
enum Cond {
    Lit(usize),
    Re(usize),
    Http(HttpPattern),
    Fact(crate::signals::Fact),
    All(Vec<Cond>),
}

#[derive(Debug)]
struct CompiledSignal {
    cond: Cond,
    weight: f32,
    label: String,
}

#[derive(Debug)]
struct Phrase {
    scenario: usize,
    words: Vec<u32>,
    total_idf: f32,
}

/// The compiled form of every scenario's evidence.
#[derive(Debug)]
pub struct Matcher {
    ac: Option<AhoCorasick>,
    /// Per AC pattern: the literal conditions it may satisfy.
    checks: Vec<Vec<LitCheck>>,
    lit_conds: usize,
    /// One per regex condition, in condition order.
    verifiers: Vec<Verifier>,
    /// Regexes with no usable prefix literal, run over the whole text: (condition, regex).
    full_scan: Vec<(usize, regex::Regex)>,
    signals: Vec<Vec<CompiledSignal>>,
    modes: Vec<Mode>,
    vocab: HashMap<String, u32>,
    vocab_words: Vec<String>,
    /// Skim's score of each vocabulary word against itself (the best possible).
    vocab_perfect: Vec<i64>,
    idf: Vec<f32>,
    phrases: Vec<Phrase>,
}

/// A regex that failed to compile, by scenario and source.
#[derive(Debug, Clone)]
pub struct PatternError {
    /// Scenario index.
    pub scenario: usize,
    /// The pattern.
    pub pattern: String,
    /// Why.
    pub message: String,
}

/// Checks one regex the way the matcher will compile it.
pub fn check_regex(pattern: &str) -> Result<(), String> {
    regex_lite::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map(|_| ())
        .map_err(|e| {
            let msg = e.to_string();
            let last = msg.lines().last().unwrap_or("invalid regex").trim();
            last.strip_prefix("error: ").unwrap_or(last).to_string()
        })
}

impl Matcher {
    /// Compiles the scenarios. Regexes must have been checked with `check_regex`.
    pub fn compile(scenarios: &[Scenario]) -> Result<Matcher, PatternError> {
        let mut b = Builder::default();
        let mut signals = Vec::with_capacity(scenarios.len());
        for (si, s) in scenarios.iter().enumerate() {
            b.current = si;
            let mut compiled = Vec::new();
            for sig in &s.signals {
                let cond = b.cond(&sig.matcher);
                compiled.push(CompiledSignal {
                    cond,
                    weight: sig.weight.value(),
                    label: sig.label.clone(),
                });
            }
            signals.push(compiled);
            for p in &s.phrases {
                b.phrase(si, p);
            }
        }
        let mut verifiers = Vec::with_capacity(b.regexes.len());
        let mut full_scan = Vec::new();
        let regexes = std::mem::take(&mut b.regexes);
        for (cond, src) in &regexes {
            let scenario = b.regex_owner[*cond];
            let err = |message: String| PatternError {
                scenario,
                pattern: src.clone(),
                message,
            };
            let re = regex_lite::RegexBuilder::new(src)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| err(e.to_string()))?;
            let multiline = src.contains("\\s") || src.contains("\\n") || src.contains("[^") || src.contains("(?s");
            let mut exact = false;
            match prefix_literals(src) {
                Some((lits, all_exact)) => {
                    exact = all_exact;
                    for l in lits {
                        b.lit(&l, LitKind::RegexPrefix, &l, *cond);
                    }
                }
                None => full_scan.push((*cond, regex::Regex::new(src).map_err(|e| err(e.to_string()))?)),
            }
            verifiers.push(Verifier {
                src: src.clone(),
                re,
                exact,
                multiline,
                full: std::sync::OnceLock::new(),
            });
        }
        let ac = if b.patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .build(&b.patterns)
                    .map_err(|e| PatternError {
                        scenario: 0,
                        pattern: String::new(),
                        message: e.to_string(),
                    })?,
            )
        };
        let n_phrases = b.phrases.len().max(1) as f32;
        let idf: Vec<f32> = b.df.iter().map(|&df| (1.0 + n_phrases / df as f32).ln()).collect();
        let phrases = b
            .phrases
            .into_iter()
            .map(|(scenario, words)| {
                let total_idf = words.iter().map(|&w| idf[w as usize]).sum();
                Phrase {
                    scenario,
                    words,
                    total_idf,
                }
            })
            .collect();
        Ok(Matcher {
            ac,
            checks: b.checks,
            lit_conds: b.lit_conds,
            verifiers,
            full_scan,
            signals,
            modes: scenarios.iter().map(|s| s.mode).collect(),
            vocab: b.vocab,
            vocab_perfect: {
                let skim = SkimMatcherV2::default();
                b.vocab_words
                    .iter()
                    .map(|v| skim.fuzzy_match(v, v).unwrap_or(1).max(1))
                    .collect()
            },
            vocab_words: b.vocab_words,
            idf,
            phrases,
        })
    }

    /// Scores every scenario; returns those with a positive score, best first.
    pub fn rank(&self, text: &str, signals: &Signals) -> Vec<Hit> {
        let (fired_lits, fired_res) = self.scan_literals(text);
        let phrase_sims = self.phrase_similarity(text);
        let mut hits = Vec::new();
        for (si, sigs) in self.signals.iter().enumerate() {
            let mut sum = 0.0f32;
            let mut hard = 0.0f32;
            let mut reasons = Vec::new();
            for sig in sigs {
                let factor = eval(&sig.cond, &fired_lits, &fired_res, signals);
                if factor > 0.0 {
                    let w = sig.weight * factor;
                    sum += w;
                    hard += w;
                    reasons.push(Reason {
                        label: sig.label.clone(),
                        weight: w,
                    });
                }
            }
            if let Some(sim) = phrase_sims.get(&si).copied()
                && sim >= 0.3
            {
                // A paste that shows requests to something other than IMDS is a log, not a
                // question: its wording counts for less.
                let damp = if signals.foreign_http { 0.5 } else { 1.0 };
                let w = PHRASE_WEIGHT * sim * sim * damp;
                sum += w;
                reasons.push(Reason {
                    label: format!("question resembles how this is usually asked ({:.0}%)", sim * 100.0),
                    weight: w,
                });
            }
            if sum <= 0.0 || reasons.iter().all(|r| r.weight <= 0.0) {
                continue;
            }
            reasons.sort_by(|a, b| b.weight.total_cmp(&a.weight));
            hits.push(Hit {
                scenario: si,
                score: squash(sum),
                hard_weight: hard,
                reasons,
            });
        }
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(b.hard_weight.total_cmp(&a.hard_weight))
                .then(a.scenario.cmp(&b.scenario))
        });
        hits
    }

    /// The top hit of a ranking that would be auto-answered if its scenario were live: how
    /// shadow scenarios are counted without speaking.
    pub fn shadow_match<'r>(&self, ranking: &'r [Hit]) -> Option<&'r Hit> {
        let top = ranking.first()?;
        let second = ranking.get(1).map_or(0.0, |h| h.score);
        (self.modes.get(top.scenario) == Some(&Mode::Shadow) && auto_confident(top, second)).then_some(top)
    }

    /// Decides what to do with a ranking.
    pub fn verdict(&self, ranking: &[Hit], mode: MatchMode) -> Verdict {
        let Some(top) = ranking.first() else {
            return Verdict::None;
        };
        let second = ranking.get(1).map_or(0.0, |h| h.score);
        match mode {
            MatchMode::Auto => {
                let live = self.modes.get(top.scenario) == Some(&Mode::Live);
                if live && auto_confident(top, second) {
                    Verdict::Match(top.clone())
                } else {
                    Verdict::None
                }
            }
            MatchMode::Command => {
                if top.score < COMMAND_MIN_SCORE {
                    return Verdict::None;
                }
                // Unsure answers offer a wider pick-list ("which symptom do you see?").
                let margin = if top.score < CONFIDENT_SCORE {
                    UNSURE_MARGIN
                } else {
                    CLOSE_MARGIN
                };
                let close: Vec<Hit> = ranking
                    .iter()
                    .filter(|h| h.score >= COMMAND_MIN_SCORE && top.score - h.score < margin)
                    .take(PICK_LIST_MAX)
                    .cloned()
                    .collect();
                if close.len() >= 2 {
                    Verdict::Ambiguous(close)
                } else {
                    Verdict::Match(top.clone())
                }
            }
        }
    }

    /// One pass of the automaton: literal conditions that fired, and regexes verified on the
    /// lines where their prefixes appear (plus the whole-text regexes).
    fn scan_literals(&self, text: &str) -> (Vec<bool>, Vec<bool>) {
        let mut fired = vec![false; self.lit_conds];
        let mut fired_re = vec![false; self.verifiers.len()];
        for (cond, re) in &self.full_scan {
            fired_re[*cond] = re.is_match(text);
        }
        let Some(ac) = &self.ac else { return (fired, fired_re) };
        let bytes = text.as_bytes();
        let mut verified: HashSet<(usize, usize)> = HashSet::new();
        let mut attempts = vec![0usize; self.verifiers.len()];
        for m in ac.find_overlapping_iter(text).take(MAX_LITERAL_HITS) {
            for check in &self.checks[m.pattern().as_usize()] {
                if check.kind == LitKind::RegexPrefix {
                    let i = check.cond;
                    if fired_re[i] || attempts[i] > MAX_LINE_VERIFICATIONS {
                        continue;
                    }
                    let v = &self.verifiers[i];
                    if v.exact {
                        fired_re[i] =
                            v.re.is_match(&text[floor(text, m.start().saturating_sub(1))..ceil(text, m.end() + 1)]);
                    } else if attempts[i] == MAX_LINE_VERIFICATIONS {
                        // Too many candidate lines: one pass of the full engine over the text.
                        fired_re[i] = v
                            .full
                            .get_or_init(|| regex::Regex::new(&v.src).ok())
                            .as_ref()
                            .is_some_and(|re| re.is_match(text));
                    } else {
                        fired_re[i] = self.verify(i, text, m.start(), &mut verified);
                    }
                    attempts[i] += 1;
                    continue;
                }
                if fired[check.cond] {
                    continue;
                }
                let found = &text[m.start()..m.end()];
                let before = m.start().checked_sub(1).map(|i| bytes[i]);
                let after = bytes.get(m.end()).copied();
                let ok = match check.kind {
                    LitKind::Text | LitKind::RegexPrefix => true,
                    LitKind::Code | LitKind::OpPascal | LitKind::OpLower => {
                        found == check.original && !is_word(before) && !is_word(after)
                    }
                    LitKind::Iam => !is_word(before) && before != Some(b':') && !is_word(after) && after != Some(b'*'),
                };
                if ok {
                    fired[check.cond] = true;
                }
            }
        }
        (fired, fired_re)
    }

    /// Runs regex `idx` on the line holding `pos` (or a window after it for patterns that may
    /// span lines), once per line.
    fn verify(&self, idx: usize, text: &str, pos: usize, seen: &mut HashSet<(usize, usize)>) -> bool {
        let v = &self.verifiers[idx];
        let start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
        if !seen.insert((idx, start)) {
            return false;
        }
        let mut end = if v.multiline {
            (pos + 2048).min(text.len())
        } else {
            text[pos..].find('\n').map_or(text.len(), |i| pos + i)
        };
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        v.re.is_match(&text[start..end])
    }

    /// Phrase similarity per scenario (best phrase), for the question-like parts of the paste.
    fn phrase_similarity(&self, text: &str) -> HashMap<usize, f32> {
        let mut out = HashMap::new();
        let query = question_part(text);
        if query.is_empty() || self.phrases.is_empty() {
            return out;
        }
        let mut q: HashSet<u32> = HashSet::new();
        let words = tokenize(&query);
        let skim = SkimMatcherV2::default();
        for w in &words {
            if let Some(&id) = self.vocab.get(w) {
                q.insert(id);
            } else if let Some(id) = self.correct_typo(&skim, w) {
                q.insert(id);
            }
        }
        if q.is_empty() {
            return out;
        }
        let q_idf: f32 = q.iter().map(|&w| self.idf[w as usize]).sum();
        for p in &self.phrases {
            let matched: f32 = p
                .words
                .iter()
                .filter(|w| q.contains(w))
                .map(|&w| self.idf[w as usize])
                .sum();
            if matched <= 0.0 || p.total_idf <= 0.0 {
                continue;
            }
            let recall = matched / p.total_idf;
            let precision = matched / q_idf;
            let f = 2.0 * precision * recall / (precision + recall);
            let e = out.entry(p.scenario).or_insert(0.0f32);
            if f > *e {
                *e = f;
            }
        }
        out
    }

    /// Maps a misspelt query word to a vocabulary word with the same first letter.
    fn correct_typo(&self, skim: &SkimMatcherV2, word: &str) -> Option<u32> {
        if word.len() < 4 || word.len() > 24 || word.bytes().any(|b| b.is_ascii_digit()) {
            return None;
        }
        let first = word.as_bytes()[0];
        let mut best: Option<(i64, u32)> = None;
        for (i, v) in self.vocab_words.iter().enumerate() {
            if v.as_bytes()[0] != first || v.len().abs_diff(word.len()) > 2 || v.len() < 4 {
                continue;
            }
            let perfect = self.vocab_perfect[i];
            let score = skim
                .fuzzy_match(v, word)
                .or_else(|| skim.fuzzy_match(word, v))
                .unwrap_or(0);
            if score * 10 >= perfect * 6 && best.is_none_or(|(b, _)| score > b) {
                best = Some((score, i as u32));
            }
        }
        best.map(|(_, i)| i)
    }

    /// Number of vocabulary words (for tests and benchmarks).
    pub fn vocabulary_size(&self) -> usize {
        self.vocab_words.len()
    }
}

fn floor(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

fn is_word(b: Option<u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Turns a weight sum into a score in [0, 1]: one strong signal (2.0) gives 0.75.
pub fn squash(sum: f32) -> f32 {
    if sum <= 0.0 {
        0.0
    } else {
        (1.0 - (-sum).exp2()).clamp(0.0, 1.0)
    }
}

/// Evaluates a condition: 1.0 fired, 0.5 fired on a bare HTTP status without IMDS context, 0 not
/// (also 0 for a bare status when the paste shows requests to something other than IMDS).
fn eval(cond: &Cond, lits: &[bool], res: &[bool], s: &Signals) -> f32 {
    match cond {
        Cond::Lit(i) => f32::from(u8::from(lits[*i])),
        Cond::Re(i) => f32::from(u8::from(res[*i])),
        Cond::Fact(f) => f32::from(u8::from(s.facts.contains(*f))),
        Cond::Http(p) => s
            .exchanges
            .iter()
            .filter(|e| http_matches(p, e))
            .map(|e| {
                if e.imds {
                    1.0
                } else if s.foreign_http {
                    0.0
                } else {
                    0.5
                }
            })
            .fold(0.0, f32::max),
        Cond::All(cs) => cs.iter().map(|c| eval(c, lits, res, s)).fold(1.0, f32::min),
    }
}

fn http_matches(p: &HttpPattern, e: &Exchange) -> bool {
    if let Some(m) = p.method
        && e.method != Some(m)
    {
        return false;
    }
    if let Some(st) = p.status
        && e.status != Some(st)
    {
        return false;
    }
    if let Some(segs) = &p.path {
        match &e.path {
            Some(path) => path_matches(segs, path),
            None => false,
        }
    } else {
        true
    }
}

/// Matches a path against segment patterns; a trailing slash is ignored on both sides.
pub fn path_matches(pattern: &[Segment], path: &str) -> bool {
    let parts: Vec<&str> = path.trim_start_matches('/').trim_end_matches('/').split('/').collect();
    let mut i = 0;
    for seg in pattern {
        match seg {
            Segment::Rest => return true,
            Segment::Any => {
                if parts.get(i).is_none_or(|p| p.is_empty()) {
                    return false;
                }
            }
            Segment::Version => {
                let Some(p) = parts.get(i) else { return false };
                let b = p.as_bytes();
                let dated = b.len() == 10
                    && b[4] == b'-'
                    && b[7] == b'-'
                    && b.iter()
                        .enumerate()
                        .all(|(j, c)| j == 4 || j == 7 || c.is_ascii_digit());
                if !dated {
                    return false;
                }
            }
            Segment::Literal(l) => {
                if parts.get(i) != Some(&l.as_str()) {
                    return false;
                }
            }
        }
        i += 1;
    }
    i == parts.len()
}

#[derive(Default)]
struct Builder {
    patterns: Vec<String>,
    pattern_ids: HashMap<String, usize>,
    checks: Vec<Vec<LitCheck>>,
    lit_conds: usize,
    regexes: Vec<(usize, String)>,
    /// Scenario of each regex condition.
    regex_owner: Vec<usize>,
    /// Scenario being compiled.
    current: usize,
    vocab: HashMap<String, u32>,
    vocab_words: Vec<String>,
    df: Vec<u32>,
    phrases: Vec<(usize, Vec<u32>)>,
}

impl Builder {
    fn lit(&mut self, pattern: &str, kind: LitKind, original: &str, cond: usize) {
        let key = pattern.to_ascii_lowercase();
        let id = *self.pattern_ids.entry(key.clone()).or_insert_with(|| {
            self.patterns.push(key);
            self.checks.push(Vec::new());
            self.patterns.len() - 1
        });
        self.checks[id].push(LitCheck {
            cond,
            kind,
            original: original.to_string(),
        });
    }

    fn new_lit_cond(&mut self) -> usize {
        self.lit_conds += 1;
        self.lit_conds - 1
    }

    fn cond(&mut self, m: &SignalMatcher) -> Cond {
        match m {
            SignalMatcher::Text(t) => {
                let c = self.new_lit_cond();
                let norm = crate::text::normalise(t.as_bytes());
                self.lit(&norm, LitKind::Text, &norm, c);
                Cond::Lit(c)
            }
            SignalMatcher::Code(code) => {
                let c = self.new_lit_cond();
                self.lit(code, LitKind::Code, code, c);
                Cond::Lit(c)
            }
            SignalMatcher::Iam(name) => {
                let c = self.new_lit_cond();
                self.lit(name, LitKind::Iam, name, c);
                Cond::Lit(c)
            }
            SignalMatcher::Operation(op) => {
                let c = self.new_lit_cond();
                self.lit(op, LitKind::OpPascal, op, c);
                let snake = split_pascal(op);
                let kebab = snake.replace('_', "-");
                self.lit(&snake, LitKind::OpLower, &snake, c);
                self.lit(&kebab, LitKind::OpLower, &kebab, c);
                Cond::Lit(c)
            }
            SignalMatcher::Regex(src) => {
                let c = self.regexes.len();
                self.regexes.push((c, src.clone()));
                self.regex_owner.push(self.current);
                Cond::Re(c)
            }
            SignalMatcher::Http(p) => Cond::Http(p.clone()),
            SignalMatcher::Fact(f) => Cond::Fact(*f),
            SignalMatcher::All(list) => Cond::All(list.iter().map(|m| self.cond(m)).collect()),
        }
    }

    fn phrase(&mut self, scenario: usize, phrase: &str) {
        let mut ids: Vec<u32> = Vec::new();
        for w in tokenize(phrase) {
            let id = match self.vocab.get(&w) {
                Some(&id) => id,
                None => {
                    let id = self.vocab_words.len() as u32;
                    self.vocab.insert(w.clone(), id);
                    self.vocab_words.push(w);
                    self.df.push(0);
                    id
                }
            };
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        for &id in &ids {
            self.df[id as usize] += 1;
        }
        if !ids.is_empty() {
            self.phrases.push((scenario, ids));
        }
    }
}

/// Literals that every match of the regex starts with (compared ASCII case-insensitively), or
/// `None` when there is no short, finite set of at least 3 characters each. The flag says
/// whether every literal is a whole match.
fn prefix_literals(src: &str) -> Option<(Vec<String>, bool)> {
    let stripped = src.replace("(?i)", "");
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(&stripped)
        .ok()?;
    let seq = regex_syntax::hir::literal::Extractor::new().extract(&hir);
    let lits = seq.literals()?;
    let mut out: Vec<String> = Vec::new();
    let exact = lits.iter().all(regex_syntax::hir::literal::Literal::is_exact);
    for l in lits {
        let s = std::str::from_utf8(l.as_bytes()).ok()?.to_ascii_lowercase();
        if s.len() < 3 {
            return None;
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    (!out.is_empty() && out.len() <= 256).then_some((out, exact))
}

/// `RunInstances` -> `run_instances`.
fn split_pascal(op: &str) -> String {
    let mut out = String::with_capacity(op.len() + 4);
    let chars: Vec<char> = op.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev_lower = chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit();
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev_lower || (next_lower && chars[i - 1].is_ascii_uppercase()) {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The parts of a paste where people write questions: all of it when short, otherwise the
/// first and last two non-empty lines.
fn question_part(text: &str) -> String {
    if text.len() <= SHORT_INPUT {
        return text.to_string();
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut picked: Vec<&str> = lines.iter().take(2).copied().collect();
    if lines.len() > 2 {
        picked.extend(lines.iter().rev().take(2).copied());
    }
    picked
        .into_iter()
        .map(|l| {
            let mut end = l.len().min(200);
            while !l.is_char_boundary(end) {
                end -= 1;
            }
            &l[..end]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

const STOPWORDS: &[&str] = &[
    "a", "an", "the", "to", "of", "is", "are", "was", "were", "be", "on", "in", "at", "my", "our", "we", "i", "it",
    "its", "for", "with", "from", "and", "or", "but", "why", "does", "do", "did", "what", "how", "can", "this", "that",
    "there", "when", "after", "before", "by", "as", "me", "us", "you", "your", "any", "some", "just", "so", "if",
    "all", "has", "have", "had", "not", "no", "get", "gets", "getting", "got", "still", "now", "into", "than", "then",
    "which", "who", "help", "please", "anyone", "hey", "hi", "here", "again", "been", "being", "about", "keeps",
    "keep", "seem", "seems", "since", "way",
];

/// Lower-cased content words, with a few domain synonyms folded together.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for raw in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        if raw.len() < 2 || raw.len() > 40 {
            continue;
        }
        let w = raw.to_ascii_lowercase();
        if w == "v2" && out.last().is_some_and(|p| p == "imd") {
            out.pop();
            out.push("imdsv2".to_string());
            continue;
        }
        if w == "v1" && out.last().is_some_and(|p| p == "imd") {
            out.pop();
            out.push("imdsv1".to_string());
            continue;
        }
        if STOPWORDS.contains(&w.as_str()) {
            continue;
        }
        let w = match w.as_str() {
            "creds" | "cred" | "credentials" | "credential" => "credential".to_string(),
            "perms" | "perm" | "permissions" | "permission" => "permission".to_string(),
            "k8s" | "kube" => "kubernetes".to_string(),
            "metadata" | "meta" => "metadata".to_string(),
            "cant" | "cannot" | "unable" | "fails" | "failing" | "failed" | "fail" => "fail".to_string(),
            "expired" | "expire" | "expires" | "expiring" | "expiry" => "expire".to_string(),
            "containers" | "container" => "container".to_string(),
            _ if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") => {
                w[..w.len() - 1].to_string()
            }
            _ => w,
        };
        out.push(w);
    }
    out
}

/// Auto mode speaks only above these bars: score, lead over the runner-up and hard evidence.
fn auto_confident(top: &Hit, second: f32) -> bool {
    top.score >= AUTO_MIN_SCORE && top.score - second >= AUTO_MIN_LEAD && top.hard_weight >= AUTO_MIN_HARD_WEIGHT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squash_values() {
        assert_eq!(squash(0.0), 0.0);
        assert!((squash(2.0) - 0.75).abs() < 1e-6);
        assert!((squash(3.0) - 0.875).abs() < 1e-6);
        assert!(squash(50.0) <= 1.0);
    }

    #[test]
    fn pascal_to_snake() {
        assert_eq!(split_pascal("RunInstances"), "run_instances");
        assert_eq!(split_pascal("AddRoleToInstanceProfile"), "add_role_to_instance_profile");
        assert_eq!(
            split_pascal("DecodeAuthorizationMessage"),
            "decode_authorization_message"
        );
    }

    #[test]
    fn path_patterns() {
        let p = |s: &[Segment]| s.to_vec();
        let version_token = p(&[
            Segment::Version,
            Segment::Literal("api".into()),
            Segment::Literal("token".into()),
        ]);
        assert!(path_matches(&version_token, "/2021-03-23/api/token"));
        assert!(!path_matches(&version_token, "/latest/api/token"));
        let creds = p(&[
            Segment::Literal("latest".into()),
            Segment::Literal("meta-data".into()),
            Segment::Literal("iam".into()),
            Segment::Rest,
        ]);
        assert!(path_matches(&creds, "/latest/meta-data/iam/security-credentials/"));
        assert!(path_matches(&creds, "/latest/meta-data/iam"));
    }

    #[test]
    fn tokenizer_folds_synonyms() {
        assert_eq!(
            tokenize("Pods can't get creds from IMDS v2"),
            vec!["pod", "credential", "imdsv2"]
        );
        assert_eq!(tokenize("Forbidden permissions"), vec!["forbidden", "permission"]);
    }
}

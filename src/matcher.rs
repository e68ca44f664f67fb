//! Ranking scenarios against a paste, and deciding whether to answer.
//!
//! `Matcher::compile` turns every scenario's signals into one `LiteralSet` (all literal kinds:
//! text, codes, operations, IAM names, and the prefix and suffix literals of every regex),
//! structural checks on `signals::Signals`, and a small inverted index of phrases. Word-list
//! regexes become plain literals whose boundaries are checked at the hit; other regexes run
//! (a lazy DFA with `regex-lite` semantics) anchored at each hit of one of their prefixes, or on
//! the lines holding one of their literals; only the rare regex with neither runs over the whole
//! text (see `matcher/pattern.rs`). `scan` makes one pass of the literal set over the paste;
//! `rank_scanned` sums the weights of what fired (plus a phrase bonus for short questions) and
//! squashes the sum into a score in [0, 1]. `verdict` applies the thresholds for the two modes.
//!
//! Typos in question words are forgiven against the phrase vocabulary: a bounded edit distance
//! guards which words may be corrected (same first letter, one edit for 5-7 letters, two for
//! longer words, never ordinary English words), and `fuzzy-matcher`'s skim scorer chooses among
//! the vocabulary words that pass the guard. Only short normalised words are ever fuzzy-matched,
//! never a whole paste, and each distinct query word is corrected once per ranking.
//!
//! Must not import the renderers, the adapters or any I/O.

use std::collections::HashMap;
use std::sync::LazyLock;

use fuzzy_matcher::FuzzyMatcher;
use fuzzy_matcher::skim::SkimMatcherV2;

mod hash;
mod pattern;

use hash::FxHashMap;
pub use pattern::{Analysis, RegexCache};
use pattern::{Boundary, LineEngine, Plan, VERIFY_WINDOW, Verifier};

use crate::knowledge::model::{HttpPattern, Mode, Scenario, Segment, SignalMatcher};
use crate::literals::LiteralSet;
use crate::signals::{Exchange, Lines, MAX_TRIGGER_HITS, Signals};

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
/// A scenario's phrase similarity counts from this value on.
const PHRASE_MIN: f32 = 0.3;
/// Inputs up to this many bytes are matched against phrases whole.
pub const SHORT_INPUT: usize = 600;
/// Hits of a ranking that carry their reasons (more than any reply or JSON output shows).
pub const REASONED_HITS: usize = 8;
/// Maximum number of literal hits examined per paste.
const MAX_LITERAL_HITS: usize = 50_000;
/// Pastes this long or longer are scanned for literals on two cores (`Matcher::scan`).
const PARALLEL_SCAN: usize = 256 * 1024;

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
    /// What fired, strongest first (for the best `REASONED_HITS` hits of a ranking; empty
    /// below them).
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
    /// A whole match of a word-list regex (`cond` is the regex index): check its boundaries.
    RegexLiteral {
        start: Option<Boundary>,
        end: Option<Boundary>,
        case_sensitive: bool,
    },
    /// A prefix of a regex: run its engine anchored at the hit (`cond` is the regex index).
    RegexPrefix,
    /// A suffix of a regex: a match may end here.
    RegexSuffix,
    /// A literal every match of a line-gated regex holds: run its engine on the hit's line.
    RegexInner,
}

/// A regex run anchored at its prefix hits.
#[derive(Debug)]
struct Engine {
    re: Verifier,
    /// Shortest match: a suffix must end at least this far after the hit.
    min_len: usize,
    /// A boundary every match starts with.
    start: Option<Boundary>,
    /// A match may span lines (otherwise the suffix must be on the hit's line).
    multiline: bool,
}

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
    /// Index into `Matcher::http`.
    Http(usize),
    Fact(crate::signals::Fact),
    All(Vec<Cond>),
}

/// What one paste showed, as `rank_scanned` evaluates scenarios against it.
struct Evidence<'a> {
    lits: &'a [bool],
    res: &'a [bool],
    http: &'a [f32],
    /// Phrase similarity per scenario.
    phrase: &'a [f32],
    signals: &'a Signals,
}

impl Evidence<'_> {
    /// What `sig` adds to its scenario's score, when it fired.
    fn weight(&self, sig: &CompiledSignal) -> Option<f32> {
        let factor = eval(&sig.cond, self.lits, self.res, self.http, self.signals);
        (factor > 0.0).then_some(sig.weight * factor)
    }
}

/// The evidence summed for one scenario.
#[derive(Debug, Default)]
struct Tally {
    sum: f32,
    /// Without the phrase bonus.
    hard: f32,
    /// Some piece of evidence counted for the scenario (not only against it).
    any_positive: bool,
}

impl Tally {
    /// Adds `w`: a signal's weight when `hard`, otherwise the phrase bonus.
    fn add(&mut self, w: f32, hard: bool) {
        if hard {
            self.hard += w;
        }
        self.sum += w;
        self.any_positive |= w > 0.0;
    }
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

/// The hits of one literal pass over a paste (`Matcher::scan`), in order of start.
#[derive(Debug, Default)]
pub struct Scan {
    /// Hits of the signals' trigger literals (numbered as `signals::trigger_literals`).
    triggers: Vec<crate::literals::Hit>,
    /// Hits of the conditions' literals.
    conditions: Vec<crate::literals::Hit>,
}

impl Scan {
    /// The lines each evidence regex of `signals` may match on (see `signals::extract_with`).
    pub fn trigger_lines(&self, text: &str) -> Lines {
        Lines::from_hits(text, self.triggers.iter().copied())
    }
}

/// The compiled form of every scenario's evidence.
#[derive(Debug)]
pub struct Matcher {
    /// The signals' trigger literals, then every literal of every condition (texts, codes,
    /// regex literals, prefixes and suffixes).
    lits: LiteralSet,
    /// Number of trigger literals at the start of `lits`.
    triggers: usize,
    /// Per literal: the literal conditions it may satisfy.
    checks: Vec<Vec<LitCheck>>,
    lit_conds: usize,
    /// Per regex condition: the anchored engine, for regexes that are not plain word lists.
    engines: Vec<Option<Engine>>,
    /// Per regex condition: the engine of a line-gated regex (`Plan::Lines`).
    gated: Vec<Option<LineEngine>>,
    /// Per regex condition: its engine has no known suffix literals.
    unfiltered: Vec<bool>,
    /// Literal and regex conditions that name the metadata service the way other clouds' do
    /// too (169.254.169.254, "instance metadata"); see `names_metadata_service`.
    address_lits: Vec<usize>,
    address_res: Vec<usize>,
    /// Regexes with no usable prefix literal, run over the whole text in one pass:
    /// the engine and the condition of each of its patterns.
    full_scan: Option<(pattern::WholeText, Vec<usize>)>,
    /// Per regex condition: its pattern (for the tests that check the plans against
    /// `regex-lite`).
    #[cfg(test)]
    regex_sources: Vec<String>,
    /// Regexes split into their alternatives (`Plan::Any`): (condition, the conditions of its
    /// alternatives), in the order they were split.
    any: Vec<(usize, Vec<usize>)>,
    /// Whole-text regexes only `regex-lite` runs: (condition, regex).
    full_scan_lite: Vec<(usize, regex_lite::Regex)>,
    /// Distinct HTTP patterns of all signals.
    http: Vec<HttpPattern>,
    signals: Vec<Vec<CompiledSignal>>,
    /// Per signal number (signals are numbered across scenarios, in order): its scenario and
    /// its place among that scenario's signals.
    signal_at: Vec<(u32, u32)>,
    modes: Vec<Mode>,
    vocab: FxHashMap<String, u32>,
    vocab_words: Vec<String>,
    /// Vocabulary word ids by first byte, for typo correction.
    vocab_by_first: HashMap<u8, Vec<u32>>,
    /// Per vocabulary word: the characters it holds (see `char_set`).
    vocab_chars: Vec<u64>,
    idf: Vec<f32>,
    phrases: Vec<Phrase>,
    /// Per vocabulary word: the phrases that hold it.
    postings: Vec<Vec<u32>>,
    /// Which scenarios each kind of evidence may make score.
    users: Users,
    /// Scores typo-correction candidates.
    skim: Skim,
}

/// Per piece of evidence, the signals that use it (numbered as in `Matcher::signal_at`), so
/// that a ranking evaluates only the signals some evidence points at.
#[derive(Debug, Default)]
struct Users {
    lits: Vec<Vec<u32>>,
    res: Vec<Vec<u32>>,
    facts: Vec<Vec<u32>>,
    /// Per HTTP pattern: the signals that use it.
    http: Vec<Vec<u32>>,
}

impl Users {
    fn add(&mut self, cond: &Cond, signal: u32) {
        let push = |v: &mut Vec<u32>| {
            if v.last() != Some(&signal) {
                v.push(signal);
            }
        };
        match cond {
            Cond::Lit(i) => push(&mut self.lits[*i]),
            Cond::Re(i) => push(&mut self.res[*i]),
            Cond::Fact(f) => push(&mut self.facts[*f as usize]),
            Cond::Http(i) => push(&mut self.http[*i]),
            Cond::All(cs) => {
                for c in cs {
                    self.add(c, signal);
                }
            }
        }
    }
}

/// `SkimMatcherV2` (which has no `Debug`), ignoring case.
struct Skim(SkimMatcherV2);

impl Default for Skim {
    fn default() -> Skim {
        Skim(SkimMatcherV2::default().ignore_case())
    }
}

impl std::fmt::Debug for Skim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SkimMatcherV2")
    }
}

impl Skim {
    /// How well a misspelt word and a vocabulary word match, in either direction (a dropped
    /// letter leaves the word inside the candidate, an extra one the candidate inside the word).
    fn score(&self, candidate: &str, word: &str) -> Option<i64> {
        self.0
            .fuzzy_match(candidate, word)
            .max(self.0.fuzzy_match(word, candidate))
    }
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

/// Checks one regex the way the matcher will run it (see `RegexCache::check`).
pub fn check_regex(pattern: &str) -> Result<(), String> {
    RegexCache::new().check(pattern).map(|_| ())
}

impl Matcher {
    /// Compiles the scenarios. Regexes must have been checked with `check_regex`.
    pub fn compile(scenarios: &[Scenario]) -> Result<Matcher, PatternError> {
        Matcher::compile_with(scenarios, &mut RegexCache::new())
    }

    /// Compiles the scenarios, reusing the regexes already analysed in `cache`.
    pub fn compile_with(scenarios: &[Scenario], cache: &mut RegexCache) -> Result<Matcher, PatternError> {
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
        let mut engines = Vec::with_capacity(b.regexes.len());
        let mut gated = Vec::with_capacity(b.regexes.len());
        let mut whole: Vec<(usize, regex_syntax::hir::Hir)> = Vec::new();
        let mut full_scan_lite = Vec::new();
        // The alternatives of split regexes join the list as they come (`Plan::Any`).
        let mut any = Vec::new();
        let mut next = 0;
        while next < b.regexes.len() {
            let (cond, src) = b.regexes[next].clone();
            next += 1;
            let analysis = cache.check(&src).map_err(|message| PatternError {
                scenario: b.regex_owner[cond],
                pattern: src.clone(),
                message,
            })?;
            gated.push(match &analysis.plan {
                Plan::Lines { engine, .. } => Some(engine.clone()),
                _ => None,
            });
            match &analysis.plan {
                Plan::Literals {
                    alternatives,
                    case_sensitive,
                } => {
                    for a in alternatives {
                        let lit = String::from_utf8_lossy(&a.literal).into_owned();
                        let kind = LitKind::RegexLiteral {
                            start: a.start,
                            end: a.end,
                            case_sensitive: *case_sensitive,
                        };
                        b.lit(&lit, kind, &lit, cond);
                    }
                    engines.push(None);
                }
                Plan::Anchored {
                    prefixes,
                    suffixes,
                    min_len,
                    start,
                    multiline,
                    engine,
                } => {
                    for l in prefixes {
                        b.lit(l, LitKind::RegexPrefix, l, cond);
                    }
                    match suffixes {
                        Some(suffixes) => {
                            for l in suffixes {
                                b.lit(l, LitKind::RegexSuffix, l, cond);
                            }
                        }
                        None => b.unfiltered.push(cond),
                    }
                    engines.push(Some(Engine {
                        re: engine.clone(),
                        min_len: *min_len,
                        start: *start,
                        multiline: *multiline,
                    }));
                }
                Plan::Lines { literals, .. } => {
                    for l in literals {
                        b.lit(l, LitKind::RegexInner, l, cond);
                    }
                    engines.push(None);
                }
                Plan::WholeText(re) => {
                    match re {
                        pattern::Scanner::Dfa(h) => whole.push((cond, h.clone())),
                        pattern::Scanner::Lite(re) => full_scan_lite.push((cond, re.clone())),
                    }
                    engines.push(None);
                }
                Plan::Any(alternatives) => {
                    let owner = b.regex_owner[cond];
                    let pieces = alternatives.iter().map(|p| b.regex_cond(p, owner)).collect();
                    any.push((cond, pieces));
                    engines.push(None);
                }
            }
        }
        let full_scan = if whole.is_empty() {
            None
        } else {
            let hirs: Vec<&regex_syntax::hir::Hir> = whole.iter().map(|(_, h)| h).collect();
            Some((
                pattern::WholeText::build(&hirs),
                whole.iter().map(|(c, _)| *c).collect(),
            ))
        };
        // The signals' trigger literals come first, so that one pass serves both (`scan`).
        let triggers = crate::signals::trigger_literals().len();
        let mut all: Vec<&str> = crate::signals::trigger_literals().collect();
        all.extend(b.patterns.iter().map(String::as_str));
        let lits = LiteralSet::new(all).map_err(|e| PatternError {
            scenario: 0,
            pattern: String::new(),
            message: e.to_string(),
        })?;
        let n_phrases = b.phrases.len().max(1) as f32;
        let idf: Vec<f32> = b.df.iter().map(|&df| (1.0 + n_phrases / df as f32).ln()).collect();
        let phrases: Vec<Phrase> = b
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
        let mut postings: Vec<Vec<u32>> = vec![Vec::new(); b.vocab_words.len()];
        for (pi, p) in phrases.iter().enumerate() {
            for &w in &p.words {
                postings[w as usize].push(pi as u32);
            }
        }
        let mut users = Users {
            lits: vec![Vec::new(); b.lit_conds],
            res: vec![Vec::new(); engines.len()],
            facts: vec![Vec::new(); crate::signals::Fact::ALL.len()],
            http: vec![Vec::new(); b.http.len()],
        };
        let mut signal_at = Vec::new();
        for (si, sigs) in signals.iter().enumerate() {
            for (k, sig) in sigs.iter().enumerate() {
                users.add(&sig.cond, signal_at.len() as u32);
                signal_at.push((si as u32, k as u32));
            }
        }
        let vocab_chars = b.vocab_words.iter().map(|w| char_set(w)).collect();
        let mut vocab_by_first: HashMap<u8, Vec<u32>> = HashMap::new();
        for (i, w) in b.vocab_words.iter().enumerate() {
            vocab_by_first.entry(w.as_bytes()[0]).or_default().push(i as u32);
        }
        let mut unfiltered = vec![false; engines.len()];
        for &i in &b.unfiltered {
            unfiltered[i] = true;
        }
        Ok(Matcher {
            lits,
            triggers,
            checks: b.checks,
            lit_conds: b.lit_conds,
            engines,
            gated,
            unfiltered,
            address_lits: b.address_lits,
            address_res: b.address_res,
            full_scan,
            full_scan_lite,
            #[cfg(test)]
            regex_sources: b.regexes.into_iter().map(|(_, src)| src).collect(),
            any,
            http: b.http,
            signals,
            signal_at,
            modes: scenarios.iter().map(|s| s.mode).collect(),
            vocab: b.vocab,
            vocab_words: b.vocab_words,
            vocab_by_first,
            vocab_chars,
            idf,
            phrases,
            postings,
            users,
            skim: Skim::default(),
        })
    }

    /// One pass over `text` for the literals of the signals' triggers and of every condition.
    /// A paste of `PARALLEL_SCAN` bytes or more is scanned in halves on two cores.
    pub fn scan(&self, text: &str) -> Scan {
        if text.len() < PARALLEL_SCAN {
            return self.scan_starts(text, 0..text.len());
        }
        let mid = text.len() / 2;
        let halves = crate::par::map(&[0..mid, mid..text.len()], |r| self.scan_starts(text, r.clone()));
        let mut scan = Scan::default();
        for half in halves {
            scan.triggers.extend(half.triggers);
            scan.conditions.extend(half.conditions);
        }
        // The first hits, in order of start, as one pass would have kept them.
        scan.triggers.truncate(MAX_TRIGGER_HITS);
        scan.conditions.truncate(MAX_LITERAL_HITS);
        scan
    }

    /// The hits that start within `starts`.
    fn scan_starts(&self, text: &str, starts: std::ops::Range<usize>) -> Scan {
        let mut scan = Scan::default();
        self.lits.for_each_hit_in(text.as_bytes(), starts, |h| {
            if h.literal < self.triggers {
                if scan.triggers.len() < MAX_TRIGGER_HITS {
                    scan.triggers.push(h);
                }
            } else if scan.conditions.len() < MAX_LITERAL_HITS {
                scan.conditions.push(crate::literals::Hit {
                    literal: h.literal - self.triggers,
                    ..h
                });
            }
            scan.triggers.len() < MAX_TRIGGER_HITS || scan.conditions.len() < MAX_LITERAL_HITS
        });
        scan
    }

    /// Scores every scenario from the literal pass over `text` (`scan`); returns those with a
    /// positive score, best first.
    pub fn rank_scanned(&self, text: &str, signals: &Signals, scan: &Scan) -> Vec<Hit> {
        let (mut fired_lits, mut fired_res) = self.scan_literals(text, &scan.conditions);
        if signals.other_cloud_metadata && !signals.imds_context {
            // Another cloud's metadata service at 169.254.169.254, and nothing of EC2's: the
            // address is no evidence for an IMDS scenario.
            for &i in &self.address_lits {
                fired_lits[i] = false;
            }
            for &i in &self.address_res {
                fired_res[i] = false;
            }
        }
        let phrase_sims = self.phrase_similarity(text);
        // Only a signal some fired evidence points at can count: mark those, in signal order.
        let mut marked = vec![0u64; self.signal_at.len().div_ceil(64)];
        let mut mark = |users: &[u32]| {
            for &g in users {
                marked[g as usize / 64] |= 1 << (g % 64);
            }
        };
        for (i, _) in fired_lits.iter().enumerate().filter(|(_, f)| **f) {
            mark(&self.users.lits[i]);
        }
        for (i, _) in fired_res.iter().enumerate().filter(|(_, f)| **f) {
            mark(&self.users.res[i]);
        }
        for f in signals.facts.iter() {
            mark(&self.users.facts[f as usize]);
        }
        // Each distinct HTTP pattern is checked against the exchanges once.
        let http: Vec<f32> = self.http.iter().map(|p| http_factor(p, signals)).collect();
        for (i, _) in http.iter().enumerate().filter(|(_, f)| **f > 0.0) {
            mark(&self.users.http[i]);
        }
        let ev = Evidence {
            lits: &fired_lits,
            res: &fired_res,
            http: &http,
            phrase: &phrase_sims,
            signals,
        };
        // Per scenario with a marked signal, in scenario order, the sum of its signals in their
        // order (the unmarked ones add nothing), then the phrase bonus: what `reasons` lists.
        let mut tallies: Vec<(usize, Tally)> = Vec::new();
        for (word_index, &word) in marked.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let g = word_index * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let (si, k) = (self.signal_at[g].0 as usize, self.signal_at[g].1 as usize);
                let Some(w) = ev.weight(&self.signals[si][k]) else {
                    continue;
                };
                if tallies.last().is_none_or(|(s, _)| *s != si) {
                    tallies.push((si, Tally::default()));
                }
                if let Some((_, t)) = tallies.last_mut() {
                    t.add(w, true);
                }
            }
        }
        let mut phrase_only = Vec::new();
        for (si, &sim) in phrase_sims.iter().enumerate().filter(|(_, s)| **s >= PHRASE_MIN) {
            let w = phrase_weight(sim, signals);
            match tallies.binary_search_by_key(&si, |(s, _)| *s) {
                Ok(k) => tallies[k].1.add(w, false),
                Err(_) => {
                    let mut t = Tally::default();
                    t.add(w, false);
                    phrase_only.push((si, t));
                }
            }
        }
        let mut hits: Vec<Hit> = tallies
            .into_iter()
            .chain(phrase_only)
            .filter(|(_, t)| t.sum > 0.0 && t.any_positive)
            .map(|(si, t)| Hit {
                scenario: si,
                score: squash(t.sum),
                hard_weight: t.hard,
                reasons: Vec::new(),
            })
            .collect();
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(b.hard_weight.total_cmp(&a.hard_weight))
                .then(a.scenario.cmp(&b.scenario))
        });
        // Only the best hits are ever shown, so only they say why they matched.
        for h in hits.iter_mut().take(REASONED_HITS) {
            h.reasons = self.reasons(h.scenario, &ev);
            h.reasons.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        }
        hits
    }

    /// What counted for scenario `si`, in the order `rank_scanned` sums it: each signal that
    /// fired, then the phrase bonus.
    fn reasons(&self, si: usize, ev: &Evidence<'_>) -> Vec<Reason> {
        let mut out: Vec<Reason> = self.signals[si]
            .iter()
            .filter_map(|sig| {
                Some(Reason {
                    weight: ev.weight(sig)?,
                    label: sig.label.clone(),
                })
            })
            .collect();
        let sim = ev.phrase[si];
        if sim >= PHRASE_MIN {
            out.push(Reason {
                label: format!("question resembles how this is usually asked ({:.0}%)", sim * 100.0),
                weight: phrase_weight(sim, ev.signals),
            });
        }
        out
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

    /// One pass of the literal set: literal conditions that fired, and regexes that matched
    /// (word lists checked at the hit, other regexes run anchored at their prefixes, plus the
    /// whole-text regexes).
    fn scan_literals(&self, text: &str, hits: &[crate::literals::Hit]) -> (Vec<bool>, Vec<bool>) {
        let mut fired = vec![false; self.lit_conds];
        let mut fired_re = vec![false; self.engines.len()];
        if let Some((engine, conds)) = &self.full_scan {
            for i in engine.matching(text) {
                fired_re[conds[i]] = true;
            }
        }
        for (cond, re) in &self.full_scan_lite {
            fired_re[*cond] = re.is_match(text);
        }
        let bytes = text.as_bytes();
        // Prefix hits wait until the end of the pass: an engine only runs where one of its
        // suffixes was seen after the hit.
        let mut pending: Vec<(usize, usize)> = Vec::new();
        let mut suffixes: Vec<(usize, usize)> = Vec::new();
        let mut inner: Vec<(usize, usize)> = Vec::new();
        for m in hits {
            let before = m.start.checked_sub(1).map(|i| bytes[i]);
            let after = bytes.get(m.end).copied();
            for check in &self.checks[m.literal] {
                match check.kind {
                    LitKind::RegexPrefix => {
                        // Several prefixes of one regex may start at the same position.
                        if pending.last() != Some(&(check.cond, m.start)) {
                            pending.push((check.cond, m.start));
                        }
                        continue;
                    }
                    LitKind::RegexSuffix => {
                        if !fired_re[check.cond] {
                            suffixes.push((check.cond, m.end));
                        }
                        continue;
                    }
                    LitKind::RegexInner => {
                        inner.push((check.cond, m.start));
                        continue;
                    }
                    LitKind::RegexLiteral {
                        start,
                        end,
                        case_sensitive,
                    } => {
                        let i = check.cond;
                        if fired_re[i] {
                            continue;
                        }
                        let first = bytes.get(m.start).copied();
                        let last = m.end.checked_sub(1).map(|i| bytes[i]);
                        fired_re[i] = start.is_none_or(|b| b.holds(before, first))
                            && end.is_none_or(|b| b.holds(last, after))
                            && (!case_sensitive || text[m.start..m.end] == check.original);
                        continue;
                    }
                    _ => {}
                }
                if fired[check.cond] {
                    continue;
                }
                let found = &text[m.start..m.end];
                let ok = match check.kind {
                    LitKind::Text
                    | LitKind::RegexPrefix
                    | LitKind::RegexSuffix
                    | LitKind::RegexInner
                    | LitKind::RegexLiteral { .. } => true,
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
        // Line-gated regexes run on each line holding one of their literals, at most once per
        // line (hits come by start, so a line already searched ends after the hit).
        let mut searched_to = vec![0usize; self.engines.len()];
        for (i, pos) in inner {
            let Some(engine) = &self.gated[i] else { continue };
            if fired_re[i] || pos < searched_to[i] {
                continue;
            }
            let start = memchr::memrchr(b'\n', &bytes[..pos]).map_or(0, |n| n + 1);
            let end = memchr::memchr(b'\n', &bytes[pos..]).map_or(text.len(), |n| pos + n);
            searched_to[i] = end;
            fired_re[i] = engine.matches_in(text, start..end);
        }
        // Suffix ends grouped by regex (a counting sort), then each group sorted (hits come by
        // start, so a group is nearly in order already).
        let mut group = vec![0u32; self.engines.len() + 1];
        for &(c, _) in &suffixes {
            group[c + 1] += 1;
        }
        for i in 1..group.len() {
            group[i] += group[i - 1];
        }
        let mut ends = vec![0usize; suffixes.len()];
        let mut next = group.clone();
        for &(c, e) in &suffixes {
            ends[next[c] as usize] = e;
            next[c] += 1;
        }
        for w in group.windows(2).filter(|w| w[1] - w[0] > 1) {
            ends[w[0] as usize..w[1] as usize].sort_unstable();
        }
        // The line end of the last prefix hit (many regexes share a prefix).
        let mut line: Option<(usize, usize)> = None;
        for (i, pos) in pending {
            let Some(engine) = &self.engines[i] else { continue };
            if fired_re[i] {
                continue;
            }
            if let Some(b) = engine.start
                && !b.holds(pos.checked_sub(1).map(|p| bytes[p]), bytes.get(pos).copied())
            {
                continue;
            }
            if !self.unfiltered[i] {
                // A match starting here ends with a suffix, at least `min_len` bytes on, and on
                // this line unless the regex can span lines.
                let from = pos + engine.min_len;
                let to = if engine.multiline {
                    pos.saturating_add(VERIFY_WINDOW)
                } else {
                    match line {
                        Some((p, end)) if p == pos => end,
                        _ => {
                            let end = memchr::memchr(b'\n', &bytes[pos..]).map_or(text.len(), |n| pos + n);
                            line = Some((pos, end));
                            end
                        }
                    }
                };
                let mine = &ends[group[i] as usize..group[i + 1] as usize];
                let k = mine.partition_point(|&e| e < from);
                if mine.get(k).is_none_or(|&e| e > to) {
                    continue;
                }
            }
            fired_re[i] = engine.re.matches_at(text, pos);
        }
        // A split regex matched where one of its alternatives did (an alternative is split after
        // the regex that holds it, so the last ones are settled first).
        for (cond, pieces) in self.any.iter().rev() {
            fired_re[*cond] = pieces.iter().any(|&p| fired_re[p]);
        }
        (fired, fired_re)
    }

    /// Phrase similarity per scenario (best phrase), for the question-like parts of the paste.
    fn phrase_similarity(&self, text: &str) -> Vec<f32> {
        let mut out = vec![0.0f32; self.signals.len()];
        let query = question_part(text);
        if query.is_empty() || self.phrases.is_empty() {
            return out;
        }
        let mut q: Vec<u32> = Vec::new();
        // Keyed by pasted words, but only those of a question part (at most 800 bytes): too
        // few for keys chosen to collide in the Fx hash to cost anything.
        let mut corrections: FxHashMap<String, Option<u32>> = FxHashMap::default();
        for_each_token(&query, |w| {
            let id = match self.vocab.get(w) {
                Some(&id) => Some(id),
                None => match corrections.get(w) {
                    Some(&c) => c,
                    None => {
                        let c = self.correct_typo(w);
                        corrections.insert(w.to_string(), c);
                        c
                    }
                },
            };
            if let Some(id) = id
                && !q.contains(&id)
            {
                q.push(id);
            }
        });
        if q.is_empty() {
            return out;
        }
        let q_idf: f32 = q.iter().map(|&w| self.idf[w as usize]).sum();
        // Only phrases that share a word with the query can score: sum, per phrase, the idf of
        // its words in the query (every idf is positive, so 0 means untouched).
        let mut matched_idf = vec![0.0f32; self.phrases.len()];
        let mut touched: Vec<u32> = Vec::new();
        for &w in &q {
            let idf = self.idf[w as usize];
            for &pi in &self.postings[w as usize] {
                let m = &mut matched_idf[pi as usize];
                if *m == 0.0 {
                    touched.push(pi);
                }
                *m += idf;
            }
        }
        for &pi in &touched {
            let p = &self.phrases[pi as usize];
            let matched = matched_idf[pi as usize];
            if matched <= 0.0 || p.total_idf <= 0.0 {
                continue;
            }
            let recall = matched / p.total_idf;
            let precision = matched / q_idf;
            let f = 2.0 * precision * recall / (precision + recall);
            let e = &mut out[p.scenario];
            if f > *e {
                *e = f;
            }
        }
        out
    }

    /// Maps a misspelt query word to a vocabulary word with the same first letter: one edit
    /// away for words of 5 to 7 letters, at most two for longer ones; never for shorter words,
    /// words with digits, or ordinary English words ("lunch" is not a typo of "launch"). Among
    /// the words that pass, the fewest edits win, then the best skim score.
    fn correct_typo(&self, word: &str) -> Option<u32> {
        let max = match word.len() {
            0..5 => return None,
            5..=7 => 1,
            8..=24 => 2,
            _ => return None,
        };
        if word.bytes().any(|b| !b.is_ascii_lowercase()) || is_english_word(word) {
            return None;
        }
        // One edit changes at most two members of a word's character set, so a word whose set
        // differs in more than `2 * max` members is too far without computing the distance.
        let chars = char_set(word);
        let candidates = self
            .vocab_by_first
            .get(&word.as_bytes()[0])?
            .iter()
            .filter(|&&i| (self.vocab_chars[i as usize] ^ chars).count_ones() as usize <= 2 * max)
            .map(|&i| (i, self.vocab_words[i as usize].as_str()));
        best_correction(&self.skim, word, max, candidates)
    }

    /// Number of vocabulary words (for tests and benchmarks).
    pub fn vocabulary_size(&self) -> usize {
        self.vocab_words.len()
    }
}

/// The candidate within `max` edits of `word` with the fewest edits and, among those, the best
/// skim score (the first one on a tie).
fn best_correction<'v>(
    skim: &Skim,
    word: &str,
    max: usize,
    candidates: impl Iterator<Item = (u32, &'v str)>,
) -> Option<u32> {
    let mut best: Option<(usize, Option<i64>, u32)> = None;
    for (i, v) in candidates {
        if v.len().abs_diff(word.len()) > max || v.len() < 5 {
            continue;
        }
        let Some(d) = edit_distance(word.as_bytes(), v.as_bytes(), max) else {
            continue;
        };
        let score = skim.score(v, word);
        if best.is_none_or(|(bd, bs, _)| d < bd || (d == bd && score > bs)) {
            best = Some((d, score, i));
        }
    }
    best.map(|(_, _, i)| i)
}

/// The set of characters in `word`: a bit per ASCII letter or digit, one for anything else.
fn char_set(word: &str) -> u64 {
    word.bytes().fold(0, |set, b| {
        set | match b {
            b'a'..=b'z' => 1 << (b - b'a'),
            b'A'..=b'Z' => 1 << (b - b'A'),
            b'0'..=b'9' => 1 << (26 + b - b'0'),
            _ => 1 << 36,
        }
    })
}

/// Levenshtein distance between two words, or `None` when it exceeds `max`.
fn edit_distance(a: &[u8], b: &[u8], max: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    // Two rows on the stack for the short words that are ever corrected; longer ones in Vecs.
    const ROW: usize = 48;
    if b.len() < ROW {
        let (mut prev, mut cur) = ([0usize; ROW], [0usize; ROW]);
        edit_rows(a, b, max, &mut prev[..=b.len()], &mut cur[..=b.len()])
    } else {
        edit_rows(a, b, max, &mut vec![0; b.len() + 1], &mut vec![0; b.len() + 1])
    }
}

/// `edit_distance` in two rows of `b.len() + 1` cells.
fn edit_rows<'r>(a: &[u8], b: &[u8], max: usize, mut prev: &'r mut [usize], mut cur: &'r mut [usize]) -> Option<usize> {
    for (j, p) in prev.iter_mut().enumerate() {
        *p = j;
    }
    for (i, &ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        let mut row_min = cur[0];
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
            row_min = row_min.min(cur[j + 1]);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let d = prev[b.len()];
    (d <= max).then_some(d)
}

/// Common English words of five letters or more that are one or two edits away from words of
/// the phrase vocabulary. They are meant as written, never corrected.
const ENGLISH_WORDS: &[&str] = &[
    "about",
    "after",
    "again",
    "agent",
    "allow",
    "along",
    "apply",
    "asked",
    "begin",
    "being",
    "below",
    "bring",
    "build",
    "built",
    "calls",
    "catch",
    "cause",
    "chain",
    "check",
    "class",
    "clean",
    "clear",
    "close",
    "could",
    "count",
    "cover",
    "daily",
    "every",
    "fetch",
    "field",
    "first",
    "fixed",
    "found",
    "given",
    "group",
    "guess",
    "hello",
    "large",
    "later",
    "learn",
    "least",
    "level",
    "light",
    "limit",
    "local",
    "lunch",
    "match",
    "means",
    "might",
    "model",
    "never",
    "night",
    "often",
    "order",
    "other",
    "owner",
    "paper",
    "party",
    "place",
    "plans",
    "point",
    "power",
    "price",
    "quick",
    "quite",
    "reach",
    "ready",
    "right",
    "roles",
    "round",
    "route",
    "scale",
    "share",
    "shell",
    "short",
    "since",
    "small",
    "sound",
    "space",
    "staff",
    "stage",
    "stale",
    "start",
    "state",
    "still",
    "story",
    "table",
    "taken",
    "their",
    "there",
    "these",
    "thing",
    "think",
    "those",
    "three",
    "token",
    "today",
    "total",
    "touch",
    "under",
    "until",
    "usual",
    "value",
    "watch",
    "water",
    "where",
    "which",
    "while",
    "whole",
    "world",
    "would",
    "write",
    "wrong",
    "years",
    "action",
    "active",
    "actual",
    "always",
    "answer",
    "before",
    "better",
    "branch",
    "change",
    "client",
    "create",
    "during",
    "either",
    "enough",
    "friday",
    "launched",
    "manage",
    "market",
    "minute",
    "monday",
    "moving",
    "number",
    "office",
    "people",
    "person",
    "planet",
    "please",
    "policy",
    "public",
    "reason",
    "record",
    "region",
    "really",
    "report",
    "result",
    "return",
    "review",
    "rolled",
    "scheme",
    "school",
    "second",
    "select",
    "should",
    "simple",
    "single",
    "source",
    "status",
    "street",
    "strong",
    "sunday",
    "system",
    "target",
    "thanks",
    "ticket",
    "travel",
    "update",
    "weekly",
    "window",
    "within",
    "another",
    "anymore",
    "because",
    "between",
    "changed",
    "company",
    "content",
    "correct",
    "current",
    "default",
    "general",
    "getting",
    "happens",
    "history",
    "instead",
    "meeting",
    "morning",
    "nothing",
    "partner",
    "perhaps",
    "problem",
    "program",
    "project",
    "running",
    "several",
    "someone",
    "started",
    "support",
    "through",
    "tonight",
    "weekend",
    "working",
    "yesterday",
];

fn is_english_word(word: &str) -> bool {
    static SORTED: LazyLock<Vec<&str>> = LazyLock::new(|| sorted(ENGLISH_WORDS));
    SORTED.binary_search(&word).is_ok()
}

/// Words too common to tell one question from another.
#[rustfmt::skip]
fn is_stopword(word: &str) -> bool {
    matches!(
        word,
        "a" | "an" | "the" | "to" | "of" | "is" | "are" | "was" | "were" | "be" | "on" | "in" | "at" | "my"
            | "our" | "we" | "i" | "it" | "its" | "for" | "with" | "from" | "and" | "or" | "but" | "why"
            | "does" | "do" | "did" | "what" | "how" | "can" | "this" | "that" | "there" | "when" | "after"
            | "before" | "by" | "as" | "me" | "us" | "you" | "your" | "any" | "some" | "just" | "so" | "if"
            | "all" | "has" | "have" | "had" | "not" | "no" | "get" | "gets" | "getting" | "got" | "still"
            | "now" | "into" | "than" | "then" | "which" | "who" | "help" | "please" | "anyone" | "hey" | "hi"
            | "here" | "again" | "been" | "being" | "about" | "keeps" | "keep" | "seem" | "seems" | "since"
            | "way"
    )
}

/// A word list sorted for `binary_search`.
fn sorted(words: &[&'static str]) -> Vec<&'static str> {
    let mut v = words.to_vec();
    v.sort_unstable();
    v
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

/// The phrase bonus for a phrase similarity of `sim` (at least `PHRASE_MIN`).
fn phrase_weight(sim: f32, s: &Signals) -> f32 {
    // A paste that shows requests to something other than IMDS is a log, not a question: its
    // wording counts for less.
    let damp = if s.foreign_http { 0.5 } else { 1.0 };
    PHRASE_WEIGHT * sim * sim * damp
}

/// Evaluates a condition: 1.0 fired, 0.5 fired on a bare HTTP status without IMDS context, 0 not
/// (also 0 for a bare status when the paste shows requests to something other than IMDS).
fn eval(cond: &Cond, lits: &[bool], res: &[bool], http: &[f32], s: &Signals) -> f32 {
    match cond {
        Cond::Lit(i) => f32::from(u8::from(lits[*i])),
        Cond::Re(i) => f32::from(u8::from(res[*i])),
        Cond::Fact(f) => f32::from(u8::from(s.facts.contains(*f))),
        Cond::Http(i) => http[*i],
        Cond::All(cs) => cs.iter().map(|c| eval(c, lits, res, http, s)).fold(1.0, f32::min),
    }
}

/// How well the paste's exchanges show an HTTP pattern: 1 for an exchange with the metadata
/// service, 0.5 for one that may be (0 when the paste shows requests to something else).
fn http_factor(p: &HttpPattern, s: &Signals) -> f32 {
    s.exchanges
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
        .fold(0.0, f32::max)
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
    let trimmed = path.trim_start_matches('/').trim_end_matches('/');
    let mut parts = trimmed.split('/');
    for seg in pattern {
        let part = parts.next();
        match seg {
            Segment::Rest => return true,
            Segment::Any => {
                if part.is_none_or(str::is_empty) {
                    return false;
                }
            }
            Segment::Version => {
                let Some(p) = part else { return false };
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
                if part != Some(l.as_str()) {
                    return false;
                }
            }
        }
    }
    parts.next().is_none()
}

#[derive(Default)]
struct Builder {
    patterns: Vec<String>,
    pattern_ids: FxHashMap<String, usize>,
    checks: Vec<Vec<LitCheck>>,
    lit_conds: usize,
    /// Literal conditions by kind and text.
    lit_cond_ids: FxHashMap<(&'static str, String), usize>,
    regexes: Vec<(usize, String)>,
    /// Regex conditions by source.
    regex_ids: FxHashMap<String, usize>,
    /// Distinct HTTP patterns (conditions share them).
    http: Vec<HttpPattern>,
    /// Scenario of each regex condition.
    regex_owner: Vec<usize>,
    /// Scenario being compiled.
    current: usize,
    /// Engine regexes with no known suffix literals.
    unfiltered: Vec<usize>,
    address_lits: Vec<usize>,
    address_res: Vec<usize>,
    vocab: FxHashMap<String, u32>,
    vocab_words: Vec<String>,
    df: Vec<u32>,
    phrases: Vec<(usize, Vec<u32>)>,
}

impl Builder {
    fn lit(&mut self, pattern: &str, kind: LitKind, original: &str, cond: usize) {
        let key = pattern.to_ascii_lowercase();
        let id = match self.pattern_ids.get(&key) {
            Some(&id) => id,
            None => {
                self.pattern_ids.insert(key.clone(), self.patterns.len());
                self.patterns.push(key);
                self.checks.push(Vec::new());
                self.patterns.len() - 1
            }
        };
        self.checks[id].push(LitCheck {
            cond,
            kind,
            original: original.to_string(),
        });
    }

    /// The condition for a literal of `kind` (`Text`, `Code`, `Iam` or an operation): scenarios
    /// that look for the same thing share one condition, so a hit is checked once however many
    /// scenarios use it. The closure registers the literals of a new condition.
    fn lit_cond(&mut self, kind: &'static str, key: &str, add: impl FnOnce(&mut Builder, usize)) -> Cond {
        if let Some(&c) = self.lit_cond_ids.get(&(kind, key.to_string())) {
            return Cond::Lit(c);
        }
        let c = self.lit_conds;
        self.lit_conds += 1;
        self.lit_cond_ids.insert((kind, key.to_string()), c);
        add(self, c);
        Cond::Lit(c)
    }

    /// The condition of regex `src`, first used by scenario `owner`. Scenarios with the same
    /// regex share its condition (and its engine).
    fn regex_cond(&mut self, src: &str, owner: usize) -> usize {
        if let Some(&c) = self.regex_ids.get(src) {
            return c;
        }
        let c = self.regexes.len();
        if names_metadata_service(src) {
            self.address_res.push(c);
        }
        self.regex_ids.insert(src.to_string(), c);
        self.regexes.push((c, src.to_string()));
        self.regex_owner.push(owner);
        c
    }

    fn cond(&mut self, m: &SignalMatcher) -> Cond {
        match m {
            SignalMatcher::Text(t) => {
                let norm = crate::text::normalise(t.as_bytes());
                self.lit_cond("text", &norm, |b, c| {
                    if names_metadata_service(t) {
                        b.address_lits.push(c);
                    }
                    b.lit(&norm, LitKind::Text, &norm, c);
                })
            }
            SignalMatcher::Code(code) => self.lit_cond("code", code, |b, c| b.lit(code, LitKind::Code, code, c)),
            SignalMatcher::Iam(name) => self.lit_cond("iam", name, |b, c| b.lit(name, LitKind::Iam, name, c)),
            SignalMatcher::Operation(op) => self.lit_cond("operation", op, |b, c| {
                b.lit(op, LitKind::OpPascal, op, c);
                let snake = split_pascal(op);
                let kebab = snake.replace('_', "-");
                b.lit(&snake, LitKind::OpLower, &snake, c);
                b.lit(&kebab, LitKind::OpLower, &kebab, c);
            }),
            SignalMatcher::Regex(src) => Cond::Re(self.regex_cond(src, self.current)),
            SignalMatcher::Http(p) => Cond::Http(match self.http.iter().position(|h| h == p) {
                Some(i) => i,
                None => {
                    self.http.push(p.clone());
                    self.http.len() - 1
                }
            }),
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

/// Whether a signal source names the metadata service in words every cloud uses (the shared
/// link-local address, "instance metadata", "metadata service", "IMDS").
fn names_metadata_service(src: &str) -> bool {
    let l = src.to_ascii_lowercase();
    [
        "169.254.169.254",
        "169\\.254\\.169\\.254",
        "instance metadata",
        "metadata service",
        "imds",
    ]
    .iter()
    .any(|k| l.contains(k))
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
    // The first two lines with text and, when there are more, the last two: read from either
    // end, never the whole of a long paste.
    let nonempty = |l: &&str| !l.trim().is_empty();
    let mut picked: Vec<&str> = text.lines().filter(nonempty).take(3).collect();
    if picked.len() > 2 {
        picked.truncate(2);
        picked.extend(text.lines().rev().filter(nonempty).take(2));
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

/// Lower-cased content words, with a few domain synonyms folded together.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_token(text, |w| out.push(w.to_string()));
    out
}

/// Calls `f` with each word `tokenize` returns, in order, without allocating for each.
pub fn for_each_token(text: &str, mut f: impl FnMut(&str)) {
    // The last word is held back until the next (empty when none is): `imds v2` becomes one
    // word. No word is empty.
    let mut held = String::new();
    let mut w = String::new();
    for raw in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        if raw.len() < 2 || raw.len() > 40 {
            continue;
        }
        w.clear();
        w.push_str(raw);
        w.make_ascii_lowercase();
        if held == "imd" && (w == "v2" || w == "v1") {
            f(if w == "v2" { "imdsv2" } else { "imdsv1" });
            held.clear();
            continue;
        }
        if is_stopword(&w) {
            continue;
        }
        let norm = match w.as_str() {
            "creds" | "cred" | "credentials" | "credential" => "credential",
            "perms" | "perm" | "permissions" | "permission" => "permission",
            "k8s" | "kube" => "kubernetes",
            "metadata" | "meta" => "metadata",
            "cant" | "cannot" | "unable" | "fails" | "failing" | "failed" | "fail" => "fail",
            "expired" | "expire" | "expires" | "expiring" | "expiry" => "expire",
            "containers" | "container" => "container",
            _ if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") => &w[..w.len() - 1],
            _ => &w,
        };
        if !held.is_empty() {
            f(&held);
        }
        held.clear();
        held.push_str(norm);
    }
    if !held.is_empty() {
        f(&held);
    }
}

/// Auto mode speaks only above these bars: score, lead over the runner-up and hard evidence.
fn auto_confident(top: &Hit, second: f32) -> bool {
    top.score >= AUTO_MIN_SCORE && top.score - second >= AUTO_MIN_LEAD && top.hard_weight >= AUTO_MIN_HARD_WEIGHT
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every regex condition of the built-in knowledge base, however it is planned (word list,
    /// anchored engine, line-gated, whole text, split into alternatives), fires on a text exactly
    /// when `regex-lite` finds the regex in it: checked on every example, not_example and corpus
    /// paste, and on texts made to tempt the prefix and suffix filters of split regexes.
    #[test]
    fn regex_conditions_agree_with_regex_lite() {
        let kb = crate::knowledge::load_embedded().expect("embedded knowledge base");
        let m = kb.matcher();
        let mut texts: Vec<String> = vec![
            "the key was leaked on pastebin".into(),
            "keys keys role credentials".into(),
            "route add 169.254.169.254 via 10.0.0.1 and 169.254.169.254 again".into(),
            "iptables -A OUTPUT -d 169.254.169.254 -j DROP".into(),
            "PUT /latest/api/token HTTP/1.1 400 and then /latest/api/token 400".into(),
            "took 612 ms (threshold 500 ms), order 7 accepted, java agent script".into(),
            "an old sdk, an older boto3 and a legacy-agent; access denied, not authorised".into(),
        ];
        for s in kb.scenarios() {
            texts.extend(s.examples.iter().chain(&s.not_examples).cloned());
        }
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
        for kind in ["positive", "negative"] {
            for dir in std::fs::read_dir(corpus.join(kind)).expect("corpus").flatten() {
                let files: Vec<_> = if dir.path().is_dir() {
                    std::fs::read_dir(dir.path())
                        .expect("dir")
                        .flatten()
                        .map(|f| f.path())
                        .collect()
                } else {
                    vec![dir.path()]
                };
                for f in files {
                    texts.push(String::from_utf8_lossy(&std::fs::read(f).expect("file")).into_owned());
                }
            }
        }
        assert!(texts.len() > 400, "{}", texts.len());
        let lite: Vec<regex_lite::Regex> = m
            .regex_sources
            .iter()
            .map(|p| regex_lite::Regex::new(p).expect("valid"))
            .collect();
        assert!(!m.any.is_empty(), "no regex of the built-in knowledge base is split");
        let mut fired_somewhere = vec![false; lite.len()];
        for raw in &texts {
            let text = crate::text::normalise(raw.as_bytes());
            let scan = m.scan(&text);
            let (_, fired) = m.scan_literals(&text, &scan.conditions);
            for (i, re) in lite.iter().enumerate() {
                assert_eq!(fired[i], re.is_match(&text), "{:?} on {text:?}", m.regex_sources[i]);
                fired_somewhere[i] |= fired[i];
            }
        }
        let split_fired = m.any.iter().filter(|(c, _)| fired_somewhere[*c]).count();
        assert!(split_fired * 2 > m.any.len(), "{split_fired} of {}", m.any.len());
    }

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
    fn typo_correction_is_strict() {
        let kb = crate::knowledge::load_embedded().expect("embedded knowledge base");
        let m = kb.matcher();
        let id = |w: &str| m.vocab.get(w).copied();
        assert!(id("launch").is_some() && id("metadata").is_some());
        // English words, short words and two edits on a short word are left alone.
        assert_eq!(m.correct_typo("lunch"), None);
        assert_eq!(m.correct_typo("laucnh"), None);
        // One edit on a 5-7 letter word, two on a longer one.
        assert_eq!(m.correct_typo("launh"), id("launch"));
        assert_eq!(m.correct_typo("metdata"), id("metadata"));
        assert_eq!(m.correct_typo("metadtaa"), id("metadata"));
        assert_eq!(edit_distance(b"kitten", b"sitting", 3), Some(3));
        assert_eq!(edit_distance(b"kitten", b"sitting", 2), None);
        // The character-set screen never rejects a word within reach.
        let words = [
            "credential",
            "credentail",
            "credentials",
            "crdential",
            "metadata",
            "metdata",
            "imdsv2",
            "imdsv1",
        ];
        for a in words {
            for b in words {
                for max in 0..3 {
                    if edit_distance(a.as_bytes(), b.as_bytes(), max).is_some() {
                        assert!(
                            (char_set(a) ^ char_set(b)).count_ones() as usize <= 2 * max,
                            "{a} {b} {max}"
                        );
                    }
                }
            }
        }
        // Past the stack rows, the same answers.
        let long_a = "k".repeat(60) + "itten";
        let long_b = "k".repeat(60) + "itting";
        assert_eq!(edit_distance(long_a.as_bytes(), long_b.as_bytes(), 2), Some(2));
        assert_eq!(edit_distance(long_b.as_bytes(), b"kitten", 2), None);
    }

    #[test]
    fn skim_chooses_among_equally_close_words() {
        let skim = Skim::default();
        // "launa" and "launch" are both one edit from "launh"; only "launch" holds all of its
        // letters in order, so skim prefers it even though "launa" comes first.
        let vocab = [(0, "launa"), (1, "launch")];
        assert_eq!(skim.score("launa", "launh"), None);
        assert!(skim.score("launch", "launh").is_some());
        assert_eq!(best_correction(&skim, "launh", 1, vocab.into_iter()), Some(1));
        // Fewer edits still win over a better skim score.
        let vocab = [(0, "launhx"), (1, "launh")];
        assert_eq!(best_correction(&skim, "launh", 1, vocab.into_iter()), Some(1));
        assert_eq!(best_correction(&skim, "launh", 1, [(0, "lxxxx")].into_iter()), None);
    }

    #[test]
    fn tokenizer_folds_synonyms() {
        assert_eq!(
            tokenize("Pods can't get creds from IMDS v2"),
            vec!["pod", "credential", "imdsv2"]
        );
        assert_eq!(tokenize("Forbidden permissions"), vec!["forbidden", "permission"]);
        // `v1`/`v2` join the word before them when that is `imds`, even across a stopword, and
        // only once; a word held back for that is not lost at the end.
        assert_eq!(tokenize("imds is v1 and v2, then imds"), vec!["imdsv1", "v2", "imd"]);
    }
}

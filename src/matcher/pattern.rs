//! How each scenario regex is matched, decided once per knowledge-base build.
//!
//! Most scenario regexes are word lists (`(?i)\b(kube2iam|kiam)\b`): every match is one of a
//! finite set of literals, possibly with a word boundary on either side. Those need no regex
//! engine at all: the literal pass (`crate::literals`) finds the literal and the boundaries are
//! checked on the bytes around the hit. The others get an engine, compiled once per
//! knowledge-base build, that is run anchored at each hit of one of their prefix literals over a
//! bounded window, so its cost is bounded by the length of a possible match, never by the
//! length of the paste. The engine is `regex-automata`'s meta regex (lazy DFA) built from the
//! pattern read with `regex-lite`'s semantics (ASCII `\b`, `\s`, `\w`, `\d` and case folding,
//! `.` and negated classes over code points); `regex-lite` itself only for the rare pattern
//! those cannot express. A regex with no usable prefix whose matches stay on one line and hold
//! one of a few literals runs on the lines holding them (`Plan::Lines`); the rest run over the
//! whole text (`WholeText`). A top-level alternation that is not a word list is split into its
//! alternatives, each planned on its own (`Plan::Any`): their prefixes and suffixes no longer
//! mix, and an alternative shared by many regexes is checked once.

use std::borrow::Cow;
use std::collections::HashMap;

use regex_automata::hybrid;
use regex_automata::meta;
use regex_automata::nfa::thompson::{self, WhichCaptures, pikevm::PikeVM};
use regex_automata::util::pool::Pool;
use regex_automata::{Anchored, Input};
use regex_syntax::ast::Ast;
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Capture, Class, ClassUnicode, ClassUnicodeRange, Hir, HirKind, Look, Repetition};

/// Most literals one regex may expand to.
const MAX_LITERALS: usize = 256;
/// Shortest literal worth a place in the literal set.
const MIN_LITERAL: usize = 3;

/// A word-boundary condition on one side of a literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Boundary {
    /// `\b`
    Word,
    /// `\B`
    NotWord,
}

impl Boundary {
    /// Whether the boundary holds between two bytes (`None`: the edge of the text).
    pub(crate) fn holds(self, before: Option<u8>, after: Option<u8>) -> bool {
        let w = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
        let at_boundary = w(before) != w(after);
        match self {
            Boundary::Word => at_boundary,
            Boundary::NotWord => !at_boundary,
        }
    }
}

/// One literal a regex can match in full, with its boundary conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Alternative {
    pub(crate) literal: Vec<u8>,
    pub(crate) start: Option<Boundary>,
    pub(crate) end: Option<Boundary>,
}

/// How a regex is matched.
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    /// Every match is exactly one of these literals.
    Literals {
        alternatives: Vec<Alternative>,
        /// Compare the hit byte for byte (the regex has no `(?i)`).
        case_sensitive: bool,
    },
    /// A regex engine anchored at every hit of one of these prefixes.
    Anchored {
        prefixes: Vec<String>,
        /// Literals every match ends with, when known: without one of them after a prefix hit
        /// there is no need to run the engine there.
        suffixes: Option<Vec<String>>,
        /// Shortest possible match, in bytes.
        min_len: usize,
        /// A boundary every match starts with (`\b...`): a prefix hit without it is no match.
        start: Option<Boundary>,
        /// A match may contain a line break.
        multiline: bool,
        /// The engine run at each prefix hit.
        engine: Verifier,
    },
    /// No usable prefix, but every match holds one of these literals and stays on one line: the
    /// engine runs on the lines where one of them is, each line at most once.
    Lines { literals: Vec<String>, engine: LineEngine },
    /// No usable prefix: the full engine over the whole text.
    WholeText(Scanner),
    /// An alternation at the top level: the regex matches where one of these patterns (its
    /// alternatives, each behind the flags set before it) matches. Each is planned on its own,
    /// with its own prefixes and suffixes, and scenarios that share an alternative share its
    /// work.
    Any(Vec<String>),
}

/// The outcome of checking one regex.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The regex can match the empty string (so it would fire on every paste).
    pub matches_empty: bool,
    pub(crate) plan: Plan,
}

/// Regexes checked and analysed during one knowledge-base build, so that validation and the
/// matcher parse and compile each distinct pattern once.
#[derive(Debug, Default)]
pub struct RegexCache {
    map: HashMap<String, Result<Analysis, String>>,
}

impl RegexCache {
    /// A new, empty cache.
    pub fn new() -> RegexCache {
        RegexCache::default()
    }

    /// Analyses every pattern not yet in the cache, on all cores (see `crate::par`). A regex that
    /// splits (`Plan::Any`) is analysed in one task with its alternatives.
    pub fn warm<'p>(&mut self, patterns: impl IntoIterator<Item = &'p str>) {
        let mut todo: Vec<&str> = patterns.into_iter().filter(|p| !self.map.contains_key(*p)).collect();
        todo.sort_unstable();
        todo.dedup();
        // An alternative is never a top-level alternation itself: one level of split is all.
        let known = &self.map;
        let done = crate::par::map(&todo, |p| {
            let a = analyse(p);
            let pieces: Vec<(String, Result<Analysis, String>)> = match &a {
                Ok(Analysis {
                    plan: Plan::Any(alternatives),
                    ..
                }) => alternatives
                    .iter()
                    .filter(|x| !known.contains_key(*x))
                    .map(|x| (x.clone(), analyse(x)))
                    .collect(),
                _ => Vec::new(),
            };
            (a, pieces)
        });
        let mut split = Vec::new();
        for (p, (a, pieces)) in todo.into_iter().zip(done) {
            if matches!(a, Ok(Analysis { plan: Plan::Any(_), .. })) {
                split.push(p);
            }
            self.map.insert(p.to_string(), a);
            for (piece, r) in pieces {
                self.map.entry(piece).or_insert(r);
            }
        }
        for p in split {
            self.settle(p);
        }
    }

    /// Checks a regex the way the matcher will run it.
    pub fn check(&mut self, pattern: &str) -> Result<&Analysis, String> {
        if !self.map.contains_key(pattern) {
            let a = analyse(pattern);
            let split = match &a {
                Ok(Analysis {
                    plan: Plan::Any(alternatives),
                    ..
                }) => alternatives.clone(),
                _ => Vec::new(),
            };
            self.map.insert(pattern.to_string(), a);
            if !split.is_empty() {
                for piece in &split {
                    // Only to fill the cache: `settle` reads the outcome.
                    let _ = self.check(piece);
                }
                self.settle(pattern);
            }
        }
        match &self.map[pattern] {
            Ok(a) => Ok(a),
            Err(e) => Err(e.clone()),
        }
    }

    /// Completes the analysis of a regex that splits, once its alternatives are analysed: it
    /// matches the empty text when one of them does, and it is only as valid as all of them
    /// (an invalid one is reported as the whole regex's error, as if it had not split).
    fn settle(&mut self, pattern: &str) {
        let Some(Ok(Analysis {
            plan: Plan::Any(alternatives),
            ..
        })) = self.map.get(pattern)
        else {
            return;
        };
        let mut matches_empty = false;
        let mut valid = true;
        for a in alternatives {
            match self.map.get(a) {
                Some(Ok(x)) => matches_empty |= x.matches_empty,
                _ => valid = false,
            }
        }
        if !valid {
            let whole = analyse_whole(pattern, false);
            self.map.insert(pattern.to_string(), whole);
        } else if let Some(Ok(a)) = self.map.get_mut(pattern) {
            a.matches_empty = matches_empty;
        }
    }
}

fn short_error(e: impl std::fmt::Display) -> String {
    let msg = e.to_string();
    let last = msg.lines().last().unwrap_or("invalid regex").trim();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}

/// A regex's syntax tree, parsed once for the translations below.
fn parse_ast(src: &str) -> Result<Ast, String> {
    regex_syntax::ast::parse::Parser::new().parse(src).map_err(short_error)
}

/// `ast` (parsed from `src`) as `parse` would translate it, behind a `(?i)` when
/// `case_insensitive`.
fn translate(src: &str, ast: &Ast, case_insensitive: bool) -> Result<Hir, String> {
    regex_syntax::hir::translate::TranslatorBuilder::new()
        .unicode(false)
        .utf8(false)
        .case_insensitive(case_insensitive)
        .build()
        .translate(src, ast)
        .map_err(short_error)
}

fn parse(src: &str) -> Result<Hir, String> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(src)
        .map_err(short_error)
}

/// Plans a regex. One that splits (`Plan::Any`) is only parsed here: the cache analyses its
/// alternatives and then settles whether it matches the empty text (see `RegexCache::settle`).
fn analyse(pattern: &str) -> Result<Analysis, String> {
    analyse_whole(pattern, true)
}

fn analyse_whole(pattern: &str, may_split: bool) -> Result<Analysis, String> {
    // Errors are reported in the words of the engine that runs the regex.
    let lite = |p: &str| regex_lite::RegexBuilder::new(p).size_limit(1 << 20).build();
    let parse_error = |e: String| lite(pattern).err().map_or(e, short_error);
    // A leading `(?i)` with no other flags: literals compare ASCII case-insensitively, exactly as
    // the automaton does. Without any flag: byte for byte.
    let (body, case_insensitive) = match pattern.strip_prefix("(?i)") {
        Some(rest) => (rest, true),
        None => (pattern, false),
    };
    // The pattern without its leading `(?i)`, parsed once for the literal analyses below; a
    // word list needs nothing else. Its tree also gives the pattern's own translation.
    let ast = parse_ast(body);
    let plain = ast
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|a| translate(body, a, false));
    let simple_flags = !body.contains("(?") || !body.replace("(?:", "").contains("(?");
    if simple_flags {
        let plain = plain.as_ref().map_err(|e| match parse(pattern) {
            Ok(_) => e.clone(),
            Err(e) => parse_error(e),
        })?;
        if let Some(alternatives) = expand(plain)
            && !alternatives.is_empty()
            && alternatives.iter().all(|a| a.literal.len() >= MIN_LITERAL)
        {
            return Ok(Analysis {
                matches_empty: plain.properties().minimum_len() == Some(0),
                plan: Plan::Literals {
                    alternatives,
                    case_sensitive: !case_insensitive,
                },
            });
        }
    }
    if may_split
        && plain.is_ok()
        && let Ok(tree) = &ast
        && let Some(alternatives) = split_tree(body, tree, if case_insensitive { "(?i)" } else { "" })
    {
        return Ok(Analysis {
            matches_empty: false,
            plan: Plan::Any(alternatives),
        });
    }
    let hir = match (case_insensitive, &plain, &ast) {
        (false, Ok(h), _) => h.clone(),
        (true, Ok(_), Ok(tree)) => translate(body, tree, true).or_else(|_| parse(pattern).map_err(parse_error))?,
        _ => parse(pattern).map_err(parse_error)?,
    };
    let matches_empty = hir.properties().minimum_len() == Some(0);
    // Errors are still reported as `regex-lite` sees them.
    let checked = lite(pattern).map_err(short_error)?;
    let plain = plain.ok();
    let Some(prefixes) = plain.as_ref().and_then(|h| literals(h, ExtractKind::Prefix)) else {
        if !may_match_newline(&hir)
            && let Some(literals) = plain.as_ref().and_then(required_literals)
            && let Some(re) = codepoint_hir(pattern, &hir).and_then(|h| YesNo::build(&h))
        {
            return Ok(Analysis {
                matches_empty,
                plan: Plan::Lines {
                    literals,
                    engine: LineEngine(re),
                },
            });
        }
        let scanner = match codepoint_hir(pattern, &hir).and_then(|h| full_engine(&h).map(|_| h.into_owned())) {
            Some(h) => Scanner::Dfa(h),
            None => Scanner::Lite(checked),
        };
        return Ok(Analysis {
            matches_empty,
            plan: Plan::WholeText(scanner),
        });
    };
    // Only ever run anchored and for a yes/no: no prefilter.
    let engine = match codepoint_hir(pattern, &hir).and_then(|h| YesNo::build(&h)) {
        Some(re) => Verifier::Dfa(re),
        None => Verifier::Lite(lite(&format!("^(?s:.)(?:{pattern})")).map_err(short_error)?),
    };
    let plan = Plan::Anchored {
        prefixes,
        suffixes: plain.as_ref().and_then(|h| literals(h, ExtractKind::Suffix)),
        min_len: hir.properties().minimum_len().unwrap_or(0),
        start: start_boundary(&hir),
        multiline: may_match_newline(&hir),
        engine,
    };
    Ok(Analysis { matches_empty, plan })
}

/// The top-level alternatives of `pattern`, each a pattern of its own; `None` unless `pattern` is
/// an alternation at its top level. Flags set at the start of an alternative (`a|(?i)b|c`) hold
/// for the alternatives after it too, so each alternative starts with the flags set before it;
/// flags set anywhere else at the top level make the pattern keep its alternatives together.
/// A text holds a match of `pattern` exactly when it holds a match of one of them.
#[cfg(test)]
fn split_alternatives(pattern: &str) -> Option<Vec<String>> {
    split_tree(pattern, &parse_ast(pattern).ok()?, "")
}

/// `split_alternatives` of `pattern` behind the flags `before`, given its parsed `tree`.
fn split_tree(pattern: &str, tree: &Ast, before: &str) -> Option<Vec<String>> {
    let Ast::Alternation(alternation) = tree else {
        return None;
    };
    let src = |span: &regex_syntax::ast::Span| &pattern[span.start.offset..span.end.offset];
    let mut flags = before.to_string();
    let mut out = Vec::with_capacity(alternation.asts.len());
    for (k, a) in alternation.asts.iter().enumerate() {
        let mut items: &[Ast] = match a {
            Ast::Concat(c) => &c.asts,
            other => std::slice::from_ref(other),
        };
        // The pattern's own leading flags sit in front of its first alternative.
        if k == 0
            && let [Ast::Flags(f), rest @ ..] = items
        {
            flags.push_str(src(&f.span));
            items = rest;
        }
        let own = match items.first() {
            Some(Ast::Flags(f)) => Some(src(&f.span)),
            _ => None,
        };
        if items.iter().skip(1).any(|x| matches!(x, Ast::Flags(_))) {
            return None;
        }
        let body = match (items.first(), items.last()) {
            (Some(first), Some(last)) => &pattern[first.span().start.offset..last.span().end.offset],
            _ => "",
        };
        out.push(format!("{flags}{body}"));
        flags.push_str(own.unwrap_or_default());
    }
    Some(out)
}

/// The word boundary that every match of `hir` starts with, if any.
fn start_boundary(hir: &Hir) -> Option<Boundary> {
    match hir.kind() {
        HirKind::Look(Look::WordAscii) => Some(Boundary::Word),
        HirKind::Look(Look::WordAsciiNegate) => Some(Boundary::NotWord),
        HirKind::Concat(xs) => start_boundary(xs.first()?),
        HirKind::Capture(c) => start_boundary(&c.sub),
        HirKind::Alternation(xs) => {
            let first = start_boundary(xs.first()?)?;
            xs.iter().all(|x| start_boundary(x) == Some(first)).then_some(first)
        }
        _ => None,
    }
}

/// The full engine for `hir` (regex-lite semantics), answering yes/no only, with the prefilter
/// of its own literals.
fn full_engine(hir: &Hir) -> Option<meta::Regex> {
    meta::Builder::new()
        .configure(
            // Yes/no answers need neither captures nor the engines that only speed them up; the
            // lazy DFA builds in no time and runs as fast as a full DFA on short windows.
            meta::Config::new()
                .which_captures(WhichCaptures::None)
                .onepass(false)
                .backtrack(false)
                .dfa(false),
        )
        .build_from_hir(hir)
        .ok()
}

/// A yes/no engine for `hir` (regex-lite semantics) that only ever searches forward: a lazy DFA,
/// and the PikeVM on the same NFA where the lazy DFA gives up. That is all `meta::Regex` runs
/// for a yes/no answer, without the reverse automaton it would also compile.
#[derive(Clone)]
pub(crate) struct YesNo(std::sync::Arc<YesNoEngines>);

type YesNoCaches = (hybrid::dfa::Cache, regex_automata::nfa::thompson::pikevm::Cache);
type MakeCaches = Box<dyn Fn() -> YesNoCaches + Send + Sync + std::panic::UnwindSafe + std::panic::RefUnwindSafe>;

struct YesNoEngines {
    dfa: hybrid::dfa::DFA,
    pikevm: PikeVM,
    caches: Pool<YesNoCaches, MakeCaches>,
}

impl std::fmt::Debug for YesNo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("YesNo")
    }
}

impl YesNo {
    /// The engines for `hir`, configured as `meta::Regex` configures its own; `None` when the
    /// automaton would be too large.
    fn build(hir: &Hir) -> Option<YesNo> {
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .utf8(true)
                    .shrink(false)
                    .nfa_size_limit(Some(10 * (1 << 20)))
                    .which_captures(WhichCaptures::None),
            )
            .build_from_hir(hir)
            .ok()?;
        let dfa = hybrid::dfa::Builder::new()
            .configure(
                hybrid::dfa::Config::new()
                    .starts_for_each_pattern(true)
                    .unicode_word_boundary(true)
                    .cache_capacity(2 * (1 << 20))
                    .skip_cache_capacity_check(false)
                    .minimum_cache_clear_count(Some(3))
                    .minimum_bytes_per_state(Some(10)),
            )
            .build_from_nfa(nfa.clone())
            .ok()?;
        let pikevm = PikeVM::new_from_nfa(nfa).ok()?;
        let (for_dfa, for_pikevm) = (dfa.clone(), pikevm.clone());
        let make: MakeCaches = Box::new(move || (for_dfa.create_cache(), for_pikevm.create_cache()));
        Some(YesNo(std::sync::Arc::new(YesNoEngines {
            dfa,
            pikevm,
            caches: Pool::new(make),
        })))
    }

    /// Whether `input` holds a match (the earliest one ends the search).
    pub(crate) fn is_match(&self, input: Input<'_>) -> bool {
        let input = input.earliest(true);
        let e = &*self.0;
        let mut caches = e.caches.get();
        let (dfa_cache, pikevm_cache) = &mut *caches;
        match e.dfa.try_search_fwd(dfa_cache, &input) {
            Ok(found) => found.is_some(),
            Err(_) => e.pikevm.is_match(pikevm_cache, input),
        }
    }
}

/// A regex without a usable prefix: it runs over the whole text.
#[derive(Debug, Clone)]
pub(crate) enum Scanner {
    /// The pattern as the lazy DFA runs it (regex-lite semantics); the matcher joins all of
    /// these into one multi-pattern engine (see `WholeText`).
    Dfa(Hir),
    /// `regex-lite` itself, where the DFA cannot reproduce its semantics exactly.
    Lite(regex_lite::Regex),
}

/// Every whole-text regex that the lazy DFA can run. A few of them run one by one: each search
/// stops at its first match and skips ahead with the regex's own prefilter (a rare first byte
/// such as `<`), so a 1 MiB log costs little. Many of them share multi-pattern engines instead:
/// one pass per engine tells which of its regexes match anywhere in the paste.
#[derive(Debug, Clone)]
pub(crate) struct WholeText {
    /// Each engine with the index (into the `hirs` given to `build`) of its first pattern.
    engines: Vec<(meta::Regex, usize)>,
    /// The engines hold one pattern each, searched for the first match only.
    single: bool,
}

/// Most regexes joined in one whole-text engine (bounds the size of each automaton).
const WHOLE_TEXT_GROUP: usize = 32;
/// Up to this many whole-text regexes run one by one.
const WHOLE_TEXT_SINGLE: usize = 8;

impl WholeText {
    /// Engines for `hirs` (each from a `Scanner::Dfa`, so each builds on its own).
    pub(crate) fn build(hirs: &[&Hir]) -> WholeText {
        if hirs.len() <= WHOLE_TEXT_SINGLE {
            let engines = hirs
                .iter()
                .enumerate()
                .filter_map(|(i, h)| full_engine(h).map(|re| (re, i)))
                .collect();
            return WholeText { engines, single: true };
        }
        let many = |group: &[&Hir]| {
            meta::Builder::new()
                .configure(
                    meta::Config::new()
                        .match_kind(regex_automata::MatchKind::All)
                        .which_captures(WhichCaptures::None),
                )
                .build_many_from_hir(group)
                .ok()
        };
        let mut engines = Vec::new();
        for (g, group) in hirs.chunks(WHOLE_TEXT_GROUP).enumerate() {
            let first = g * WHOLE_TEXT_GROUP;
            match many(group) {
                Some(re) => engines.push((re, first)),
                // Too big together: one engine per regex.
                None => engines.extend(
                    group
                        .iter()
                        .enumerate()
                        .filter_map(|(i, h)| many(std::slice::from_ref(h)).map(|re| (re, first + i))),
                ),
            }
        }
        WholeText { engines, single: false }
    }

    /// Indices (into the `hirs` given to `build`) of the regexes that match in `text`.
    pub(crate) fn matching(&self, text: &str) -> Vec<usize> {
        let mut out = Vec::new();
        for (re, first) in &self.engines {
            if self.single {
                if re.is_match(text) {
                    out.push(*first);
                }
                continue;
            }
            let mut set = regex_automata::PatternSet::new(re.pattern_len());
            re.which_overlapping_matches(&Input::new(text), &mut set);
            out.extend(set.iter().map(|p| first + p.as_usize()));
        }
        out
    }
}

/// The engine of a `Plan::Lines` regex (regex-lite semantics, yes/no only).
#[derive(Debug, Clone)]
pub(crate) struct LineEngine(YesNo);

impl LineEngine {
    /// Whether the regex matches within `text[range]` (seeing the rest for look-around).
    pub(crate) fn matches_in(&self, text: &str, range: std::ops::Range<usize>) -> bool {
        self.0.is_match(Input::new(text).range(range))
    }
}

/// Literals of which every match of the regex (parsed without a leading `(?i)`) holds at least
/// one, lower case, when there is a small set of them of at least 2 bytes each.
fn required_literals(hir: &Hir) -> Option<Vec<String>> {
    /// Most literals in the set.
    const MAX: usize = 64;
    fn walk(h: &Hir) -> Option<Vec<Vec<u8>>> {
        match h.kind() {
            HirKind::Literal(l) => Some(vec![l.0.to_vec()]),
            HirKind::Capture(c) => walk(&c.sub),
            HirKind::Repetition(r) if r.min > 0 => walk(&r.sub),
            HirKind::Alternation(items) => {
                let mut all = Vec::new();
                for it in items {
                    all.extend(walk(it)?);
                    if all.len() > MAX {
                        return None;
                    }
                }
                Some(all)
            }
            // Any one child's set will do: the one whose shortest literal is longest.
            HirKind::Concat(items) => items.iter().filter_map(walk).max_by_key(|set| {
                (
                    set.iter().map(Vec::len).min().unwrap_or(0),
                    std::cmp::Reverse(set.len()),
                )
            }),
            _ => None,
        }
    }
    let mut out: Vec<String> = Vec::new();
    for l in walk(hir)? {
        let s = String::from_utf8(l).ok()?.to_ascii_lowercase();
        if s.len() < 2 {
            return None;
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Bytes after a prefix hit that an anchored engine may look at.
pub(crate) const VERIFY_WINDOW: usize = 4096;

/// An engine run anchored at prefix hits.
#[derive(Debug, Clone)]
pub(crate) enum Verifier {
    /// Lazy DFA over the pattern with `regex-lite` semantics; sees the whole text for look-around.
    Dfa(YesNo),
    /// `^(?s:.)(?:regex)`: one character of context, then the regex.
    Lite(regex_lite::Regex),
}

impl Verifier {
    /// Whether a match starts at `pos` and ends within `VERIFY_WINDOW` bytes.
    pub(crate) fn matches_at(&self, text: &str, pos: usize) -> bool {
        let end = ceil(text, pos.saturating_add(VERIFY_WINDOW));
        match self {
            Verifier::Dfa(re) => re.is_match(Input::new(text).range(pos..end).anchored(Anchored::Yes)),
            Verifier::Lite(re) => {
                if pos == 0 {
                    // Nothing before the text: a blank stands for its start.
                    let mut window = String::with_capacity(end + 1);
                    window.push(' ');
                    window.push_str(&text[..end]);
                    return re.is_match(&window);
                }
                re.is_match(&text[floor(text, pos - 1)..end])
            }
        }
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

/// The pattern as `regex-lite` reads it, for the full engines: `hir` was parsed without Unicode
/// (ASCII classes, boundaries and case folding, as `regex-lite` has them); byte classes that
/// hold every non-ASCII byte (`.`, `[^\n]`, `\W`) become classes of code points, as they are in
/// `regex-lite`. `None` when that is not exact (a `\x` escape, a class with some but not all
/// non-ASCII bytes).
fn codepoint_hir<'h>(pattern: &str, hir: &'h Hir) -> Option<Cow<'h, Hir>> {
    if pattern.contains("\\x") {
        return None;
    }
    /// Whether some byte class holds a non-ASCII byte (only those need rewriting).
    fn has_high_bytes(h: &Hir) -> bool {
        match h.kind() {
            HirKind::Class(Class::Bytes(b)) => b.ranges().iter().any(|r| r.end() >= 0x80),
            HirKind::Repetition(r) => has_high_bytes(&r.sub),
            HirKind::Capture(c) => has_high_bytes(&c.sub),
            HirKind::Concat(items) | HirKind::Alternation(items) => items.iter().any(has_high_bytes),
            _ => false,
        }
    }
    fn walk(h: &Hir) -> Option<Hir> {
        Some(match h.kind() {
            HirKind::Class(Class::Bytes(b)) => {
                let high: usize = b
                    .ranges()
                    .iter()
                    .filter(|r| r.end() >= 0x80)
                    .map(|r| usize::from(r.end() - r.start().max(0x80)) + 1)
                    .sum();
                if high == 0 {
                    return Some(h.clone());
                }
                if high != 0x80 {
                    return None;
                }
                let mut ranges: Vec<ClassUnicodeRange> = b
                    .ranges()
                    .iter()
                    .filter(|r| r.start() < 0x80)
                    .map(|r| ClassUnicodeRange::new(char::from(r.start()), char::from(r.end().min(0x7f))))
                    .collect();
                ranges.push(ClassUnicodeRange::new('\u{80}', char::MAX));
                Hir::class(Class::Unicode(ClassUnicode::new(ranges)))
            }
            HirKind::Literal(l) => {
                if std::str::from_utf8(&l.0).is_err() {
                    return None;
                }
                h.clone()
            }
            HirKind::Empty | HirKind::Look(_) | HirKind::Class(Class::Unicode(_)) => h.clone(),
            HirKind::Repetition(r) => Hir::repetition(Repetition {
                sub: Box::new(walk(&r.sub)?),
                ..r.clone()
            }),
            HirKind::Capture(c) => Hir::capture(Capture {
                sub: Box::new(walk(&c.sub)?),
                ..c.clone()
            }),
            HirKind::Concat(items) => Hir::concat(items.iter().map(walk).collect::<Option<Vec<_>>>()?),
            HirKind::Alternation(items) => Hir::alternation(items.iter().map(walk).collect::<Option<Vec<_>>>()?),
        })
    }
    if !has_high_bytes(hir) {
        return Some(Cow::Borrowed(hir));
    }
    walk(hir).map(Cow::Owned)
}

/// Whether any match may contain `\n`.
fn may_match_newline(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => false,
        HirKind::Literal(l) => l.0.contains(&b'\n'),
        HirKind::Class(Class::Bytes(b)) => b.ranges().iter().any(|r| r.start() <= b'\n' && b'\n' <= r.end()),
        HirKind::Class(Class::Unicode(u)) => u.ranges().iter().any(|r| r.start() <= '\n' && '\n' <= r.end()),
        HirKind::Repetition(r) => may_match_newline(&r.sub),
        HirKind::Capture(c) => may_match_newline(&c.sub),
        HirKind::Concat(items) | HirKind::Alternation(items) => items.iter().any(may_match_newline),
    }
}

/// Every string the regex matches, when that is a small finite set whose only assertions are
/// word boundaries at either end.
fn expand(hir: &Hir) -> Option<Vec<Alternative>> {
    let empty = || Alternative {
        literal: Vec::new(),
        start: None,
        end: None,
    };
    let out = match hir.kind() {
        HirKind::Empty => vec![empty()],
        HirKind::Literal(l) => vec![Alternative {
            literal: l.0.to_vec(),
            start: None,
            end: None,
        }],
        HirKind::Class(c) => {
            let bytes: Vec<u8> = match c {
                Class::Bytes(b) => {
                    let mut v = Vec::new();
                    for r in b.ranges() {
                        for x in r.start()..=r.end() {
                            v.push(x);
                            if v.len() > 4 {
                                return None;
                            }
                        }
                    }
                    v
                }
                Class::Unicode(u) => {
                    let mut v = Vec::new();
                    for r in u.ranges() {
                        for x in r.start()..=r.end() {
                            if !x.is_ascii() {
                                return None;
                            }
                            v.push(x as u8);
                            if v.len() > 4 {
                                return None;
                            }
                        }
                    }
                    v
                }
            };
            bytes
                .into_iter()
                .map(|b| Alternative {
                    literal: vec![b],
                    start: None,
                    end: None,
                })
                .collect()
        }
        HirKind::Look(l) => {
            let b = match l {
                Look::WordAscii => Boundary::Word,
                Look::WordAsciiNegate => Boundary::NotWord,
                _ => return None,
            };
            vec![Alternative {
                literal: Vec::new(),
                start: Some(b),
                end: Some(b),
            }]
        }
        HirKind::Repetition(r) if r.min == 0 && r.max == Some(1) => {
            let mut v = expand(&r.sub)?;
            v.push(empty());
            v
        }
        HirKind::Repetition(_) => return None,
        HirKind::Capture(c) => expand(&c.sub)?,
        HirKind::Alternation(items) => {
            let mut v = Vec::new();
            for it in items {
                v.extend(expand(it)?);
                if v.len() > MAX_LITERALS {
                    return None;
                }
            }
            v
        }
        HirKind::Concat(items) => {
            let mut acc = vec![empty()];
            for it in items {
                let next = expand(it)?;
                let mut combined = Vec::with_capacity(acc.len() * next.len());
                for a in &acc {
                    for b in &next {
                        combined.push(concat(a, b)?);
                        if combined.len() > MAX_LITERALS {
                            return None;
                        }
                    }
                }
                acc = combined;
            }
            acc
        }
    };
    let mut out = out;
    out.dedup();
    (out.len() <= MAX_LITERALS).then_some(out)
}

/// `a` followed by `b`, as long as no boundary ends up between two literal bytes.
fn concat(a: &Alternative, b: &Alternative) -> Option<Alternative> {
    // A look-only alternative (`\b`) carries the same boundary as `start` and `end`.
    let b_is_look = b.literal.is_empty();
    if a.literal.is_empty() {
        let start = merge(a.start, b.start)?;
        let end = if b_is_look { merge(a.end, b.end)? } else { b.end };
        return Some(Alternative {
            literal: b.literal.clone(),
            start,
            end,
        });
    }
    if b_is_look {
        return Some(Alternative {
            literal: a.literal.clone(),
            start: a.start,
            end: merge(a.end, b.end)?,
        });
    }
    if a.end.is_some() || b.start.is_some() {
        return None;
    }
    let mut literal = a.literal.clone();
    literal.extend_from_slice(&b.literal);
    Some(Alternative {
        literal,
        start: a.start,
        end: b.end,
    })
}

fn merge(x: Option<Boundary>, y: Option<Boundary>) -> Option<Option<Boundary>> {
    match (x, y) {
        (Some(a), Some(b)) if a != b => None,
        (Some(a), _) | (_, Some(a)) => Some(Some(a)),
        (None, None) => Some(None),
    }
}

/// Literals that every match of the regex (parsed without a leading `(?i)`) starts (or ends) with, compared ASCII
/// case-insensitively, or `None` when there is no short, finite set of at least 3 characters
/// each.
fn literals(hir: &Hir, kind: ExtractKind) -> Option<Vec<String>> {
    let seq = Extractor::new().kind(kind).extract(hir);
    let lits = seq.literals()?;
    let mut out: Vec<String> = Vec::new();
    for l in lits {
        let s = std::str::from_utf8(l.as_bytes()).ok()?.to_ascii_lowercase();
        if s.len() < MIN_LITERAL {
            return None;
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    (!out.is_empty() && out.len() <= MAX_LITERALS).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(p: &str) -> Plan {
        analyse(p).expect("valid").plan
    }

    #[test]
    fn word_lists_need_no_engine() {
        let Plan::Literals {
            alternatives,
            case_sensitive,
        } = plan(r"(?i)\b(kube2iam|kiam|metadata-?proxy)\b")
        else {
            panic!("not literal")
        };
        assert!(!case_sensitive);
        let lits: Vec<&[u8]> = alternatives.iter().map(|a| a.literal.as_slice()).collect();
        assert_eq!(
            lits,
            vec![&b"kube2iam"[..], b"kiam", b"metadata-proxy", b"metadataproxy"]
        );
        assert!(
            alternatives
                .iter()
                .all(|a| a.start == Some(Boundary::Word) && a.end == Some(Boundary::Word))
        );
        assert!(matches!(
            plan(r"\bCredentialsNotLoaded\b|no providers in chain"),
            Plan::Literals {
                case_sensitive: true,
                ..
            }
        ));
    }

    #[test]
    fn gaps_and_inner_flags_use_the_engine() {
        assert!(matches!(plan(r"(?i)\bfoo\b.*bar"), Plan::Anchored { .. }));
        assert!(matches!(plan(r"foo(?i)bar"), Plan::Anchored { .. }));
        // Flags in front of an alternative split the regex: each part is then a word list.
        assert!(matches!(plan(r"foo|(?i)bar"), Plan::Any(_)));
        assert!(matches!(plan(r"(?i)bar"), Plan::Literals { .. }));
        assert!(matches!(plan(r"a\bb"), Plan::WholeText(_) | Plan::Anchored { .. }));
        assert!(matches!(plan(r"[a-z]+x"), Plan::WholeText(_)));
    }

    #[test]
    fn one_line_regexes_without_a_prefix_are_gated_by_their_literals() {
        let Plan::Lines { literals, engine } = plan(r"(?i)\b(no|can.?t|not (getting|there)|\d{2,} (threads|pods))\b")
        else {
            panic!("not line-gated")
        };
        assert_eq!(literals, ["no", "can", "getting", "there", "threads", "pods"]);
        let t = "first line\n40 Threads here\nlast";
        assert!(engine.matches_in(t, 11..26));
        assert!(!engine.matches_in(t, 0..10));
        // May span lines, or no literal in every match: the whole text.
        assert!(matches!(plan(r"(?i)<\s*HTTP/[12]"), Plan::WholeText(_)));
        assert!(matches!(plan(r"(?i)\b(no|\d{2,}\s+pods)\b"), Plan::WholeText(_)));
        assert!(matches!(plan(r"[a-z]+x"), Plan::WholeText(_)));
    }

    #[test]
    fn empty_matches_are_reported() {
        assert!(analyse("(foo)?").expect("valid").matches_empty);
        assert!(!analyse("foo").expect("valid").matches_empty);
        assert!(analyse("(").is_err());
    }

    #[test]
    fn split_regexes_are_settled_by_their_alternatives() {
        for warm in [false, true] {
            let mut cache = RegexCache::new();
            let patterns = [r"(?i)foo\d|bar", r"foo\d|", r"a.b|x{1000}{1000}"];
            if warm {
                cache.warm(patterns);
            }
            let a = cache.check(patterns[0]).expect("valid");
            assert!(matches!(a.plan, Plan::Any(_)) && !a.matches_empty);
            // An empty alternative makes the whole regex match the empty text.
            assert!(cache.check(patterns[1]).expect("valid").matches_empty);
            // An alternative too large for regex-lite makes the whole regex fail as a whole.
            let whole = analyse_whole(patterns[2], false).expect_err("too large");
            assert_eq!(cache.check(patterns[2]).expect_err("too large"), whole, "warm: {warm}");
        }
    }

    #[test]
    fn top_level_alternations_split_with_the_flags_before_them() {
        let split = split_alternatives;
        assert_eq!(split(r"(?i)a.*b|c\d").unwrap(), [r"(?i)a.*b", r"(?i)c\d"]);
        assert_eq!(split(r"a|(?i)b|c").unwrap(), ["a", "(?i)b", "(?i)c"]);
        assert_eq!(split(r"(?i)a|(?-i)b|c").unwrap(), ["(?i)a", "(?i)(?-i)b", "(?i)(?-i)c"]);
        assert_eq!(split(r"(?i)|b").unwrap(), ["(?i)", "(?i)b"]);
        for whole in [r"abc", r"(a|b)", r"a(?i)b|c", r"(?i)\bfoo\b.*bar"] {
            assert_eq!(split(whole), None, "{whole}");
        }
        // The regex finds a match exactly where one of its alternatives does.
        let texts = ["A", "b", "B", "C", "c", "xab", "d9", "nothing", ""];
        for whole in [r"(?i)a.*b|c\d", r"a|(?i)b|c", r"(?i)a|(?-i)b|c", r"x(?:a|b)|(?i)d\d"] {
            let re = regex_lite::Regex::new(whole).unwrap();
            let pieces: Vec<regex_lite::Regex> = split(whole)
                .unwrap()
                .iter()
                .map(|p| regex_lite::Regex::new(p).unwrap())
                .collect();
            for t in texts {
                assert_eq!(re.is_match(t), pieces.iter().any(|p| p.is_match(t)), "{whole} on {t:?}");
            }
        }
        // A non-literal alternation is planned alternative by alternative.
        let Plan::Any(pieces) = plan(r"\b(UnauthorizedOperation)\b|(?i)not authori[sz]ed|x\d+y") else {
            panic!("not split")
        };
        assert_eq!(
            pieces,
            [r"\b(UnauthorizedOperation)\b", "(?i)not authori[sz]ed", r"(?i)x\d+y"]
        );
    }

    #[test]
    fn leading_word_boundaries_are_known() {
        let start = |p: &str| match plan(p) {
            Plan::Anchored { start, .. } => start,
            other => panic!("{p}: {other:?}"),
        };
        assert_eq!(start(r"(?i)\b(old|legacy)\b.*\b(sdk|boto\w*)\b"), Some(Boundary::Word));
        assert_eq!(start(r"(?i)\Bfoo\d+"), Some(Boundary::NotWord));
        assert_eq!(start(r"(?i)(\bfoo|bar)\d+"), None);
        assert_eq!(start(r"(?i)foo\d+"), None);
    }

    #[test]
    fn whole_text_regexes_share_engines() {
        let hirs: Vec<Hir> = [r"[a-z]+x\d", r"\d{3}q", r"[a-z]+[!?]"]
            .iter()
            .map(|p| match analyse(p).expect("valid").plan {
                Plan::WholeText(Scanner::Dfa(h)) => h,
                other => panic!("{p}: {other:?}"),
            })
            .collect();
        // Shared engines (many regexes) and one engine each (few) find the same matches.
        let many: Vec<&Hir> = hirs.iter().cycle().take(WHOLE_TEXT_SINGLE + 1).collect();
        for refs in [&many[..], &many[..3]] {
            let w = WholeText::build(refs);
            let m = |t: &str| -> Vec<usize> { w.matching(t).into_iter().filter(|&i| i < 3).collect() };
            assert_eq!(m("abx1 and 123q"), [0, 1]);
            assert_eq!(m("abzz!"), [2]);
            assert!(m("nothing").is_empty());
        }
    }
}

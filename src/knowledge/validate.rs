//! Raw files -> `KnowledgeBase`: structure, then semantics, then the examples.
//!
//! Every problem is collected and returned together (never only the first): YAML syntax,
//! unknown/missing/mistyped fields (via `structure`), id rules, duplicates, dangling
//! `related` ids, regexes that do not compile, empty text, unknown placeholders, and finally
//! every `examples` entry must rank its scenario first and no `not_examples` entry may.
//!
//! Must not import the renderers or the adapters.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::load::{from_json, from_value, parse_yaml};
use super::locate::locate;
use super::model::{
    Escalation, FixStep, HttpPattern, KnowledgeBase, Scenario, ScenarioId, Segment, Signal, SignalMatcher, Source, Term,
};
use super::raw::{CodeLang, RawGlossary, RawScenario, RawSignal, RawSource, Weight};
use super::structure::{self, PathSeg};
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::matcher::{COMMAND_MIN_SCORE, Matcher, RegexCache};
use crate::signals::{Entities, Fact, Method};

/// A file to validate.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path shown in diagnostics.
    pub path: String,
    /// Contents.
    pub text: String,
}

/// Name of the glossary file.
pub const GLOSSARY_FILE: &str = "glossary.yaml";
/// Minimum `examples` per scenario.
pub const MIN_EXAMPLES: usize = 3;
/// Minimum `not_examples` per scenario.
pub const MIN_NOT_EXAMPLES: usize = 1;

struct Ctx<'a> {
    file: &'a SourceFile,
    diags: &'a mut Vec<Diagnostic>,
    /// Every regex is parsed and compiled once per build, here and for the matcher.
    regexes: &'a mut RegexCache,
}

impl Ctx<'_> {
    fn err(&mut self, code: Code, path: &[PathSeg], message: impl Into<String>) {
        let pos = locate(&self.file.text, path);
        self.diags.push(Diagnostic::error(code, &self.file.path, pos, message));
    }
}

fn key(k: &str) -> PathSeg {
    PathSeg::Key(k.to_string())
}

/// Validates all files and builds the knowledge base, or returns every problem.
pub fn build(files: Vec<SourceFile>, diags: Vec<Diagnostic>) -> Result<KnowledgeBase, Vec<Diagnostic>> {
    build_translated(files, &[], diags)
}

/// `build`, with the JSON translations of the first files (see `load::EMBEDDED_JSON`).
pub(crate) fn build_translated(
    files: Vec<SourceFile>,
    json: &[Option<&str>],
    diags: Vec<Diagnostic>,
) -> Result<KnowledgeBase, Vec<Diagnostic>> {
    match build_lenient_translated(files, json, diags) {
        (Some(kb), diags) if !diags.iter().any(Diagnostic::is_error) => Ok(kb),
        (_, diags) => Err(diags),
    }
}

/// Like `build`, but also returns a knowledge base made of the scenarios that did validate
/// (for authors who want to try examples while other files are still broken).
pub fn build_lenient(files: Vec<SourceFile>, diags: Vec<Diagnostic>) -> (Option<KnowledgeBase>, Vec<Diagnostic>) {
    build_lenient_translated(files, &[], diags)
}

/// `build_lenient`, with the JSON translations of the first files: a file with one is read from
/// it, and from its YAML only if the JSON does not read (positions still come from the YAML).
pub(crate) fn build_lenient_translated(
    files: Vec<SourceFile>,
    json: &[Option<&str>],
    mut diags: Vec<Diagnostic>,
) -> (Option<KnowledgeBase>, Vec<Diagnostic>) {
    let scenario_schema = super::schema();
    let glossary_schema = super::glossary_schema();
    let mut scenarios: Vec<Scenario> = Vec::new();
    let mut raw_glossaries: Vec<(usize, RawGlossary)> = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut raw_related: Vec<(usize, Vec<String>)> = Vec::new();
    let mut scenario_file: Vec<usize> = Vec::new();
    let mut regexes = RegexCache::new();

    // Files parse and check on their own: on all cores.
    let numbered: Vec<(usize, &SourceFile)> = files.iter().enumerate().collect();
    let parsed = crate::par::map(&numbered, |&(fi, file)| {
        let is_glossary = Path::new(&file.path).file_name().is_some_and(|n| n == GLOSSARY_FILE);
        let translation = json.get(fi).copied().flatten();
        // A translated file goes straight into the raw types. Every raw struct denies unknown
        // fields and every enum is closed, so the structure check accepts whatever they accept:
        // it only runs to explain a file they refuse.
        if let Some(text) = translation {
            if is_glossary {
                if let Some(g) = from_json(text) {
                    return Parsed::Glossary(Ok(g));
                }
            } else if let Some(r) = from_json(text) {
                return Parsed::Scenario(Box::new(Ok(r)));
            }
        }
        let translated = translation.and_then(from_json::<serde_yaml::Value>);
        let value = match translated.map_or_else(|| parse_yaml(&file.text), Ok) {
            Ok(v) => v,
            Err((msg, line, col)) => return Parsed::Yaml(msg, line, col),
        };
        let schema = if is_glossary {
            &glossary_schema
        } else {
            &scenario_schema
        };
        let errs = structure::check(&value, schema);
        if !errs.is_empty() {
            Parsed::Structure(errs)
        } else if is_glossary {
            Parsed::Glossary(from_value(value))
        } else {
            Parsed::Scenario(Box::new(from_value(value)))
        }
    });
    // So are the regexes, the costliest part of a scenario to check.
    let mut patterns = Vec::new();
    for p in &parsed {
        if let Parsed::Scenario(raw) = p
            && let Ok(raw) = raw.as_ref()
        {
            regexes_of(&raw.signals, &mut patterns);
        }
    }
    regexes.warm(patterns);

    for (fi, (file, parsed)) in files.iter().zip(parsed).enumerate() {
        let stem = Path::new(&file.path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut ctx = Ctx {
            file,
            diags: &mut diags,
            regexes: &mut regexes,
        };
        let raw: RawScenario = match parsed {
            Parsed::Yaml(msg, line, col) => {
                ctx.diags
                    .push(Diagnostic::error(Code::YamlSyntax, &file.path, (line, col), msg));
                continue;
            }
            Parsed::Structure(errs) => {
                for e in errs {
                    ctx.err(e.code, &e.path, e.message);
                }
                continue;
            }
            Parsed::Glossary(Ok(g)) => {
                raw_glossaries.push((fi, g));
                continue;
            }
            Parsed::Glossary(Err(e)) => {
                ctx.err(Code::InvalidValue, &[], e);
                continue;
            }
            Parsed::Scenario(raw) => match *raw {
                Ok(r) => r,
                Err(e) => {
                    ctx.err(Code::InvalidValue, &[], e);
                    continue;
                }
            },
        };
        let Some(scenario) = scenario(&raw, &stem, &mut ctx) else {
            continue;
        };
        if let Some(prev) = seen.get(scenario.id.as_str()) {
            ctx.err(
                Code::DuplicateId,
                &[key("id")],
                format!("scenario id `{}` is already defined in {prev}", scenario.id),
            );
            continue;
        }
        seen.insert(scenario.id.as_str().to_string(), file.path.clone());
        raw_related.push((scenarios.len(), raw.related.clone()));
        scenario_file.push(fi);
        scenarios.push(scenario);
    }

    if scenarios.is_empty() && diags.is_empty() {
        diags.push(Diagnostic::error(
            Code::EmptyKnowledgeBase,
            files.first().map_or("knowledge", |f| f.path.as_str()),
            (0, 0),
            "no scenario files (*.yaml) found",
        ));
    }

    // Cross-references.
    let ids: HashSet<String> = scenarios.iter().map(|s| s.id.as_str().to_string()).collect();
    for (si, related) in raw_related {
        let file = &files[scenario_file[si]];
        let mut ctx = Ctx {
            file,
            diags: &mut diags,
            regexes: &mut regexes,
        };
        let mut resolved = Vec::new();
        for (i, r) in related.iter().enumerate() {
            match ScenarioId::parse(r).filter(|id| ids.contains(id.as_str())) {
                Some(id) => resolved.push(id),
                None => ctx.err(
                    Code::UnknownRelated,
                    &[key("related"), PathSeg::Index(i)],
                    format!("`{r}` is not a scenario id{}", suggest(r, &ids)),
                ),
            }
        }
        scenarios[si].related = resolved;
    }
    let mut glossary = Vec::new();
    for (fi, g) in raw_glossaries {
        let mut ctx = Ctx {
            file: &files[fi],
            diags: &mut diags,
            regexes: &mut regexes,
        };
        glossary.extend(terms(g, &ids, &mut ctx));
    }

    // Sort by id so indices are stable whatever the file order.
    let mut order: Vec<usize> = (0..scenarios.len()).collect();
    order.sort_by(|&a, &b| scenarios[a].id.cmp(&scenarios[b].id));
    let mut file_of: Vec<usize> = order.iter().map(|&i| scenario_file[i]).collect();
    let mut sorted: Vec<Scenario> = Vec::with_capacity(scenarios.len());
    let mut slots: Vec<Option<Scenario>> = scenarios.into_iter().map(Some).collect();
    for &i in &order {
        if let Some(s) = slots[i].take() {
            sorted.push(s);
        }
    }
    let scenarios = sorted;

    let matcher = match Matcher::compile_with(&scenarios, &mut regexes) {
        Ok(m) => m,
        Err(e) => {
            let fi = file_of.get(e.scenario).copied().unwrap_or(0);
            diags.push(Diagnostic::error(
                Code::InvalidPattern,
                files.get(fi).map_or("knowledge", |f| f.path.as_str()),
                (0, 0),
                format!("the patterns do not compile together: {}", e.message),
            ));
            return (None, diags);
        }
    };
    let index: HashMap<ScenarioId, usize> = scenarios.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
    let version = fingerprint(&files);
    let kb = KnowledgeBase {
        scenarios,
        index,
        glossary,
        matcher,
        version,
    };

    // Examples last: they need the whole matcher. Each scenario's on its own, on all cores;
    // the diagnostics keep the scenario order.
    let numbered: Vec<(usize, &Scenario)> = kb.scenarios.iter().enumerate().collect();
    let found = crate::par::map(&numbered, |&(si, s)| {
        let mut found = Vec::new();
        let mut ctx = Ctx {
            file: &files[file_of[si]],
            diags: &mut found,
            regexes: &mut RegexCache::new(),
        };
        check_examples(&kb, si, s, &mut ctx);
        found
    });
    diags.extend(found.into_iter().flatten());
    file_of.clear();
    let kb = (!kb.scenarios.is_empty()).then_some(kb);
    (kb, diags)
}

/// One file after the checks that need nothing but the file itself.
enum Parsed {
    /// YAML syntax error: message, line, column.
    Yaml(String, usize, usize),
    /// Unknown, missing or mistyped fields.
    Structure(Vec<structure::StructError>),
    Glossary(Result<RawGlossary, String>),
    Scenario(Box<Result<RawScenario, String>>),
}

/// The regexes of `signals`, nested ones included.
fn regexes_of<'r>(signals: &'r [RawSignal], out: &mut Vec<&'r str>) {
    for s in signals {
        out.extend(s.regex.as_deref());
        if let Some(all) = &s.all {
            regexes_of(all, out);
        }
    }
}

fn suggest(name: &str, ids: &HashSet<String>) -> String {
    match did_you_mean(name, ids.iter().map(String::as_str)) {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    }
}

fn check_examples(kb: &KnowledgeBase, si: usize, s: &Scenario, ctx: &mut Ctx<'_>) {
    let describe = |ranking: &[crate::matcher::Hit]| -> String {
        match ranking.iter().position(|h| h.scenario == si) {
            Some(p) => format!("this scenario ranks #{} ({:.2})", p + 1, ranking[p].score),
            None => "this scenario does not score at all".to_string(),
        }
    };
    // "Ranked first" means shown first: a top hit below the command-mode minimum is no answer.
    let shown = |input: &str| {
        let mut r = crate::diagnose::rank(kb, input.as_bytes()).ranking;
        if r.first().is_some_and(|h| h.score < COMMAND_MIN_SCORE) {
            r.clear();
        }
        r
    };
    for (i, ex) in s.examples.iter().enumerate() {
        let ranking = shown(ex);
        match ranking.first() {
            Some(top) if top.scenario == si => {}
            Some(top) => ctx.err(
                Code::ExampleNotFirst,
                &[key("examples"), PathSeg::Index(i)],
                format!(
                    "example {} ranks `{}` first ({:.2}); {}",
                    i + 1,
                    kb.scenario(top.scenario).id,
                    top.score,
                    describe(&ranking)
                ),
            ),
            None => ctx.err(
                Code::ExampleNotFirst,
                &[key("examples"), PathSeg::Index(i)],
                format!(
                    "example {} matches no scenario with a score of at least {COMMAND_MIN_SCORE}",
                    i + 1
                ),
            ),
        }
    }
    for (i, ex) in s.not_examples.iter().enumerate() {
        let ranking = shown(ex);
        if let Some(top) = ranking.first()
            && top.scenario == si
        {
            let next = ranking
                .get(1)
                .map(|h| format!("; the next is `{}` ({:.2})", kb.scenario(h.scenario).id, h.score))
                .unwrap_or_default();
            ctx.err(
                Code::NotExampleFirst,
                &[key("not_examples"), PathSeg::Index(i)],
                format!(
                    "not_example {} ranks this scenario first ({:.2}){next}",
                    i + 1,
                    top.score
                ),
            );
        }
    }
}

fn nonempty(ctx: &mut Ctx<'_>, path: &[PathSeg], what: &str, value: &str) -> bool {
    if value.trim().is_empty() {
        ctx.err(Code::EmptyText, path, format!("`{what}` is empty"));
        false
    } else {
        true
    }
}

fn nonempty_list(ctx: &mut Ctx<'_>, field: &str, items: &[String], min: usize) -> bool {
    let mut ok = true;
    if items.len() < min {
        ctx.err(
            Code::EmptyText,
            &[key(field)],
            format!(
                "`{field}` needs at least {min} entr{}",
                if min == 1 { "y" } else { "ies" }
            ),
        );
        ok = false;
    }
    for (i, it) in items.iter().enumerate() {
        ok &= nonempty(ctx, &[key(field), PathSeg::Index(i)], &format!("{field}[{i}]"), it);
    }
    ok
}

fn placeholders(ctx: &mut Ctx<'_>, path: &[PathSeg], text: &str) -> bool {
    let mut ok = true;
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        if !Entities::PLACEHOLDERS.iter().any(|(n, _)| *n == name) {
            let hint = did_you_mean(name, Entities::PLACEHOLDERS.iter().map(|(n, _)| *n))
                .map(|s| format!(" (did you mean `{{{{{s}}}}}`?)"))
                .unwrap_or_default();
            ctx.err(
                Code::UnknownPlaceholder,
                path,
                format!("unknown placeholder `{{{{{name}}}}}`{hint}"),
            );
            ok = false;
        }
        rest = &after[end + 2..];
    }
    ok
}

fn scenario(raw: &RawScenario, stem: &str, ctx: &mut Ctx<'_>) -> Option<Scenario> {
    let mut ok = true;
    let id = match ScenarioId::parse(&raw.id) {
        Some(id) => {
            if raw.id != stem {
                ctx.err(
                    Code::IdMismatch,
                    &[key("id")],
                    format!(
                        "id `{}` differs from the file name; rename the file to `{}.yaml` or the id to `{stem}`",
                        raw.id, raw.id
                    ),
                );
                ok = false;
            }
            Some(id)
        }
        None => {
            ctx.err(
                Code::InvalidId,
                &[key("id")],
                format!("id `{}` must be kebab-case (a-z, 0-9 and single dashes)", raw.id),
            );
            None
        }
    };
    for (field, value) in [
        ("title", &raw.title),
        ("summary", &raw.summary),
        ("category", &raw.category),
        ("cause", &raw.cause),
        ("escalation.when", &raw.escalation.when),
    ] {
        let path: Vec<PathSeg> = field.split('.').map(key).collect();
        ok &= nonempty(ctx, &path, field, value);
    }
    if !raw.category.trim().is_empty() && ScenarioId::parse(&raw.category).is_none() {
        ctx.err(
            Code::InvalidValue,
            &[key("category")],
            format!("category `{}` must be kebab-case", raw.category),
        );
        ok = false;
    }
    ok &= nonempty_list(ctx, "phrases", &raw.phrases, 1);
    ok &= nonempty_list(ctx, "checklist", &raw.checklist, 1);
    for (i, c) in raw.checklist.iter().enumerate() {
        ok &= placeholders(ctx, &[key("checklist"), PathSeg::Index(i)], c);
    }
    for (i, c) in raw.escalation.collect.iter().enumerate() {
        let p = [key("escalation"), key("collect"), PathSeg::Index(i)];
        ok &= nonempty(ctx, &p, &format!("escalation.collect[{i}]"), c);
        ok &= placeholders(ctx, &p, c);
    }
    if raw.examples.len() < MIN_EXAMPLES || raw.not_examples.len() < MIN_NOT_EXAMPLES {
        let field = if raw.examples.len() < MIN_EXAMPLES {
            "examples"
        } else {
            "not_examples"
        };
        ctx.err(
            Code::TooFewExamples,
            &[key(field)],
            format!(
                "a scenario needs at least {MIN_EXAMPLES} examples and {MIN_NOT_EXAMPLES} not_example (found {} and {})",
                raw.examples.len(),
                raw.not_examples.len()
            ),
        );
        ok = false;
    }
    for (field, list) in [("examples", &raw.examples), ("not_examples", &raw.not_examples)] {
        for (i, e) in list.iter().enumerate() {
            ok &= nonempty(ctx, &[key(field), PathSeg::Index(i)], &format!("{field}[{i}]"), e);
        }
    }
    let mut fix = Vec::new();
    if raw.fix.is_empty() {
        ctx.err(Code::EmptyText, &[key("fix")], "`fix` needs at least one step");
        ok = false;
    }
    for (i, step) in raw.fix.iter().enumerate() {
        let base = [key("fix"), PathSeg::Index(i)];
        ok &= nonempty(
            ctx,
            &[base[0].clone(), base[1].clone(), key("text")],
            &format!("fix[{i}].text"),
            &step.text,
        );
        ok &= placeholders(ctx, &[base[0].clone(), base[1].clone(), key("text")], &step.text);
        if let Some(code) = &step.code {
            ok &= nonempty(
                ctx,
                &[base[0].clone(), base[1].clone(), key("code")],
                &format!("fix[{i}].code"),
                code,
            );
            ok &= placeholders(ctx, &[base[0].clone(), base[1].clone(), key("code")], code);
        }
        fix.push(FixStep {
            text: step.text.trim().to_string(),
            code: step.code.as_ref().map(|c| c.trim_end().to_string()),
            lang: step.lang.unwrap_or(if step.code.is_some() {
                CodeLang::Bash
            } else {
                CodeLang::Text
            }),
            on_instance: step.on_instance,
        });
    }
    let sources = sources(&raw.sources, ctx, &[key("sources")], 1).unwrap_or_else(|| {
        ok = false;
        Vec::new()
    });
    let mut signals = Vec::new();
    if raw.signals.is_empty() {
        ctx.err(
            Code::EmptyText,
            &[key("signals")],
            "`signals` needs at least one signal",
        );
        ok = false;
    }
    for (i, rs) in raw.signals.iter().enumerate() {
        match signal(rs, ctx, &[key("signals"), PathSeg::Index(i)], true) {
            Some(s) => signals.push(s),
            None => ok = false,
        }
    }
    if !signals.iter().any(|s| s.weight != Weight::Against) && !raw.signals.is_empty() {
        ctx.err(
            Code::InvalidSignal,
            &[key("signals")],
            "every signal counts `against`; at least one must count for the scenario",
        );
        ok = false;
    }
    let id = id?;
    ok.then(|| Scenario {
        id,
        title: raw.title.trim().to_string(),
        summary: raw.summary.trim().to_string(),
        severity: raw.severity,
        category: raw.category.trim().to_string(),
        mode: raw.mode,
        signals,
        phrases: raw.phrases.iter().map(|p| p.trim().to_string()).collect(),
        cause: raw.cause.trim().to_string(),
        fix,
        checklist: raw.checklist.iter().map(|c| c.trim().to_string()).collect(),
        escalation: Escalation {
            security_incident: raw.escalation.security_incident,
            when: raw.escalation.when.trim().to_string(),
            collect: raw.escalation.collect.iter().map(|c| c.trim().to_string()).collect(),
        },
        related: Vec::new(),
        sources,
        examples: raw.examples.clone(),
        not_examples: raw.not_examples.clone(),
        origin: ctx.file.path.clone(),
    })
}

fn sources(raw: &[RawSource], ctx: &mut Ctx<'_>, base: &[PathSeg], min: usize) -> Option<Vec<Source>> {
    let mut ok = true;
    if raw.len() < min {
        ctx.err(Code::EmptyText, base, "`sources` needs at least one source");
        ok = false;
    }
    let mut out = Vec::new();
    for (i, s) in raw.iter().enumerate() {
        let mut p = base.to_vec();
        p.push(PathSeg::Index(i));
        let mut url_path = p.clone();
        url_path.push(key("url"));
        let valid_url = s.url.starts_with("https://") && s.url.len() > 12 && !s.url.contains(char::is_whitespace);
        if !valid_url {
            ctx.err(
                Code::InvalidUrl,
                &url_path,
                format!("`{}` is not an https:// URL", s.url),
            );
            ok = false;
        }
        let mut sup = p.clone();
        sup.push(key("supports"));
        ok &= nonempty(ctx, &sup, "supports", &s.supports);
        out.push(Source {
            url: s.url.trim().to_string(),
            supports: s.supports.trim().to_string(),
        });
    }
    ok.then_some(out)
}

fn signal(rs: &RawSignal, ctx: &mut Ctx<'_>, path: &[PathSeg], top: bool) -> Option<Signal> {
    let keys: Vec<&str> = [
        ("text", rs.text.is_some()),
        ("regex", rs.regex.is_some()),
        ("code", rs.code.is_some()),
        ("operation", rs.operation.is_some()),
        ("iam", rs.iam.is_some()),
        ("http", rs.http.is_some()),
        ("fact", rs.fact.is_some()),
        ("all", rs.all.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    if keys.len() != 1 {
        let msg = if keys.is_empty() {
            "a signal needs one of: text, regex, code, operation, iam, http, fact, all".to_string()
        } else {
            format!("a signal sets exactly one matcher, found {}", keys.join(", "))
        };
        ctx.err(Code::InvalidSignal, path, msg);
        return None;
    }
    if !top && (rs.weight.is_some() || rs.label.is_some()) {
        ctx.err(
            Code::InvalidSignal,
            path,
            "signals inside `all` take no weight or label; set them on the `all` signal",
        );
        return None;
    }
    let field = |k: &str| {
        let mut p = path.to_vec();
        p.push(key(k));
        p
    };
    let matcher = match keys[0] {
        "text" => {
            let t = rs.text.as_deref().unwrap_or_default();
            if t.trim().len() < 3 {
                ctx.err(Code::EmptyText, &field("text"), "`text` needs at least 3 characters");
                return None;
            }
            SignalMatcher::Text(t.trim().to_string())
        }
        "regex" => {
            let r = rs.regex.as_deref().unwrap_or_default();
            let matches_empty = match ctx.regexes.check(r) {
                Ok(a) => a.matches_empty,
                Err(e) => {
                    ctx.err(
                        Code::InvalidPattern,
                        &field("regex"),
                        format!("regex `{r}` does not compile: {e}"),
                    );
                    return None;
                }
            };
            if r.is_empty() || matches_empty {
                ctx.err(
                    Code::InvalidPattern,
                    &field("regex"),
                    format!("regex `{r}` matches empty text, so it would fire on every paste"),
                );
                return None;
            }
            SignalMatcher::Regex(r.to_string())
        }
        "code" => {
            let c = rs.code.as_deref().unwrap_or_default().trim();
            if c.is_empty() || !c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '.' || ch == '_') {
                ctx.err(
                    Code::InvalidSignal,
                    &field("code"),
                    format!("`{c}` is not an error code (letters, digits, `.` and `_`)"),
                );
                return None;
            }
            SignalMatcher::Code(c.to_string())
        }
        "operation" => {
            let o = rs.operation.as_deref().unwrap_or_default().trim();
            if !o.starts_with(|c: char| c.is_ascii_uppercase()) || !o.chars().all(|c| c.is_ascii_alphanumeric()) {
                ctx.err(
                    Code::InvalidSignal,
                    &field("operation"),
                    format!("`{o}` is not a PascalCase operation name"),
                );
                return None;
            }
            SignalMatcher::Operation(o.to_string())
        }
        "iam" => {
            let n = rs.iam.as_deref().unwrap_or_default().trim();
            let valid = n.split_once(':').is_some_and(|(svc, name)| {
                !svc.is_empty()
                    && svc.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !name.is_empty()
                    && !name.contains(char::is_whitespace)
            });
            if !valid {
                ctx.err(
                    Code::InvalidSignal,
                    &field("iam"),
                    format!("`{n}` is not an IAM action or condition key (`service:Name`)"),
                );
                return None;
            }
            SignalMatcher::Iam(n.to_string())
        }
        "fact" => {
            let f = rs.fact.as_deref().unwrap_or_default();
            match Fact::parse(f) {
                Some(f) => SignalMatcher::Fact(f),
                None => {
                    let hint = did_you_mean(f, Fact::ALL.iter().map(|f| f.as_str()))
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    ctx.err(
                        Code::InvalidSignal,
                        &field("fact"),
                        format!("`{f}` is not a known fact{hint}"),
                    );
                    return None;
                }
            }
        }
        "http" => {
            let h = rs.http.clone().unwrap_or_default();
            let mut p = HttpPattern {
                method: None,
                path: None,
                status: None,
            };
            if h.method.is_none() && h.path.is_none() && h.status.is_none() {
                ctx.err(
                    Code::InvalidSignal,
                    &field("http"),
                    "an `http` signal needs at least one of method, path, status",
                );
                return None;
            }
            if let Some(m) = &h.method {
                match Method::parse(m) {
                    Some(m) if m != Method::Other => p.method = Some(m),
                    _ => {
                        ctx.err(
                            Code::InvalidSignal,
                            &field("http"),
                            format!("method `{m}` is not GET, PUT, HEAD or POST"),
                        );
                        return None;
                    }
                }
            }
            if let Some(st) = h.status {
                if !(100..=599).contains(&st) {
                    ctx.err(
                        Code::InvalidSignal,
                        &field("http"),
                        format!("status {st} is not an HTTP status (100-599)"),
                    );
                    return None;
                }
                p.status = Some(st);
            }
            if let Some(path_src) = &h.path {
                match parse_path(path_src) {
                    Ok(segs) => p.path = Some(segs),
                    Err(e) => {
                        ctx.err(Code::InvalidSignal, &field("http"), e);
                        return None;
                    }
                }
            }
            SignalMatcher::Http(p)
        }
        _ => {
            let list = rs.all.as_deref().unwrap_or_default();
            if list.len() < 2 {
                ctx.err(Code::InvalidSignal, &field("all"), "`all` needs at least two signals");
                return None;
            }
            let mut inner = Vec::new();
            for (i, s) in list.iter().enumerate() {
                let mut p = field("all");
                p.push(PathSeg::Index(i));
                if s.all.is_some() {
                    ctx.err(Code::InvalidSignal, &p, "`all` signals cannot nest");
                    return None;
                }
                inner.push(signal(s, ctx, &p, false)?.matcher);
            }
            SignalMatcher::All(inner)
        }
    };
    let label = rs
        .label
        .clone()
        .filter(|l| !l.trim().is_empty())
        .unwrap_or_else(|| describe(&matcher));
    Some(Signal {
        matcher,
        weight: rs.weight.unwrap_or(Weight::Medium),
        label,
    })
}

fn parse_path(src: &str) -> Result<Vec<Segment>, String> {
    if !src.starts_with('/') {
        return Err(format!("path `{src}` must start with `/`"));
    }
    let parts: Vec<&str> = src.trim_start_matches('/').trim_end_matches('/').split('/').collect();
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let seg = match *part {
            "**" if i + 1 == parts.len() => Segment::Rest,
            "**" => return Err(format!("path `{src}`: `**` may only come last")),
            "*" => Segment::Any,
            "{version}" => Segment::Version,
            "" => return Err(format!("path `{src}` has an empty segment")),
            p if p.contains(['*', '{', '}']) => {
                return Err(format!(
                    "path `{src}`: `{p}` is not a literal, `*`, `**` or `{{version}}`"
                ));
            }
            p => Segment::Literal(p.to_string()),
        };
        out.push(seg);
    }
    Ok(out)
}

/// Default "why this matched" text for a signal.
fn describe(m: &SignalMatcher) -> String {
    match m {
        SignalMatcher::Text(t) => format!("text \"{t}\""),
        SignalMatcher::Regex(r) => format!("pattern /{r}/"),
        SignalMatcher::Code(c) => format!("error code {c}"),
        SignalMatcher::Operation(o) => format!("operation {o}"),
        SignalMatcher::Iam(n) => format!("IAM name {n}"),
        SignalMatcher::Http(p) => {
            let mut parts = vec!["HTTP".to_string()];
            if let Some(m) = p.method {
                parts.push(m.as_str().to_string());
            }
            if let Some(segs) = &p.path {
                let s: Vec<String> = segs
                    .iter()
                    .map(|s| match s {
                        Segment::Literal(l) => l.clone(),
                        Segment::Any => "*".to_string(),
                        Segment::Version => "{version}".to_string(),
                        Segment::Rest => "**".to_string(),
                    })
                    .collect();
                parts.push(format!("/{}", s.join("/")));
            }
            if let Some(st) = p.status {
                parts.push(format!("-> {st}"));
            }
            parts.join(" ")
        }
        SignalMatcher::Fact(f) => format!("evidence: {}", f.as_str().replace('-', " ")),
        SignalMatcher::All(list) => list.iter().map(describe).collect::<Vec<_>>().join(" + "),
    }
}

fn terms(g: RawGlossary, ids: &HashSet<String>, ctx: &mut Ctx<'_>) -> Vec<Term> {
    let mut out = Vec::new();
    let mut names = HashSet::new();
    for (i, t) in g.terms.into_iter().enumerate() {
        let base = [key("terms"), PathSeg::Index(i)];
        let p = |k: &str| vec![base[0].clone(), base[1].clone(), key(k)];
        let mut ok =
            nonempty(ctx, &p("term"), "term", &t.term) & nonempty(ctx, &p("definition"), "definition", &t.definition);
        if !names.insert(super::model::fold(&t.term)) {
            ctx.err(
                Code::DuplicateId,
                &p("term"),
                format!("glossary term `{}` is defined twice", t.term),
            );
            ok = false;
        }
        let mut related = Vec::new();
        for (j, r) in t.related.iter().enumerate() {
            let mut rp = p("related");
            rp.push(PathSeg::Index(j));
            match ScenarioId::parse(r).filter(|id| ids.contains(id.as_str())) {
                Some(id) => related.push(id),
                None => {
                    ctx.err(
                        Code::UnknownRelated,
                        &rp,
                        format!("`{r}` is not a scenario id{}", suggest(r, ids)),
                    );
                    ok = false;
                }
            }
        }
        let srcs = sources(&t.sources, ctx, &p("sources"), 0);
        if let (true, Some(sources)) = (ok, srcs) {
            out.push(Term {
                term: t.term.trim().to_string(),
                aliases: t.aliases,
                definition: t.definition.trim().to_string(),
                related,
                sources,
            });
        }
    }
    out
}

/// FNV-1a over every file name and body: a short, stable knowledge-base version.
fn fingerprint(files: &[SourceFile]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for f in files {
        let name = Path::new(&f.path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for b in name.bytes().chain([0u8]).chain(f.text.bytes()).chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{:012x}", h >> 16)
}

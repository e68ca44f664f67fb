//! Validated knowledge: types that can only be built by `validate.rs`, so an invalid scenario
//! cannot exist past loading. Everything downstream (matcher, reply, renderers) works on these.
//!
//! Must not import serde_yaml, the renderers or any I/O.

use std::collections::HashMap;
use std::fmt;

pub use super::raw::{CodeLang, Mode, Severity, Weight};
use crate::matcher::Matcher;
use crate::signals::{Fact, Method};

/// A kebab-case scenario id, equal to its file stem.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScenarioId(String);

impl ScenarioId {
    /// Accepts lower-case kebab-case (`a-z`, `0-9`, single dashes, no leading/trailing dash).
    pub fn parse(s: &str) -> Option<ScenarioId> {
        let ok = !s.is_empty()
            && s.len() <= 80
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
            && !s.contains("--");
        ok.then(|| ScenarioId(s.to_string()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ScenarioId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Weight {
    /// Numeric contribution to a score.
    pub fn value(self) -> f32 {
        match self {
            Weight::Decisive => 3.0,
            Weight::Strong => 2.0,
            Weight::Medium => 1.0,
            Weight::Weak => 0.4,
            Weight::Against => -1.5,
        }
    }
}

impl Severity {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl CodeLang {
    /// Name used after the opening fence of a code block.
    pub fn as_str(self) -> &'static str {
        match self {
            CodeLang::Bash => "bash",
            CodeLang::Json => "json",
            CodeLang::Yaml => "yaml",
            CodeLang::Hcl => "hcl",
            CodeLang::Text => "text",
        }
    }
}

/// One path segment pattern of an HTTP signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Exactly this text.
    Literal(String),
    /// Any one non-empty segment.
    Any,
    /// A dated version such as `2021-03-23` (never `latest`).
    Version,
    /// Everything that follows, possibly nothing.
    Rest,
}

/// An HTTP exchange pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpPattern {
    /// Required method.
    pub method: Option<Method>,
    /// Required path.
    pub path: Option<Vec<Segment>>,
    /// Required status.
    pub status: Option<u16>,
}

/// What a signal looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalMatcher {
    /// Case-insensitive literal.
    Text(String),
    /// Regular expression source.
    Regex(String),
    /// Case-sensitive whole-word error code.
    Code(String),
    /// API operation (PascalCase).
    Operation(String),
    /// IAM action or condition key.
    Iam(String),
    /// HTTP exchange.
    Http(HttpPattern),
    /// Derived fact.
    Fact(Fact),
    /// All of these.
    All(Vec<SignalMatcher>),
}

/// A validated signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// What to look for.
    pub matcher: SignalMatcher,
    /// How much it counts.
    pub weight: Weight,
    /// How "why this matched" describes it.
    pub label: String,
}

/// One fix step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixStep {
    /// What to do.
    pub text: String,
    /// Command or policy, with placeholders.
    pub code: Option<String>,
    /// Language of `code`.
    pub lang: CodeLang,
    /// Runs on the instance.
    pub on_instance: bool,
}

/// Escalation advice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    /// Treat as a security incident.
    pub security_incident: bool,
    /// When and to whom.
    pub when: String,
    /// What to collect first.
    pub collect: Vec<String>,
}

/// A source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// https URL.
    pub url: String,
    /// What it supports.
    pub supports: String,
}

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Id.
    pub id: ScenarioId,
    /// Headline.
    pub title: String,
    /// One-line cause.
    pub summary: String,
    /// Severity.
    pub severity: Severity,
    /// Category.
    pub category: String,
    /// Live or shadow.
    pub mode: Mode,
    /// Evidence.
    pub signals: Vec<Signal>,
    /// Chat phrasings.
    pub phrases: Vec<String>,
    /// Root cause.
    pub cause: String,
    /// Fix steps.
    pub fix: Vec<FixStep>,
    /// Follow-up checklist.
    pub checklist: Vec<String>,
    /// Escalation.
    pub escalation: Escalation,
    /// Related scenarios.
    pub related: Vec<ScenarioId>,
    /// Sources.
    pub sources: Vec<Source>,
    /// Inputs that must rank it first.
    pub examples: Vec<String>,
    /// Inputs that must not.
    pub not_examples: Vec<String>,
    /// File it came from (for diagnostics).
    pub origin: String,
}

/// A glossary term.
#[derive(Debug, Clone)]
pub struct Term {
    /// Display name.
    pub term: String,
    /// Other spellings.
    pub aliases: Vec<String>,
    /// Definition.
    pub definition: String,
    /// Related scenarios.
    pub related: Vec<ScenarioId>,
    /// Sources.
    pub sources: Vec<Source>,
}

/// The loaded, validated knowledge base with its compiled matcher.
#[derive(Debug)]
pub struct KnowledgeBase {
    pub(crate) scenarios: Vec<Scenario>,
    pub(crate) index: HashMap<ScenarioId, usize>,
    pub(crate) glossary: Vec<Term>,
    pub(crate) matcher: Matcher,
    pub(crate) version: String,
}

impl KnowledgeBase {
    /// All scenarios, sorted by id.
    pub fn scenarios(&self) -> &[Scenario] {
        &self.scenarios
    }

    /// Scenario by index (as found in `Hit::scenario`).
    pub fn scenario(&self, idx: usize) -> &Scenario {
        &self.scenarios[idx]
    }

    /// Scenario by id.
    pub fn get(&self, id: &str) -> Option<&Scenario> {
        ScenarioId::parse(id)
            .and_then(|id| self.index.get(&id))
            .map(|&i| &self.scenarios[i])
    }

    /// Index of a scenario id.
    pub fn position(&self, id: &ScenarioId) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Glossary terms.
    pub fn glossary(&self) -> &[Term] {
        &self.glossary
    }

    /// Finds a glossary term by name or alias, ignoring case, blanks and dashes.
    pub fn term(&self, name: &str) -> Option<&Term> {
        let key = fold(name);
        self.glossary
            .iter()
            .find(|t| fold(&t.term) == key || t.aliases.iter().any(|a| fold(a) == key))
    }

    /// The compiled matcher.
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// Content hash of the knowledge base (changes whenever any file changes).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Distinct categories with their scenario counts, sorted by name.
    pub fn categories(&self) -> Vec<(&str, usize)> {
        let mut cats: Vec<(&str, usize)> = Vec::new();
        for s in &self.scenarios {
            match cats.iter_mut().find(|(c, _)| *c == s.category) {
                Some((_, n)) => *n += 1,
                None => cats.push((&s.category, 1)),
            }
        }
        cats.sort();
        cats
    }
}

/// Lower-cases and drops blanks, dashes and underscores, for lenient name lookup.
pub fn fold(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

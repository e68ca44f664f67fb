//! Problems found in knowledge files (and, later, configuration), reported all at once.
//!
//! A `Diagnostic` renders as `path:line:col: error[code]: message` so editors and CI can jump
//! to it. Codes are a closed kebab-case enum: they are part of the CLI contract and stay stable.
//!
//! Must not import the matcher or any I/O.

use std::fmt;
use std::path::PathBuf;

/// Stable, kebab-case diagnostic codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// The file could not be read.
    Io,
    /// The file is not valid YAML.
    YamlSyntax,
    /// A field that the format does not have.
    UnknownField,
    /// A required field is absent.
    MissingField,
    /// A value of the wrong type or outside the allowed values.
    InvalidValue,
    /// An id that is not kebab-case.
    InvalidId,
    /// `id` differs from the file stem.
    IdMismatch,
    /// Two scenarios (or glossary terms) share an id.
    DuplicateId,
    /// `related` names a scenario that does not exist.
    UnknownRelated,
    /// A `regex` signal that does not compile.
    InvalidPattern,
    /// A signal with no matcher key, several, or an unknown fact.
    InvalidSignal,
    /// A text field that is empty or only blanks.
    EmptyText,
    /// A `{{placeholder}}` that the filler does not know.
    UnknownPlaceholder,
    /// A source URL that is not `https://`.
    InvalidUrl,
    /// Fewer than 3 examples or no not_example.
    TooFewExamples,
    /// An example that does not rank its own scenario first.
    ExampleNotFirst,
    /// A not_example that ranks its own scenario first.
    NotExampleFirst,
    /// The directory holds no scenario at all.
    EmptyKnowledgeBase,
}

impl Code {
    /// Every code, in documentation order.
    pub const ALL: [Code; 18] = [
        Code::Io,
        Code::YamlSyntax,
        Code::UnknownField,
        Code::MissingField,
        Code::InvalidValue,
        Code::InvalidId,
        Code::IdMismatch,
        Code::DuplicateId,
        Code::UnknownRelated,
        Code::InvalidPattern,
        Code::InvalidSignal,
        Code::EmptyText,
        Code::UnknownPlaceholder,
        Code::InvalidUrl,
        Code::TooFewExamples,
        Code::ExampleNotFirst,
        Code::NotExampleFirst,
        Code::EmptyKnowledgeBase,
    ];

    /// The stable kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Io => "io",
            Code::YamlSyntax => "yaml-syntax",
            Code::UnknownField => "unknown-field",
            Code::MissingField => "missing-field",
            Code::InvalidValue => "invalid-value",
            Code::InvalidId => "invalid-id",
            Code::IdMismatch => "id-mismatch",
            Code::DuplicateId => "duplicate-id",
            Code::UnknownRelated => "unknown-related",
            Code::InvalidPattern => "invalid-pattern",
            Code::InvalidSignal => "invalid-signal",
            Code::EmptyText => "empty-text",
            Code::UnknownPlaceholder => "unknown-placeholder",
            Code::InvalidUrl => "invalid-url",
            Code::TooFewExamples => "too-few-examples",
            Code::ExampleNotFirst => "example-not-first",
            Code::NotExampleFirst => "not-example-first",
            Code::EmptyKnowledgeBase => "empty-knowledge-base",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a problem blocks loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Loading fails.
    Error,
    /// Reported, loading goes on.
    Warning,
}

/// One problem, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable code.
    pub code: Code,
    /// File the problem is in.
    pub file: PathBuf,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// 1-based column, 0 when unknown.
    pub col: usize,
    /// What is wrong and, where possible, how to fix it.
    pub message: String,
}

impl Diagnostic {
    /// An error at a position.
    pub fn error(code: Code, file: impl Into<PathBuf>, pos: (usize, usize), message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            file: file.into(),
            line: pos.0,
            col: pos.1,
            message: message.into(),
        }
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {level}[{}]: {}",
            self.file.display(),
            self.line.max(1),
            self.col.max(1),
            self.code,
            self.message
        )
    }
}

/// Suggests the closest candidate to a misspelt name (edit distance at most 3).
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (levenshtein(name, c), c))
        .filter(|(d, c)| *d <= 3 && *d < c.len().max(name.len()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_as_path_line_col() {
        let d = Diagnostic::error(Code::UnknownField, "knowledge/x.yaml", (7, 1), "`fixs` is not a field");
        assert_eq!(
            d.to_string(),
            "knowledge/x.yaml:7:1: error[unknown-field]: `fixs` is not a field"
        );
    }

    #[test]
    fn codes_are_kebab_case_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(c.as_str().chars().all(|ch| ch.is_ascii_lowercase() || ch == '-'));
            assert!(seen.insert(c.as_str()));
        }
    }

    #[test]
    fn suggests_close_names() {
        assert_eq!(did_you_mean("fixs", ["fix", "cause", "title"]), Some("fix"));
        assert_eq!(did_you_mean("zzzzzz", ["fix", "cause"]), None);
    }
}

//! The `--format json` contract of `imdsbot diagnose` (kept stable: external checks use it):
//! `{"verdict": "match"|"ambiguous"|"none", "matches": [{"id", "title", "score", "signals"}],
//! "secrets_found": N}`, matches best first, at most 5.

use serde::Serialize;

use crate::diagnose::Diagnosis;
use crate::knowledge::KnowledgeBase;

/// Most matches listed.
pub const MAX_MATCHES: usize = 5;

/// The JSON document.
#[derive(Debug, Serialize)]
pub struct Output {
    /// `match`, `ambiguous` or `none`.
    pub verdict: &'static str,
    /// Best first.
    pub matches: Vec<MatchOut>,
    /// Number of secrets found (and redacted) in the paste.
    pub secrets_found: usize,
}

/// One ranked scenario.
#[derive(Debug, Serialize)]
pub struct MatchOut {
    /// Scenario id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Score in [0, 1], two decimals.
    pub score: f64,
    /// What fired, strongest first.
    pub signals: Vec<String>,
}

/// Builds the JSON document for a diagnosis.
pub fn output(kb: &KnowledgeBase, d: &Diagnosis) -> Output {
    Output {
        verdict: d.verdict.as_str(),
        matches: d
            .ranking
            .iter()
            .take(MAX_MATCHES)
            .map(|h| {
                let s = kb.scenario(h.scenario);
                MatchOut {
                    id: s.id.to_string(),
                    title: s.title.clone(),
                    score: (f64::from(h.score) * 100.0).round() / 100.0,
                    signals: h
                        .reasons
                        .iter()
                        .filter(|r| r.weight > 0.0)
                        .map(|r| r.label.clone())
                        .collect(),
                }
            })
            .collect(),
        secrets_found: d.secrets.count(),
    }
}

/// Renders the JSON document as one line.
pub fn render(kb: &KnowledgeBase, d: &Diagnosis) -> String {
    serde_json::to_string(&output(kb, d)).unwrap_or_else(|_| "{}".to_string())
}

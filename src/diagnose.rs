//! The whole pipeline for one paste: prepare -> redact -> extract -> rank -> verdict.
//!
//! This is what every front end calls (CLI, Slack, Discord); they differ only in how they
//! render the resulting `Reply`.
//!
//! Must not import the renderers or the adapters.

use crate::knowledge::KnowledgeBase;
use crate::matcher::{Hit, MatchMode, Verdict};
use crate::redact::{SecretReport, redact};
use crate::signals::{Signals, extract_with};
use crate::text::{Prepared, Truncation, prepare};

/// Everything known about one paste.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    /// How it reached the bot.
    pub mode: MatchMode,
    /// What to do.
    pub verdict: Verdict,
    /// All scored scenarios, best first.
    pub ranking: Vec<Hit>,
    /// Extracted evidence (from the redacted text).
    pub signals: Signals,
    /// Secrets removed from the paste.
    pub secrets: SecretReport,
    /// Set when the middle of a huge paste was skipped.
    pub truncated: Option<Truncation>,
}

/// Ranking without a verdict (used by validation of examples).
pub struct Ranked {
    /// Scored scenarios, best first.
    pub ranking: Vec<Hit>,
    /// Extracted evidence.
    pub signals: Signals,
    /// Secrets removed.
    pub secrets: SecretReport,
    /// Truncation.
    pub truncated: Option<Truncation>,
}

/// Ranks a paste against the knowledge base.
pub fn rank(kb: &KnowledgeBase, input: &[u8]) -> Ranked {
    rank_prepared(kb, prepare(input))
}

/// Ranks an already prepared paste.
pub fn rank_prepared(kb: &KnowledgeBase, prepared: Prepared) -> Ranked {
    let (clean, secrets) = redact(&prepared.text);
    // One literal pass serves the signals' triggers and the matcher's conditions.
    let matcher = kb.matcher();
    let scan = matcher.scan(&clean);
    let signals = extract_with(&clean, &scan.trigger_lines(&clean));
    let ranking = matcher.rank_scanned(&clean, &signals, &scan);
    Ranked {
        ranking,
        signals,
        secrets,
        truncated: prepared.truncated,
    }
}

/// Diagnoses a paste.
pub fn diagnose(kb: &KnowledgeBase, input: &[u8], mode: MatchMode) -> Diagnosis {
    diagnose_prepared(kb, prepare(input), mode)
}

/// Diagnoses an already prepared paste.
pub fn diagnose_prepared(kb: &KnowledgeBase, prepared: Prepared, mode: MatchMode) -> Diagnosis {
    let r = rank_prepared(kb, prepared);
    let verdict = kb.matcher().verdict(&r.ranking, mode);
    Diagnosis {
        mode,
        verdict,
        ranking: r.ranking,
        signals: r.signals,
        secrets: r.secrets,
        truncated: r.truncated,
    }
}

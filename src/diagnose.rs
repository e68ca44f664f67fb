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

#[cfg(test)]
mod tests {
    use super::*;

    /// A paste long enough for the literal pass to run in halves on two cores finds the error at
    /// its end, and a secret at its start is still redacted.
    #[test]
    fn long_pastes_find_the_error_at_the_end() {
        let kb = crate::knowledge::load_embedded().expect("embedded knowledge base");
        let error = "2026-03-02 23:59:58,101 - botocore.utils - DEBUG - Metadata service returned non-200 \
                     response with status code of 401 for url: \
                     http://169.254.169.254/latest/meta-data/iam/security-credentials/\n\
                     botocore.exceptions.NoCredentialsError: Unable to locate credentials\n";
        let noise = "10.0.3.7 - - [02/Mar/2026:14:01:07 +0000] \"GET /api/v1/orders HTTP/1.1\" 200 512\n";
        let filler = noise.repeat(300 * 1024 / noise.len());
        let secret = "export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";
        let alone = rank(&kb, error.as_bytes());
        for (first, has_secret) in [("", false), (secret, true)] {
            let long = rank(&kb, format!("{first}{filler}{error}").as_bytes());
            assert_eq!(long.secrets.any(), has_secret);
            assert_eq!(long.ranking[0].scenario, alone.ranking[0].scenario);
            assert!(!long.signals.exchanges.is_empty());
        }
    }
}

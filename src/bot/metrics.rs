//! Prometheus metrics. The names are a stable contract (dashboards and external checks use
//! them): change them only with a migration note.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of `imdsbot_diagnoses_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DiagnosisLabels {
    /// Best scenario id, or `none`.
    pub scenario: String,
    /// `match`, `ambiguous` or `none`.
    pub verdict: String,
    /// `slack`, `discord` or `cli`.
    pub platform: String,
    /// `command`, `auto` or `button`.
    pub trigger: String,
}

/// Labels of `imdsbot_replies_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReplyLabels {
    /// Platform.
    pub platform: String,
    /// `sent`, `failed` or `retried`.
    pub outcome: String,
}

/// Labels of `imdsbot_duplicates_suppressed_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DuplicateLabels {
    /// Platform.
    pub platform: String,
    /// `retry`, `event`, `thread` or `cooldown`.
    pub reason: String,
}

/// Labels of `imdsbot_feedback_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FeedbackLabels {
    /// Scenario id.
    pub scenario: String,
    /// `helpful`, `wrong` or `escalate`.
    pub kind: String,
}

/// Labels of `imdsbot_kb_reloads_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// `ok` or `rejected`.
    pub outcome: String,
}

/// Labels of `imdsbot_kb_info`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KbInfoLabels {
    /// Knowledge base version (content hash).
    pub version: String,
    /// Number of scenarios.
    pub scenarios: String,
}

/// Every metric imdsbot exports.
pub struct Metrics {
    registry: Registry,
    diagnoses: Family<DiagnosisLabels, Counter>,
    duration: Histogram,
    replies: Family<ReplyLabels, Counter>,
    duplicates: Family<DuplicateLabels, Counter>,
    feedback: Family<FeedbackLabels, Counter>,
    reloads: Family<ReloadLabels, Counter>,
    kb_info: Family<KbInfoLabels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Diagnosis latency buckets, in seconds: 50 µs to 1 s.
const DURATION_BUCKETS: [f64; 12] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.1, 0.25, 1.0,
];

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let diagnoses = Family::<DiagnosisLabels, Counter>::default();
        let duration = Histogram::new(DURATION_BUCKETS);
        let replies = Family::<ReplyLabels, Counter>::default();
        let duplicates = Family::<DuplicateLabels, Counter>::default();
        let feedback = Family::<FeedbackLabels, Counter>::default();
        let reloads = Family::<ReloadLabels, Counter>::default();
        let kb_info = Family::<KbInfoLabels, Gauge>::default();
        registry.register("imdsbot_diagnoses", "Pastes and questions diagnosed", diagnoses.clone());
        registry.register(
            "imdsbot_diagnosis_duration_seconds",
            "Time to diagnose one paste",
            duration.clone(),
        );
        registry.register("imdsbot_replies", "Chat messages posted, by outcome", replies.clone());
        registry.register(
            "imdsbot_duplicates_suppressed",
            "Deliveries or answers suppressed as duplicates",
            duplicates.clone(),
        );
        registry.register("imdsbot_feedback", "Button feedback by scenario", feedback.clone());
        registry.register("imdsbot_kb_reloads", "Knowledge base reloads", reloads.clone());
        registry.register("imdsbot_kb_info", "The knowledge base being served", kb_info.clone());
        Metrics {
            registry,
            diagnoses,
            duration,
            replies,
            duplicates,
            feedback,
            reloads,
            kb_info,
        }
    }

    /// Counts one diagnosis.
    pub fn diagnosis(&self, scenario: &str, verdict: &str, platform: &str, trigger: &str, took: Duration) {
        self.diagnoses
            .get_or_create(&DiagnosisLabels {
                scenario: scenario.to_string(),
                verdict: verdict.to_string(),
                platform: platform.to_string(),
                trigger: trigger.to_string(),
            })
            .inc();
        self.duration.observe(took.as_secs_f64());
    }

    /// Counts a chat API call outcome (`sent`, `failed`, `retried`).
    pub fn reply(&self, platform: &str, outcome: &str) {
        self.replies
            .get_or_create(&ReplyLabels {
                platform: platform.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Counts a suppressed duplicate.
    pub fn duplicate(&self, platform: &str, reason: &str) {
        self.duplicates
            .get_or_create(&DuplicateLabels {
                platform: platform.to_string(),
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Counts a feedback click.
    pub fn feedback(&self, scenario: &str, kind: &str) {
        self.feedback
            .get_or_create(&FeedbackLabels {
                scenario: scenario.to_string(),
                kind: kind.to_string(),
            })
            .inc();
    }

    /// Counts a reload attempt.
    pub fn reload(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "rejected" };
        self.reloads
            .get_or_create(&ReloadLabels {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Sets the served knowledge base.
    pub fn kb(&self, version: &str, scenarios: usize) {
        self.kb_info.clear();
        self.kb_info
            .get_or_create(&KbInfoLabels {
                version: version.to_string(),
                scenarios: scenarios.to_string(),
            })
            .set(1);
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_the_stable_names() {
        let m = Metrics::new();
        m.diagnosis(
            "imds-token-required",
            "match",
            "slack",
            "auto",
            Duration::from_micros(80),
        );
        m.reply("slack", "sent");
        m.duplicate("slack", "event");
        m.feedback("imds-token-required", "helpful");
        m.reload(true);
        m.kb("abc", 38);
        m.kb("def", 39);
        let text = m.encode();
        for needle in [
            "imdsbot_diagnoses_total{scenario=\"imds-token-required\",verdict=\"match\",platform=\"slack\",trigger=\"auto\"} 1",
            "imdsbot_diagnosis_duration_seconds_count 1",
            "imdsbot_replies_total{platform=\"slack\",outcome=\"sent\"} 1",
            "imdsbot_duplicates_suppressed_total{platform=\"slack\",reason=\"event\"} 1",
            "imdsbot_feedback_total{scenario=\"imds-token-required\",kind=\"helpful\"} 1",
            "imdsbot_kb_reloads_total{outcome=\"ok\"} 1",
            "imdsbot_kb_info{version=\"def\",scenarios=\"39\"} 1",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
        assert!(!text.contains("version=\"abc\""));
    }
}

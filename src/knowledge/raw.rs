//! The serde mirror of a scenario file (`knowledge/<id>.yaml`) and of the glossary.
//!
//! These types say what the YAML may contain and nothing more: every string may be empty,
//! every id may dangle. `validate.rs` turns them into the model types of `model.rs`, which
//! cannot be invalid. The JSON Schema that editors use (`knowledge/schema.json`) is generated
//! from `RawScenario`, so this file is the one place that defines the format.
//!
//! Must not import the matcher, the renderers or any I/O.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One troubleshooting scenario: what it looks like, why it happens, how to fix it.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "imdsbot scenario")]
pub struct RawScenario {
    /// Kebab-case identifier; must equal the file stem (`<id>.yaml`).
    pub id: String,
    /// Short title, shown as the headline of an answer.
    pub title: String,
    /// One sentence naming the root cause, shown under the headline.
    pub summary: String,
    /// How bad it is for the workload.
    pub severity: Severity,
    /// Kebab-case category used to group scenarios in `kb list` and in "no match" answers.
    pub category: String,
    /// `live` scenarios answer; `shadow` ones are matched and counted but never auto-reply.
    #[serde(default)]
    pub mode: Mode,
    /// Hard evidence that identifies the scenario in a paste.
    pub signals: Vec<RawSignal>,
    /// How people ask about it in chat; matched fuzzily against short questions.
    pub phrases: Vec<String>,
    /// The root cause, in a few sentences.
    pub cause: String,
    /// The fix, as ordered steps; commands and policies go in `code`.
    pub fix: Vec<RawFixStep>,
    /// What to check once the fix is applied.
    pub checklist: Vec<String>,
    /// When and to whom to escalate, and what to collect first.
    pub escalation: RawEscalation,
    /// Ids of scenarios worth reading next.
    #[serde(default)]
    pub related: Vec<String>,
    /// Where the facts come from.
    pub sources: Vec<RawSource>,
    /// Pastes or questions that must rank this scenario first (at least 3).
    pub examples: Vec<String>,
    /// Near misses that must not rank this scenario first (at least 1).
    pub not_examples: Vec<String>,
}

/// Severity of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Advice or a misconception; nothing is broken.
    Low,
    /// One call or one workflow fails.
    Medium,
    /// A workload has no credentials or cannot launch.
    High,
    /// A security incident or a fleet-wide outage.
    Critical,
}

/// Whether a scenario may speak in auto-replies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Answers commands and auto-replies.
    #[default]
    Live,
    /// Matched and counted, but never auto-replies (answers `/imds` only).
    Shadow,
}

/// One piece of evidence. Exactly one of the matcher keys (`text`, `regex`, `code`,
/// `operation`, `iam`, `http`, `fact`, `all`) must be set.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSignal {
    /// Case-insensitive literal; runs of spaces and tabs match any run of spaces and tabs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Regular expression (Rust `regex` syntax) run over the normalised paste.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// AWS error code, matched case-sensitively as a whole word (`UnauthorizedOperation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// API operation in PascalCase (`RunInstances`); also matches `run-instances` and `run_instances`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// IAM action or condition key (`iam:PassRole`, `ec2:MetadataHttpTokens`), case-insensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam: Option<String>,
    /// An HTTP exchange with the instance metadata service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<RawHttpSignal>,
    /// A fact derived from structured evidence (see `knowledge/README.md` for the list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fact: Option<String>,
    /// Fires only when every listed signal fires (signals inside may not nest `all`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<Vec<RawSignal>>,
    /// How much the signal counts; `against` makes it count against the scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<Weight>,
    /// How the signal is described in "why this matched"; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// An HTTP request/response seen in a paste (curl -v, a log line or an SDK trace).
/// Every key that is set must match the same exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHttpSignal {
    /// Request method: GET, PUT or HEAD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path pattern: `*` is one segment, `**` any rest, `{version}` a dated version
    /// (`2021-03-23`, never `latest`). Example: `/{version}/api/token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Response status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

/// Relative strength of a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Weight {
    /// Identifies the scenario on its own.
    Decisive,
    /// Identifies it unless something contradicts.
    Strong,
    /// Points towards it (the default).
    Medium,
    /// A hint.
    Weak,
    /// Counts against the scenario.
    Against,
}

/// One step of the fix.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFixStep {
    /// What to do, in one or two sentences.
    pub text: String,
    /// A command or a policy, shown as a code block. `{{instance_id}}`-style placeholders
    /// are filled from the paste.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Language of `code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<CodeLang>,
    /// True when the command runs on the instance rather than from an admin workstation.
    #[serde(default)]
    pub on_instance: bool,
}

/// Language of a code block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CodeLang {
    /// Shell commands.
    Bash,
    /// A JSON document (usually a policy).
    Json,
    /// A YAML document.
    Yaml,
    /// HCL (Terraform).
    Hcl,
    /// Anything else.
    Text,
}

/// Escalation advice.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEscalation {
    /// Whether this is (or must be treated as) a security incident.
    pub security_incident: bool,
    /// When to escalate and to whom.
    pub when: String,
    /// What to collect before escalating.
    pub collect: Vec<String>,
}

/// A source and what it supports.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    /// `https://` URL of the source.
    pub url: String,
    /// Which facts of the scenario it supports.
    pub supports: String,
}

/// The glossary file (`knowledge/glossary.yaml`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGlossary {
    /// Terms, in display order.
    pub terms: Vec<RawTerm>,
}

/// One glossary term.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTerm {
    /// The term as displayed.
    pub term: String,
    /// Other spellings that `explain` accepts.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// A short definition in plain words.
    pub definition: String,
    /// Scenario ids where the term matters.
    #[serde(default)]
    pub related: Vec<String>,
    /// Where the definition comes from.
    #[serde(default)]
    pub sources: Vec<RawSource>,
}

//! The knowledge base: scenario files on disk or embedded in the binary, validated into
//! `model::KnowledgeBase`.
//!
//! `raw` mirrors the YAML, `load` reads files (the only place that calls `serde_yaml`),
//! `structure` checks a parsed document against the JSON Schema so that every unknown,
//! missing or mistyped field is reported at once, `locate` maps a field path back to
//! `line:col`, and `validate` builds the model and runs the semantic checks.

pub mod load;
pub mod locate;
pub mod model;
pub mod raw;
pub mod structure;
pub mod validate;

pub use load::{EMBEDDED, KbSource, load, load_embedded};
pub use model::{KnowledgeBase, Scenario, ScenarioId, Term};

/// The JSON Schema of a scenario file, as committed in `knowledge/schema.json`.
pub fn schema() -> serde_json::Value {
    let schema = schemars::schema_for!(raw::RawScenario);
    serde_json::to_value(&schema).unwrap_or_default()
}

/// The JSON Schema of the glossary file.
pub fn glossary_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(raw::RawGlossary);
    serde_json::to_value(&schema).unwrap_or_default()
}

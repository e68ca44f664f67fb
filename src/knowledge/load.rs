//! Reading knowledge files: from the copy embedded in the binary or from directories.
//! This is the only module that calls `serde_yaml`, so a maintained fork can replace it here.
//!
//! Must not import the renderers or the adapters.

use std::fs;
use std::path::{Path, PathBuf};

use super::model::KnowledgeBase;
use super::validate::{self, SourceFile};
use crate::diagnostic::{Code, Diagnostic};

/// The built-in knowledge files: (file name, contents).
pub const EMBEDDED: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/embedded_kb.rs"));

/// The same files as JSON, translated by `build.rs` where that keeps their value exactly (in the
/// order of `EMBEDDED`; `None` where the file is left to the YAML reader).
const EMBEDDED_JSON: &[Option<&str>] = include!(concat!(env!("OUT_DIR"), "/embedded_json.rs"));

/// Where the knowledge base comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KbSource {
    /// The files embedded at build time.
    Embedded,
    /// A directory instead of the embedded files.
    Dir(PathBuf),
}

/// Parses YAML into a generic value, with the position of a syntax error.
pub(crate) fn parse_yaml(text: &str) -> Result<serde_yaml::Value, (String, usize, usize)> {
    serde_yaml::from_str::<serde_yaml::Value>(text).map_err(|e| {
        let (line, col) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        let msg = e.to_string();
        // serde_yaml appends " at line X column Y"; the position is printed separately.
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        (msg, line, col)
    })
}

/// Reads a file's JSON translation (see `EMBEDDED_JSON`) as a raw type, or as a
/// `serde_yaml::Value`; `None` when it does not fit.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_str(text).ok()
}

/// Converts a structurally checked value into a raw type.
pub(crate) fn from_value<T: serde::de::DeserializeOwned>(v: serde_yaml::Value) -> Result<T, String> {
    serde_yaml::from_value(v).map_err(|e| e.to_string())
}

/// Loads the embedded knowledge base.
pub fn load_embedded() -> Result<KnowledgeBase, Vec<Diagnostic>> {
    load(&KbSource::Embedded, &[])
}

/// Loads a knowledge base from `base` plus any extra directories of operator scenarios, and
/// validates it in full. Every problem is returned, not only the first.
pub fn load(base: &KbSource, extra: &[PathBuf]) -> Result<KnowledgeBase, Vec<Diagnostic>> {
    let (files, diags) = read_sources(base, extra);
    validate::build_translated(files, translations(base), diags)
}

/// Loads whatever validates, with every problem found (for authoring: `--lenient`).
pub fn load_lenient(base: &KbSource, extra: &[PathBuf]) -> (Option<KnowledgeBase>, Vec<Diagnostic>) {
    let (files, diags) = read_sources(base, extra);
    validate::build_lenient_translated(files, translations(base), diags)
}

/// The JSON translations of the first files `read_sources` returns for `base`.
fn translations(base: &KbSource) -> &'static [Option<&'static str>] {
    match base {
        KbSource::Embedded => EMBEDDED_JSON,
        KbSource::Dir(_) => &[],
    }
}

fn read_sources(base: &KbSource, extra: &[PathBuf]) -> (Vec<SourceFile>, Vec<Diagnostic>) {
    let mut files = Vec::new();
    let mut diags = Vec::new();
    match base {
        KbSource::Embedded => files.extend(EMBEDDED.iter().map(|(name, text)| SourceFile {
            path: format!("knowledge/{name}"),
            text: (*text).to_string(),
        })),
        KbSource::Dir(dir) => {
            read_dir(dir, &mut files, &mut diags);
            if files.is_empty() && diags.is_empty() {
                diags.push(Diagnostic::error(
                    Code::EmptyKnowledgeBase,
                    dir,
                    (0, 0),
                    "no scenario files (*.yaml) in this directory",
                ));
            }
        }
    }
    for dir in extra {
        read_dir(dir, &mut files, &mut diags);
    }
    (files, diags)
}

fn read_dir(dir: &Path, files: &mut Vec<SourceFile>, diags: &mut Vec<Diagnostic>) {
    let entries = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            diags.push(Diagnostic::error(
                Code::Io,
                dir,
                (0, 0),
                format!("cannot read directory: {e}"),
            ));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    paths.sort();
    for p in paths {
        match fs::read(&p) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => files.push(SourceFile {
                    path: p.display().to_string(),
                    text,
                }),
                Err(e) => diags.push(Diagnostic::error(Code::Io, &p, (0, 0), format!("not UTF-8: {e}"))),
            },
            Err(e) => diags.push(Diagnostic::error(
                Code::Io,
                &p,
                (0, 0),
                format!("cannot read file: {e}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{EMBEDDED, EMBEDDED_JSON, from_json, parse_yaml};
    use crate::knowledge::raw::RawScenario;
    use crate::knowledge::{schema, structure};
    use serde_json::{Value, json};

    #[test]
    fn every_embedded_file_reads_the_same_from_its_json() {
        assert_eq!(EMBEDDED.len(), EMBEDDED_JSON.len());
        for ((name, yaml), json) in EMBEDDED.iter().zip(EMBEDDED_JSON) {
            let json = json.unwrap_or_else(|| panic!("{name} has no JSON translation"));
            let from_yaml = parse_yaml(yaml).expect("embedded YAML reads");
            assert_eq!(from_json(json), Some(from_yaml), "{name}");
        }
    }

    /// A translated file skips the structure check when the raw types accept it: they must
    /// refuse whatever that check refuses.
    #[test]
    fn raw_types_refuse_what_the_structure_check_refuses() {
        let base: Value = serde_json::from_str(EMBEDDED_JSON[0].expect("translated")).expect("json");
        type Edit = Box<dyn Fn(&mut Value)>;
        let edits: Vec<(&str, Edit)> = vec![
            ("unchanged", Box::new(|_| {})),
            ("unknown field", Box::new(|v| v["extra"] = json!(1))),
            (
                "unknown signal field",
                Box::new(|v| v["signals"][0]["extra"] = json!("x")),
            ),
            (
                "text for a flag",
                Box::new(|v| v["fix"][0]["on_instance"] = json!("yes")),
            ),
            (
                "missing field",
                Box::new(|v| drop(v.as_object_mut().map(|o| o.remove("title")))),
            ),
            ("unknown severity", Box::new(|v| v["severity"] = json!("apocalyptic"))),
            (
                "status out of range",
                Box::new(|v| v["signals"][0] = json!({"http": {"status": 70000}})),
            ),
            ("text for a list", Box::new(|v| v["related"] = json!("x"))),
            ("numbers for texts", Box::new(|v| v["examples"] = json!([1, 2]))),
            ("null mode", Box::new(|v| v["mode"] = Value::Null)),
            ("null label", Box::new(|v| v["signals"][0]["label"] = Value::Null)),
        ];
        for (what, edit) in edits {
            let mut v = base.clone();
            edit(&mut v);
            let text = v.to_string();
            let accepted = from_json::<RawScenario>(&text).is_some();
            let value: serde_yaml::Value = from_json(&text).expect("json");
            let errors = structure::check(&value, &schema());
            assert_eq!(accepted, errors.is_empty(), "{what}: {errors:?}");
        }
    }
}

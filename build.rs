//! Embeds `knowledge/*.yaml` in the binary so `imdsbot` works from any directory.
//!
//! Each file is also translated to JSON here, so that loading the built-in knowledge base reads
//! JSON, several times faster than YAML, and then checks it in full like any other. A file is
//! translated only when its JSON reads back as exactly the same YAML value (no tags, no keys
//! other than text, no special floats); any other file, and any file with a YAML error, is
//! left to the YAML reader at run time, which reports the problem with its position.

use std::fmt::Write as _;
use std::path::Path;
use std::{env, fs};

fn main() {
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").expect("manifest dir")).join("knowledge");
    let out_dir = Path::new(&env::var("OUT_DIR").expect("out dir")).to_path_buf();
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut yaml = String::from("&[\n");
    let mut json = String::from("&[\n");
    for n in &names {
        let path = dir.join(n);
        println!("cargo:rerun-if-changed={}", path.display());
        writeln!(yaml, "    ({n:?}, include_str!({:?})),", path.display().to_string()).expect("write");
        match fs::read_to_string(&path).ok().as_deref().and_then(to_json) {
            Some(text) => {
                let dest = out_dir.join(format!("{n}.json"));
                fs::write(&dest, text).expect("write json");
                writeln!(json, "    Some(include_str!({:?})),", dest.display().to_string()).expect("write");
            }
            None => json.push_str("    None,\n"),
        }
    }
    yaml.push_str("]\n");
    json.push_str("]\n");
    fs::write(out_dir.join("embedded_kb.rs"), yaml).expect("write embedded_kb.rs");
    fs::write(out_dir.join("embedded_json.rs"), json).expect("write embedded_json.rs");
}

/// The JSON for a YAML document, when it reads back as the same value.
fn to_json(text: &str) -> Option<String> {
    let value: serde_yaml::Value = serde_yaml::from_str(text).ok()?;
    if !plain(&value) {
        return None;
    }
    let json = serde_json::to_string(&value).ok()?;
    let back: serde_yaml::Value = serde_json::from_str(&json).ok()?;
    (back == value).then_some(json)
}

/// No tags and only text keys: what JSON can carry unchanged.
fn plain(v: &serde_yaml::Value) -> bool {
    use serde_yaml::Value;
    match v {
        Value::Tagged(_) => false,
        Value::Sequence(items) => items.iter().all(plain),
        Value::Mapping(m) => m.iter().all(|(k, v)| k.is_string() && plain(v)),
        Value::Number(n) => n.as_f64().is_none_or(f64::is_finite),
        Value::Null | Value::Bool(_) | Value::String(_) => true,
    }
}

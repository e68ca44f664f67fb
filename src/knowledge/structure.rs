//! Checks a parsed YAML document against the JSON Schema generated from `raw.rs`, collecting
//! every unknown, missing or mistyped field (serde stops at the first). Supports the subset of
//! JSON Schema that schemars emits for our types: `type`, `properties`, `required`,
//! `additionalProperties`, `items`, `$ref`, `oneOf`/`anyOf`, `const` and integer bounds.
//!
//! Must not import the matcher or any I/O.

use serde_json::Value as Json;
use serde_yaml::Value as Yaml;

use crate::diagnostic::{Code, did_you_mean};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg {
    /// Mapping key.
    Key(String),
    /// Sequence index.
    Index(usize),
}

/// Renders a path as `signals[3].regex`.
pub fn path_string(path: &[PathSeg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            PathSeg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathSeg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// A structural problem at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructError {
    /// Diagnostic code.
    pub code: Code,
    /// Where.
    pub path: Vec<PathSeg>,
    /// What.
    pub message: String,
}

/// Checks `value` against `schema` (whose `$defs` resolve `$ref`s).
pub fn check(value: &Yaml, schema: &Json) -> Vec<StructError> {
    let mut errors = Vec::new();
    let mut path = Vec::new();
    walk(value, schema, schema, &mut path, &mut errors);
    errors
}

fn resolve<'a>(root: &'a Json, schema: &'a Json) -> &'a Json {
    let mut s = schema;
    for _ in 0..16 {
        match s.get("$ref").and_then(Json::as_str) {
            Some(r) => match r.strip_prefix("#/$defs/").and_then(|name| root.get("$defs")?.get(name)) {
                Some(target) => s = target,
                None => return s,
            },
            None => return s,
        }
    }
    s
}

fn yaml_type(v: &Yaml) -> &'static str {
    match v {
        Yaml::Null => "null",
        Yaml::Bool(_) => "boolean",
        Yaml::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Yaml::Number(_) => "number",
        Yaml::String(_) => "string",
        Yaml::Sequence(_) => "array",
        Yaml::Mapping(_) => "object",
        Yaml::Tagged(t) => yaml_type(&t.value),
    }
}

fn describe_type(t: &str) -> &'static str {
    match t {
        "null" => "nothing",
        "boolean" => "true or false",
        "integer" => "a whole number",
        "number" => "a number",
        "string" => "text",
        "array" => "a list",
        "object" => "a mapping",
        _ => "a value",
    }
}

fn walk(value: &Yaml, schema: &Json, root: &Json, path: &mut Vec<PathSeg>, errors: &mut Vec<StructError>) {
    let schema = resolve(root, schema);
    let value = match value {
        Yaml::Tagged(t) => &t.value,
        v => v,
    };
    if let Some(branches) = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Json::as_array)
    {
        check_alternatives(value, branches, root, path, errors);
        return;
    }
    if let Some(c) = schema.get("const") {
        if value.as_str() != c.as_str() {
            push(
                errors,
                Code::InvalidValue,
                path,
                format!("expected `{}`", c.as_str().unwrap_or("?")),
            );
        }
        return;
    }
    if let Some(t) = schema.get("type") {
        let actual = yaml_type(value);
        let allowed: Vec<&str> = match t {
            Json::String(s) => vec![s.as_str()],
            Json::Array(a) => a.iter().filter_map(Json::as_str).collect(),
            _ => Vec::new(),
        };
        let ok = allowed.contains(&actual) || (actual == "integer" && allowed.contains(&"number"));
        if !ok {
            let want: Vec<&str> = allowed
                .iter()
                .filter(|t| **t != "null")
                .map(|t| describe_type(t))
                .collect();
            push(
                errors,
                Code::InvalidValue,
                path,
                format!("expected {}, found {}", want.join(" or "), describe_type(actual)),
            );
            return;
        }
    }
    match value {
        Yaml::Mapping(map) => check_object(map, schema, root, path, errors),
        Yaml::Sequence(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    path.push(PathSeg::Index(i));
                    walk(item, item_schema, root, path, errors);
                    path.pop();
                }
            }
        }
        Yaml::Number(n) => {
            if let (Some(v), Some(max)) = (n.as_f64(), schema.get("maximum").and_then(Json::as_f64))
                && v > max
            {
                push(errors, Code::InvalidValue, path, format!("{v} is larger than {max}"));
            }
            if let (Some(v), Some(min)) = (n.as_f64(), schema.get("minimum").and_then(Json::as_f64))
                && v < min
            {
                push(errors, Code::InvalidValue, path, format!("{v} is smaller than {min}"));
            }
        }
        _ => {}
    }
}

fn check_alternatives(
    value: &Yaml,
    branches: &[Json],
    root: &Json,
    path: &mut Vec<PathSeg>,
    errors: &mut Vec<StructError>,
) {
    let mut first_errors: Option<Vec<StructError>> = None;
    let mut consts = Vec::new();
    for b in branches {
        let b = resolve(root, b);
        if let Some(c) = b.get("const").and_then(Json::as_str) {
            consts.push(c);
        }
        let mut errs = Vec::new();
        walk(value, b, root, path, &mut errs);
        if errs.is_empty() {
            return;
        }
        let is_null_branch = b.get("type").and_then(Json::as_str) == Some("null");
        if first_errors.is_none() && !is_null_branch {
            first_errors = Some(errs);
        }
    }
    // Enums: each branch is a const (possibly nested behind a $ref + null alternative).
    let nested_consts: Vec<&str> = branches
        .iter()
        .map(|b| resolve(root, b))
        .filter_map(|b| b.get("oneOf").and_then(Json::as_array))
        .flatten()
        .filter_map(|b| b.get("const").and_then(Json::as_str))
        .collect();
    let options = if consts.is_empty() { nested_consts } else { consts };
    if !options.is_empty() {
        let shown = match value {
            Yaml::String(s) => format!("`{s}`"),
            other => describe_type(yaml_type(other)).to_string(),
        };
        push(
            errors,
            Code::InvalidValue,
            path,
            format!("{shown} is not one of: {}", options.join(", ")),
        );
        return;
    }
    errors.extend(first_errors.unwrap_or_default());
}

fn check_object(
    map: &serde_yaml::Mapping,
    schema: &Json,
    root: &Json,
    path: &mut Vec<PathSeg>,
    errors: &mut Vec<StructError>,
) {
    let props = schema.get("properties").and_then(Json::as_object);
    let closed = schema.get("additionalProperties") == Some(&Json::Bool(false));
    for (k, v) in map {
        let Some(key) = k.as_str() else {
            push(
                errors,
                Code::InvalidValue,
                path,
                "mapping keys must be text".to_string(),
            );
            continue;
        };
        match props.and_then(|p| p.get(key)) {
            Some(sub) => {
                path.push(PathSeg::Key(key.to_string()));
                walk(v, sub, root, path, errors);
                path.pop();
            }
            None if closed => {
                let known: Vec<&str> = props
                    .map(|p| p.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                let hint = match did_you_mean(key, known.iter().copied()) {
                    Some(s) => format!(" (did you mean `{s}`?)"),
                    None => format!(" (expected one of: {})", known.join(", ")),
                };
                path.push(PathSeg::Key(key.to_string()));
                push(
                    errors,
                    Code::UnknownField,
                    path,
                    format!("`{key}` is not a known field{hint}"),
                );
                path.pop();
            }
            None => {}
        }
    }
    if let Some(required) = schema.get("required").and_then(Json::as_array) {
        for r in required.iter().filter_map(Json::as_str) {
            if !map.contains_key(r) {
                let at = if path.is_empty() {
                    "the file".to_string()
                } else {
                    format!("`{}`", path_string(path))
                };
                push(errors, Code::MissingField, path, format!("missing field `{r}` in {at}"));
            }
        }
    }
}

fn push(errors: &mut Vec<StructError>, code: Code, path: &[PathSeg], message: String) {
    errors.push(StructError {
        code,
        path: path.to_vec(),
        message,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(yaml: &str) -> Vec<StructError> {
        let v: Yaml = serde_yaml::from_str(yaml).expect("yaml");
        check(&v, &crate::knowledge::schema())
    }

    #[test]
    fn reports_every_structural_problem() {
        let errs = errors("id: x\ntitel: y\nseverity: huge\nsignals:\n  - http: {status: nope}\n");
        let codes: Vec<Code> = errs.iter().map(|e| e.code).collect();
        assert!(codes.contains(&Code::UnknownField));
        assert!(codes.contains(&Code::MissingField));
        assert!(codes.contains(&Code::InvalidValue));
        let unknown = errs.iter().find(|e| e.code == Code::UnknownField).expect("unknown");
        assert_eq!(unknown.message, "`titel` is not a known field (did you mean `title`?)");
        let sev = errs
            .iter()
            .find(|e| e.path == vec![PathSeg::Key("severity".into())])
            .expect("severity");
        assert_eq!(sev.message, "`huge` is not one of: low, medium, high, critical");
        let st = errs
            .iter()
            .find(|e| path_string(&e.path) == "signals[0].http.status")
            .expect("status");
        assert_eq!(st.message, "expected a whole number, found text");
    }
}

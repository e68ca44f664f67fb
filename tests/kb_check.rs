//! `imdsbot kb check`: one broken fixture per diagnostic code, with the exact output asserted.

use std::path::Path;
use std::process::Command;

fn check(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_imdsbot"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["kb", "check"])
        .args(args)
        .env_remove("IMDSBOT_KB")
        .env_remove("IMDSBOT_KB_EXTRA")
        .output()
        .expect("run imdsbot");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn fixture(code: &str) -> String {
    format!("tests/fixtures/kb/{code}")
}

fn assert_single(code: &str, expected: &str) {
    let (status, out) = check(&[&fixture(code)]);
    assert_eq!(status, 1, "{code}: {out}");
    assert_eq!(out, format!("{expected}\n1 error(s) found\n"), "fixture {code}");
}

#[test]
fn valid_fixture_passes() {
    let (status, out) = check(&[&fixture("valid")]);
    assert_eq!(status, 0, "{out}");
    assert!(
        out.starts_with("knowledge base OK: 1 scenarios, 0 glossary terms, 4 examples checked"),
        "{out}"
    );
}

#[test]
fn the_built_in_knowledge_base_passes() {
    let (status, out) = check(&[]);
    assert_eq!(status, 0, "{out}");
    assert!(out.starts_with("knowledge base OK: 38 scenarios"), "{out}");
}

#[test]
fn yaml_syntax() {
    assert_single(
        "yaml-syntax",
        "tests/fixtures/kb/yaml-syntax/broken.yaml:3:8: error[yaml-syntax]: did not find expected ',' or ']'",
    );
}

#[test]
fn unknown_field() {
    assert_single(
        "unknown-field",
        "tests/fixtures/kb/unknown-field/alpha.yaml:18:1: error[unknown-field]: `fixs` is not a known field (did you mean `fix`?)",
    );
}

#[test]
fn missing_field() {
    assert_single(
        "missing-field",
        "tests/fixtures/kb/missing-field/alpha.yaml:1:1: error[missing-field]: missing field `cause` in the file",
    );
}

#[test]
fn invalid_value() {
    assert_single(
        "invalid-value",
        "tests/fixtures/kb/invalid-value/alpha.yaml:4:1: error[invalid-value]: `huge` is not one of: low, medium, high, critical",
    );
}

#[test]
fn invalid_id() {
    assert_single(
        "invalid-id",
        "tests/fixtures/kb/invalid-id/Alpha_Widget.yaml:1:1: error[invalid-id]: id `Alpha_Widget` must be kebab-case (a-z, 0-9 and single dashes)",
    );
}

#[test]
fn id_mismatch() {
    assert_single(
        "id-mismatch",
        "tests/fixtures/kb/id-mismatch/alpha.yaml:1:1: error[id-mismatch]: id `alpha-widget` differs from the file name; rename the file to `alpha-widget.yaml` or the id to `alpha`",
    );
}

#[test]
fn duplicate_id() {
    let (status, out) = check(&[
        &fixture("duplicate-id/base"),
        "--kb-extra",
        &fixture("duplicate-id/extra"),
    ]);
    assert_eq!(status, 1, "{out}");
    assert_eq!(
        out,
        "tests/fixtures/kb/duplicate-id/extra/alpha.yaml:1:1: error[duplicate-id]: scenario id `alpha` is already defined in tests/fixtures/kb/duplicate-id/base/alpha.yaml\n1 error(s) found\n"
    );
}

#[test]
fn unknown_related() {
    assert_single(
        "unknown-related",
        "tests/fixtures/kb/unknown-related/alpha.yaml:26:3: error[unknown-related]: `alpah` is not a scenario id (did you mean `alpha`?)",
    );
}

#[test]
fn invalid_pattern() {
    assert_single(
        "invalid-pattern",
        "tests/fixtures/kb/invalid-pattern/alpha.yaml:9:5: error[invalid-pattern]: regex `alpha (widget` does not compile: found open group without closing ')'",
    );
}

#[test]
fn invalid_signal() {
    assert_single(
        "invalid-signal",
        "tests/fixtures/kb/invalid-signal/alpha.yaml:9:5: error[invalid-signal]: `trust-policy-without-ec3` is not a known fact (did you mean `trust-policy-without-ec2`?)",
    );
}

#[test]
fn empty_text() {
    assert_single(
        "empty-text",
        "tests/fixtures/kb/empty-text/alpha.yaml:2:1: error[empty-text]: `title` is empty",
    );
}

#[test]
fn unknown_placeholder() {
    assert_single(
        "unknown-placeholder",
        "tests/fixtures/kb/unknown-placeholder/alpha.yaml:16:5: error[unknown-placeholder]: unknown placeholder `{{instnace_id}}` (did you mean `{{instance_id}}`?)",
    );
}

#[test]
fn invalid_url() {
    assert_single(
        "invalid-url",
        "tests/fixtures/kb/invalid-url/alpha.yaml:27:5: error[invalid-url]: `http://example.com/alpha` is not an https:// URL",
    );
}

#[test]
fn too_few_examples() {
    assert_single(
        "too-few-examples",
        "tests/fixtures/kb/too-few-examples/alpha.yaml:29:1: error[too-few-examples]: a scenario needs at least 3 examples and 1 not_example (found 2 and 1)",
    );
}

#[test]
fn example_not_first() {
    assert_single(
        "example-not-first",
        "tests/fixtures/kb/example-not-first/alpha.yaml:32:3: error[example-not-first]: example 3 matches no scenario with a score of at least 0.3",
    );
}

#[test]
fn not_example_first() {
    assert_single(
        "not-example-first",
        "tests/fixtures/kb/not-example-first/alpha.yaml:34:3: error[not-example-first]: not_example 1 ranks this scenario first (0.95)",
    );
}

#[test]
fn empty_knowledge_base() {
    assert_single(
        "empty-knowledge-base",
        "tests/fixtures/kb/empty-knowledge-base:1:1: error[empty-knowledge-base]: no scenario files (*.yaml) in this directory",
    );
}

#[test]
fn io_error() {
    let (status, out) = check(&["tests/fixtures/kb/does-not-exist"]);
    assert_eq!(status, 1);
    assert!(
        out.starts_with(
            "tests/fixtures/kb/does-not-exist:1:1: error[io]: cannot read directory: No such file or directory"
        ),
        "{out}"
    );
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let dir = tempdir("every-problem");
    let alpha = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(fixture("valid"))
            .join("alpha.yaml"),
    )
    .expect("fixture");
    let broken = alpha
        .replace("severity: medium", "severity: huge")
        .replace("checklist:", "fixs: []\nchecklist:")
        .replace(
            "cause: The alpha widget raises AlphaError when it is misconfigured.\n",
            "",
        );
    std::fs::write(dir.join("alpha.yaml"), broken).expect("write");
    std::fs::write(dir.join("beta.yaml"), alpha.replace("id: alpha", "id: gamma")).expect("write");
    let (status, out) = check(&[dir.to_str().expect("utf-8 path")]);
    assert_eq!(status, 1);
    for code in ["invalid-value", "unknown-field", "missing-field", "id-mismatch"] {
        assert!(out.contains(&format!("error[{code}]")), "{code} missing from:\n{out}");
    }
    assert!(out.ends_with("4 error(s) found\n"), "{out}");
}

#[test]
fn every_code_has_a_fixture() {
    for code in imdsbot::diagnostic::Code::ALL {
        let name = code.as_str();
        if name == "io" || name == "duplicate-id" {
            continue; // io: a missing directory; duplicate-id: a base and an extra directory
        }
        assert!(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(fixture(name)).is_dir(),
            "no fixture for {name}"
        );
    }
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("imdsbot-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

//! The CLI contract of `imdsbot diagnose` (kept stable: external checks use it), run as a real
//! binary from a temporary directory.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn imdsbot(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_imdsbot"));
    cmd.args(args)
        .current_dir(std::env::temp_dir())
        .env_remove("IMDSBOT_KB")
        .env_remove("IMDSBOT_KB_EXTRA")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn imdsbot");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    child.wait_with_output().expect("wait")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

const TRANSCRIPT: &str = "$ curl -v -X PUT http://169.254.169.254/2021-03-23/api/token -H \"X-aws-ec2-metadata-token-ttl-seconds: 21600\"\n> PUT /2021-03-23/api/token HTTP/1.1\n> Host: 169.254.169.254\n< HTTP/1.1 403 Forbidden\n";

#[test]
fn json_contract_for_a_match() {
    let out = imdsbot(&["diagnose", "--format", "json", TRANSCRIPT], None);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["verdict"], "match");
    assert_eq!(v["secrets_found"], 0);
    let m = v["matches"].as_array().expect("matches");
    assert!(!m.is_empty() && m.len() <= 5);
    assert_eq!(m[0]["id"], "imdsv2-token-put-wrong-path");
    assert!(m[0]["title"].as_str().is_some_and(|t| !t.is_empty()));
    let score = m[0]["score"].as_f64().expect("score");
    assert!((0.0..=1.0).contains(&score));
    assert!(m[0]["signals"].as_array().is_some_and(|s| !s.is_empty()));
    let scores: Vec<f64> = m.iter().map(|x| x["score"].as_f64().unwrap_or(0.0)).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "best first: {scores:?}");
}

#[test]
fn stdin_is_read_when_no_text_is_given() {
    let out = imdsbot(&["diagnose", "--format", "json"], Some(TRANSCRIPT.as_bytes()));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["matches"][0]["id"], "imdsv2-token-put-wrong-path");
}

#[test]
fn words_are_joined_with_spaces() {
    let a = imdsbot(
        &[
            "diagnose",
            "--format",
            "json",
            "EC2RoleRequestError:",
            "no",
            "EC2",
            "instance",
            "role",
            "found",
        ],
        None,
    );
    let b = imdsbot(
        &[
            "diagnose",
            "--format",
            "json",
            "EC2RoleRequestError: no EC2 instance role found",
        ],
        None,
    );
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn ambiguous_question_gets_a_pick_list_and_exit_zero() {
    let out = imdsbot(&["diagnose", "--format", "json", "403", "forbidden"], None);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["verdict"], "ambiguous", "{v}");
    assert!(v["matches"].as_array().is_some_and(|m| m.len() >= 2));
    let text = imdsbot(&["diagnose", "403 forbidden"], None);
    let s = String::from_utf8_lossy(&text.stdout);
    assert!(s.contains("Which symptom do you see?"), "{s}");
}

#[test]
fn unrelated_text_is_none_with_exit_one() {
    let out = imdsbot(
        &[
            "diagnose",
            "--format",
            "json",
            "who",
            "owns",
            "the",
            "billing",
            "dashboard?",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["verdict"], "none");
    let text = imdsbot(&["diagnose", "who owns the billing dashboard?"], None);
    assert_eq!(text.status.code(), Some(1));
    let s = String::from_utf8_lossy(&text.stdout);
    assert!(
        s.contains("imds-token") && s.contains("instance-profile"),
        "no-match lists the categories: {s}"
    );
}

#[test]
fn auto_mode_is_silent_on_unrelated_errors() {
    for paste in [
        "nginx: 2026/11/22 10:00:01 [error] 12#12: *7 access forbidden by rule, client: 10.0.0.7, request: \"GET /admin HTTP/1.1\" 403",
        "An error occurred (AccessDenied) when calling the GetObject operation: Access Denied",
        "HTTP/1.1 401 Unauthorized\n{\"message\":\"Bad credentials\",\"documentation_url\":\"https://docs.github.com/rest\"}",
        "Traceback (most recent call last):\n  File \"app.py\", line 3, in <module>\n    cfg['region']\nKeyError: 'region'",
    ] {
        let out = imdsbot(&["diagnose", "--mode", "auto", "--format", "json", paste], None);
        assert_eq!(out.status.code(), Some(1), "{paste}");
        assert_eq!(json(&out)["verdict"], "none", "{paste}");
    }
}

#[test]
fn text_format_prints_the_thread_with_filled_commands() {
    let paste = "An error occurred (UnauthorizedOperation) when calling the RunInstances operation: You are not authorized to perform this operation. Encoded authorization failure message: abc\n{\"allowed\":false,\"explicitDeny\":true,\"matchedStatements\":{\"items\":[{\"effect\":\"DENY\",\"conditions\":{\"items\":[{\"key\":\"ec2:MetadataHttpTokens\",\"values\":{\"items\":[{\"value\":\"required\"}]}}]}}]},\"context\":{\"principal\":{\"arn\":\"arn:aws:iam::123456789012:user/alice\"},\"action\":\"ec2:RunInstances\",\"resource\":\"arn:aws:ec2:eu-west-1:123456789012:instance/*\",\"conditions\":{\"items\":[{\"key\":\"ec2:MetadataHttpTokens\",\"values\":{\"items\":[{\"value\":\"optional\"}]}}]}}}";
    let out = imdsbot(&["diagnose", paste], None);
    assert_eq!(out.status.code(), Some(0));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("launch-denied-metadata-http-tokens-required"), "{s}");
    assert!(s.contains("Denied action: `ec2:RunInstances`"), "{s}");
    assert!(s.contains("Failing condition: `ec2:MetadataHttpTokens`"), "{s}");
    assert!(s.contains("Why this matched"), "{s}");
    assert!(s.contains("[ Escalate ]"), "{s}");
}

#[test]
fn slack_and_discord_formats_are_json_arrays() {
    for f in ["slack", "discord"] {
        let out = imdsbot(&["diagnose", "--format", f, TRANSCRIPT], None);
        assert_eq!(out.status.code(), Some(0));
        let v = json(&out);
        assert!(
            v.as_array().is_some_and(|a| a.len() >= 2),
            "{f}: headline plus thread replies"
        );
    }
}

#[test]
fn usage_errors_exit_two() {
    assert_eq!(
        imdsbot(&["diagnose", "--format", "yaml", "x"], None).status.code(),
        Some(2)
    );
    assert_eq!(
        imdsbot(&["diagnose", "--mode", "loud", "x"], None).status.code(),
        Some(2)
    );
    assert_eq!(imdsbot(&["frobnicate"], None).status.code(), Some(2));
}

#[test]
fn invalid_kb_refuses_with_every_problem() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kb/unknown-field");
    let out = imdsbot(&["diagnose", "--kb", dir.to_str().expect("path"), "AlphaError"], None);
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error[unknown-field]"));
}

#[test]
fn explain_scenarios_and_glossary_terms() {
    let out = imdsbot(&["explain", "assume-role-unauthorized-access"], None);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ec2.amazonaws.com"));
    let out = imdsbot(&["explain", "hop", "limit"], None);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = imdsbot(&["explain", "no-such-thing"], None);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn kb_list_and_schema() {
    let out = imdsbot(&["kb", "list"], None);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("38 scenarios"));
    let out = imdsbot(&["kb", "schema"], None);
    assert_eq!(json(&out)["title"], "imdsbot scenario");
}

#[test]
fn pasted_credentials_are_never_echoed() {
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let token = format!("IQoJb3JpZ2luX2VjE{}", "Zm9vYmFy".repeat(40));
    let paste = format!(
        "curl http://169.254.169.254/latest/meta-data/iam/security-credentials/app-role\n{{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2026-11-22T10:00:00Z\",\n  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"ASIAQEXAMPLE7EXAMPLE\",\n  \"SecretAccessKey\" : \"{secret}\",\n  \"Token\" : \"{token}\",\n  \"Expiration\" : \"2026-11-22T16:00:00Z\"\n}}\nbut boto3 still says: botocore.exceptions.NoCredentialsError: Unable to locate credentials"
    );
    for f in ["text", "json", "slack", "discord"] {
        let out = imdsbot(&["diagnose", "--format", f], Some(paste.as_bytes()));
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for needle in ["ASIAQEXAMPLE7EXAMPLE", secret, &token[..30]] {
            assert!(!all.contains(needle), "{f} output leaks a secret");
        }
        if f == "json" {
            assert_eq!(json(&out)["secrets_found"], 3);
        } else {
            assert!(
                all.contains("exposed"),
                "{f} output warns about exposed credentials: {all}"
            );
        }
    }
}

#[test]
fn huge_and_binary_input_is_handled() {
    let mut big = Vec::with_capacity(3 << 20);
    while big.len() < (3 << 20) {
        big.extend_from_slice(b"2026-11-22T10:00:00Z INFO request served in 3ms \x1b[32mok\x1b[0m\n");
    }
    big.extend_from_slice(b"botocore.exceptions.NoCredentialsError: Unable to locate credentials\n");
    let out = imdsbot(&["diagnose"], Some(&big));
    assert!(matches!(out.status.code(), Some(0 | 1)));
    assert!(String::from_utf8_lossy(&out.stdout).contains("only the first and last 512 KiB were read"));
    let binary: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let out = imdsbot(&["diagnose", "--format", "json"], Some(&binary));
    assert!(matches!(out.status.code(), Some(0 | 1)));
    json(&out);
}

//! Finding and scrubbing AWS credentials in pasted text.
//!
//! Pastes often carry live secrets: access key ids, secret access keys, session tokens, IMDSv2
//! tokens, or a whole `iam/security-credentials/<role>` document. Everything downstream (the
//! matcher, replies, logs, JSON output) only ever sees the redacted text, so a secret cannot be
//! echoed by accident. Detection is anchored on key formats and labels, never on ordinary
//! words: "authorization" or "denied" are never touched.
//!
//! Must not import the knowledge base, the matcher or any I/O.

use std::sync::LazyLock;

use regex::Regex;

/// Kinds of secret the scrubber recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretKind {
    /// `AKIA…` (long-term) or `ASIA…` (temporary) access key id.
    AccessKeyId,
    /// The 40-character secret access key.
    SecretAccessKey,
    /// An STS session token.
    SessionToken,
    /// An IMDSv2 session token.
    ImdsToken,
}

impl SecretKind {
    /// Human name used in warnings and in the redaction marker.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::AccessKeyId => "aws-access-key-id",
            SecretKind::SecretAccessKey => "aws-secret-access-key",
            SecretKind::SessionToken => "aws-session-token",
            SecretKind::ImdsToken => "imds-token",
        }
    }
}

/// What the scrubber found and removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretReport {
    /// One entry per secret occurrence, in order of appearance.
    pub found: Vec<SecretKind>,
}

impl SecretReport {
    /// Number of secrets removed.
    pub fn count(&self) -> usize {
        self.found.len()
    }

    /// True when at least one secret was removed.
    pub fn any(&self) -> bool {
        !self.found.is_empty()
    }

    /// The distinct kinds found, sorted.
    pub fn kinds(&self) -> Vec<SecretKind> {
        let mut k = self.found.clone();
        k.sort();
        k.dedup();
        k
    }

    /// True when the paste held temporary (role) credentials rather than only key ids.
    pub fn has_temporary_credentials(&self) -> bool {
        self.found.iter().any(|k| matches!(k, SecretKind::SessionToken))
    }
}

/// One regex, one pass: each alternative captures the secret value in a named group.
static SECRET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        // Labelled secret access key: aws_secret_access_key = x, "SecretAccessKey" : "x", secretKey: x
        r#"(?i:secret_?access_?key|aws_secret_access_key|secret[_-]?key)["']?\s*[:=]\s*["']?(?P<secret>[A-Za-z0-9/+]{40})\b"#,
        // Labelled session token (credentials JSON "Token", env/ini aws_session_token, headers)
        r#"|(?i:aws_session_token|session_?token|x-amz-security-token|security_token|"token")["']?\s*[:=]\s*["']?(?P<session>[A-Za-z0-9/+=]{100,})"#,
        // Unlabelled STS session token by its well-known prefixes
        r"|(?P<session2>\b(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdzE|FQoGZXIvYXdzE|AgoJb3JpZ2luX2Vj)[A-Za-z0-9/+=]{60,})",
        // IMDSv2 token in the request header (not the -ttl-seconds header)
        r#"|(?i:x-aws-ec2-metadata-token)\s*[:=]\s*["']?(?P<imds>[A-Za-z0-9_=+/-]{20,})"#,
        // Unlabelled IMDSv2 token
        r"|(?P<imds2>\bAQAE[A-Za-z0-9_=+/-]{40,})",
        // Access key ids
        r"|(?P<akid>\b(?:AKIA|ASIA)[A-Z0-9]{16}\b)",
    ))
    .expect("secret regex compiles")
});

/// Returns the text with every detected secret replaced by `[REDACTED <kind>]`.
pub fn redact(text: &str) -> (String, SecretReport) {
    let mut report = SecretReport::default();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for caps in SECRET.captures_iter(text) {
        let (kind, m) = if let Some(m) = caps.name("secret") {
            (SecretKind::SecretAccessKey, m)
        } else if let Some(m) = caps.name("session").or_else(|| caps.name("session2")) {
            (SecretKind::SessionToken, m)
        } else if let Some(m) = caps.name("imds").or_else(|| caps.name("imds2")) {
            (SecretKind::ImdsToken, m)
        } else if let Some(m) = caps.name("akid") {
            (SecretKind::AccessKeyId, m)
        } else {
            continue;
        };
        out.push_str(&text[last..m.start()]);
        out.push_str("[REDACTED ");
        out.push_str(kind.as_str());
        out.push(']');
        last = m.end();
        report.found.push(kind);
    }
    out.push_str(&text[last..]);
    (out, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    #[test]
    fn redacts_the_credentials_document() {
        let token = format!("IQoJb3JpZ2luX2VjE{}", "A".repeat(300));
        let doc = format!(
            "{{\n  \"Code\" : \"Success\",\n  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"ASIAIOSFODNN7EXAMPLE\",\n  \"SecretAccessKey\" : \"{SECRET}\",\n  \"Token\" : \"{token}\",\n  \"Expiration\" : \"2026-11-22T16:00:00Z\"\n}}"
        );
        let (clean, report) = redact(&doc);
        assert!(!clean.contains("ASIAIOSFODNN7EXAMPLE"));
        assert!(!clean.contains(SECRET));
        assert!(!clean.contains(&token[..40]));
        assert_eq!(
            report.kinds(),
            vec![
                SecretKind::AccessKeyId,
                SecretKind::SecretAccessKey,
                SecretKind::SessionToken
            ]
        );
        assert!(clean.contains("\"Code\" : \"Success\""));
        let parsed: serde_json::Value = serde_json::from_str(&clean).expect("still JSON");
        assert_eq!(parsed["Type"], "AWS-HMAC");
    }

    #[test]
    fn redacts_env_exports_and_imds_tokens() {
        let text = format!(
            "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nexport AWS_SECRET_ACCESS_KEY={SECRET}\n> X-aws-ec2-metadata-token: AQAEAHgdk1Hx0fJ8vtkcEXAMPLEtokenVALUE0123456789abcdefGHIJ==\n"
        );
        let (clean, report) = redact(&text);
        assert_eq!(report.count(), 3);
        assert!(!clean.contains("AKIAIOSFODNN7EXAMPLE"));
        assert!(!clean.contains(SECRET));
        assert!(!clean.contains("AQAEAHgdk1Hx0fJ8"));
        assert!(clean.contains("[REDACTED imds-token]"));
    }

    #[test]
    fn leaves_ordinary_words_and_ttl_header_alone() {
        let text = "User is not authorized; access denied. Encoded authorization failure message: abcDEF123\n> X-aws-ec2-metadata-token-ttl-seconds: 21600\nAROAEXAMPLEID AIDAEXAMPLE";
        let (clean, report) = redact(text);
        assert_eq!(clean, text);
        assert!(!report.any());
    }
}

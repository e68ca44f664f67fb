//! The built-in knowledge base: complete, valid, and in sync with its schema.

use imdsbot::knowledge::{self, KnowledgeBase};

/// Every scenario id of `shared/knowledge-facts.md` (its `###` headings), spelled exactly.
const FACT_SHEET_IDS: [&str; 38] = [
    "imdsv2-token-put-wrong-path",
    "imdsv2-invalid-or-expired-token",
    "launch-denied-metadata-http-tokens-required",
    "role-delivery-imdsv1-blocked",
    "dlm-role-insufficient-permissions",
    "delete-fleet-terminate-denied",
    "spot-request-tag-denied",
    "console-role-list-missing",
    "credentials-wrong-role",
    "add-role-to-instance-profile-denied",
    "launch-with-role-access-denied",
    "no-temporary-credentials",
    "instance-profile-not-found",
    "instance-profile-no-role",
    "assume-role-unauthorized-access",
    "imdsv2-not-a-privilege-fix",
    "token-hop-limit-container",
    "imds-endpoint-disabled",
    "imdsv1-disabled-old-sdk",
    "token-ttl-header-invalid",
    "token-put-x-forwarded-for",
    "imds-throttled",
    "imds-unreachable-network",
    "proxy-intercepts-imds",
    "no-instance-profile-attached",
    "sdk-unable-to-locate-credentials",
    "encoded-authorization-message",
    "ipv6-endpoint-not-enabled",
    "instance-tags-not-enabled",
    "eks-pod-node-role",
    "ssrf-credential-exposure",
    "expired-credentials",
    "invalid-iam-instance-profile-name",
    "imdsv1-fallback-blocked-by-sdk-config",
    "imds-disabled-by-env-var",
    "associate-profile-existing-association",
    "imdsv2-enforced-account-launch-failure",
    "metadata-proxy-token-unsupported",
];

/// Glossary terms of the fact sheet (section 5), by a name `explain` must resolve.
const GLOSSARY: [&str; 20] = [
    "IMDS",
    "IMDSv1",
    "IMDSv2",
    "session token",
    "hop limit",
    "HttpTokens",
    "account-level IMDS defaults",
    "ImdsSupport",
    "instance profile",
    "role delivery",
    "trust policy",
    "iam:PassRole",
    "encoded authorization message",
    "SSRF",
    "MetadataNoToken",
    "linklocal_allowance_exceeded",
    "credential rotation",
    "IRSA",
    "Nitro",
    "InstanceCredentialExfiltration",
];

fn kb() -> KnowledgeBase {
    match knowledge::load_embedded() {
        Ok(kb) => kb,
        Err(diags) => {
            let all: Vec<String> = diags.iter().map(ToString::to_string).collect();
            panic!("the built-in knowledge base is invalid:\n{}", all.join("\n"));
        }
    }
}

#[test]
fn built_in_knowledge_base_is_valid() {
    let kb = kb();
    assert_eq!(kb.scenarios().len(), FACT_SHEET_IDS.len());
}

#[test]
fn every_fact_sheet_id_is_present() {
    let kb = kb();
    for id in FACT_SHEET_IDS {
        assert!(kb.get(id).is_some(), "missing scenario {id}");
    }
}

#[test]
fn every_glossary_term_resolves() {
    let kb = kb();
    for term in GLOSSARY {
        assert!(kb.term(term).is_some(), "glossary term {term} is not defined");
    }
}

#[test]
fn every_scenario_is_complete() {
    let kb = kb();
    for s in kb.scenarios() {
        assert!(s.examples.len() >= 3, "{}: examples", s.id);
        assert!(!s.not_examples.is_empty(), "{}: not_examples", s.id);
        assert!(
            !s.fix.is_empty() && !s.checklist.is_empty() && !s.sources.is_empty(),
            "{}",
            s.id
        );
        assert!(!s.escalation.collect.is_empty(), "{}: escalation.collect", s.id);
        assert!(!s.phrases.is_empty(), "{}: phrases", s.id);
    }
}

#[test]
fn every_example_ranks_its_scenario_first_and_no_not_example_does() {
    // Validation already enforces this; assert it here too so a regression names the input.
    let kb = kb();
    for (i, s) in kb.scenarios().iter().enumerate() {
        for ex in &s.examples {
            let r = imdsbot::diagnose::rank(&kb, ex.as_bytes()).ranking;
            assert_eq!(
                r.first().map(|h| h.scenario),
                Some(i),
                "{}: example not first:\n{ex}",
                s.id
            );
        }
        for ex in &s.not_examples {
            let r = imdsbot::diagnose::rank(&kb, ex.as_bytes()).ranking;
            let first = r.first().filter(|h| h.score >= imdsbot::matcher::COMMAND_MIN_SCORE);
            assert_ne!(
                first.map(|h| h.scenario),
                Some(i),
                "{}: not_example ranks first:\n{ex}",
                s.id
            );
        }
    }
}

#[test]
fn seed_troubleshooter_scenarios_have_real_fixes() {
    // The seed table says "N/A" for the fix of these; the knowledge base must give one with a command or policy.
    let kb = kb();
    for id in [
        "imdsv2-invalid-or-expired-token",
        "launch-denied-metadata-http-tokens-required",
        "role-delivery-imdsv1-blocked",
        "dlm-role-insufficient-permissions",
        "delete-fleet-terminate-denied",
        "spot-request-tag-denied",
    ] {
        let s = kb.get(id).expect(id);
        assert!(
            s.fix.iter().any(|f| f.code.is_some()),
            "{id} has no command or policy in its fix"
        );
    }
}

#[test]
fn committed_schema_is_in_sync() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge/schema.json");
    let committed = std::fs::read_to_string(&path).expect("knowledge/schema.json exists");
    let generated = serde_json::to_string_pretty(&knowledge::schema()).expect("schema") + "\n";
    assert_eq!(
        committed, generated,
        "knowledge/schema.json is stale: run `imdsbot kb schema > knowledge/schema.json`"
    );
}

#[test]
fn embedded_files_match_the_directory() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge");
    let from_dir = knowledge::load(&knowledge::KbSource::Dir(dir), &[]).expect("directory loads");
    assert_eq!(from_dir.version(), kb().version());
}

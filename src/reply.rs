//! The platform-neutral reply: what imdsbot says, before any markup.
//!
//! A reply is a thread: a headline message (scenario, confidence, one-line cause, buttons)
//! followed by detail messages (cause, evidence, fix, checklist, escalation, sources, why it
//! matched). Ambiguous results become a pick-list and command-mode misses a helpful "no
//! match". Renderers in `render/` turn a `Reply` into terminal text, JSON, Slack Block Kit or
//! Discord messages; none of them decides content.
//!
//! Must not import the adapters or any I/O.

use crate::diagnose::Diagnosis;
use crate::knowledge::KnowledgeBase;
use crate::knowledge::model::{Scenario, Severity, Term};
use crate::matcher::{Hit, MatchMode, Verdict};
use crate::redact::{SecretKind, SecretReport};
use crate::signals::{Entities, Signals};
use crate::text::Truncation;

/// A reply to post.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// One scenario, with its details as thread messages.
    Answer(Answer),
    /// Several close candidates: "which symptom do you see?"
    PickList(PickList),
    /// A text followed by the catalogue of scenarios: a command-mode miss, `help` or `list`.
    NoMatch(NoMatch),
    /// A glossary definition.
    Definition(Definition),
}

/// What the headline is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    /// A diagnosis of a paste.
    Diagnosis,
    /// `explain <id>`: the scenario itself.
    Explanation,
    /// The escalation checklist of a scenario.
    Escalation,
}

/// A diagnosed (or explained) scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// What kind of answer.
    pub kind: AnswerKind,
    /// Scenario id.
    pub scenario_id: String,
    /// Scenario title.
    pub title: String,
    /// One-line cause.
    pub summary: String,
    /// Score in [0, 1], when diagnosed.
    pub confidence: Option<f32>,
    /// Severity.
    pub severity: Severity,
    /// Category.
    pub category: String,
    /// Must be handled as a security incident.
    pub security_incident: bool,
    /// Warnings shown with the headline (exposed secrets, truncation).
    pub notices: Vec<Notice>,
    /// Detail sections, posted as thread messages.
    pub sections: Vec<Section>,
    /// Buttons under the headline.
    pub actions: Vec<Action>,
}

/// A warning attached to the headline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Kind.
    pub kind: NoticeKind,
    /// Text.
    pub text: String,
}

/// Kinds of notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// The paste held credentials.
    ExposedSecrets,
    /// The paste was too long to read whole.
    Truncated,
}

/// Which detail a section holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionKind {
    /// Root cause.
    Cause,
    /// What was found in the paste.
    Evidence,
    /// Fix steps.
    Fix,
    /// Follow-up checklist.
    Checklist,
    /// Escalation.
    Escalation,
    /// Sources and related scenarios.
    Sources,
    /// Why this matched.
    Why,
}

/// One detail section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Kind.
    pub kind: SectionKind,
    /// Heading.
    pub title: String,
    /// Content.
    pub blocks: Vec<Block>,
}

/// Content of a section. Text may contain `inline code` in backticks, nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A paragraph.
    Text(String),
    /// A numbered fix step: text, then an optional code block.
    Step {
        /// 1-based number.
        number: usize,
        /// What to do.
        text: String,
        /// Runs on the instance.
        on_instance: bool,
    },
    /// A code block.
    Code {
        /// Language.
        lang: String,
        /// Code.
        code: String,
    },
    /// Bullet points.
    Bullets(Vec<String>),
    /// Check boxes.
    Checklist(Vec<String>),
    /// Links.
    Links(Vec<Link>),
}

/// A link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// https URL.
    pub url: String,
    /// What it is.
    pub label: String,
}

/// A button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// Stable id the adapters route on: `escalate:<id>`, `helpful:<id>`, `wrong:<id>`, `pick:<id>`.
    pub id: String,
    /// Button text.
    pub label: String,
    /// Visual emphasis.
    pub style: ActionStyle,
}

/// Button emphasis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionStyle {
    /// Default.
    Normal,
    /// Primary.
    Primary,
    /// Dangerous / escalation.
    Danger,
}

/// "Which symptom do you see?"
#[derive(Debug, Clone, PartialEq)]
pub struct PickList {
    /// The question.
    pub prompt: String,
    /// 2-4 candidates, best first.
    pub options: Vec<PickOption>,
    /// Warnings.
    pub notices: Vec<Notice>,
}

/// One pick-list candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct PickOption {
    /// Scenario id.
    pub scenario_id: String,
    /// Title.
    pub title: String,
    /// One-line cause.
    pub summary: String,
    /// Score.
    pub score: f32,
    /// Button that picks it.
    pub action: Action,
}

/// A helpful miss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoMatch {
    /// What happened and what to paste instead.
    pub text: String,
    /// Categories with their scenario ids and titles.
    pub categories: Vec<(String, Vec<(String, String)>)>,
    /// Warnings.
    pub notices: Vec<Notice>,
}

/// A glossary definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// Term.
    pub term: String,
    /// Definition.
    pub definition: String,
    /// Related scenario ids and titles.
    pub related: Vec<(String, String)>,
    /// Sources.
    pub sources: Vec<Link>,
}

impl Reply {
    /// Warnings attached to the reply.
    pub fn notices(&self) -> &[Notice] {
        match self {
            Reply::Answer(a) => &a.notices,
            Reply::PickList(p) => &p.notices,
            Reply::NoMatch(n) => &n.notices,
            Reply::Definition(_) => &[],
        }
    }
}

/// Builds the reply for a diagnosis; `None` means stay silent (auto mode without a match).
pub fn build(kb: &KnowledgeBase, d: &Diagnosis) -> Option<Reply> {
    let notices = notices(&d.secrets, d.truncated);
    match &d.verdict {
        Verdict::Match(hit) => {
            let mut a = answer(kb, kb.scenario(hit.scenario), &d.signals, AnswerKind::Diagnosis);
            a.confidence = Some(hit.score);
            a.notices = notices;
            a.sections.push(why(hit));
            Some(Reply::Answer(a))
        }
        Verdict::Ambiguous(hits) => Some(Reply::PickList(pick_list(kb, hits, notices))),
        Verdict::None if d.mode == MatchMode::Command => Some(no_match(kb, notices)),
        Verdict::None => None,
    }
}

/// The full answer for a scenario, filled with what the paste revealed.
pub fn answer(kb: &KnowledgeBase, s: &Scenario, signals: &Signals, kind: AnswerKind) -> Answer {
    let e = &signals.entities;
    let mut sections = vec![Section {
        kind: SectionKind::Cause,
        title: "Root cause".to_string(),
        blocks: vec![Block::Text(s.cause.clone())],
    }];
    if let Some(ev) = evidence(signals) {
        sections.push(ev);
    }
    let mut fix = Vec::new();
    for (i, step) in s.fix.iter().enumerate() {
        fix.push(Block::Step {
            number: i + 1,
            text: fill(&step.text, e),
            on_instance: step.on_instance,
        });
        if let Some(code) = &step.code {
            fix.push(Block::Code {
                lang: step.lang.as_str().to_string(),
                code: fill(code, e),
            });
        }
    }
    let found = e.found();
    if !found.is_empty() {
        let names: Vec<String> = found.iter().map(|(k, v)| format!("{k} `{v}`")).collect();
        fix.push(Block::Text(format!("Filled in from your paste: {}.", names.join(", "))));
    }
    if fix
        .iter()
        .any(|b| matches!(b, Block::Code { code, .. } if code.contains('<')))
    {
        fix.push(Block::Text(
            "Replace the `<...>` placeholders before running the commands.".to_string(),
        ));
    }
    sections.push(Section {
        kind: SectionKind::Fix,
        title: "Fix".to_string(),
        blocks: fix,
    });
    sections.push(Section {
        kind: SectionKind::Checklist,
        title: "Follow-up checklist".to_string(),
        blocks: vec![Block::Checklist(s.checklist.iter().map(|c| fill(c, e)).collect())],
    });
    sections.push(escalation_section(s, e));
    let mut src = vec![Block::Links(
        s.sources
            .iter()
            .map(|x| Link {
                url: x.url.clone(),
                label: x.supports.clone(),
            })
            .collect(),
    )];
    if !s.related.is_empty() {
        let rel: Vec<String> = s
            .related
            .iter()
            .filter_map(|id| kb.get(id.as_str()))
            .map(|r| format!("`{}`: {}", r.id, r.title))
            .collect();
        src.push(Block::Text("Related scenarios:".to_string()));
        src.push(Block::Bullets(rel));
    }
    sections.push(Section {
        kind: SectionKind::Sources,
        title: "Sources".to_string(),
        blocks: src,
    });
    if kind == AnswerKind::Escalation {
        sections.retain(|x| matches!(x.kind, SectionKind::Escalation | SectionKind::Evidence));
    }
    Answer {
        kind,
        scenario_id: s.id.to_string(),
        title: s.title.clone(),
        summary: s.summary.clone(),
        confidence: None,
        severity: s.severity,
        category: s.category.clone(),
        security_incident: s.escalation.security_incident,
        notices: Vec::new(),
        sections,
        actions: actions(s),
    }
}

/// The escalation checklist of a scenario, with the evidence found in the paste.
pub fn escalation(kb: &KnowledgeBase, s: &Scenario, d: Option<&Diagnosis>) -> Reply {
    let default = Signals::default();
    let signals = d.map_or(&default, |d| &d.signals);
    let mut a = answer(kb, s, signals, AnswerKind::Escalation);
    if let Some(d) = d {
        a.notices = notices(&d.secrets, d.truncated);
    }
    a.actions.retain(|x| !x.id.starts_with("escalate:"));
    Reply::Answer(a)
}

/// The answer for a scenario the user picked from a pick-list, with the evidence of the
/// original paste when it is still known.
pub fn picked(kb: &KnowledgeBase, s: &Scenario, d: Option<&Diagnosis>) -> Reply {
    let default = Signals::default();
    let signals = d.map_or(&default, |d| &d.signals);
    let mut a = answer(kb, s, signals, AnswerKind::Diagnosis);
    if let Some(d) = d {
        a.notices = notices(&d.secrets, d.truncated);
        if let Some(hit) = d.ranking.iter().find(|h| kb.scenario(h.scenario).id == s.id) {
            a.confidence = Some(hit.score);
            if !hit.reasons.is_empty() {
                a.sections.push(why(hit));
            }
        }
    }
    Reply::Answer(a)
}

/// `help`: what the bot does and how to ask, then the catalogue.
pub fn help(kb: &KnowledgeBase, command: &str) -> Reply {
    let mut r = no_match(kb, Vec::new());
    if let Reply::NoMatch(n) = &mut r {
        n.text = format!(
            "I diagnose EC2 instance-metadata (IMDS) credential failures and EC2/IAM authorization errors. \
             Paste the error after `{command}` (the SDK message, `curl -v` output, CLI error or policy JSON) and I answer \
             with the scenario, its cause, the fix and what to collect before escalating. \
             `{command} explain <id or term>` shows a scenario or a glossary term, `{command} list` lists the scenarios, \
             `{command} escalate <id>` gives the escalation checklist. In watched channels I answer pasted errors in their thread \
             when I am confident, and stay silent otherwise. The scenarios I know:"
        );
    }
    r
}

/// `list`: the catalogue of scenarios by category.
pub fn list(kb: &KnowledgeBase) -> Reply {
    let mut r = no_match(kb, Vec::new());
    if let Reply::NoMatch(n) = &mut r {
        n.text = format!("{} scenarios, by category:", kb.scenarios().len());
    }
    r
}

/// `explain <id|term>`.
pub fn explain(kb: &KnowledgeBase, name: &str) -> Option<Reply> {
    if let Some(s) = kb.get(name.trim()) {
        return Some(Reply::Answer(answer(
            kb,
            s,
            &Signals::default(),
            AnswerKind::Explanation,
        )));
    }
    kb.term(name).map(|t| Reply::Definition(definition(kb, t)))
}

fn definition(kb: &KnowledgeBase, t: &Term) -> Definition {
    Definition {
        term: t.term.clone(),
        definition: t.definition.clone(),
        related: t
            .related
            .iter()
            .filter_map(|id| kb.get(id.as_str()))
            .map(|s| (s.id.to_string(), s.title.clone()))
            .collect(),
        sources: t
            .sources
            .iter()
            .map(|s| Link {
                url: s.url.clone(),
                label: s.supports.clone(),
            })
            .collect(),
    }
}

fn actions(s: &Scenario) -> Vec<Action> {
    vec![
        Action {
            id: format!("escalate:{}", s.id),
            label: "Escalate".to_string(),
            style: ActionStyle::Danger,
        },
        Action {
            id: format!("helpful:{}", s.id),
            label: "Helpful".to_string(),
            style: ActionStyle::Primary,
        },
        Action {
            id: format!("wrong:{}", s.id),
            label: "Wrong diagnosis".to_string(),
            style: ActionStyle::Normal,
        },
    ]
}

fn escalation_section(s: &Scenario, e: &Entities) -> Section {
    let mut blocks = Vec::new();
    if s.escalation.security_incident {
        blocks.push(Block::Text(
            "Treat this as a security incident: page the security on-call before changing anything that destroys evidence.".to_string(),
        ));
    }
    blocks.push(Block::Text(fill(&s.escalation.when, e)));
    blocks.push(Block::Text("Collect before escalating:".to_string()));
    blocks.push(Block::Checklist(
        s.escalation.collect.iter().map(|c| fill(c, e)).collect(),
    ));
    Section {
        kind: SectionKind::Escalation,
        title: "Escalation".to_string(),
        blocks,
    }
}

fn why(hit: &Hit) -> Section {
    let mut lines: Vec<String> = hit
        .reasons
        .iter()
        .map(|r| {
            format!(
                "{} ({}{:.1})",
                r.label,
                if r.weight >= 0.0 { "+" } else { "" },
                r.weight
            )
        })
        .collect();
    lines.truncate(8);
    Section {
        kind: SectionKind::Why,
        title: "Why this matched".to_string(),
        blocks: vec![
            Block::Text(format!("Score {:.2} from:", hit.score)),
            Block::Bullets(lines),
        ],
    }
}

/// What the paste revealed, in words: HTTP exchanges, the decoded decision, identifiers.
fn evidence(s: &Signals) -> Option<Section> {
    let mut bullets = Vec::new();
    if let Some(d) = &s.authz {
        if let Some(a) = &d.action {
            bullets.push(format!(
                "Denied action: `{a}`{}",
                if d.explicit_deny {
                    " (explicit deny)"
                } else {
                    " (no statement allows it)"
                }
            ));
        }
        if let Some(r) = &d.resource {
            bullets.push(format!("Resource: `{r}`"));
        }
        if let Some(p) = &d.principal {
            bullets.push(format!("Caller: `{p}`"));
        }
        for c in &d.conditions {
            let req = if c.request_values.is_empty() {
                "absent from the request".to_string()
            } else {
                format!("the request had `{}`", c.request_values.join(", "))
            };
            bullets.push(format!(
                "Failing condition: `{}` (the policy tests for `{}`; {req})",
                c.key,
                c.policy_values.join(", ")
            ));
        }
    } else if s.encoded_authorization_message {
        bullets.push(
            "The error carries an encoded authorization message: decode it with `aws sts decode-authorization-message` to see the denied action and condition.".to_string(),
        );
    }
    for x in s.exchanges.iter().filter(|x| x.imds && x.path.is_some()).take(4) {
        bullets.push(format!("Metadata request: `{}`", x.describe()));
    }
    for f in s.facts.iter() {
        if let Some(text) = fact_text(f) {
            bullets.push(text.to_string());
        }
    }
    for (k, v) in s.entities.found() {
        bullets.push(format!("{}: `{v}`", k.replace('_', " ")));
    }
    (!bullets.is_empty()).then(|| Section {
        kind: SectionKind::Evidence,
        title: "Found in your paste".to_string(),
        blocks: vec![Block::Bullets(bullets)],
    })
}

fn fact_text(f: crate::signals::Fact) -> Option<&'static str> {
    use crate::signals::Fact::*;
    Some(match f {
        TrustPolicyWithoutEc2 => "The trust policy does not let `ec2.amazonaws.com` call `sts:AssumeRole`.",
        TrustPolicyWithEc2 => "The trust policy does trust `ec2.amazonaws.com`.",
        DenyOnRoleDelivery => "A policy denies on `ec2:RoleDelivery` (credentials fetched over IMDSv1).",
        ConditionOnMetadataHttpTokens => "A policy tests `ec2:MetadataHttpTokens`.",
        ConditionOnMetadataHopLimit => "A policy tests `ec2:MetadataHttpPutResponseHopLimit`.",
        IamInfoNoRole => "`iam/info` says the instance profile holds no role.",
        CredentialsDocument => "A working credentials document from `iam/security-credentials/` was pasted.",
        MetadataEndpointDisabled => "`MetadataOptions` shows `HttpEndpoint: disabled`.",
        MetadataTokensRequired => "`MetadataOptions` shows `HttpTokens: required` (IMDSv2 only).",
        MetadataTokensOptional => "`MetadataOptions` shows `HttpTokens: optional` (IMDSv1 allowed).",
        MetadataHopLimit1 => "`MetadataOptions` shows `HttpPutResponseHopLimit: 1`.",
        MetadataIpv6Disabled => "`MetadataOptions` shows `HttpProtocolIpv6: disabled`.",
        MetadataTagsDisabled => "`MetadataOptions` shows `InstanceMetadataTags: disabled`.",
        GuarddutyCredentialExfiltration => "A GuardDuty InstanceCredentialExfiltration finding.",
        ImdsRequestWithoutToken => "A metadata GET without an IMDSv2 token.",
        ImdsTimeout => "The metadata service timed out.",
        ImdsConnectionFailed => "The connection to the metadata service failed.",
        _ => return None,
    })
}

/// Replaces `{{name}}` placeholders with entities from the paste, or their `<...>` form.
pub fn fill(text: &str, e: &Entities) -> String {
    if !text.contains("{{") {
        return text.to_string();
    }
    let mut out = text.to_string();
    for (name, default) in Entities::PLACEHOLDERS {
        let pat = format!("{{{{{name}}}}}");
        if out.contains(&pat) {
            out = out.replace(&pat, e.get(name).unwrap_or(default));
        }
    }
    out
}

fn notices(secrets: &SecretReport, truncated: Option<Truncation>) -> Vec<Notice> {
    let mut out = Vec::new();
    if secrets.any() {
        let kinds: Vec<&str> = secrets
            .kinds()
            .into_iter()
            .map(|k| match k {
                SecretKind::AccessKeyId => "an access key id",
                SecretKind::SecretAccessKey => "a secret access key",
                SecretKind::SessionToken => "a session token",
                SecretKind::ImdsToken => "an IMDSv2 token",
            })
            .collect();
        let mut text = format!(
            "Your paste contained AWS credentials ({}). Treat them as exposed; they are not repeated here. Delete the message, then ",
            kinds.join(", ")
        );
        if secrets.has_temporary_credentials() || secrets.kinds().contains(&SecretKind::ImdsToken) {
            text.push_str("revoke the role's active sessions (IAM console: the role, then \"Revoke active sessions\", which denies tokens issued before now)");
        } else {
            text.push_str("deactivate and rotate the access key (`aws iam update-access-key --status Inactive`, then create a new one)");
        }
        text.push_str(" and check CloudTrail for use of them from unexpected addresses.");
        out.push(Notice {
            kind: NoticeKind::ExposedSecrets,
            text,
        });
    }
    if let Some(t) = truncated {
        out.push(Notice {
            kind: NoticeKind::Truncated,
            text: format!(
                "The paste was {} KiB; only the first and last {} KiB were read (the middle {} KiB was skipped).",
                t.original_len / 1024,
                crate::text::HEAD_TAIL / 1024,
                t.skipped / 1024
            ),
        });
    }
    out
}

fn pick_list(kb: &KnowledgeBase, hits: &[Hit], notices: Vec<Notice>) -> PickList {
    PickList {
        prompt: "This could be one of several problems. Which symptom do you see?".to_string(),
        options: hits
            .iter()
            .map(|h| {
                let s = kb.scenario(h.scenario);
                PickOption {
                    scenario_id: s.id.to_string(),
                    title: s.title.clone(),
                    summary: s.summary.clone(),
                    score: h.score,
                    action: Action {
                        id: format!("pick:{}", s.id),
                        label: truncate_label(&s.title, 75),
                        style: ActionStyle::Normal,
                    },
                }
            })
            .collect(),
        notices,
    }
}

fn truncate_label(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

fn no_match(kb: &KnowledgeBase, notices: Vec<Notice>) -> Reply {
    let categories = kb
        .categories()
        .into_iter()
        .map(|(c, _)| {
            let items = kb
                .scenarios()
                .iter()
                .filter(|s| s.category == c)
                .map(|s| (s.id.to_string(), s.title.clone()))
                .collect();
            (c.to_string(), items)
        })
        .collect();
    Reply::NoMatch(NoMatch {
        text: "I could not match this to a known IMDS or EC2/IAM scenario. Paste the exact error text (the SDK message, the `curl -v` output or the CLI error), or name a scenario with `explain <id>`. The scenarios I know:".to_string(),
        categories,
        notices,
    })
}

//! Hard evidence extracted from a (redacted, normalised) paste before any fuzzy matching.
//!
//! `extract` finds: HTTP exchanges with the instance metadata service (method, path, status)
//! from `curl -v` transcripts, command lines, access logs and SDK traces; facts read
//! structurally from JSON documents (IAM and trust policies, decoded authorization messages,
//! `iam/info` and credentials documents, `MetadataOptions`, GuardDuty findings); and entities
//! (instance id, role and instance-profile names and ARNs, account, region, ...) used to fill
//! fix commands. Literal and regex signals declared by scenarios are matched in `matcher.rs`.
//!
//! Every scan is linear in the input: one pass of a trigger automaton picks the lines each
//! evidence regex may match (`triggers.rs`), the regexes run on those lines only, JSON
//! documents are found in one pass over the braces and parsed within a fixed budget.
//!
//! Must not import the knowledge base or any I/O.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

mod triggers;

use triggers::{Family, http_status_at};
pub use triggers::{Lines, MAX_HITS as MAX_TRIGGER_HITS, literals as trigger_literals};

/// HTTP method of an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// PUT
    Put,
    /// HEAD
    Head,
    /// POST
    Post,
    /// Anything else (DELETE, PATCH, ...)
    Other,
}

impl Method {
    /// Parses an upper-case method name.
    pub fn parse(s: &str) -> Option<Method> {
        Some(match s.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "PUT" => Method::Put,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "DELETE" | "PATCH" | "OPTIONS" => Method::Other,
            _ => return None,
        })
    }

    /// The method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Other => "OTHER",
        }
    }
}

/// One HTTP request/response seen in the paste.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// Method, when the paste shows or implies it.
    pub method: Option<Method>,
    /// Metadata path (`/latest/api/token`), without host or query.
    pub path: Option<String>,
    /// Response status, when shown.
    pub status: Option<u16>,
    /// True when the exchange is tied to the metadata service (host or path).
    pub imds: bool,
}

impl Exchange {
    /// Short description for "why this matched".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(m) = self.method {
            parts.push(m.as_str().to_string());
        }
        if let Some(p) = &self.path {
            parts.push(p.clone());
        }
        if let Some(s) = self.status {
            parts.push(format!("-> {s}"));
        }
        parts.join(" ")
    }
}

/// Facts derived from structured evidence. See `knowledge/README.md` for their meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fact {
    /// A trust policy that does not trust ec2.amazonaws.com.
    TrustPolicyWithoutEc2,
    /// A trust policy that trusts ec2.amazonaws.com.
    TrustPolicyWithEc2,
    /// A deny statement conditioned on ec2:RoleDelivery.
    DenyOnRoleDelivery,
    /// A statement conditioned on ec2:MetadataHttpTokens.
    ConditionOnMetadataHttpTokens,
    /// A statement conditioned on ec2:MetadataHttpPutResponseHopLimit.
    ConditionOnMetadataHopLimit,
    /// A decoded authorization message.
    DecodedAuthorizationMessage,
    /// A decoded authorization message with an explicit deny.
    ExplicitDeny,
    /// The iam/info document.
    IamInfoDocument,
    /// iam/info says the profile holds no role.
    IamInfoNoRole,
    /// A successful credentials document.
    CredentialsDocument,
    /// MetadataOptions.HttpEndpoint = disabled.
    MetadataEndpointDisabled,
    /// MetadataOptions.HttpTokens = required.
    MetadataTokensRequired,
    /// MetadataOptions.HttpTokens = optional.
    MetadataTokensOptional,
    /// MetadataOptions.HttpPutResponseHopLimit = 1.
    MetadataHopLimit1,
    /// MetadataOptions.HttpProtocolIpv6 = disabled.
    MetadataIpv6Disabled,
    /// MetadataOptions.InstanceMetadataTags = disabled.
    MetadataTagsDisabled,
    /// A GuardDuty InstanceCredentialExfiltration finding.
    GuarddutyCredentialExfiltration,
    /// A request carrying X-aws-ec2-metadata-token.
    ImdsTokenHeader,
    /// A metadata GET with no token anywhere in the paste.
    ImdsRequestWithoutToken,
    /// The metadata service named together with a timeout.
    ImdsTimeout,
    /// The metadata service named together with a connection failure.
    ImdsConnectionFailed,
    /// Containers, pods, Kubernetes or ECS mentioned.
    ContainerContext,
}

impl Fact {
    /// Every fact.
    pub const ALL: [Fact; 22] = [
        Fact::TrustPolicyWithoutEc2,
        Fact::TrustPolicyWithEc2,
        Fact::DenyOnRoleDelivery,
        Fact::ConditionOnMetadataHttpTokens,
        Fact::ConditionOnMetadataHopLimit,
        Fact::DecodedAuthorizationMessage,
        Fact::ExplicitDeny,
        Fact::IamInfoDocument,
        Fact::IamInfoNoRole,
        Fact::CredentialsDocument,
        Fact::MetadataEndpointDisabled,
        Fact::MetadataTokensRequired,
        Fact::MetadataTokensOptional,
        Fact::MetadataHopLimit1,
        Fact::MetadataIpv6Disabled,
        Fact::MetadataTagsDisabled,
        Fact::GuarddutyCredentialExfiltration,
        Fact::ImdsTokenHeader,
        Fact::ImdsRequestWithoutToken,
        Fact::ImdsTimeout,
        Fact::ImdsConnectionFailed,
        Fact::ContainerContext,
    ];

    /// The kebab-case name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Fact::TrustPolicyWithoutEc2 => "trust-policy-without-ec2",
            Fact::TrustPolicyWithEc2 => "trust-policy-with-ec2",
            Fact::DenyOnRoleDelivery => "deny-on-role-delivery",
            Fact::ConditionOnMetadataHttpTokens => "condition-on-metadata-http-tokens",
            Fact::ConditionOnMetadataHopLimit => "condition-on-metadata-hop-limit",
            Fact::DecodedAuthorizationMessage => "decoded-authorization-message",
            Fact::ExplicitDeny => "explicit-deny",
            Fact::IamInfoDocument => "iam-info-document",
            Fact::IamInfoNoRole => "iam-info-no-role",
            Fact::CredentialsDocument => "credentials-document",
            Fact::MetadataEndpointDisabled => "metadata-endpoint-disabled",
            Fact::MetadataTokensRequired => "metadata-tokens-required",
            Fact::MetadataTokensOptional => "metadata-tokens-optional",
            Fact::MetadataHopLimit1 => "metadata-hop-limit-1",
            Fact::MetadataIpv6Disabled => "metadata-ipv6-disabled",
            Fact::MetadataTagsDisabled => "metadata-tags-disabled",
            Fact::GuarddutyCredentialExfiltration => "guardduty-credential-exfiltration",
            Fact::ImdsTokenHeader => "imds-token-header",
            Fact::ImdsRequestWithoutToken => "imds-request-without-token",
            Fact::ImdsTimeout => "imds-timeout",
            Fact::ImdsConnectionFailed => "imds-connection-failed",
            Fact::ContainerContext => "container-context",
        }
    }

    /// Parses a kebab-case fact name.
    pub fn parse(s: &str) -> Option<Fact> {
        Fact::ALL.into_iter().find(|f| f.as_str() == s)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of facts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts(u32);

impl Facts {
    /// Adds a fact.
    pub fn insert(&mut self, f: Fact) {
        self.0 |= f.bit();
    }
    /// Whether the fact holds.
    pub fn contains(self, f: Fact) -> bool {
        self.0 & f.bit() != 0
    }
    /// The facts that hold.
    pub fn iter(self) -> impl Iterator<Item = Fact> {
        Fact::ALL.into_iter().filter(move |f| self.contains(*f))
    }
}

/// Identifiers found in the paste, used to fill fix commands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entities {
    /// `i-...`
    pub instance_id: Option<String>,
    /// Role name.
    pub role_name: Option<String>,
    /// Role ARN.
    pub role_arn: Option<String>,
    /// Instance profile name.
    pub instance_profile_name: Option<String>,
    /// Instance profile ARN.
    pub instance_profile_arn: Option<String>,
    /// 12-digit account id.
    pub account_id: Option<String>,
    /// Region code.
    pub region: Option<String>,
    /// ARN of the denied principal (user or role).
    pub principal_arn: Option<String>,
    /// `fleet-...`
    pub fleet_id: Option<String>,
    /// `lt-...`
    pub launch_template_id: Option<String>,
    /// `iip-assoc-...`
    pub association_id: Option<String>,
    /// `policy-...` (Data Lifecycle Manager)
    pub dlm_policy_id: Option<String>,
}

impl Entities {
    /// Names of the placeholders fix steps may use, with the text shown when not found.
    pub const PLACEHOLDERS: [(&'static str, &'static str); 12] = [
        ("instance_id", "<instance-id>"),
        ("role_name", "<role-name>"),
        ("role_arn", "arn:aws:iam::<account-id>:role/<role-name>"),
        ("instance_profile_name", "<instance-profile-name>"),
        (
            "instance_profile_arn",
            "arn:aws:iam::<account-id>:instance-profile/<instance-profile-name>",
        ),
        ("account_id", "<account-id>"),
        ("region", "<region>"),
        ("principal_arn", "<principal-arn>"),
        ("fleet_id", "<fleet-id>"),
        ("launch_template_id", "<launch-template-id>"),
        ("association_id", "<association-id>"),
        ("dlm_policy_id", "<lifecycle-policy-id>"),
    ];

    /// The value found for a placeholder name, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        match name {
            "instance_id" => self.instance_id.as_deref(),
            "role_name" => self.role_name.as_deref(),
            "role_arn" => self.role_arn.as_deref(),
            "instance_profile_name" => self.instance_profile_name.as_deref(),
            "instance_profile_arn" => self.instance_profile_arn.as_deref(),
            "account_id" => self.account_id.as_deref(),
            "region" => self.region.as_deref(),
            "principal_arn" => self.principal_arn.as_deref(),
            "fleet_id" => self.fleet_id.as_deref(),
            "launch_template_id" => self.launch_template_id.as_deref(),
            "association_id" => self.association_id.as_deref(),
            "dlm_policy_id" => self.dlm_policy_id.as_deref(),
            _ => None,
        }
    }

    /// The (placeholder, value) pairs that were found.
    pub fn found(&self) -> Vec<(&'static str, &str)> {
        Self::PLACEHOLDERS
            .iter()
            .filter_map(|(name, _)| self.get(name).map(|v| (*name, v)))
            .collect()
    }
}

/// A condition evaluated in a decoded authorization message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthzCondition {
    /// Condition key (`ec2:MetadataHttpTokens`).
    pub key: String,
    /// Values the matched policy statement tests for.
    pub policy_values: Vec<String>,
    /// Values the request carried.
    pub request_values: Vec<String>,
}

/// What `aws sts decode-authorization-message` said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthzDecision {
    /// `allowed`
    pub allowed: bool,
    /// `explicitDeny`
    pub explicit_deny: bool,
    /// Denied action (`ec2:RunInstances`).
    pub action: Option<String>,
    /// Resource the action was denied on.
    pub resource: Option<String>,
    /// The caller.
    pub principal: Option<String>,
    /// Conditions of the matched statements, with the request's values.
    pub conditions: Vec<AuthzCondition>,
}

/// Everything `extract` found.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    /// HTTP exchanges, in order.
    pub exchanges: Vec<Exchange>,
    /// True when the metadata service (address or path) appears anywhere.
    pub imds_context: bool,
    /// Derived facts.
    pub facts: Facts,
    /// Identifiers for fix commands.
    pub entities: Entities,
    /// A decoded authorization message, if one was pasted.
    pub authz: Option<AuthzDecision>,
    /// True when the paste carries an encoded authorization failure message.
    pub encoded_authorization_message: bool,
    /// True when the paste shows HTTP requests to something other than the metadata service
    /// (an nginx log, a GitHub API call): a bare status then belongs to that, not to IMDS.
    pub foreign_http: bool,
    /// True when the paste shows another cloud's metadata service (GCP, Azure, DigitalOcean),
    /// which shares the 169.254.169.254 address: the address alone is then no IMDS evidence.
    pub other_cloud_metadata: bool,
}

static IMDS_REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?P<host>169\.254\.169\.254|\[?fd00:ec2::254\]?|instance-data(?:\.ec2\.internal)?)(?::80)?(?P<hpath>/[^\s\x22'<>)\],;|]*)?",
        r"|(?P<path>/(?:latest|\d{4}-\d{2}-\d{2})/(?:api/token|meta-data|user-data|dynamic)[^\s\x22'<>)\],;|]*)",
    ))
    .expect("imds regex")
});

/// HTTP statuses in the ways logs put them in words. The `HTTP/1.1 403` status line is found
/// by hand (`triggers::http_status_at`); `shows_status` checks for either. Boundaries, digits
/// and blanks are ASCII (`(?-u:\b)`): statuses are ASCII, and the lazy DFA then handles
/// non-ASCII pastes too instead of handing them to slower engines.
static STATUS_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?-u:\b)(?P<b>[1-5][0-9][0-9])(?-u:\s)*-(?-u:\s)*(?:Forbidden|Unauthorized|Not Found|Bad Request|Missing or Invalid|Method Not Allowed|Too Many)",
        r"|(?-u:\b)(?P<c>[1-5][0-9][0-9]) (?:Forbidden|Unauthorized|Not Found|Bad Request|Method Not Allowed|Too Many Requests|Proxy Authentication Required|Bad Gateway|Gateway Timeout|Service Unavailable|Internal Server Error)",
        r"|(?i:status ?code)(?: of|\x22?(?-u:\s)*[:=])(?-u:\s)*(?P<d>[1-5][0-9][0-9])(?-u:\b)",
        r"|(?i:(?-u:\b)status)(?-u:\s)*[:=](?-u:\s)*(?P<e>[1-5][0-9][0-9])(?-u:\b)",
        r"|(?-u:\b)(?i:returned|got|returns|responded with)(?: (?:an? )?(?:HTTP|status))? (?P<f>[1-5][0-9][0-9])(?-u:\b)",
        r"|(?-u:\b)HTTP (?P<g>[1-5][0-9][0-9])(?-u:\b)",
        // python requests: `401 Client Error: Unauthorized for url: ...`
        r"|(?-u:\b)(?P<h>[1-5][0-9][0-9]) (?:Client|Server) Error(?-u:\b)",
        // curl -f: `curl: (22) The requested URL returned error: 401`
        r"|(?-u:\b)returned error:? (?P<i>[1-5][0-9][0-9])(?-u:\b)",
        // ansible uri: `Status code was 400 and not [200]`
        r"|(?i:(?-u:\b)status code was) (?P<j>[1-5][0-9][0-9])(?-u:\b)",
        // `curl -w '%{http_code}'`: the status alone on the line after the command
        r"|%\{http_code\}[^\n]*\n(?P<k>[1-5][0-9][0-9])[ \t]*(?:\n|$)",
    ))
    .expect("status words regex")
});

static METHOD_ON_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:-X ?|--request |\b)(?P<m>GET|PUT|HEAD|POST|DELETE|PATCH)\b").expect("method regex")
});

static BARE_STATUS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?P<s>200|40[0-57]|429|50[0234])\b").expect("bare status regex"));

static FOREIGN_HTTP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(?:GET|PUT|POST|HEAD|DELETE|PATCH|OPTIONS) (?:https?://(?P<h1>[^/\s]+))?/|https?://(?P<h2>[A-Za-z0-9.-]+)",
    )
    .expect("foreign http regex")
});

static TOKEN_HEADER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)x-aws-ec2-metadata-token(?P<ttl>-ttl-seconds)?").expect("token header regex"));

static TIMEOUT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)timed? ?out|timeout|deadline exceeded|\bhangs?\b|\bhanging\b|\bhung\b|cURL error 28|no response")
        .expect("timeout regex")
});

static CONN_FAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)connection refused|no route to host|network is unreachable|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|unable to connect|failed to connect|connection reset|could not connect").expect("conn regex")
});

static CONTAINER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:docker|containers?|containerd|pods?|kubernetes|k8s|eks|ecs|fargate|kubelet|kube2iam|kiam|daemonset|sidecar|podman)\b").expect("container regex")
});

/// Markers of metadata services other than EC2's on the same link-local address.
static OTHER_CLOUD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)metadata\.google\.internal|/computeMetadata/|Metadata-Flavor:\s*Google",
        r"|/metadata/(?:instance|identity|attested|scheduledevents)\b|\bMetadata:\s*true\b",
        r"|/metadata/v1\b",
    ))
    .expect("other cloud regex")
});

static ENCODED_MSG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)encoded authorization failure message").expect("encoded regex"));

static INSTANCE_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bi-(?:[0-9a-f]{17}|[0-9a-f]{8})\b").expect("instance id regex"));

static ARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"arn:aws(?:-cn|-us-gov)?:(?P<svc>iam|sts|ec2):(?P<region>[a-z0-9-]*):(?P<acct>\d{12}):(?P<kind>role|instance-profile|user|assumed-role|instance)/(?P<rest>[A-Za-z0-9+=,.@_/-]+)").expect("arn regex")
});

static REGION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:us|eu|ap|sa|ca|me|af|il|mx|cn)(?:-gov|-iso|-isob)?-(?:north|south|east|west|central|northeast|southeast|southwest|northwest)-\d\b").expect("region regex")
});

static OTHER_IDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:(?P<fleet>fleet-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})|(?P<lt>lt-[0-9a-f]{17})|(?P<assoc>iip-assoc-[0-9a-f]{17})|(?P<dlm>policy-[0-9a-f]{17}))\b").expect("ids regex")
});

static NAMED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"security-credentials/(?P<role1>[A-Za-z0-9+=,.@_-]+)",
        r"|EC2 cannot assume the role (?P<role2>[A-Za-z0-9+=,.@_-]+?)\.?(?:\s|\x22|$)",
        r"|--role-name[ =]\x22?(?P<role3>[A-Za-z0-9+=,.@_-]+)",
        r"|--instance-profile-name[ =]\x22?(?P<prof1>[A-Za-z0-9+=,.@_-]+)",
        r"|Value \((?P<prof2>[A-Za-z0-9+=,.@_-]+)\) for parameter iamInstanceProfile",
        r"|--iam-instance-profile[ =]\x22?Name=(?P<prof3>[A-Za-z0-9+=,.@_-]+)",
        r"|User: (?P<princ>arn:aws[a-z-]*:(?:iam|sts)::\d{12}:[A-Za-z0-9+=,.@_/-]+) is not authorized",
    ))
    .expect("named regex")
});

/// Maximum bytes of JSON parsed from one paste.
const JSON_BUDGET: usize = 2 * 1024 * 1024;
/// Maximum JSON documents considered in one paste.
const JSON_MAX_DOCS: usize = 64;
/// Maximum nodes walked per JSON document.
const JSON_MAX_NODES: usize = 20_000;

/// Extracts hard evidence from a redacted, normalised paste.
pub fn extract(text: &str) -> Signals {
    extract_with(text, &Lines::scan(text))
}

/// Extracts the signals of `text`, whose trigger lines were already found (see
/// `Lines::from_hits`).
pub fn extract_with(text: &str, lines: &Lines) -> Signals {
    let other_cloud = lines.any(Family::OtherCloud, text, &OTHER_CLOUD);
    let mut s = Signals {
        exchanges: extract_exchanges(text, lines, other_cloud),
        other_cloud_metadata: other_cloud,
        ..Signals::default()
    };
    s.imds_context = s.exchanges.iter().any(|e| e.imds)
        || if other_cloud {
            // Only an EC2 path (or EC2-only host) counts when another cloud's service is shown.
            lines
                .spans(Family::Imds, text)
                .flat_map(|(_, line)| IMDS_REF.captures_iter(line))
                .take(2000)
                .any(|c| {
                    c.name("path").is_some()
                        || c.name("host").is_some_and(|h| h.as_str() != "169.254.169.254")
                        || c.name("hpath")
                            .and_then(|p| imds_path(p.as_str()))
                            .is_some_and(|p| is_ec2_path(&p))
                })
        } else {
            lines.any(Family::Imds, text, &IMDS_REF)
        };
    if s.imds_context {
        for e in &mut s.exchanges {
            if e.path.is_none() {
                e.imds = true;
            }
        }
    }
    text_facts(text, lines, &mut s);
    extract_entities(text, lines, &mut s.entities);
    json_evidence(text, &mut s);
    s.encoded_authorization_message = lines.any(Family::Encoded, text, &ENCODED_MSG);
    s.foreign_http = !s.imds_context && lines.any(Family::Foreign, text, &FOREIGN_HTTP);
    s
}

#[derive(Debug, Clone, Copy)]
enum Hit {
    Imds { start: usize, end: usize },
    Status { start: usize, code: u16 },
}

/// `/latest/...` or `/2021-03-23/...`: a path of the EC2 metadata service.
fn is_ec2_path(path: &str) -> bool {
    let b = path.as_bytes();
    path.starts_with("/latest/")
        || path == "/latest"
        || (b.len() >= 11
            && b[0] == b'/'
            && b[1..5].iter().all(u8::is_ascii_digit)
            && b[5] == b'-'
            && b[11 - 3] == b'-')
}

fn extract_exchanges(text: &str, lines: &Lines, other_cloud: bool) -> Vec<Exchange> {
    let mut hits: Vec<Hit> = Vec::new();
    let imds = lines
        .spans(Family::Imds, text)
        .flat_map(|(off, line)| IMDS_REF.find_iter(line).map(move |m| (off + m.start(), off + m.end())));
    for (start, end) in imds.take(2000) {
        hits.push(Hit::Imds { start, end });
    }
    for (start, code) in statuses(text, lines).into_iter().take(2000) {
        hits.push(Hit::Status { start, code });
    }
    hits.sort_by_key(|h| match h {
        Hit::Imds { start, .. } | Hit::Status { start, .. } => *start,
    });

    let mut out: Vec<Exchange> = Vec::new();
    let mut open: Option<(usize, usize)> = None; // (exchange index, line number) awaiting a status
    let mut line_no = 0usize;
    let mut last_pos = 0usize;
    let mut line_of_last_imds: Option<(usize, usize)> = None; // (line start, exchange idx)
    let mut last_status_line: Option<(usize, usize)> = None; // a status-only exchange
    for h in hits {
        let pos = match h {
            Hit::Imds { start, .. } | Hit::Status { start, .. } => start,
        };
        line_no += memchr::memchr_iter(b'\n', &text.as_bytes()[last_pos..pos]).count();
        last_pos = pos;
        let line_start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
        let line = &text[line_start..line_end];
        match h {
            Hit::Imds { start, end } => {
                let matched = &text[start..end];
                let path = imds_path(matched);
                // Another cloud's metadata service at the same address is not IMDS.
                if other_cloud && matched.starts_with("169.254.169.254") && !path.as_deref().is_some_and(is_ec2_path) {
                    continue;
                }
                // A bare host (`Host: 169.254.169.254`, `Connected to 169.254.169.254`) belongs
                // to the request around it; it only starts an exchange when the line has a method.
                if path.is_none() && (open.is_some() || METHOD_ON_LINE.find(line).is_none()) {
                    continue;
                }
                // One exchange per line: a host and a path on the same line are one request.
                if let Some((ls, idx)) = line_of_last_imds
                    && ls == line_start
                {
                    if out[idx].path.is_none() {
                        out[idx].path = path;
                    }
                    continue;
                }
                let method = METHOD_ON_LINE
                    .captures(line)
                    .and_then(|c| Method::parse(&c["m"]))
                    .or_else(|| implied_method(path.as_deref(), line));
                // `status code of 404 for url: http://169.254.169.254/...`: the status came first.
                if let Some((ls, idx)) = last_status_line
                    && ls == line_start
                    && out[idx].path.is_none()
                {
                    out[idx].path = path.clone();
                    out[idx].imds = true;
                    if out[idx].method.is_none() {
                        out[idx].method = METHOD_ON_LINE
                            .captures(line)
                            .and_then(|c| Method::parse(&c["m"]))
                            .or_else(|| implied_method(path.as_deref(), line));
                    }
                    line_of_last_imds = Some((line_start, idx));
                    continue;
                }
                let mut status = None;
                if !shows_status(&text[end..line_end]) {
                    // Access-log style: `"PUT /latest/api/token HTTP/1.1" 403` or `(403)`.
                    status = BARE_STATUS
                        .captures(&text[end..line_end])
                        .and_then(|c| c["s"].parse::<u16>().ok());
                    // haproxy / custom nginx formats log the status before the request line:
                    // `... 401 123 - - ---- "PUT /latest/api/token HTTP/1.1"`.
                    if status.is_none() && text[end..line_end].contains(" HTTP/") {
                        status = BARE_STATUS
                            .captures_iter(&text[line_start..start])
                            .last()
                            .and_then(|c| c["s"].parse::<u16>().ok());
                    }
                }
                out.push(Exchange {
                    method,
                    path,
                    status,
                    imds: true,
                });
                let idx = out.len() - 1;
                line_of_last_imds = Some((line_start, idx));
                open = if status.is_none() { Some((idx, line_no)) } else { None };
            }
            Hit::Status { code, .. } => {
                if let Some((idx, opened)) = open
                    && line_no.saturating_sub(opened) <= 40
                    && out[idx].status.is_none()
                {
                    out[idx].status = Some(code);
                    open = None;
                    continue;
                }
                // A status on the line of an already-complete exchange belongs to it.
                if let Some((ls, _)) = line_of_last_imds
                    && ls == line_start
                {
                    continue;
                }
                out.push(Exchange {
                    method: None,
                    path: None,
                    status: Some(code),
                    imds: false,
                });
                last_status_line = Some((line_start, out.len() - 1));
            }
        }
    }
    out
}

/// Whether `line` holds an HTTP status: a status line or a status in words.
fn shows_status(line: &str) -> bool {
    STATUS_WORDS.is_match(line)
        || memchr::memmem::find_iter(line.as_bytes(), b"HTTP/")
            .any(|pos| http_status_at(line.as_bytes(), pos).is_some())
}

/// HTTP statuses in order as `(start, code)`: `HTTP/1.1 403` status lines and statuses in words,
/// the earlier one winning where two overlap.
fn statuses(text: &str, lines: &Lines) -> Vec<(usize, u16)> {
    let mut found: Vec<(usize, usize, u16)> = lines
        .http_slash()
        .iter()
        .filter_map(|&pos| http_status_at(text.as_bytes(), pos).map(|(end, code)| (pos, end, code)))
        .collect();
    for (off, line) in lines.spans(Family::Status, text) {
        for c in STATUS_WORDS.captures_iter(line) {
            let g = ["b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]
                .iter()
                .find_map(|n| c.name(n));
            if let (Some(g), Some(all)) = (g, c.get(0))
                && let Ok(code) = g.as_str().parse::<u16>()
            {
                found.push((off + all.start(), off + all.end(), code));
            }
        }
    }
    found.sort_unstable();
    let mut out = Vec::with_capacity(found.len());
    let mut taken_to = 0;
    for (start, end, code) in found {
        if start >= taken_to || out.is_empty() {
            out.push((start, code));
            taken_to = end;
        }
    }
    out
}

fn imds_path(matched: &str) -> Option<String> {
    let start = matched.find("/latest/").or_else(|| {
        let b = matched.as_bytes();
        (0..b.len()).find(|&i| {
            b[i] == b'/' && b.len() >= i + 12 && b[i + 1..i + 5].iter().all(u8::is_ascii_digit) && b[i + 5] == b'-'
        })
    });
    let p = match start {
        Some(i) => &matched[i..],
        None => {
            let i = matched.find('/')?;
            &matched[i..]
        }
    };
    let p = p.split(['?', '#']).next().unwrap_or(p);
    let p = p.trim_end_matches(['.', ':', '\'', '`']);
    (p.len() > 1).then(|| p.to_string())
}

fn implied_method(path: Option<&str>, line: &str) -> Option<Method> {
    let path = path?;
    let fetch_tool = line.contains("curl") || line.contains("wget") || line.contains("Invoke-");
    if path.ends_with("/api/token") {
        Some(Method::Put)
    } else if fetch_tool || path.contains("/meta-data") || path.contains("/dynamic") || path.contains("/user-data") {
        Some(Method::Get)
    } else {
        None
    }
}

fn text_facts(text: &str, lines: &Lines, s: &mut Signals) {
    let token_header = lines
        .spans(Family::TokenHeader, text)
        .flat_map(|(_, line)| TOKEN_HEADER.captures_iter(line))
        .any(|c| c.name("ttl").is_none());
    if token_header {
        s.facts.insert(Fact::ImdsTokenHeader);
    }
    let has_token_put = s
        .exchanges
        .iter()
        .any(|e| e.path.as_deref().is_some_and(|p| p.ends_with("/api/token")));
    let has_get = s.exchanges.iter().any(|e| {
        e.imds
            && e.path.as_deref().is_some_and(|p| !p.ends_with("/api/token"))
            && matches!(e.method, Some(Method::Get) | Some(Method::Head) | None)
    });
    if has_get && !token_header && !has_token_put {
        s.facts.insert(Fact::ImdsRequestWithoutToken);
    }
    if s.imds_context {
        if lines.any(Family::Timeout, text, &TIMEOUT) {
            s.facts.insert(Fact::ImdsTimeout);
        }
        if lines.any(Family::ConnFail, text, &CONN_FAIL) {
            s.facts.insert(Fact::ImdsConnectionFailed);
        }
    }
    if lines
        .spans(Family::Container, text)
        .flat_map(|(off, line)| CONTAINER.find_iter(line).map(move |m| (off + m.start(), off + m.end())))
        .any(|(start, end)| !in_provider_listing(text, start, end))
    {
        s.facts.insert(Fact::ContainerContext);
    }
}

/// True when a container word only names a credential provider that an SDK tried, as in the
/// Java SDK v2 chain (`ContainerCredentialsProvider(): Cannot fetch credentials from container -
/// neither AWS_CONTAINER_CREDENTIALS_FULL_URI or ...`) or botocore's `Looking for credentials
/// via: container-role`. Such listings say nothing about where the code runs.
fn in_provider_listing(text: &str, start: usize, end: usize) -> bool {
    let b = text.as_bytes();
    let ends_with_ci = |s: &[u8], suffix: &str| {
        s.len() >= suffix.len() && s[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    };
    let before = &b[start.saturating_sub(40)..start];
    let after = &b[end..(end + 16).min(b.len())];
    ends_with_ci(before, "cannot fetch credentials from ")
        || (after.starts_with(b"-role") && ends_with_ci(before, "via: "))
}

fn extract_entities(text: &str, lines: &Lines, e: &mut Entities) {
    let first = |family: Family, re: &Regex| {
        lines
            .spans(family, text)
            .find_map(|(_, line)| re.find(line))
            .map(|m| m.as_str().to_string())
    };
    if let Some(id) = first(Family::InstanceId, &INSTANCE_ID) {
        e.instance_id = Some(id);
    }
    for c in lines
        .spans(Family::Arn, text)
        .flat_map(|(_, line)| ARN.captures_iter(line))
        .take(200)
    {
        let acct = &c["acct"];
        e.account_id.get_or_insert_with(|| acct.to_string());
        if !c["region"].is_empty() {
            e.region.get_or_insert_with(|| c["region"].to_string());
        }
        let rest = c["rest"].trim_end_matches(['.', ',']);
        let full = c[0].trim_end_matches(['.', ',']).to_string();
        let last = rest.rsplit('/').next().unwrap_or(rest).to_string();
        match &c["kind"] {
            "role" => {
                e.role_arn.get_or_insert(full);
                e.role_name.get_or_insert(last);
            }
            "instance-profile" => {
                e.instance_profile_arn.get_or_insert(full);
                e.instance_profile_name.get_or_insert(last);
            }
            "assumed-role" => {
                let mut parts = rest.split('/');
                if let Some(role) = parts.next() {
                    e.role_name.get_or_insert_with(|| role.to_string());
                }
                if let Some(session) = parts.next()
                    && INSTANCE_ID.is_match(session)
                {
                    e.instance_id.get_or_insert_with(|| session.to_string());
                }
                e.principal_arn.get_or_insert(full);
            }
            "user" => {
                e.principal_arn.get_or_insert(full);
            }
            _ => {}
        }
    }
    if e.region.is_none() {
        e.region = first(Family::Region, &REGION);
    }
    for c in lines
        .spans(Family::OtherIds, text)
        .flat_map(|(_, line)| OTHER_IDS.captures_iter(line))
        .take(200)
    {
        if let Some(m) = c.name("fleet") {
            e.fleet_id.get_or_insert_with(|| m.as_str().to_string());
        } else if let Some(m) = c.name("lt") {
            e.launch_template_id.get_or_insert_with(|| m.as_str().to_string());
        } else if let Some(m) = c.name("assoc") {
            e.association_id.get_or_insert_with(|| m.as_str().to_string());
        } else if let Some(m) = c.name("dlm") {
            e.dlm_policy_id.get_or_insert_with(|| m.as_str().to_string());
        }
    }
    for c in lines
        .spans(Family::Named, text)
        .flat_map(|(_, line)| NAMED.captures_iter(line))
        .take(200)
    {
        if let Some(m) = c.name("role1").or_else(|| c.name("role2")).or_else(|| c.name("role3")) {
            if !m.as_str().starts_with("REDACTED") {
                e.role_name.get_or_insert_with(|| m.as_str().to_string());
            }
        } else if let Some(m) = c.name("prof1").or_else(|| c.name("prof2")).or_else(|| c.name("prof3")) {
            e.instance_profile_name.get_or_insert_with(|| m.as_str().to_string());
        } else if let Some(m) = c.name("princ") {
            e.principal_arn.get_or_insert_with(|| m.as_str().to_string());
        }
    }
}

/// Finds balanced `{...}` spans and reads the JSON documents among them, outermost first: a
/// span that is not JSON as a whole is searched for nested documents.
fn json_evidence(text: &str, s: &mut Signals) {
    let mut budget = JSON_BUDGET;
    let mut docs = 0;
    // Spans that start before this lie inside a document already read.
    let mut resume = 0;
    for (start, end) in brace_spans(text.as_bytes()) {
        if budget == 0 {
            break;
        }
        if start < resume {
            continue;
        }
        let span = &text[start..end];
        if span.len() > budget || !span.contains('"') {
            continue;
        }
        budget -= span.len();
        if let Ok(v) = serde_json::from_str::<Value>(span) {
            docs += 1;
            let mut nodes = 0;
            walk_json(&v, s, 0, &mut nodes);
            resume = end;
            if docs >= JSON_MAX_DOCS {
                break;
            }
        }
    }
}

/// Every balanced `{...}` span as `(start, end)`, sorted by start, in one pass over the text:
/// linear whatever the input (a megabyte of `{` costs no more than a megabyte of anything).
/// Inside braces, braces within JSON strings do not count, and a string ends at a line break.
fn brace_spans(b: &[u8]) -> Vec<(usize, usize)> {
    let mut open: Vec<usize> = Vec::new();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if open.is_empty() {
            let Some(n) = memchr::memchr(b'{', &b[i..]) else { break };
            open.push(i + n);
            i += n + 1;
            continue;
        }
        let Some(n) = memchr::memchr3(b'{', b'}', b'"', &b[i..]) else {
            break;
        };
        let j = i + n;
        match b[j] {
            b'{' => open.push(j),
            b'}' => {
                if let Some(o) = open.pop() {
                    spans.push((o, j + 1));
                }
            }
            _ => {
                // A string: skip to its closing quote (or the line break that ends it).
                let mut k = j + 1;
                loop {
                    match memchr::memchr3(b'"', b'\\', b'\n', b.get(k..).unwrap_or_default()) {
                        Some(m) if b[k + m] == b'\\' => k += m + 2,
                        Some(m) => {
                            k += m + 1;
                            break;
                        }
                        None => {
                            k = b.len();
                            break;
                        }
                    }
                }
                i = k;
                continue;
            }
        }
        i = j + 1;
    }
    spans.sort_unstable();
    spans
}

fn walk_json(v: &Value, s: &mut Signals, depth: usize, nodes: &mut usize) {
    *nodes += 1;
    if depth > 64 || *nodes > JSON_MAX_NODES {
        return;
    }
    match v {
        Value::Object(map) => {
            classify_object(map, s);
            for child in map.values() {
                walk_json(child, s, depth + 1, nodes);
            }
        }
        Value::Array(items) => {
            for child in items {
                walk_json(child, s, depth + 1, nodes);
            }
        }
        Value::String(inner) if depth > 0 && inner.len() > 20 && inner.trim_start().starts_with('{') => {
            // `{"DecodedMessage": "{\"allowed\":false,...}"}` carries JSON inside a string.
            if let Ok(nested) = serde_json::from_str::<Value>(inner) {
                walk_json(&nested, s, depth + 1, nodes);
            }
        }
        _ => {}
    }
}

fn get_ci<'a>(map: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key)
        .or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

fn as_strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        Some(Value::Number(n)) => vec![n.to_string()],
        Some(Value::Bool(b)) => vec![b.to_string()],
        _ => Vec::new(),
    }
}

fn classify_object(map: &serde_json::Map<String, Value>, s: &mut Signals) {
    if let Some(stmts) = get_ci(map, "Statement") {
        let list: Vec<&Value> = match stmts {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        classify_policy(&list, s);
    }
    if map.contains_key("allowed") && (map.contains_key("explicitDeny") || map.contains_key("context")) {
        classify_decoded(map, s);
    }
    if map.contains_key("InstanceProfileArn") || map.contains_key("InstanceProfileId") {
        s.facts.insert(Fact::IamInfoDocument);
        if let Some(arn) = map.get("InstanceProfileArn").and_then(Value::as_str)
            && let Some(c) = ARN.captures(arn)
        {
            let rest = &c["rest"];
            s.entities.instance_profile_arn.get_or_insert_with(|| arn.to_string());
            s.entities
                .instance_profile_name
                .get_or_insert_with(|| rest.rsplit('/').next().unwrap_or(rest).to_string());
            s.entities.account_id.get_or_insert_with(|| c["acct"].to_string());
        }
    }
    if let Some(msg) = map.get("Message").and_then(Value::as_str)
        && msg.to_ascii_lowercase().contains("does not contain a role")
    {
        s.facts.insert(Fact::IamInfoNoRole);
    }
    if map.contains_key("AccessKeyId")
        && map.get("Code").and_then(Value::as_str) == Some("Success")
        && (map.contains_key("Token") || map.contains_key("SecretAccessKey"))
    {
        s.facts.insert(Fact::CredentialsDocument);
    }
    let str_of = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_ascii_lowercase);
    if map.contains_key("HttpTokens") || map.contains_key("HttpEndpoint") {
        if str_of("HttpEndpoint").as_deref() == Some("disabled") {
            s.facts.insert(Fact::MetadataEndpointDisabled);
        }
        match str_of("HttpTokens").as_deref() {
            Some("required") => s.facts.insert(Fact::MetadataTokensRequired),
            Some("optional") => s.facts.insert(Fact::MetadataTokensOptional),
            _ => {}
        }
        if map.get("HttpPutResponseHopLimit").and_then(Value::as_i64) == Some(1) {
            s.facts.insert(Fact::MetadataHopLimit1);
        }
        if str_of("HttpProtocolIpv6").as_deref() == Some("disabled") {
            s.facts.insert(Fact::MetadataIpv6Disabled);
        }
        if str_of("InstanceMetadataTags").as_deref() == Some("disabled") {
            s.facts.insert(Fact::MetadataTagsDisabled);
        }
    }
    if let Some(t) = get_ci(map, "Type").and_then(Value::as_str)
        && t.contains("InstanceCredentialExfiltration")
    {
        s.facts.insert(Fact::GuarddutyCredentialExfiltration);
    }
    if let Some(id) = map.get("InstanceId").and_then(Value::as_str)
        && INSTANCE_ID.is_match(id)
    {
        s.entities.instance_id.get_or_insert_with(|| id.to_string());
    }
}

fn classify_policy(statements: &[&Value], s: &mut Signals) {
    let mut trust_statements = 0;
    let mut trusts_ec2 = false;
    for st in statements {
        let Value::Object(st) = st else { continue };
        let effect = st
            .get("Effect")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        let actions: Vec<String> = as_strings(st.get("Action"))
            .iter()
            .map(|a| a.to_ascii_lowercase())
            .collect();
        if let Some(Value::Object(cond)) = st.get("Condition") {
            for ops in cond.values() {
                if let Value::Object(keys) = ops {
                    for key in keys.keys() {
                        let k = key.to_ascii_lowercase();
                        if k == "ec2:roledelivery" && effect == "deny" {
                            s.facts.insert(Fact::DenyOnRoleDelivery);
                        }
                        if k == "ec2:metadatahttptokens" {
                            s.facts.insert(Fact::ConditionOnMetadataHttpTokens);
                        }
                        if k == "ec2:metadatahttpputresponsehoplimit" {
                            s.facts.insert(Fact::ConditionOnMetadataHopLimit);
                        }
                    }
                }
            }
        }
        let assume = actions
            .iter()
            .any(|a| a == "sts:assumerole" || a == "sts:*" || a == "*");
        if effect == "allow" && assume && st.contains_key("Principal") {
            trust_statements += 1;
            let principal = st.get("Principal");
            let services = match principal {
                Some(Value::Object(p)) => as_strings(p.get("Service")),
                _ => Vec::new(),
            };
            if services
                .iter()
                .any(|sv| sv == "ec2.amazonaws.com" || sv == "ec2.amazonaws.com.cn")
            {
                trusts_ec2 = true;
            }
        }
    }
    if trust_statements > 0 {
        s.facts.insert(if trusts_ec2 {
            Fact::TrustPolicyWithEc2
        } else {
            Fact::TrustPolicyWithoutEc2
        });
    }
}

fn items(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Object(o)) => match o.get("items") {
            Some(Value::Array(a)) => a.iter().collect(),
            _ => Vec::new(),
        },
        Some(Value::Array(a)) => a.iter().collect(),
        _ => Vec::new(),
    }
}

fn item_values(v: Option<&Value>) -> Vec<String> {
    items(v)
        .into_iter()
        .filter_map(|x| match x {
            Value::Object(o) => o.get("value").and_then(Value::as_str).map(str::to_string),
            Value::String(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn classify_decoded(map: &serde_json::Map<String, Value>, s: &mut Signals) {
    s.facts.insert(Fact::DecodedAuthorizationMessage);
    let explicit = map.get("explicitDeny").and_then(Value::as_bool).unwrap_or(false);
    if explicit {
        s.facts.insert(Fact::ExplicitDeny);
    }
    let ctx = map.get("context").and_then(Value::as_object);
    let mut d = AuthzDecision {
        allowed: map.get("allowed").and_then(Value::as_bool).unwrap_or(false),
        explicit_deny: explicit,
        action: ctx
            .and_then(|c| c.get("action"))
            .and_then(Value::as_str)
            .map(str::to_string),
        resource: ctx
            .and_then(|c| c.get("resource"))
            .and_then(Value::as_str)
            .map(str::to_string),
        principal: ctx
            .and_then(|c| c.get("principal"))
            .and_then(|p| p.get("arn").or_else(|| p.get("name")))
            .and_then(Value::as_str)
            .map(str::to_string),
        conditions: Vec::new(),
    };
    let request_conditions: Vec<(String, Vec<String>)> = items(ctx.and_then(|c| c.get("conditions")))
        .into_iter()
        .filter_map(|c| {
            let key = c.get("key")?.as_str()?.to_string();
            Some((key, item_values(c.get("values"))))
        })
        .collect();
    for st in items(map.get("matchedStatements")) {
        for c in items(st.get("conditions")) {
            let Some(key) = c.get("key").and_then(Value::as_str) else {
                continue;
            };
            if d.conditions.iter().any(|x| x.key == key) {
                continue;
            }
            let request_values = request_conditions
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            d.conditions.push(AuthzCondition {
                key: key.to_string(),
                policy_values: item_values(c.get("values")),
                request_values,
            });
            match key.to_ascii_lowercase().as_str() {
                "ec2:roledelivery" => s.facts.insert(Fact::DenyOnRoleDelivery),
                "ec2:metadatahttptokens" => s.facts.insert(Fact::ConditionOnMetadataHttpTokens),
                "ec2:metadatahttpputresponsehoplimit" => s.facts.insert(Fact::ConditionOnMetadataHopLimit),
                _ => {}
            }
        }
    }
    if let Some(p) = &d.principal
        && p.starts_with("arn:")
    {
        s.entities.principal_arn.get_or_insert_with(|| p.clone());
    }
    if let Some(r) = &d.resource
        && let Some(c) = ARN.captures(r)
    {
        s.entities.account_id.get_or_insert_with(|| c["acct"].to_string());
    }
    if s.authz.is_none() {
        s.authz = Some(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_verbose_transcript() {
        let t = "$ curl -v -X PUT http://169.254.169.254/2021-03-23/api/token -H \"X-aws-ec2-metadata-token-ttl-seconds: 21600\"\n* Trying 169.254.169.254:80...\n> PUT /2021-03-23/api/token HTTP/1.1\n> Host: 169.254.169.254\n<\n< HTTP/1.1 403 Forbidden\n";
        let s = extract(t);
        assert!(s.imds_context);
        let with_status: Vec<&Exchange> = s.exchanges.iter().filter(|e| e.status.is_some()).collect();
        assert_eq!(with_status.len(), 1, "{:?}", s.exchanges);
        let e = with_status[0];
        assert_eq!(e.status, Some(403));
        assert_eq!(e.method, Some(Method::Put));
        assert_eq!(e.path.as_deref(), Some("/2021-03-23/api/token"));
        assert!(!s.facts.contains(Fact::ImdsTokenHeader));
    }

    #[test]
    fn botocore_debug_line() {
        let t = "2026-11-22 10:01:02,123 - MainThread - botocore.utils - DEBUG - Metadata service returned non-200 response with status code of 404 for url: http://169.254.169.254/latest/meta-data/iam/security-credentials/, content body: b'<?xml'";
        let s = extract(t);
        assert!(
            s.exchanges
                .iter()
                .any(|e| e.status == Some(404)
                    && e.path.as_deref() == Some("/latest/meta-data/iam/security-credentials/"))
        );
    }

    #[test]
    fn access_log_status_after_path() {
        let s = extract("time=\"2026-11-22T10:00:00Z\" level=info msg=\"PUT /latest/api/token (403) took 1.2ms\"");
        let e = &s.exchanges[0];
        assert_eq!((e.method, e.status), (Some(Method::Put), Some(403)));
    }

    #[test]
    fn bare_status_without_imds_context() {
        let s = extract("nginx: GET /admin returned 403 Forbidden");
        assert!(!s.imds_context);
        assert!(s.foreign_http);
        assert!(!extract("/imds 403 forbidden").foreign_http);
        assert_eq!(s.exchanges.len(), 1);
        assert!(!s.exchanges[0].imds);
    }

    #[test]
    fn trust_policy_without_ec2() {
        let t = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"rds.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        let s = extract(t);
        assert!(s.facts.contains(Fact::TrustPolicyWithoutEc2));
        assert!(!s.facts.contains(Fact::TrustPolicyWithEc2));
    }

    #[test]
    fn decoded_message_inside_cli_output() {
        let inner = r#"{"allowed":false,"explicitDeny":true,"matchedStatements":{"items":[{"statementId":"RequireImdsV2","effect":"DENY","conditions":{"items":[{"key":"ec2:MetadataHttpTokens","values":{"items":[{"value":"required"}]}}]}}]},"context":{"principal":{"id":"AIDAX","arn":"arn:aws:iam::123456789012:user/alice"},"action":"ec2:RunInstances","resource":"arn:aws:ec2:us-east-1:123456789012:instance/*","conditions":{"items":[{"key":"ec2:MetadataHttpTokens","values":{"items":[{"value":"optional"}]}}]}}}"#;
        let cli = serde_json::json!({ "DecodedMessage": inner }).to_string();
        let s = extract(&cli);
        assert!(s.facts.contains(Fact::DecodedAuthorizationMessage));
        assert!(s.facts.contains(Fact::ExplicitDeny));
        assert!(s.facts.contains(Fact::ConditionOnMetadataHttpTokens));
        let d = s.authz.expect("decision");
        assert_eq!(d.action.as_deref(), Some("ec2:RunInstances"));
        assert_eq!(d.conditions[0].key, "ec2:MetadataHttpTokens");
        assert_eq!(d.conditions[0].policy_values, vec!["required"]);
        assert_eq!(d.conditions[0].request_values, vec!["optional"]);
        assert_eq!(
            s.entities.principal_arn.as_deref(),
            Some("arn:aws:iam::123456789012:user/alice")
        );
    }

    #[test]
    fn metadata_options_and_entities() {
        let t = r#"aws ec2 describe-instances --instance-ids i-0abc1234def567890 --region eu-west-1
{"MetadataOptions": {"State": "applied", "HttpTokens": "required", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "disabled", "HttpProtocolIpv6": "disabled", "InstanceMetadataTags": "disabled"}}
arn:aws:iam::111122223333:instance-profile/web-profile"#;
        let s = extract(t);
        for f in [
            Fact::MetadataTokensRequired,
            Fact::MetadataHopLimit1,
            Fact::MetadataEndpointDisabled,
            Fact::MetadataIpv6Disabled,
            Fact::MetadataTagsDisabled,
        ] {
            assert!(s.facts.contains(f), "{f:?}");
        }
        assert_eq!(s.entities.instance_id.as_deref(), Some("i-0abc1234def567890"));
        assert_eq!(s.entities.region.as_deref(), Some("eu-west-1"));
        assert_eq!(s.entities.instance_profile_name.as_deref(), Some("web-profile"));
        assert_eq!(s.entities.account_id.as_deref(), Some("111122223333"));
    }

    #[test]
    fn role_from_credentials_path_and_assume_role_message() {
        let s = extract(
            "{\"Code\" : \"AssumeRoleUnauthorizedAccess\", \"Message\" : \"EC2 cannot assume the role app-role.\"}",
        );
        assert_eq!(s.entities.role_name.as_deref(), Some("app-role"));
        let s = extract("curl http://169.254.169.254/latest/meta-data/iam/security-credentials/web-role");
        assert_eq!(s.entities.role_name.as_deref(), Some("web-role"));
        assert!(s.facts.contains(Fact::ImdsRequestWithoutToken));
    }

    fn statuses(t: &str) -> Vec<(Option<String>, Option<u16>)> {
        extract(t).exchanges.into_iter().map(|e| (e.path, e.status)).collect()
    }

    #[test]
    fn python_requests_status() {
        let t = "requests.exceptions.HTTPError: 401 Client Error: Unauthorized for url: http://169.254.169.254/latest/meta-data/iam/security-credentials/";
        assert_eq!(
            statuses(t),
            vec![(Some("/latest/meta-data/iam/security-credentials/".into()), Some(401))]
        );
    }

    #[test]
    fn curl_fail_status() {
        let t = "$ curl -sf http://169.254.169.254/latest/meta-data/instance-id\ncurl: (22) The requested URL returned error: 401";
        assert_eq!(
            statuses(t),
            vec![(Some("/latest/meta-data/instance-id".into()), Some(401))]
        );
    }

    #[test]
    fn ansible_status_code_was() {
        let t = "TASK [get token] ***\nfatal: [web1]: FAILED! => {\"changed\": false, \"msg\": \"Status code was 400 and not [200]: HTTP Error 400: Bad Request\", \"url\": \"http://169.254.169.254/latest/api/token\"}";
        let s = extract(t);
        assert!(
            s.exchanges.iter().any(|e| e.status == Some(400) && e.imds),
            "{:?}",
            s.exchanges
        );
    }

    #[test]
    fn curl_write_out_status_on_next_line() {
        let t = "$ curl -s -o /dev/null -w '%{http_code}\\n' -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600'\n403\n";
        assert_eq!(statuses(t), vec![(Some("/latest/api/token".into()), Some(403))]);
        let t = "$ curl -s -o /dev/null http://169.254.169.254/latest/meta-data/ -w '%{http_code}'\n401";
        assert_eq!(statuses(t), vec![(Some("/latest/meta-data/".into()), Some(401))]);
    }

    #[test]
    fn status_before_request_line() {
        let t = "Nov 22 10:00:00 lb haproxy[811]: 10.0.3.7:51234 [22/Nov/2026:10:00:00.120] imds-in imds-out/ec2 0/0/1/2/3 401 187 - - ---- 1/1/0/0/0 0/0 \"GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\"";
        assert_eq!(
            statuses(t),
            vec![(Some("/latest/meta-data/iam/security-credentials/".into()), Some(401))]
        );
        let t = "10.0.3.7 403 \"PUT /latest/api/token HTTP/1.1\" 0 \"-\" \"curl/8.5.0\"";
        let e = &extract(t).exchanges[0];
        assert_eq!((e.method, e.status), (Some(Method::Put), Some(403)));
    }

    #[test]
    fn other_clouds_are_not_imds() {
        for t in [
            "$ curl -s -m 3 http://169.254.169.254/metadata/v1/hostname\ncurl: (28) Connection timed out after 3001 milliseconds",
            "$ curl -H \"Metadata-Flavor: Google\" http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token\ncurl: (7) Failed to connect to 169.254.169.254 port 80: Connection refused",
            "$ curl -s -H Metadata:true \"http://169.254.169.254/metadata/instance?api-version=2021-02-01\"\ncurl: (28) Connection timed out",
        ] {
            let s = extract(t);
            assert!(s.other_cloud_metadata, "{t}");
            assert!(!s.imds_context, "{t}");
            assert!(!s.facts.contains(Fact::ImdsTimeout) && !s.facts.contains(Fact::ImdsConnectionFailed));
            assert!(s.exchanges.iter().all(|e| !e.imds), "{t}: {:?}", s.exchanges);
        }
        // An EC2 path still counts next to another cloud's marker.
        let s =
            extract("GCE: metadata.google.internal ok\nEC2: curl http://169.254.169.254/latest/meta-data/ timed out");
        assert!(s.imds_context);
    }

    #[test]
    fn java_credential_chain_is_not_container_context() {
        let t = "Unable to load credentials from any of the providers in the chain AwsCredentialsProviderChain(credentialsProviders=[SystemPropertyCredentialsProvider(), EnvironmentVariableCredentialsProvider(), ContainerCredentialsProvider(), InstanceProfileCredentialsProvider()]) : [ContainerCredentialsProvider(): Cannot fetch credentials from container - neither AWS_CONTAINER_CREDENTIALS_FULL_URI or AWS_CONTAINER_CREDENTIALS_RELATIVE_URI environment variables are set., InstanceProfileCredentialsProvider(): Failed to load credentials from IMDS.]";
        assert!(!extract(t).facts.contains(Fact::ContainerContext));
        let t = "2026-03-02 14:21:07,413 - MainThread - botocore.credentials - DEBUG - Looking for credentials via: container-role";
        assert!(!extract(t).facts.contains(Fact::ContainerContext));
        assert!(
            extract("the app runs in a container on the node")
                .facts
                .contains(Fact::ContainerContext)
        );
    }

    #[test]
    fn timeouts_need_imds_context() {
        assert!(
            !extract("database query timed out after 30s")
                .facts
                .contains(Fact::ImdsTimeout)
        );
        let s = extract("dial tcp 169.254.169.254:80: i/o timeout");
        assert!(s.facts.contains(Fact::ImdsTimeout));
    }

    #[test]
    fn brace_spans_are_found_in_one_pass() {
        let t = r#"say "hi {"a": "x}", "b": {"c": 1}} and { unclosed {"d": "\"}"}"#;
        let spans: Vec<&str> = brace_spans(t.as_bytes()).iter().map(|&(a, b)| &t[a..b]).collect();
        assert_eq!(
            spans,
            [r#"{"a": "x}", "b": {"c": 1}}"#, r#"{"c": 1}"#, r#"{"d": "\"}"}"#]
        );
        // A megabyte of `{` has no span and costs one pass.
        assert!(brace_spans("{".repeat(1 << 20).as_bytes()).is_empty());
    }
}

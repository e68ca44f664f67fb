//! Runtime configuration of `imdsbot serve`, from environment variables.
//!
//! The variable names are a stable contract (external checks and deployments use them):
//! `SLACK_BOT_TOKEN`, `SLACK_SIGNING_SECRET`, `SLACK_APP_TOKEN`, `IMDSBOT_SLACK_API_URL`,
//! `IMDSBOT_SLACK_CHANNELS`, `DISCORD_TOKEN`, `IMDSBOT_DISCORD_API_URL`,
//! `IMDSBOT_DISCORD_CHANNELS`, `IMDSBOT_DISCORD_GUILD`, `IMDSBOT_DISCORD_SHARDS`,
//! `IMDSBOT_LISTEN`, `IMDSBOT_KB`, `IMDSBOT_KB_EXTRA`, `IMDSBOT_REDIS_URL`, `IMDSBOT_LOG_FORMAT`.
//!
//! The same settings can come from an optional `imdsbot.toml` (`--config PATH`); the
//! environment wins. Parsing collects every problem instead of stopping at the first, and every message names the
//! variable. Secrets are wrapped in [`Secret`], whose `Debug`/`Display` never show the value.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Default Slack Web API base.
pub const DEFAULT_SLACK_API_URL: &str = "https://slack.com/api";
/// Default address of the HTTP server (Slack endpoints, health, metrics).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// A secret value: printed as `<redacted>` everywhere.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Slack settings; present when `SLACK_BOT_TOKEN` is set.
#[derive(Debug, Clone)]
pub struct SlackConfig {
    /// `SLACK_BOT_TOKEN` (xoxb-).
    pub bot_token: Secret,
    /// `SLACK_SIGNING_SECRET`: enables the HTTP endpoints.
    pub signing_secret: Option<Secret>,
    /// `SLACK_APP_TOKEN` (xapp-): enables Socket Mode.
    pub app_token: Option<Secret>,
    /// `IMDSBOT_SLACK_API_URL`, without a trailing slash.
    pub api_url: String,
    /// `IMDSBOT_SLACK_CHANNELS`: auto-reply allow-list; `None` = every channel the bot is in.
    pub channels: Option<Vec<String>>,
}

/// A range of Discord shards run by this process: `first..=last` of `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardRange {
    /// First shard id.
    pub first: u32,
    /// Last shard id (inclusive).
    pub last: u32,
    /// Total shards of the bot.
    pub total: u32,
}

/// Discord settings; present when `DISCORD_TOKEN` is set.
#[derive(Debug, Clone)]
pub struct DiscordConfig {
    /// `DISCORD_TOKEN`.
    pub token: Secret,
    /// `IMDSBOT_DISCORD_API_URL`: REST base for tests (serenity's ratelimiter is then disabled).
    pub api_url: Option<String>,
    /// `IMDSBOT_DISCORD_CHANNELS`: auto-reply allow-list (default: none, auto-replies opt-in).
    pub channels: Vec<u64>,
    /// `IMDSBOT_DISCORD_GUILD`: register commands on this guild only.
    pub guild: Option<u64>,
    /// `IMDSBOT_DISCORD_SHARDS` (`FIRST-LAST/TOTAL`): this process's shards; default autosharded.
    pub shards: Option<ShardRange>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Everything `serve` needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// `IMDSBOT_LISTEN`.
    pub listen: SocketAddr,
    /// `IMDSBOT_KB`.
    pub kb: Option<PathBuf>,
    /// `IMDSBOT_KB_EXTRA` (comma-separated).
    pub kb_extra: Vec<PathBuf>,
    /// `IMDSBOT_REDIS_URL`.
    pub redis_url: Option<Secret>,
    /// `IMDSBOT_LOG_FORMAT`.
    pub log_format: LogFormat,
    /// Slack, when configured.
    pub slack: Option<SlackConfig>,
    /// Discord, when configured.
    pub discord: Option<DiscordConfig>,
}

/// One configuration problem, naming its variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The variable.
    pub var: &'static str,
    /// What is wrong (never the value of a secret).
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.var, self.message)
    }
}

/// What to set to run each platform; printed when nothing is configured.
pub const NOTHING_CONFIGURED: &str = "nothing to serve: no chat platform is configured.
  Slack over HTTP:     set SLACK_BOT_TOKEN (xoxb-...) and SLACK_SIGNING_SECRET
  Slack Socket Mode:   set SLACK_BOT_TOKEN (xoxb-...) and SLACK_APP_TOKEN (xapp-...)
  Discord:             set DISCORD_TOKEN
Optional: IMDSBOT_LISTEN (default 127.0.0.1:8080), IMDSBOT_SLACK_CHANNELS, IMDSBOT_DISCORD_CHANNELS,
IMDSBOT_DISCORD_GUILD, IMDSBOT_KB, IMDSBOT_REDIS_URL. A local diagnosis needs none of them:
  imdsbot diagnose < paste.txt";

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, Vec<Problem>> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads configuration through `get` (the environment, or a map in tests).
    /// Empty values count as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, Vec<Problem>> {
        let get = |k: &str| get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let mut problems = Vec::new();
        let mut bad = |var: &'static str, message: String| problems.push(Problem { var, message });

        let listen = parse_opt(&get, &mut bad, "IMDSBOT_LISTEN", |v| {
            v.parse()
                .map_err(|_| format!("`{v}` is not an address like 127.0.0.1:8080 or 0.0.0.0:8080"))
        })
        .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default"));
        let log_format = parse_opt(&get, &mut bad, "IMDSBOT_LOG_FORMAT", |v| match v.as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("`{v}` is not `text` or `json`")),
        })
        .unwrap_or_default();
        let redis_url = parse_opt(&get, &mut bad, "IMDSBOT_REDIS_URL", |v| {
            if v.starts_with("redis://") || v.starts_with("rediss://") || v.starts_with("redis+unix://") {
                Ok(Secret::new(v))
            } else {
                Err("must start with redis://, rediss:// or redis+unix://".to_string())
            }
        });

        let slack = get("SLACK_BOT_TOKEN").map(|token| {
            token_prefix(&mut bad, "SLACK_BOT_TOKEN", &token, "xoxb-");
            let signing_secret = get("SLACK_SIGNING_SECRET").map(Secret::new);
            let app_token = get("SLACK_APP_TOKEN").map(|t| {
                token_prefix(&mut bad, "SLACK_APP_TOKEN", &t, "xapp-");
                Secret::new(t)
            });
            if signing_secret.is_none() && app_token.is_none() {
                bad(
                    "SLACK_SIGNING_SECRET",
                    "SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET (HTTP events) nor SLACK_APP_TOKEN (Socket Mode) is"
                        .to_string(),
                );
            }
            let api_url = parse_opt(&get, &mut bad, "IMDSBOT_SLACK_API_URL", http_url)
                .unwrap_or_else(|| DEFAULT_SLACK_API_URL.to_string());
            let channels = get("IMDSBOT_SLACK_CHANNELS").map(|v| {
                let ids = list(&v);
                for id in &ids {
                    if !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                        bad("IMDSBOT_SLACK_CHANNELS", format!("`{id}` is not a Slack channel id like C0123456789"));
                    }
                }
                ids
            });
            SlackConfig {
                bot_token: Secret::new(token),
                signing_secret,
                app_token,
                api_url,
                channels,
            }
        });

        let discord = get("DISCORD_TOKEN").map(|token| {
            if token.chars().any(char::is_whitespace) || token.starts_with("Bot ") || token.split('.').count() < 2 {
                bad(
                    "DISCORD_TOKEN",
                    "is not a Discord bot token (expected the bare token from the developer portal, without `Bot `)"
                        .to_string(),
                );
            }
            let api_url = parse_opt(&get, &mut bad, "IMDSBOT_DISCORD_API_URL", http_url);
            let channels = get("IMDSBOT_DISCORD_CHANNELS")
                .map(|v| {
                    list(&v)
                        .into_iter()
                        .filter_map(|id| {
                            let n = snowflake(&id);
                            if n.is_none() {
                                bad(
                                    "IMDSBOT_DISCORD_CHANNELS",
                                    format!("`{id}` is not a channel id (a number)"),
                                );
                            }
                            n
                        })
                        .collect()
                })
                .unwrap_or_default();
            let guild = parse_opt(&get, &mut bad, "IMDSBOT_DISCORD_GUILD", |v| {
                snowflake(&v).ok_or_else(|| format!("`{v}` is not a guild id (a number)"))
            });
            let shards = get("IMDSBOT_DISCORD_SHARDS").and_then(|v| {
                let index = get("IMDSBOT_DISCORD_SHARD_INDEX");
                match parse_shards(&v, index.as_deref()) {
                    Ok(r) => Some(r),
                    Err((var, message)) => {
                        bad(var, message);
                        None
                    }
                }
            });
            DiscordConfig {
                token: Secret::new(token),
                api_url,
                channels,
                guild,
                shards,
            }
        });

        let config = Config {
            listen,
            kb: get("IMDSBOT_KB").map(PathBuf::from),
            kb_extra: get("IMDSBOT_KB_EXTRA")
                .map(|v| list(&v).into_iter().map(PathBuf::from).collect())
                .unwrap_or_default(),
            redis_url,
            log_format,
            slack,
            discord,
        };
        if problems.is_empty() { Ok(config) } else { Err(problems) }
    }

    /// True when at least one chat platform is configured.
    pub fn any_platform(&self) -> bool {
        self.slack.is_some() || self.discord.is_some()
    }
}

/// One setting: its environment variable, its key in `imdsbot.toml`, and how to show it.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// Environment variable (stable).
    pub env: &'static str,
    /// Key in `imdsbot.toml` (`section.key` or `key`); empty for environment-only settings
    /// (the log format is chosen before the file is read).
    pub file: &'static str,
    /// Never printed.
    pub secret: bool,
    /// Default, as shown by `config check`.
    pub default: &'static str,
}

const fn setting(env: &'static str, file: &'static str, secret: bool, default: &'static str) -> Setting {
    Setting {
        env,
        file,
        secret,
        default,
    }
}

/// Every setting `serve` reads.
pub const SETTINGS: &[Setting] = &[
    setting("IMDSBOT_LISTEN", "listen", false, DEFAULT_LISTEN),
    setting("IMDSBOT_KB", "kb", false, "(built-in knowledge base)"),
    setting("IMDSBOT_KB_EXTRA", "kb_extra", false, "(none)"),
    setting(
        "IMDSBOT_REDIS_URL",
        "redis_url",
        true,
        "(in-memory duplicate suppression)",
    ),
    setting("IMDSBOT_LOG_FORMAT", "", false, "text"),
    setting("SLACK_BOT_TOKEN", "slack.bot_token", true, "(Slack off)"),
    setting(
        "SLACK_SIGNING_SECRET",
        "slack.signing_secret",
        true,
        "(HTTP events off)",
    ),
    setting("SLACK_APP_TOKEN", "slack.app_token", true, "(Socket Mode off)"),
    setting("IMDSBOT_SLACK_API_URL", "slack.api_url", false, DEFAULT_SLACK_API_URL),
    setting(
        "IMDSBOT_SLACK_CHANNELS",
        "slack.channels",
        false,
        "(every channel the bot is in)",
    ),
    setting("DISCORD_TOKEN", "discord.token", true, "(Discord off)"),
    setting(
        "IMDSBOT_DISCORD_API_URL",
        "discord.api_url",
        false,
        "(Discord's own API)",
    ),
    setting(
        "IMDSBOT_DISCORD_CHANNELS",
        "discord.channels",
        false,
        "(none: auto-replies off)",
    ),
    setting(
        "IMDSBOT_DISCORD_GUILD",
        "discord.guild",
        false,
        "(commands registered globally)",
    ),
    setting("IMDSBOT_DISCORD_SHARDS", "discord.shards", false, "(autosharded)"),
    setting("IMDSBOT_DISCORD_SHARD_INDEX", "discord.shard_index", false, "(none)"),
];

/// Where an effective value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The environment.
    Env,
    /// The configuration file.
    File,
}

/// Reads one environment variable.
type EnvLookup = Box<dyn Fn(&str) -> Option<String>>;

/// The environment over an optional `imdsbot.toml`.
pub struct Layered {
    env: EnvLookup,
    file: BTreeMap<&'static str, String>,
}

impl fmt::Debug for Layered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Layered")
            .field("file_keys", &self.file.keys())
            .finish_non_exhaustive()
    }
}

impl Layered {
    /// The process environment over the file at `path` (if any).
    pub fn from_process(path: Option<&Path>) -> Result<Layered, Vec<Problem>> {
        let file = match path {
            Some(p) => read_file(p)?,
            None => BTreeMap::new(),
        };
        Ok(Layered {
            env: Box::new(|k| std::env::var(k).ok()),
            file,
        })
    }

    /// Any lookup over file contents (tests).
    pub fn new(env: impl Fn(&str) -> Option<String> + 'static, file_text: &str) -> Result<Layered, Vec<Problem>> {
        Ok(Layered {
            env: Box::new(env),
            file: parse_file(file_text)?,
        })
    }

    /// The effective value of a variable and where it comes from. Empty values count as unset.
    pub fn get(&self, env: &str) -> Option<(String, Origin)> {
        if let Some(v) = (self.env)(env).filter(|v| !v.trim().is_empty()) {
            return Some((v, Origin::Env));
        }
        self.file.get(env).map(|v| (v.clone(), Origin::File))
    }

    /// Parses the configuration.
    pub fn config(&self) -> Result<Config, Vec<Problem>> {
        Config::from_lookup(|k| self.get(k).map(|(v, _)| v))
    }

    /// `config check`: every setting with its effective value (secrets redacted) and origin.
    pub fn describe(&self) -> String {
        let width = SETTINGS.iter().map(|s| s.env.len()).max().unwrap_or(0);
        let mut out = String::new();
        for s in SETTINGS {
            let (value, origin) = match self.get(s.env) {
                Some((_, o)) if s.secret => ("<redacted>".to_string(), o),
                Some((v, o)) => (v, o),
                None => (s.default.to_string(), Origin::Env),
            };
            let origin = match (self.get(s.env).is_some(), origin) {
                (false, _) => "default",
                (true, Origin::Env) => "env",
                (true, Origin::File) => "file",
            };
            out.push_str(&format!("{:width$}  {value}  [{origin}]\n", s.env));
        }
        out
    }
}

fn read_file(path: &Path) -> Result<BTreeMap<&'static str, String>, Vec<Problem>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Problem {
            var: "--config",
            message: format!("cannot read {}: {e}", path.display()),
        }]
    })?;
    parse_file(&text).map_err(|ps| {
        ps.into_iter()
            .map(|p| Problem {
                var: p.var,
                message: format!("{}: {}", path.display(), p.message),
            })
            .collect()
    })
}

fn parse_file(text: &str) -> Result<BTreeMap<&'static str, String>, Vec<Problem>> {
    let problem = |message: String| Problem {
        var: "--config",
        message,
    };
    let table: toml::Table = toml::from_str(text).map_err(|e| vec![problem(e.to_string().trim().to_string())])?;
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    let mut flat: Vec<(String, toml::Value)> = Vec::new();
    for (k, v) in table {
        match v {
            toml::Value::Table(t) => flat.extend(t.into_iter().map(|(k2, v2)| (format!("{k}.{k2}"), v2))),
            v => flat.push((k, v)),
        }
    }
    for (key, value) in flat {
        let Some(s) = SETTINGS.iter().find(|s| s.file == key) else {
            problems.push(problem(format!("unknown key `{key}`")));
            continue;
        };
        let text = match value {
            toml::Value::String(v) => v,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Array(items) => {
                let parts: Option<Vec<String>> = items
                    .into_iter()
                    .map(|i| match i {
                        toml::Value::String(v) => Some(v),
                        toml::Value::Integer(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect();
                match parts {
                    Some(p) => p.join(","),
                    None => {
                        problems.push(problem(format!("`{key}` must be a list of strings or numbers")));
                        continue;
                    }
                }
            }
            _ => {
                problems.push(problem(format!("`{key}` must be a string, a number or a list")));
                continue;
            }
        };
        out.insert(s.env, text);
    }
    if problems.is_empty() { Ok(out) } else { Err(problems) }
}

/// The value of `var`, if set, parsed by `parse`; a parse error is reported as a problem naming
/// `var`, and the setting is then left unset.
fn parse_opt<T>(
    get: &impl Fn(&str) -> Option<String>,
    bad: &mut impl FnMut(&'static str, String),
    var: &'static str,
    parse: impl FnOnce(String) -> Result<T, String>,
) -> Option<T> {
    parse(get(var)?).map_err(|message| bad(var, message)).ok()
}

/// An http(s) URL, without a trailing slash.
fn http_url(v: String) -> Result<String, String> {
    if v.starts_with("https://") || v.starts_with("http://") {
        Ok(v.trim_end_matches('/').to_string())
    } else {
        Err(format!("`{v}` is not an http(s) URL"))
    }
}

fn token_prefix(bad: &mut impl FnMut(&'static str, String), var: &'static str, token: &str, prefix: &str) {
    if !token.starts_with(prefix) || token.len() <= prefix.len() || token.chars().any(char::is_whitespace) {
        bad(var, format!("must be a token starting with `{prefix}`"));
    }
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn snowflake(v: &str) -> Option<u64> {
    v.trim().parse::<u64>().ok().filter(|n| *n > 0)
}

/// `FIRST-LAST/TOTAL`, `N/TOTAL`, or `per-pod:COUNT/TOTAL` with the pod index (a StatefulSet
/// ordinal) in `IMDSBOT_DISCORD_SHARD_INDEX`: pod i runs shards `i*COUNT ..= i*COUNT+COUNT-1`.
fn parse_shards(v: &str, index: Option<&str>) -> Result<ShardRange, (&'static str, String)> {
    let syntax = || {
        (
            "IMDSBOT_DISCORD_SHARDS",
            format!("`{v}` is not FIRST-LAST/TOTAL (FIRST <= LAST < TOTAL, e.g. 0-1/4) or per-pod:COUNT/TOTAL"),
        )
    };
    let (range, total) = v.split_once('/').ok_or_else(syntax)?;
    let total: u32 = total.trim().parse().map_err(|_| syntax())?;
    let (first, last) = if let Some(count) = range.trim().strip_prefix("per-pod:") {
        let count: u32 = count.trim().parse().ok().filter(|c| *c > 0).ok_or_else(syntax)?;
        let index = index.ok_or((
            "IMDSBOT_DISCORD_SHARD_INDEX",
            "must be set (the pod index) when IMDSBOT_DISCORD_SHARDS is per-pod:COUNT/TOTAL".to_string(),
        ))?;
        let i: u32 = index.trim().parse().map_err(|_| {
            (
                "IMDSBOT_DISCORD_SHARD_INDEX",
                format!("`{index}` is not a pod index (a number)"),
            )
        })?;
        let first = i.checked_mul(count).ok_or_else(syntax)?;
        (first, first + count - 1)
    } else if let Some((a, b)) = range.split_once('-') {
        (
            a.trim().parse().map_err(|_| syntax())?,
            b.trim().parse().map_err(|_| syntax())?,
        )
    } else {
        let n = range.trim().parse().map_err(|_| syntax())?;
        (n, n)
    };
    if first <= last && last < total {
        Ok(ShardRange { first, last, total })
    } else {
        Err(syntax())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, Vec<Problem>> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn empty_environment_configures_nothing() {
        let c = cfg(&[]).unwrap();
        assert!(!c.any_platform());
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
    }

    #[test]
    fn slack_and_discord() {
        let c = cfg(&[
            ("SLACK_BOT_TOKEN", "xoxb-1-2"),
            ("SLACK_SIGNING_SECRET", "s3cr3t"),
            ("IMDSBOT_SLACK_API_URL", "http://127.0.0.1:9/api/"),
            ("IMDSBOT_SLACK_CHANNELS", "C1, C2"),
            ("DISCORD_TOKEN", "abc.def.ghi"),
            ("IMDSBOT_DISCORD_CHANNELS", "123,456"),
            ("IMDSBOT_DISCORD_SHARDS", "0-1/4"),
        ])
        .unwrap();
        let s = c.slack.unwrap();
        assert_eq!(s.api_url, "http://127.0.0.1:9/api");
        assert_eq!(s.channels.unwrap(), vec!["C1", "C2"]);
        let d = c.discord.unwrap();
        assert_eq!(d.channels, vec![123, 456]);
        assert_eq!(
            d.shards,
            Some(ShardRange {
                first: 0,
                last: 1,
                total: 4
            })
        );
        assert!(!format!("{:?}", d.token).contains("abc"));
    }

    #[test]
    fn every_problem_names_its_variable() {
        let errs = cfg(&[
            ("SLACK_BOT_TOKEN", "xoxp-user-token"),
            ("IMDSBOT_LISTEN", "nope"),
            ("DISCORD_TOKEN", "Bot abc"),
            ("IMDSBOT_DISCORD_GUILD", "abc"),
            ("IMDSBOT_DISCORD_SHARDS", "3-1/2"),
        ])
        .unwrap_err();
        let vars: Vec<&str> = errs.iter().map(|p| p.var).collect();
        for v in [
            "SLACK_BOT_TOKEN",
            "SLACK_SIGNING_SECRET",
            "IMDSBOT_LISTEN",
            "DISCORD_TOKEN",
            "IMDSBOT_DISCORD_GUILD",
            "IMDSBOT_DISCORD_SHARDS",
        ] {
            assert!(vars.contains(&v), "{v} not in {vars:?}");
        }
        assert!(errs.iter().all(|p| !p.message.contains("xoxp-user-token")));
    }

    #[test]
    fn file_settings_are_overridden_by_the_environment() {
        let file = "listen = \"0.0.0.0:9000\"\n[slack]\nbot_token = \"xoxb-from-file\"\nsigning_secret = \"s\"\nchannels = [\"C1\", \"C2\"]\n[discord]\nguild = 42\ntoken = \"a.b.c\"\n";
        let l = Layered::new(|k| (k == "IMDSBOT_LISTEN").then(|| "127.0.0.1:7000".to_string()), file).unwrap();
        let c = l.config().unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:7000");
        assert_eq!(c.slack.unwrap().channels.unwrap(), vec!["C1", "C2"]);
        assert_eq!(c.discord.unwrap().guild, Some(42));
        let shown = l.describe();
        assert!(shown.contains("IMDSBOT_LISTEN"), "{shown}");
        assert!(
            shown.contains("[env]") && shown.contains("[file]") && shown.contains("[default]"),
            "{shown}"
        );
        assert!(!shown.contains("xoxb-from-file") && !shown.contains("a.b.c"), "{shown}");
    }

    #[test]
    fn unknown_file_keys_are_problems() {
        let errs = Layered::new(|_| None, "[slack]\nbot_tokn = \"x\"\nlisten = [1, {}]\n").unwrap_err();
        assert!(errs.iter().any(|p| p.message.contains("slack.bot_tokn")), "{errs:?}");
        assert!(Layered::new(|_| None, "listen = ").is_err());
    }
}

//! Runtime configuration of `imdsbot serve`, from environment variables.
//!
//! The variable names are a stable contract (external checks and deployments use them):
//! `SLACK_BOT_TOKEN`, `SLACK_SIGNING_SECRET`, `SLACK_APP_TOKEN`, `IMDSBOT_SLACK_API_URL`,
//! `IMDSBOT_SLACK_CHANNELS`, `DISCORD_TOKEN`, `IMDSBOT_DISCORD_API_URL`,
//! `IMDSBOT_DISCORD_CHANNELS`, `IMDSBOT_DISCORD_GUILD`, `IMDSBOT_DISCORD_SHARDS`,
//! `IMDSBOT_LISTEN`, `IMDSBOT_KB`, `IMDSBOT_KB_EXTRA`, `IMDSBOT_REDIS_URL`, `IMDSBOT_LOG_FORMAT`.
//!
//! Parsing collects every problem instead of stopping at the first, and every message names the
//! variable. Secrets are wrapped in [`Secret`], whose `Debug`/`Display` never show the value.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

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

        let listen = match get("IMDSBOT_LISTEN") {
            None => DEFAULT_LISTEN.parse().expect("valid default"),
            Some(v) => v.parse().unwrap_or_else(|_| {
                bad(
                    "IMDSBOT_LISTEN",
                    format!("`{v}` is not an address like 127.0.0.1:8080 or 0.0.0.0:8080"),
                );
                DEFAULT_LISTEN.parse().expect("valid default")
            }),
        };
        let log_format = match get("IMDSBOT_LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(v) => {
                bad("IMDSBOT_LOG_FORMAT", format!("`{v}` is not `text` or `json`"));
                LogFormat::Text
            }
        };
        let redis_url = get("IMDSBOT_REDIS_URL").map(|v| {
            if !(v.starts_with("redis://") || v.starts_with("rediss://") || v.starts_with("redis+unix://")) {
                bad(
                    "IMDSBOT_REDIS_URL",
                    "must start with redis://, rediss:// or redis+unix://".to_string(),
                );
            }
            Secret::new(v)
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
            let api_url = get("IMDSBOT_SLACK_API_URL").unwrap_or_else(|| DEFAULT_SLACK_API_URL.to_string());
            if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
                bad("IMDSBOT_SLACK_API_URL", format!("`{api_url}` is not an http(s) URL"));
            }
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
                api_url: api_url.trim_end_matches('/').to_string(),
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
            let api_url = get("IMDSBOT_DISCORD_API_URL").map(|v| {
                if !(v.starts_with("https://") || v.starts_with("http://")) {
                    bad("IMDSBOT_DISCORD_API_URL", format!("`{v}` is not an http(s) URL"));
                }
                v.trim_end_matches('/').to_string()
            });
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
            let guild = get("IMDSBOT_DISCORD_GUILD").and_then(|v| {
                let n = snowflake(&v);
                if n.is_none() {
                    bad("IMDSBOT_DISCORD_GUILD", format!("`{v}` is not a guild id (a number)"));
                }
                n
            });
            let shards = get("IMDSBOT_DISCORD_SHARDS").and_then(|v| {
                let r = parse_shards(&v);
                if r.is_none() {
                    bad(
                        "IMDSBOT_DISCORD_SHARDS",
                        format!("`{v}` is not FIRST-LAST/TOTAL with FIRST <= LAST < TOTAL, e.g. 0-1/4"),
                    );
                }
                r
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

fn parse_shards(v: &str) -> Option<ShardRange> {
    let (range, total) = v.split_once('/')?;
    let (first, last) = match range.split_once('-') {
        Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
        None => {
            let n = range.trim().parse().ok()?;
            (n, n)
        }
    };
    let total: u32 = total.trim().parse().ok()?;
    (first <= last && last < total).then_some(ShardRange { first, last, total })
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
}

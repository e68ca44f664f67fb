//! The Web API calls the bot makes (`auth.test`, `chat.postMessage`, `chat.postEphemeral`,
//! `response_url`), with one retry policy: 429 waits `Retry-After` then retries; 5xx,
//! timeouts and connection errors retry a bounded number of times with backoff; `ok:false`
//! is logged with Slack's error code and not retried unless Slack says it is transient.
//! Every outcome is counted in `imdsbot_replies_total{platform="slack",outcome}`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use super::pace::Pacer;
use super::{Identity, PLATFORM};
use crate::bot::Engine;
use crate::config::Secret;
use crate::render::slack::SlackMessage;

/// Hidden knob, for tests and benchmarks only: milliseconds between two messages to the same
/// channel. Default 1000 (Slack's pace of about one message per second per channel).
pub const PACE_ENV: &str = "IMDSBOT_SLACK_PACE_MS";
const DEFAULT_PACE: Duration = Duration::from_millis(1000);
/// Attempts of one call, the first included.
const MAX_ATTEMPTS: u32 = 5;
/// Limit of one HTTP exchange with Slack.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// First backoff after a 5xx, timeout or connection error; doubles each time.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Upper bound on a `Retry-After` we honour (and the wait when Slack gives none).
const RETRY_AFTER_MAX: Duration = Duration::from_secs(60);
const RETRY_AFTER_DEFAULT: Duration = Duration::from_secs(1);

pub(crate) type Client = SlackClient<SlackClientHyperHttpsConnector>;

/// Why a call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiFailure {
    /// `ok:false` with this error code (e.g. `not_in_channel`).
    Slack(String),
    /// Retries exhausted or a non-retryable HTTP status.
    Transport(String),
}

impl ApiFailure {
    /// The bot cannot post in the channel (not a member, or a private channel it cannot see).
    pub(crate) fn not_in_channel(&self) -> bool {
        matches!(self, ApiFailure::Slack(c) if c == "not_in_channel" || c == "channel_not_found")
    }
}

impl std::error::Error for ApiFailure {}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiFailure::Slack(code) => write!(f, "slack error `{code}`"),
            ApiFailure::Transport(why) => f.write_str(why),
        }
    }
}

/// The Web API client of the bot token.
pub(crate) struct Api {
    client: Arc<Client>,
    token: SlackApiToken,
    pacer: Pacer,
    engine: Arc<Engine>,
}

/// Builds a client for `api_url` that speaks https (production) and plain http (local fakes).
pub(crate) fn client(api_url: &str) -> anyhow::Result<Arc<Client>> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .context("cannot load the system's CA certificates")?
        // http as well as https, for a local Slack (tests); HTTP/2 over TLS as slack-morphism does.
        .https_or_http()
        .enable_http2()
        .build();
    Ok(Arc::new(SlackClient::new(
        SlackClientHyperConnector::with_connector(https).with_slack_api_url(api_url),
    )))
}

impl Api {
    pub(crate) fn new(api_url: &str, bot_token: &Secret, engine: Arc<Engine>) -> anyhow::Result<Api> {
        let pace = std::env::var(PACE_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(DEFAULT_PACE, Duration::from_millis);
        Ok(Api {
            client: client(api_url)?,
            token: SlackApiToken::new(bot_token.expose().into()),
            pacer: Pacer::new(pace),
            engine,
        })
    }

    pub(crate) fn client(&self) -> &Arc<Client> {
        &self.client
    }

    /// `auth.test`: the bot's own user and bot ids.
    pub(crate) async fn auth_test(&self) -> Result<Identity, ApiFailure> {
        let session = &self.client.open_session(&self.token);
        let r = self.call("auth.test", false, move || session.auth_test()).await?;
        Ok(Identity {
            user_id: r.user_id.to_string(),
            bot_id: r.bot_id.map(|b| b.to_string()),
        })
    }

    /// Posts one message in `channel` (in `thread_ts`'s thread when given); returns its `ts`.
    pub(crate) async fn post(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        msg: &SlackMessage,
    ) -> Result<String, ApiFailure> {
        let req =
            SlackApiChatPostMessageRequest::new(channel.into(), content(msg)).opt_thread_ts(thread_ts.map(Into::into));
        self.pacer.wait(channel).await;
        let (session, req) = (&self.client.open_session(&self.token), &req);
        let r = self
            .call("chat.postMessage", true, move || session.chat_post_message(req))
            .await?;
        Ok(r.ts.to_string())
    }

    /// Posts a rendered reply: the first message in `thread_ts`'s thread, or at the top of the
    /// channel when `None` (then the others go in its thread). Returns the thread's `ts`.
    /// Stops at the first failure, so a thread never has holes.
    pub(crate) async fn post_all(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        msgs: &[SlackMessage],
    ) -> Result<String, ApiFailure> {
        let mut thread = thread_ts.map(str::to_string);
        for m in msgs {
            let ts = self.post(channel, thread.as_deref(), m).await?;
            thread.get_or_insert(ts);
        }
        thread.ok_or_else(|| ApiFailure::Transport("nothing to post".to_string()))
    }

    /// Posts to a `response_url` (ephemeral to the user who acted, by default).
    pub(crate) async fn respond(&self, response_url: &SlackResponseUrl, msg: &SlackMessage) -> Result<(), ApiFailure> {
        // Never replace the message holding the button: add an ephemeral one.
        let req = SlackApiPostWebhookMessageRequest::new(content(msg)).with_replace_original(false);
        let (client, req) = (&self.client, &req);
        self.call("response_url", true, move || client.respond_to_event(response_url, req))
            .await
            .map(|_| ())
    }

    /// `chat.postEphemeral`: a message only `user` sees, in `thread_ts`'s thread when given.
    pub(crate) async fn ephemeral(
        &self,
        channel: &str,
        user: &str,
        thread_ts: Option<&str>,
        msg: &SlackMessage,
    ) -> Result<(), ApiFailure> {
        let req = SlackApiChatPostEphemeralRequest::new(channel.into(), user.into(), content(msg))
            .opt_thread_ts(thread_ts.map(Into::into));
        let (session, req) = (&self.client.open_session(&self.token), &req);
        self.call("chat.postEphemeral", true, move || session.chat_post_ephemeral(req))
            .await
            .map(|_| ())
    }

    /// Runs `f` under the retry policy; `chat` says whether it counts as a chat API call.
    async fn call<T, F: Future<Output = ClientResult<T>>>(
        &self,
        method: &'static str,
        chat: bool,
        f: impl Fn() -> F,
    ) -> Result<T, ApiFailure> {
        let metrics = self.engine.metrics();
        let count = |outcome: &str| {
            if chat {
                metrics.reply(PLATFORM.as_str(), outcome);
            }
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let started = std::time::Instant::now();
            let (wait, why) = match tokio::time::timeout(CALL_TIMEOUT, f()).await {
                Ok(Ok(v)) => {
                    count("sent");
                    tracing::debug!(
                        method,
                        attempt,
                        latency_ms = started.elapsed().as_millis() as u64,
                        "slack: ok"
                    );
                    return Ok(v);
                }
                Ok(Err(SlackClientError::RateLimitError(e))) => (
                    e.retry_after.unwrap_or(RETRY_AFTER_DEFAULT).min(RETRY_AFTER_MAX),
                    "rate limited (429)".to_string(),
                ),
                Ok(Err(SlackClientError::ApiError(e))) => {
                    if !transient(&e.code) {
                        count("failed");
                        tracing::warn!(method, error = %e.code, "slack: call refused");
                        return Err(ApiFailure::Slack(e.code));
                    }
                    (backoff(attempt), format!("slack error `{}`", e.code))
                }
                Ok(Err(SlackClientError::HttpError(e))) => {
                    let status = e.status_code;
                    if !status.is_server_error() && status.as_u16() != 408 {
                        count("failed");
                        tracing::warn!(method, status = status.as_u16(), "slack: call refused");
                        return Err(ApiFailure::Transport(format!("HTTP {status}")));
                    }
                    (backoff(attempt), format!("HTTP {status}"))
                }
                Ok(Err(e)) => (backoff(attempt), format!("connection: {}", kind(&e))),
                Err(_) => (backoff(attempt), format!("timed out after {}s", CALL_TIMEOUT.as_secs())),
            };
            if attempt >= MAX_ATTEMPTS {
                count("failed");
                tracing::error!(method, attempts = attempt, error = %why, "slack: giving up");
                return Err(ApiFailure::Transport(why));
            }
            count("retried");
            tracing::warn!(method, attempt, wait_ms = wait.as_millis() as u64, error = %why, "slack: retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

/// Error codes Slack documents as temporary.
fn transient(code: &str) -> bool {
    matches!(
        code,
        "ratelimited" | "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout"
    )
}

/// A short description of a client error that never includes a response body.
fn kind(e: &SlackClientError) -> &'static str {
    match e {
        SlackClientError::HttpProtocolError(_) => "protocol error",
        SlackClientError::SystemError(_) => "system error",
        SlackClientError::ProtocolError(_) => "unexpected response",
        _ => "error",
    }
}

fn backoff(attempt: u32) -> Duration {
    BACKOFF_BASE
        .saturating_mul(1 << attempt.saturating_sub(1).min(10))
        .min(BACKOFF_MAX)
}

/// The renderer's message as Block Kit content (text fallback + typed blocks).
pub(crate) fn content(msg: &SlackMessage) -> SlackMessageContent {
    let blocks = blocks(&msg.blocks);
    SlackMessageContent::new()
        .with_text(msg.text.clone())
        .opt_blocks((!blocks.is_empty()).then_some(blocks))
}

/// Converts rendered JSON blocks to slack-morphism's Block Kit types. A block the types do not
/// model is dropped with a warning rather than failing the message (the text fallback stays).
fn blocks(raw: &[Value]) -> Vec<SlackBlock> {
    raw.iter()
        .filter_map(|b| match serde_json::from_value::<SlackBlock>(b.clone()) {
            Ok(block) => Some(block),
            Err(e) => {
                tracing::warn!(block_type = ?b.get("type"), error = %e, "slack: block not representable, dropped");
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_blocks_survive_the_typed_model() {
        let kb = crate::knowledge::load::load(&crate::knowledge::load::KbSource::Embedded, &[]).expect("kb");
        let d = crate::diagnose(
            &kb,
            b"curl http://169.254.169.254/latest/meta-data/iam/security-credentials/\n< HTTP/1.1 401 Unauthorized\nIMDSv2 is required (HttpTokens=required)",
            crate::MatchMode::Command,
        );
        let reply = crate::reply::build(&kb, &d).expect("a reply");
        for m in crate::render::slack::render(&reply) {
            let typed = serde_json::to_value(blocks(&m.blocks)).expect("serialize");
            assert_eq!(typed, Value::Array(m.blocks.clone()));
        }
    }

    #[test]
    fn backoff_is_bounded() {
        assert_eq!(backoff(1), BACKOFF_BASE);
        assert_eq!(backoff(2), BACKOFF_BASE * 2);
        assert_eq!(backoff(40), BACKOFF_MAX);
    }
}

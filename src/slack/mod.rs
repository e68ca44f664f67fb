//! The Slack adapter: `/imds`, auto-replies to pasted errors in watched channels, and buttons,
//! over the Events API (HTTP, signed requests) and Socket Mode, both feeding the same handlers.
//!
//! Every decision (answer or stay silent, duplicates, cooldowns, feedback) is the engine's; this
//! module translates Slack payloads into engine calls and posts the rendered reply through the
//! Web API (`api.rs`: retries, rate limits, per-channel pace). Handlers ack first and answer in a
//! task tracked by the runtime, so shutdown waits for answers in flight.
//!
//! Never logs message text: only ids, scenario ids, verdicts, error codes and latencies.

mod api;
mod commands;
mod events;
mod http;
mod interact;
mod pace;
mod socket;

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;

use crate::bot::Platform;
use crate::config::SlackConfig;
use crate::serve::Runtime;

pub use api::PACE_ENV;

const PLATFORM: Platform = Platform::Slack;
/// Readiness component of the Web API identity (`auth.test`) and the HTTP endpoints.
pub const READY_API: &str = "slack";
/// Readiness component of the Socket Mode connection.
pub const READY_SOCKET: &str = "slack-socket-mode";

/// Who the bot is, from `auth.test`: its own messages must never be answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Identity {
    /// The bot user's id (`U…`).
    pub user_id: String,
    /// The bot id (`B…`), when Slack reports one.
    pub bot_id: Option<String>,
}

/// State shared by both transports.
pub(crate) struct Slack {
    rt: Runtime,
    api: api::Api,
    me: Identity,
    /// `IMDSBOT_SLACK_CHANNELS`; `None` = every channel the bot is a member of.
    channels: Option<HashSet<String>>,
}

impl Slack {
    fn watches(&self, channel: &str) -> bool {
        self.channels.as_ref().is_none_or(|c| c.contains(channel))
    }
}

/// Starts Slack: learns the bot's identity with `auth.test`, connects Socket Mode when
/// `SLACK_APP_TOKEN` is set, and returns the HTTP routes (`/slack/events`, `/slack/commands`,
/// `/slack/interactivity`; empty without `SLACK_SIGNING_SECRET`) to merge into the server.
pub async fn start(config: &SlackConfig, rt: &Runtime) -> anyhow::Result<Router> {
    rt.ready.register(READY_API);
    if config.app_token.is_some() {
        rt.ready.register(READY_SOCKET);
    }
    let api = api::Api::new(&config.api_url, &config.bot_token, rt.engine.clone())?;
    let me = api
        .auth_test()
        .await
        .context("SLACK_BOT_TOKEN: auth.test failed (is the token valid and IMDSBOT_SLACK_API_URL right?)")?;
    tracing::info!(user_id = %me.user_id, bot_id = ?me.bot_id, "slack: authenticated");
    let slack = Arc::new(Slack {
        rt: rt.clone(),
        api,
        me,
        channels: config.channels.as_ref().map(|c| c.iter().cloned().collect()),
    });
    if let Some(app_token) = &config.app_token {
        socket::start(slack.clone(), app_token)
            .await
            .context("SLACK_APP_TOKEN: cannot start Socket Mode")?;
    }
    rt.ready.set(READY_API, true);
    Ok(match &config.signing_secret {
        Some(secret) => http::router(slack, secret),
        None => Router::new(),
    })
}

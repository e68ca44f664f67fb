//! The Discord adapter: a serenity 0.12 gateway client that maps Discord events to [`Engine`]
//! calls and posts what [`crate::render::discord`] renders.
//!
//! - `/imds` (subcommands `ask`, `explain`, `escalate`, `list`, `help`; see [`commands`]) is
//!   answered in the interaction response with the headline; the details go into a thread
//!   started from that answer (or in place when the command is used inside a thread).
//! - Messages in the watched channels (`IMDSBOT_DISCORD_CHANNELS`) that the engine is confident
//!   about get a thread from the message; everything else gets no REST call at all.
//! - Mentions of the bot and direct messages are answered like `/imds ask`.
//! - Buttons (`pick:`, `escalate:`, `helpful:`, `wrong:`) go to [`Engine::action`].
//!
//! The only seam for tests is `IMDSBOT_DISCORD_API_URL`: serenity's REST base is rewritten to
//! it (and its ratelimiter, which ignores a custom base, is disabled); the gateway URL then
//! comes from that server's `GET /api/v10/gateway/bot`.
//!
//! This module never logs message text: only ids, scenario ids, verdicts and latencies.
//!
//! [`Engine`]: crate::bot::Engine
//! [`Engine::action`]: crate::bot::Engine::action

pub mod commands;
mod handler;
pub mod invite;

use std::sync::Arc;

use anyhow::bail;
use serenity::client::ClientBuilder;
use serenity::gateway::GatewayError;
use serenity::http::{Http, HttpBuilder};
use serenity::model::gateway::GatewayIntents;

use crate::config::DiscordConfig;
use crate::serve::Runtime;

pub use invite::{PERMISSIONS, invite_url};

/// Name of the Discord component in `/readyz`.
pub const READY_NAME: &str = "discord";

/// Intents without the privileged message-content intent. `GUILDS` delivers thread
/// creations so a message can be recognised as being in a thread without a REST call.
pub const BASE_INTENTS: GatewayIntents = GatewayIntents::GUILDS
    .union(GatewayIntents::GUILD_MESSAGES)
    .union(GatewayIntents::DIRECT_MESSAGES);

/// Everything the bot asks for by default: [`BASE_INTENTS`] plus `MESSAGE_CONTENT`, which
/// auto-replies need (and which must be enabled in the developer portal).
pub const INTENTS: GatewayIntents = BASE_INTENTS.union(GatewayIntents::MESSAGE_CONTENT);

/// The REST client: the real API with serenity's ratelimiter, or `api_url` without it
/// (serenity ignores a custom base while its ratelimiter is on).
pub fn http(config: &DiscordConfig) -> Http {
    let b = HttpBuilder::new(config.token.expose());
    match &config.api_url {
        Some(url) => b.proxy(url.as_str()).ratelimiter_disabled(true).build(),
        None => b.build(),
    }
}

/// Checks the token, then runs the gateway in the background until `rt.shutdown`.
///
/// Errors (naming `DISCORD_TOKEN`) when Discord rejects the token, so `imdsbot serve` fails at
/// startup instead of running a bot that can never connect.
pub async fn start(config: DiscordConfig, rt: &Runtime) -> anyhow::Result<()> {
    rt.ready.register(READY_NAME);
    let me = match http(&config).get_current_user().await {
        Ok(me) => me,
        Err(e) if status(&e) == Some(401) => bail!(
            "DISCORD_TOKEN: Discord rejected the bot token (401 Unauthorized); copy it again from the developer portal (Bot > Reset Token)"
        ),
        Err(e) => bail!("DISCORD_TOKEN: cannot check the bot token with Discord: {e}"),
    };
    tracing::info!(bot = %me.id, watched = config.channels.len(), "discord: token accepted");
    let shared = Arc::new(handler::Shared::new(&config, rt.clone(), me.id));
    let rt = rt.clone();
    tokio::spawn(async move { run_gateway(config, shared, rt).await });
    Ok(())
}

/// Connects (autosharded, or the configured shard range) and reconnects without
/// `MESSAGE_CONTENT` when Discord closes with 4014 (intent not enabled in the portal).
async fn run_gateway(config: DiscordConfig, shared: Arc<handler::Shared>, rt: Runtime) {
    let mut intents = INTENTS;
    loop {
        shared.set_content_intent(intents.contains(GatewayIntents::MESSAGE_CONTENT));
        let built = ClientBuilder::new_with_http(http(&config), intents)
            .event_handler(handler::Events(shared.clone()))
            .await;
        let mut client = match built {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "discord: cannot build the gateway client");
                return;
            }
        };
        let manager = client.shard_manager.clone();
        let result = tokio::select! {
            r = async {
                match config.shards {
                    // serenity treats the range's end as inclusive.
                    Some(s) => client.start_shard_range(s.first..s.last, s.total).await,
                    None => client.start_autosharded().await,
                }
            } => r,
            () = rt.shutdown.cancelled() => {
                manager.shutdown_all().await;
                return;
            }
        };
        manager.shutdown_all().await;
        rt.ready.set(READY_NAME, false);
        match result {
            Err(serenity::Error::Gateway(GatewayError::DisallowedGatewayIntents))
                if intents.contains(GatewayIntents::MESSAGE_CONTENT) =>
            {
                tracing::error!(
                    "discord: the Message Content intent is not enabled for this bot (gateway close 4014): \
                     auto-replies in IMDSBOT_DISCORD_CHANNELS are OFF; /imds, mentions and DMs keep working. \
                     Enable it in the developer portal (Bot > Privileged Gateway Intents > Message Content) and restart"
                );
                intents.remove(GatewayIntents::MESSAGE_CONTENT);
            }
            Err(serenity::Error::Gateway(GatewayError::InvalidAuthentication)) => {
                tracing::error!("discord: DISCORD_TOKEN was rejected by the gateway (close 4004); not reconnecting");
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "discord: the gateway stopped");
                return;
            }
            Ok(()) => return,
        }
    }
}

/// The HTTP status of a failed REST call, if Discord answered.
pub(crate) fn status(e: &serenity::Error) -> Option<u16> {
    match e {
        serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(r)) => Some(r.status_code.as_u16()),
        _ => None,
    }
}

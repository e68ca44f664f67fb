//! Socket Mode: `apps.connections.open` with the app token (through the same API base URL),
//! then a WebSocket on which Slack sends envelopes. The callbacks hand each payload to the same
//! handlers as the HTTP endpoints and return at once, so the envelope is acked before the
//! answer is prepared.

use std::sync::Arc;

use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use super::api::Client;
use super::{READY_SOCKET, Slack};
use crate::config::Secret;

type Connector = SlackClientHyperHttpsConnector;

/// Connects and keeps the connection(s) until shutdown.
pub(crate) async fn start(slack: Arc<Slack>, app_token: &Secret) -> anyhow::Result<()> {
    let callbacks = SlackSocketModeListenerCallbacks::<Connector>::new()
        .with_hello_events(on_hello)
        .with_push_events(on_push)
        .with_command_events(on_command)
        .with_interaction_events(on_interaction);
    let env = Arc::new(
        SlackClientEventsListenerEnvironment::new(slack.api.client().clone())
            .with_error_handler(on_error)
            .with_user_state(slack.clone()),
    );
    let listener = SlackClientSocketModeListener::new(&SlackClientSocketModeConfig::new(), env, callbacks);
    listener
        .listen_for(&SlackApiToken::new(app_token.expose().into()))
        .await
        .map_err(|e| anyhow::anyhow!("apps.connections.open failed: {}", describe(&e)))?;
    listener.start().await;
    let shutdown = slack.rt.shutdown.clone();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        listener.shutdown().await;
        tracing::info!("slack: Socket Mode closed");
    });
    Ok(())
}

fn describe(e: &SlackClientError) -> String {
    match e {
        SlackClientError::ApiError(a) => format!("slack error `{}`", a.code),
        SlackClientError::HttpError(h) => format!("HTTP {}", h.status_code),
        _ => "connection error".to_string(),
    }
}

async fn state(states: &SlackClientEventsUserState) -> Option<Arc<Slack>> {
    states.read().await.get_user_state::<Arc<Slack>>().cloned()
}

/// The state, unless the bot is shutting down (then envelopes are acked and dropped).
async fn taking_events(states: &SlackClientEventsUserState) -> Option<Arc<Slack>> {
    state(states).await.filter(|s| !s.rt.shutdown.is_cancelled())
}

/// Generic over the event: slack-morphism does not export the hello event's type.
async fn on_hello<E>(_ev: E, _client: Arc<Client>, states: SlackClientEventsUserState) {
    if let Some(slack) = state(&states).await {
        tracing::info!("slack: Socket Mode connected");
        slack.rt.ready.set(READY_SOCKET, true);
    }
}

async fn on_push(
    ev: SlackPushEventCallback,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    if let Some(slack) = taking_events(&states).await {
        super::events::on_push(&slack, ev, false);
    }
    Ok(())
}

async fn on_command(
    ev: SlackCommandEvent,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let ack = match taking_events(&states).await {
        Some(slack) => super::commands::on_command(&slack, ev),
        None => None,
    };
    // No text: an empty ack (the answer follows through response_url).
    Ok(match ack {
        Some(text) => SlackCommandEventResponse::new(SlackMessageContent::new().with_text(text.to_string()))
            .with_response_type(SlackMessageResponseType::Ephemeral),
        None => SlackCommandEventResponse::new(SlackMessageContent::new()),
    })
}

async fn on_interaction(
    ev: SlackInteractionEvent,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    if let Some(slack) = taking_events(&states).await {
        super::interact::on_interaction(&slack, ev);
    }
    Ok(())
}

fn on_error(
    err: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<Client>,
    _states: SlackClientEventsUserState,
) -> HttpStatusCode {
    // The error may quote the payload: log its kind only.
    tracing::warn!(error_type = %std::any::type_name_of_val(&*err), "slack: Socket Mode listener error");
    HttpStatusCode::OK
}

//! The Events API over HTTP: `POST /slack/events`, `/slack/commands`, `/slack/interactivity`.
//!
//! Each request is verified with the signing secret over the raw body before anything is
//! parsed (401 and no processing for a missing, forged or stale signature), then acked at
//! once; the answer is posted by a task.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::json;
use slack_morphism::prelude::*;
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;

use super::Slack;
use crate::config::Secret;

/// Request bodies accepted (a 1 MiB paste is about 1.1 MiB once JSON-escaped).
const BODY_MAX: usize = 4 * 1024 * 1024;

#[derive(Clone)]
struct Endpoint {
    slack: Arc<Slack>,
    verifier: Arc<SlackEventSignatureVerifier>,
}

/// The three Slack routes, verified with `secret`.
pub(crate) fn router(slack: Arc<Slack>, secret: &Secret) -> Router {
    let verifier = SlackEventSignatureVerifier::new(&SlackSigningSecret::new(secret.expose().to_string()));
    Router::new()
        .route("/slack/events", post(events))
        .route("/slack/commands", post(commands))
        .route("/slack/interactivity", post(interactivity))
        .layer(DefaultBodyLimit::max(BODY_MAX))
        .with_state(Endpoint {
            slack,
            verifier: Arc::new(verifier),
        })
}

/// Why a request is not processed.
enum Refusal {
    Signature,
    ShuttingDown,
    Malformed(&'static str),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Signature => (StatusCode::UNAUTHORIZED, "invalid or stale Slack signature\n").into_response(),
            Refusal::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response(),
            Refusal::Malformed(what) => (StatusCode::BAD_REQUEST, format!("unreadable {what}\n")).into_response(),
        }
    }
}

impl Endpoint {
    /// Checks the signature over the raw body and that the bot still takes events.
    fn admit<'b>(&self, headers: &HeaderMap, body: &'b Bytes) -> Result<&'b str, Refusal> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(sig), Some(ts)) = (
            header(SlackEventSignatureVerifier::SLACK_SIGNED_HASH_HEADER),
            header(SlackEventSignatureVerifier::SLACK_SIGNED_TIMESTAMP),
        ) else {
            tracing::warn!("slack: request without signature refused");
            return Err(Refusal::Signature);
        };
        let body = std::str::from_utf8(body).map_err(|_| Refusal::Signature)?;
        if let Err(e) = self.verifier.verify(sig, body, ts) {
            tracing::warn!(error = %e, "slack: request with a bad signature refused");
            return Err(Refusal::Signature);
        }
        if self.slack.rt.shutdown.is_cancelled() {
            return Err(Refusal::ShuttingDown);
        }
        Ok(body)
    }
}

async fn events(State(ep): State<Endpoint>, headers: HeaderMap, body: Bytes) -> Result<Response, Refusal> {
    let body = ep.admit(&headers, &body)?;
    let event: SlackPushEvent = serde_json::from_str(body).map_err(|_| Refusal::Malformed("event"))?;
    match event {
        SlackPushEvent::UrlVerification(v) => Ok(axum::Json(json!({"challenge": v.challenge})).into_response()),
        SlackPushEvent::EventCallback(cb) => {
            let retry = headers.contains_key("x-slack-retry-num");
            super::events::on_push(&ep.slack, cb, retry);
            Ok(StatusCode::OK.into_response())
        }
        SlackPushEvent::AppRateLimited(_) => {
            tracing::warn!("slack: Slack reports the app exceeded the Events API rate limit");
            Ok(StatusCode::OK.into_response())
        }
    }
}

async fn commands(State(ep): State<Endpoint>, headers: HeaderMap, body: Bytes) -> Result<Response, Refusal> {
    let body = ep.admit(&headers, &body)?;
    let cmd: SlackCommandEvent = serde_urlencoded::from_str(body).map_err(|_| Refusal::Malformed("command"))?;
    Ok(match super::commands::on_command(&ep.slack, cmd) {
        Some(text) => axum::Json(json!({"response_type": "ephemeral", "text": text})).into_response(),
        None => StatusCode::OK.into_response(),
    })
}

#[derive(Deserialize)]
struct InteractionForm {
    payload: String,
}

async fn interactivity(State(ep): State<Endpoint>, headers: HeaderMap, body: Bytes) -> Result<Response, Refusal> {
    let body = ep.admit(&headers, &body)?;
    let form: InteractionForm = serde_urlencoded::from_str(body).map_err(|_| Refusal::Malformed("interaction"))?;
    let ev: SlackInteractionEvent =
        serde_json::from_str(&form.payload).map_err(|_| Refusal::Malformed("interaction payload"))?;
    super::interact::on_interaction(&ep.slack, ev);
    Ok(StatusCode::OK.into_response())
}

//! Buttons (`block_actions`): a pick-list choice or "Escalate" posts in the button's thread;
//! feedback is acknowledged to the clicking user only.

use std::sync::Arc;

use slack_morphism::prelude::*;

use super::{PLATFORM, Slack};
use crate::bot::{ActionOutcome, Place};
use crate::render::slack::{SlackMessage, render};

/// A click, reduced to what the engine needs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Click {
    pub action_id: String,
    pub channel: String,
    /// The thread holding the button: the message's `thread_ts`, else its own `ts`.
    pub thread: String,
    pub user: String,
    pub ephemeral: bool,
    pub response_url: Option<SlackResponseUrl>,
    /// Unique per click, for duplicate deliveries.
    pub key: String,
}

pub(crate) fn clicks(ev: &SlackInteractionBlockActionsEvent) -> Vec<Click> {
    let SlackInteractionActionContainer::Message(container) = &ev.container else {
        return Vec::new();
    };
    let Some(channel) = container.channel_id.as_ref().or(ev.channel.as_ref().map(|c| &c.id)) else {
        return Vec::new();
    };
    let thread = ev
        .message
        .as_ref()
        .and_then(|m| m.origin.thread_ts.clone())
        .unwrap_or_else(|| container.message_ts.clone());
    let user = ev.user.as_ref().map(|u| u.id.to_string()).unwrap_or_default();
    ev.actions
        .iter()
        .flatten()
        .map(|a| Click {
            action_id: a.action_id.to_string(),
            channel: channel.to_string(),
            thread: thread.to_string(),
            user: user.clone(),
            ephemeral: container.is_ephemeral == Some(true),
            response_url: ev.response_url.clone(),
            key: format!(
                "action:{}:{}:{}",
                ev.trigger_id,
                a.action_id,
                a.action_ts.as_ref().map(|t| t.to_string()).unwrap_or_default()
            ),
        })
        .collect()
}

/// Handles an interaction payload; returns at once, the work happens in a task.
pub(crate) fn on_interaction(slack: &Arc<Slack>, ev: SlackInteractionEvent) {
    let SlackInteractionEvent::BlockActions(ev) = ev else {
        return;
    };
    for click in clicks(&ev) {
        let slack = slack.clone();
        slack.rt.tasks.clone().spawn(async move { answer(&slack, click).await });
    }
}

async fn answer(slack: &Slack, c: Click) {
    if !slack.rt.engine.first_delivery(PLATFORM, &c.key, "interaction").await {
        return;
    }
    let place = Place {
        channel: &c.channel,
        thread: &c.thread,
    };
    let result = match slack.rt.engine.action(PLATFORM, place, &c.action_id, &c.user) {
        ActionOutcome::Reply(reply) => {
            let msgs = render(&reply);
            match (&c.response_url, c.ephemeral) {
                (Some(url), true) => {
                    let mut r = Ok(());
                    for m in &msgs {
                        r = slack.api.respond(url, m).await;
                        if r.is_err() {
                            break;
                        }
                    }
                    r
                }
                _ => slack.api.post_all(&c.channel, Some(&c.thread), &msgs).await.map(|_| ()),
            }
        }
        ActionOutcome::Acknowledged(text) | ActionOutcome::Unknown(text) => {
            let msg = SlackMessage {
                text,
                blocks: Vec::new(),
            };
            match &c.response_url {
                Some(url) => slack.api.respond(url, &msg).await,
                None => slack.api.ephemeral(&c.channel, &c.user, Some(&c.thread), &msg).await,
            }
        }
    };
    match result {
        Ok(()) => tracing::info!(channel = %c.channel, action = %c.action_id, "slack: button handled"),
        Err(e) => {
            tracing::error!(channel = %c.channel, action = %c.action_id, error = %e, "slack: button answer not posted")
        }
    }
}

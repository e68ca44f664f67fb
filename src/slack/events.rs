//! Events API `message` events: pasted errors in watched channels get an answer in their
//! thread when the engine is confident; everything else gets silence and no API call.

use std::sync::Arc;

use slack_morphism::prelude::*;

use super::{Identity, PLATFORM, Slack};
use crate::bot::{AutoOutcome, Place};

/// A message worth showing to the engine.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Paste {
    pub channel: String,
    /// The thread an answer belongs in: the message's `thread_ts`, else its `ts`.
    pub thread: String,
    pub text: String,
}

/// Picks the messages a human pasted: no subtypes (edits, joins, bot messages…), no bots, not
/// the bot itself, only watched channels.
pub(crate) fn paste(me: &Identity, watches: impl Fn(&str) -> bool, ev: &SlackMessageEvent) -> Option<Paste> {
    if ev.subtype.is_some() || ev.hidden == Some(true) || ev.message.is_some() {
        return None;
    }
    if ev.sender.bot_id.is_some() || ev.sender.bot_profile.is_some() {
        return None;
    }
    let user = ev.sender.user.as_ref()?;
    if user.0 == me.user_id {
        return None;
    }
    let channel = ev.origin.channel.as_ref()?;
    if !watches(&channel.0) {
        return None;
    }
    let text = ev.content.as_ref()?.text.as_ref()?;
    if text.trim().is_empty() {
        return None;
    }
    let ts = &ev.origin.ts;
    Some(Paste {
        channel: channel.0.clone(),
        thread: ev.origin.thread_ts.as_ref().unwrap_or(ts).0.clone(),
        text: text.clone(),
    })
}

/// Handles an `event_callback`; returns at once, the answer (if any) is posted by a task.
/// `retry` is true for deliveries Slack marked as retries.
pub(crate) fn on_push(slack: &Arc<Slack>, ev: SlackPushEventCallback, retry: bool) {
    let SlackEventCallbackBody::Message(msg) = &ev.event else {
        return;
    };
    let Some(p) = paste(&slack.me, |c| slack.watches(c), msg) else {
        tracing::debug!(event_id = %ev.event_id, "slack: message ignored");
        return;
    };
    let slack = slack.clone();
    let event_id = ev.event_id.to_string();
    slack.rt.tasks.clone().spawn(async move {
        let reason = if retry { "retry" } else { "event" };
        if !slack.rt.engine.first_delivery(PLATFORM, &event_id, reason).await {
            return;
        }
        let text = crate::text::unescape_chat(&p.text);
        let place = Place {
            channel: &p.channel,
            thread: &p.thread,
        };
        match slack.rt.engine.auto(PLATFORM, place, text.as_bytes()).await {
            AutoOutcome::Silent(why) => {
                tracing::debug!(event_id, channel = %p.channel, silence = ?why, "slack: no auto-reply");
            }
            AutoOutcome::Reply(reply) => {
                let msgs = crate::render::slack::render(&reply);
                match slack.api.post_all(&p.channel, Some(&p.thread), &msgs).await {
                    Ok(_) => tracing::info!(event_id, channel = %p.channel, messages = msgs.len(), "slack: answered in thread"),
                    Err(e) => tracing::error!(event_id, channel = %p.channel, error = %e, "slack: auto-reply not posted"),
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: serde_json::Value) -> SlackMessageEvent {
        serde_json::from_value(json).expect("a message event")
    }

    fn me() -> Identity {
        Identity {
            user_id: "UBOT".into(),
            bot_id: Some("BBOT".into()),
        }
    }

    #[test]
    fn picks_human_pastes_only() {
        let base = serde_json::json!({"type":"message","channel":"C1","user":"U1","text":"x","ts":"1.1"});
        let p = paste(&me(), |_| true, &event(base.clone())).expect("a paste");
        assert_eq!(p.thread, "1.1");
        let mut threaded = base.clone();
        threaded["thread_ts"] = "0.5".into();
        assert_eq!(paste(&me(), |_| true, &event(threaded)).expect("a paste").thread, "0.5");
        for (k, v) in [
            ("subtype", serde_json::json!("channel_join")),
            ("bot_id", serde_json::json!("B2")),
            ("user", serde_json::json!("UBOT")),
            ("text", serde_json::json!("   ")),
        ] {
            let mut e = base.clone();
            e[k] = v;
            assert_eq!(paste(&me(), |_| true, &event(e)), None, "{k}");
        }
        assert_eq!(paste(&me(), |c| c == "C2", &event(base)), None);
    }
}

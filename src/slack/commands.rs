//! `/imds`: acknowledged at once; `help` and `list` answer ephemerally through `response_url`;
//! everything else is posted in the channel with `chat.postMessage` (slash commands carry no
//! thread and `response_url` returns no `ts`), with its details in the new message's thread.
//! When the bot is not in the channel the answer goes to the user alone, with how to invite it.

use std::sync::Arc;

use slack_morphism::prelude::*;

use super::{PLATFORM, Slack};
use crate::bot::{Command, Place};
use crate::render::slack::{BLOCKS_MAX, SlackMessage, render};

/// How users type the command (for help texts).
pub(crate) const COMMAND: &str = "/imds";
/// Posts Slack accepts on one `response_url`.
const RESPONSE_URL_POSTS_MAX: usize = 5;

/// What to say while the answer is being prepared (only the user sees it).
const WORKING: &str = "Looking into it…";

/// Handles a slash command; returns the ephemeral ack text (if any) at once and answers in a
/// task.
pub(crate) fn on_command(slack: &Arc<Slack>, ev: SlackCommandEvent) -> Option<&'static str> {
    let text = crate::text::unescape_chat(ev.text.as_deref().unwrap_or_default());
    let public = !matches!(Command::parse(&text), Command::Help | Command::List);
    let slack2 = slack.clone();
    slack.rt.tasks.spawn(async move {
        let slack = slack2;
        let out = slack.rt.engine.command(PLATFORM, COMMAND, &text).await;
        let msgs = render(&out.reply);
        let channel = ev.channel_id.to_string();
        if !public {
            respond_all(&slack, &ev.response_url, msgs).await;
            return;
        }
        match slack.api.post_all(&channel, None, &msgs).await {
            Ok(thread) => {
                if let Some(d) = out.diagnosis {
                    slack.rt.engine.remember(
                        PLATFORM,
                        Place {
                            channel: &channel,
                            thread: &thread,
                        },
                        d,
                    );
                }
                tracing::info!(channel, thread, messages = msgs.len(), "slack: command answered");
            }
            Err(e) if e.not_in_channel() => {
                tracing::info!(channel, "slack: not in channel, answering ephemerally");
                let mut all = vec![invite_hint()];
                all.extend(msgs);
                respond_all(&slack, &ev.response_url, all).await;
            }
            Err(e) => {
                tracing::error!(channel, error = %e, "slack: command answer not posted");
                let sorry = SlackMessage {
                    text: "Sorry, I could not post the answer in this channel (Slack refused or is unavailable). Please try again in a minute.".to_string(),
                    blocks: Vec::new(),
                };
                respond_all(&slack, &ev.response_url, vec![sorry]).await;
            }
        }
    });
    public.then_some(WORKING)
}

fn invite_hint() -> SlackMessage {
    SlackMessage {
        text: "I am not a member of this channel, so only you can see this answer. Invite me with `/invite @imdsbot` (or mention me and choose \"Invite\") to have answers posted in the channel with the details in a thread.".to_string(),
        blocks: Vec::new(),
    }
}

/// Posts messages through a `response_url`, folding them into the few posts Slack accepts.
async fn respond_all(slack: &Slack, url: &SlackResponseUrl, msgs: Vec<SlackMessage>) {
    for m in fold(msgs, RESPONSE_URL_POSTS_MAX) {
        if let Err(e) = slack.api.respond(url, &m).await {
            tracing::error!(error = %e, "slack: response_url post failed");
            return;
        }
    }
}

/// Merges consecutive messages (text-only ones become section blocks) while there are more
/// than `max` and the blocks fit, so nothing is dropped.
fn fold(msgs: Vec<SlackMessage>, max: usize) -> Vec<SlackMessage> {
    let mut out: Vec<SlackMessage> = Vec::new();
    let remaining = msgs.len();
    for (i, m) in msgs.into_iter().enumerate() {
        let m = if m.blocks.is_empty() {
            SlackMessage {
                blocks: vec![serde_json::json!({"type":"section","text":{"type":"mrkdwn","text": m.text}})],
                text: m.text,
            }
        } else {
            m
        };
        let left = remaining - i;
        let posts = out.len();
        match out.last_mut() {
            Some(last) if posts + left > max && last.blocks.len() + m.blocks.len() <= BLOCKS_MAX => {
                last.blocks.extend(m.blocks);
            }
            _ => out.push(m),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(n: usize) -> SlackMessage {
        SlackMessage {
            text: format!("m{n}"),
            blocks: vec![serde_json::json!({"type":"section","text":{"type":"mrkdwn","text": format!("b{n}")}})],
        }
    }

    #[test]
    fn folds_into_few_posts_without_dropping() {
        let out = fold((0..8).map(msg).collect(), 5);
        assert_eq!(out.len(), 5);
        assert_eq!(out.iter().map(|m| m.blocks.len()).sum::<usize>(), 8);
        assert_eq!(fold((0..3).map(msg).collect(), 5).len(), 3);
    }
}

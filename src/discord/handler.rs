//! serenity's `EventHandler`: gateway events in, [`Engine`] calls, rendered messages out.
//!
//! Decisions stay in the engine; this file only knows where a Discord message goes (which
//! thread, which interaction) and sends the payloads `render::discord` built, unchanged, so the
//! limits the renderer enforces are the limits on the wire.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};
use serenity::all::{
    ChannelId, ChannelType, CommandInteraction, ComponentInteraction, Context, EventHandler, GuildChannel, GuildId,
    Interaction, Message, MessageId, Ready, ShardStageUpdateEvent, UserId,
};
use serenity::builder::{CreateAutocompleteResponse, CreateInteractionResponse};
use serenity::gateway::ConnectionStage;
use serenity::http::Http;
use serenity::model::guild::Guild;

use super::{READY_NAME, commands};
use crate::bot::{ActionOutcome, AutoOutcome, Place, Platform};
use crate::config::DiscordConfig;
use crate::render::discord::{CONTENT_MAX, DiscordMessage, clip, render};
use crate::reply::Reply;
use crate::serve::Runtime;

const P: Platform = Platform::Discord;
/// Characters of a thread name.
const THREAD_NAME_MAX: usize = 100;
/// Threads the bot starts archive after a day without activity.
const AUTO_ARCHIVE_MINUTES: u16 = 1440;
/// Interaction response type: a message.
const RESPONSE_MESSAGE: u8 = 4;
/// Interaction response type: acknowledge a click without changing the message.
const RESPONSE_DEFERRED_UPDATE: u8 = 6;
/// Message flag: only the clicking user sees it.
const FLAG_EPHEMERAL: u64 = 1 << 6;
/// How the bot is addressed in help texts of mention answers.
const MENTION_INVOCATION: &str = "@imdsbot";

/// State shared by every event.
pub(crate) struct Shared {
    rt: Runtime,
    watched: HashSet<ChannelId>,
    guild: Option<GuildId>,
    bot: UserId,
    content_intent: AtomicBool,
    registered: AtomicBool,
    /// Thread id -> parent channel id, from THREAD_CREATE, GUILD_CREATE and threads we started.
    threads: Mutex<HashMap<ChannelId, ChannelId>>,
}

impl Shared {
    pub(crate) fn new(config: &DiscordConfig, rt: Runtime, bot: UserId) -> Shared {
        Shared {
            rt,
            watched: config.channels.iter().map(|c| ChannelId::new(*c)).collect(),
            guild: config.guild.map(GuildId::new),
            bot,
            content_intent: AtomicBool::new(true),
            registered: AtomicBool::new(false),
            threads: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn set_content_intent(&self, on: bool) {
        self.content_intent.store(on, Ordering::Relaxed);
    }

    fn parent_of(&self, thread: ChannelId) -> Option<ChannelId> {
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&thread)
            .copied()
    }

    fn add_thread(&self, thread: ChannelId, parent: ChannelId) {
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(thread, parent);
    }
}

/// The serenity event handler.
pub(crate) struct Events(pub(crate) Arc<Shared>);

#[serenity::async_trait]
impl EventHandler for Events {
    async fn ready(&self, ctx: Context, ready: Ready) {
        let s = &self.0;
        tracing::info!(
            shard = ?ready.shard.map(|s| s.id.0),
            guilds = ready.guilds.len(),
            message_content = s.content_intent.load(Ordering::Relaxed),
            "discord: connected"
        );
        if !s.registered.swap(true, Ordering::SeqCst)
            && let Err(e) = register(&ctx.http, s.guild).await
        {
            s.registered.store(false, Ordering::SeqCst);
            tracing::error!(error = %e, "discord: cannot register /imds");
        }
        s.rt.ready.set(READY_NAME, true);
    }

    async fn shard_stage_update(&self, _ctx: Context, ev: ShardStageUpdateEvent) {
        match ev.new {
            ConnectionStage::Connected => self.0.rt.ready.set(READY_NAME, true),
            ConnectionStage::Disconnected | ConnectionStage::Connecting => self.0.rt.ready.set(READY_NAME, false),
            _ => {}
        }
    }

    async fn guild_create(&self, _ctx: Context, guild: Guild, _is_new: Option<bool>) {
        for t in &guild.threads {
            if let Some(parent) = t.parent_id {
                self.0.add_thread(t.id, parent);
            }
        }
    }

    async fn thread_create(&self, _ctx: Context, thread: GuildChannel) {
        if let Some(parent) = thread.parent_id {
            self.0.add_thread(thread.id, parent);
            tracing::debug!(thread = %thread.id, parent = %parent, "discord: thread tracked");
        }
    }

    async fn message(&self, ctx: Context, msg: Message) {
        let s = self.0.clone();
        if s.rt.shutdown.is_cancelled() || msg.author.bot || msg.author.id == s.bot {
            return;
        }
        s.rt.tasks
            .clone()
            .spawn(async move { on_message(&s, &ctx.http, &msg).await });
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let s = self.0.clone();
        if s.rt.shutdown.is_cancelled() {
            return;
        }
        s.rt.tasks.clone().spawn(async move {
            match interaction {
                Interaction::Command(cmd) => on_command(&s, &ctx.http, &cmd).await,
                Interaction::Component(c) => on_component(&s, &ctx.http, &c).await,
                Interaction::Autocomplete(cmd) => on_autocomplete(&s, &ctx.http, &cmd).await,
                _ => {}
            }
        });
    }
}

async fn register(http: &Http, guild: Option<GuildId>) -> serenity::Result<()> {
    let cmds = vec![commands::register()];
    match guild {
        Some(g) => {
            g.set_commands(http, cmds).await?;
            tracing::info!(guild = %g, "discord: /imds registered on the guild");
        }
        None => {
            serenity::all::Command::set_global_commands(http, cmds).await?;
            tracing::info!("discord: /imds registered globally");
        }
    }
    Ok(())
}

fn is_thread(kind: ChannelType) -> bool {
    matches!(
        kind,
        ChannelType::PublicThread | ChannelType::PrivateThread | ChannelType::NewsThread
    )
}

/// A watched-channel paste, a mention, or a direct message.
async fn on_message(s: &Shared, http: &Http, msg: &Message) {
    let start = Instant::now();
    let parent = s.parent_of(msg.channel_id);
    let channel = parent.unwrap_or(msg.channel_id);
    let thread = parent.map(|_| msg.channel_id);
    let mentioned = msg.mentions_user_id(s.bot);
    let dm = msg.guild_id.is_none();
    if !(mentioned || dm || s.watched.contains(&channel)) {
        return;
    }
    if !s.rt.engine.first_delivery(P, &msg.id.to_string(), "gateway").await {
        return;
    }
    // A thread started from a message gets that message's id.
    let place_thread = thread.unwrap_or(ChannelId::new(msg.id.get()));
    let (channel_s, thread_s) = (channel.to_string(), place_thread.to_string());
    let place = Place {
        channel: &channel_s,
        thread: &thread_s,
    };
    let reply = if mentioned || dm {
        let text = strip_mentions(&msg.content);
        let out = s.rt.engine.command(P, MENTION_INVOCATION, &text).await;
        if let Some(d) = out.diagnosis {
            s.rt.engine.remember(P, place, d);
        }
        out.reply
    } else {
        match s.rt.engine.auto(P, place, msg.content.as_bytes()).await {
            AutoOutcome::Reply(r) => *r,
            AutoOutcome::Silent(reason) => {
                tracing::debug!(msg = %msg.id, ?reason, "discord: silent");
                return;
            }
        }
    };
    let msgs = render(&reply);
    let target = if dm || thread.is_some() {
        msg.channel_id
    } else {
        match start_thread(s, http, channel, msg.id, &reply).await {
            Some(t) => t,
            None => return,
        }
    };
    let sent = post(s, http, target, &msgs).await;
    tracing::info!(
        msg = %msg.id,
        thread = %target,
        messages = sent,
        latency_ms = start.elapsed().as_millis() as u64,
        "discord: answered"
    );
}

/// `/imds ...`: the headline as the interaction response, the details in a thread from it.
async fn on_command(s: &Shared, http: &Http, cmd: &CommandInteraction) {
    let start = Instant::now();
    let text = commands::to_text(&cmd.data.options);
    let out = s.rt.engine.command(P, commands::INVOCATION, &text).await;
    let msgs = render(&out.reply);
    let Some((head, rest)) = msgs.split_first() else {
        return;
    };
    if !respond(s, http, cmd.id, &cmd.token, RESPONSE_MESSAGE, Some(Outgoing::new(head))).await {
        return;
    }
    let in_thread = cmd.channel.as_ref().is_some_and(|c| is_thread(c.kind)) || s.parent_of(cmd.channel_id).is_some();
    let needs_thread = !rest.is_empty() || !head.components.is_empty();
    let (channel, target) = if cmd.guild_id.is_none() || in_thread {
        let parent = cmd
            .channel
            .as_ref()
            .and_then(|c| c.parent_id)
            .or_else(|| s.parent_of(cmd.channel_id))
            .unwrap_or(cmd.channel_id);
        (parent, cmd.channel_id)
    } else if needs_thread {
        let original = match http.get_original_interaction_response(&cmd.token).await {
            Ok(m) => {
                counted(s, true);
                m
            }
            Err(e) => {
                counted(s, false);
                tracing::error!(error = %e, interaction = %cmd.id, "discord: cannot fetch the /imds answer to thread it");
                return;
            }
        };
        match start_thread(s, http, cmd.channel_id, original.id, &out.reply).await {
            Some(t) => (cmd.channel_id, t),
            None => return,
        }
    } else {
        tracing::info!(interaction = %cmd.id, messages = 1, "discord: answered");
        return;
    };
    if let Some(d) = out.diagnosis {
        let (c, t) = (channel.to_string(), target.to_string());
        s.rt.engine.remember(
            P,
            Place {
                channel: &c,
                thread: &t,
            },
            d,
        );
    }
    let sent = post(s, http, target, rest).await;
    tracing::info!(
        interaction = %cmd.id,
        thread = %target,
        messages = sent + 1,
        latency_ms = start.elapsed().as_millis() as u64,
        "discord: answered"
    );
}

/// A button: pick-list choice, Escalate, Helpful / Wrong diagnosis.
async fn on_component(s: &Shared, http: &Http, c: &ComponentInteraction) {
    // The thread holding the button: the channel itself when it is a thread, else the thread
    // started from the button's message (whose id Discord gives the thread).
    let parent = c
        .channel
        .as_ref()
        .filter(|ch| is_thread(ch.kind))
        .and_then(|ch| ch.parent_id)
        .or_else(|| s.parent_of(c.channel_id));
    let (channel, thread) = match parent {
        Some(p) => (p, c.channel_id),
        None if c.guild_id.is_none() => (c.channel_id, c.channel_id),
        None => (c.channel_id, ChannelId::new(c.message.id.get())),
    };
    let (cs, ts) = (channel.to_string(), thread.to_string());
    let place = Place {
        channel: &cs,
        thread: &ts,
    };
    match s.rt.engine.action(P, place, &c.data.custom_id, &c.user.id.to_string()) {
        ActionOutcome::Reply(r) => {
            if respond(s, http, c.id, &c.token, RESPONSE_DEFERRED_UPDATE, None).await {
                let sent = post(s, http, thread, &render(&r)).await;
                tracing::info!(interaction = %c.id, thread = %thread, messages = sent, "discord: answered");
            }
        }
        ActionOutcome::Acknowledged(text) | ActionOutcome::Unknown(text) => {
            let m = DiscordMessage {
                content: clip(&text, CONTENT_MAX),
                embeds: vec![],
                components: vec![],
            };
            respond(s, http, c.id, &c.token, RESPONSE_MESSAGE, Some(Outgoing::ephemeral(&m))).await;
        }
    }
}

async fn on_autocomplete(s: &Shared, http: &Http, cmd: &CommandInteraction) {
    let sub = cmd.data.options.first().map_or("", |o| o.name.as_str());
    let typed = cmd.data.autocomplete().map_or("", |o| o.value);
    let choices = commands::complete(&s.rt.engine.kb(), sub, typed);
    let r = CreateInteractionResponse::Autocomplete(CreateAutocompleteResponse::new().set_choices(choices));
    let res = cmd.create_response(http, r).await;
    counted(s, res.is_ok());
    if let Err(e) = res {
        tracing::warn!(error = %e, interaction = %cmd.id, "discord: autocomplete failed");
    }
}

/// A message payload as Discord takes it, never pinging anyone.
#[derive(Serialize)]
struct Outgoing<'a> {
    #[serde(flatten)]
    message: &'a DiscordMessage,
    allowed_mentions: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    flags: Option<u64>,
}

impl<'a> Outgoing<'a> {
    fn new(message: &'a DiscordMessage) -> Outgoing<'a> {
        Outgoing {
            message,
            allowed_mentions: json!({ "parse": [] }),
            flags: None,
        }
    }

    /// A message only the clicking user sees.
    fn ephemeral(message: &'a DiscordMessage) -> Outgoing<'a> {
        Outgoing {
            flags: Some(FLAG_EPHEMERAL),
            ..Outgoing::new(message)
        }
    }
}

/// Answers an interaction (`kind` 4 with `data`, or 6 to acknowledge a click); false on failure.
async fn respond(
    s: &Shared,
    http: &Http,
    id: serenity::all::InteractionId,
    token: &str,
    kind: u8,
    data: Option<Outgoing<'_>>,
) -> bool {
    let body = match data {
        Some(d) => json!({ "type": kind, "data": d }),
        None => json!({ "type": kind }),
    };
    let res = http.create_interaction_response(id, token, &body, vec![]).await;
    counted(s, res.is_ok());
    if let Err(e) = &res {
        tracing::error!(error = %e, interaction = %id, "discord: interaction response failed");
    }
    res.is_ok()
}

/// Starts a public thread from `message`, named after the answer.
async fn start_thread(
    s: &Shared,
    http: &Http,
    channel: ChannelId,
    message: MessageId,
    reply: &Reply,
) -> Option<ChannelId> {
    let body = json!({ "name": thread_name(reply), "auto_archive_duration": AUTO_ARCHIVE_MINUTES });
    match http.create_thread_from_message(channel, message, &body, None).await {
        Ok(t) => {
            counted(s, true);
            s.add_thread(t.id, channel);
            Some(t.id)
        }
        Err(e) => {
            counted(s, false);
            tracing::error!(error = %e, channel = %channel, msg = %message, "discord: cannot start a thread");
            None
        }
    }
}

/// Posts `msgs` in order; stops at the first failure so the thread never shows a gap.
/// Returns how many were sent.
async fn post(s: &Shared, http: &Http, channel: ChannelId, msgs: &[DiscordMessage]) -> usize {
    for (i, m) in msgs.iter().enumerate() {
        let res = http.send_message(channel, vec![], &Outgoing::new(m)).await;
        counted(s, res.is_ok());
        if let Err(e) = res {
            tracing::error!(error = %e, channel = %channel, part = i, of = msgs.len(), "discord: cannot post");
            return i;
        }
    }
    msgs.len()
}

fn counted(s: &Shared, ok: bool) {
    s.rt.engine
        .metrics()
        .reply(P.as_str(), if ok { "sent" } else { "failed" });
}

fn thread_name(reply: &Reply) -> String {
    let name = match reply {
        Reply::Answer(a) => a.title.as_str(),
        Reply::PickList(_) => "IMDS: which one is it?",
        Reply::NoMatch(_) | Reply::Definition(_) => "imdsbot",
    };
    clip(name, THREAD_NAME_MAX)
}

/// Drops `<@id>` / `<@!id>` mentions so the engine sees only the question.
fn strip_mentions(content: &str) -> String {
    let mut out = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(i) = rest.find("<@") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let body = after.strip_prefix('!').unwrap_or(after);
        match body.find('>') {
            Some(j) if j > 0 && body[..j].bytes().all(|b| b.is_ascii_digit()) => rest = &body[j + 1..],
            _ => {
                out.push_str("<@");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_stripped() {
        assert_eq!(strip_mentions("<@123> why 403?"), "why 403?");
        assert_eq!(
            strip_mentions("hey <@!42>, IMDS <@x> timeout"),
            "hey , IMDS <@x> timeout"
        );
        assert_eq!(strip_mentions("<@"), "<@");
    }

    #[test]
    fn thread_names_fit() {
        assert_eq!(clip(&"x".repeat(300), THREAD_NAME_MAX).chars().count(), THREAD_NAME_MAX);
    }

    #[test]
    fn ephemeral_payloads_carry_the_flag_and_no_mentions() {
        let m = DiscordMessage {
            content: "ok".into(),
            embeds: vec![],
            components: vec![],
        };
        let v = serde_json::to_value(Outgoing::ephemeral(&m)).expect("json");
        assert_eq!(v["flags"], 64);
        assert_eq!(v["allowed_mentions"]["parse"], json!([]));
        assert_eq!(v["content"], "ok");
    }
}

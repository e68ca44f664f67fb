//! End-to-end tests of the Discord adapter: the real `imdsbot serve` binary against a fake
//! Discord (REST + gateway WebSocket) on 127.0.0.1, reached only through
//! `IMDSBOT_DISCORD_API_URL`.

#[path = "support/fake_discord.rs"]
mod fake_discord;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fake_discord::{BOT_ID, FakeDiscord, MESSAGE_CONTENT, TOKEN, channel};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// A paste the engine answers confidently (scenario `token-hop-limit-container`).
const HOP_LIMIT: &str = include_str!("corpus/positive/token-hop-limit-container/ecs-bridge-boto3.txt");
/// Another confident paste, of a different scenario (`imds-unreachable-network`).
const UNREACHABLE: &str = include_str!("corpus/positive/imds-unreachable-network/iptables-reject.txt");
const UNRELATED: &str = "anyone up for lunch at noon? the deploy finished fine btw";
const WATCHED: &str = "950000000000000001";
const UNWATCHED: &str = "950000000000000002";
const USER: &str = "960000000000000001";

/// The running bot process; killed on drop.
struct Bot {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bot {
    fn spawn(fake: &FakeDiscord, channels: &str, env: &[(&str, &str)]) -> Bot {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_imdsbot"));
        cmd.arg("serve")
            .env_clear()
            .env("DISCORD_TOKEN", TOKEN)
            .env("IMDSBOT_DISCORD_API_URL", fake.api_url())
            .env("IMDSBOT_DISCORD_CHANNELS", channels)
            .env("IMDSBOT_LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "warn,imdsbot=debug")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn imdsbot");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::unbounded_channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let keep = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let line = strip_ansi(&line);
                keep.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        Bot { child, lines, log }
    }

    /// Waits for a log line containing `needle`.
    async fn wait_log(&mut self, needle: &str) -> String {
        let log = self.log.clone();
        let seen = move || log.lock().unwrap().iter().find(|l| l.contains(needle)).cloned();
        let found = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Some(l) = seen() {
                    return Some(l);
                }
                // Every new line wakes us up; the full log is searched so no line is missed.
                self.lines.recv().await?;
            }
        })
        .await;
        match found {
            Ok(Some(l)) => l,
            _ => panic!(
                "no log line with {needle:?}; log:\n{}",
                self.log.lock().unwrap().join("\n")
            ),
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A fake and a connected bot watching `WATCHED`.
async fn connected(channels: &str) -> (FakeDiscord, Bot) {
    let fake = FakeDiscord::start().await;
    let bot = Bot::spawn(&fake, channels, &[]);
    fake.wait_sessions(1).await;
    // Commands are registered on READY: once that call is made, the handler is live.
    fake.wait_request(0, "PUT", "/commands").await;
    (fake, bot)
}

fn thread_posts(fake: &FakeDiscord, from: usize, thread: &str) -> Vec<Value> {
    let path = format!("/api/v10/channels/{thread}/messages");
    fake.requests()
        .into_iter()
        .skip(from)
        .filter(|r| r.method == "POST" && r.path == path)
        .map(|r| r.json())
        .collect()
}

fn all_text(v: &Value) -> String {
    v.to_string()
}

/// Waits until the answer in `thread` is complete: the last rendered message has arrived when
/// the bot logs "discord: answered" for it.
async fn answered(bot: &mut Bot, message: u64) {
    bot.wait_log(&format!("msg={message}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_command_registers_answers_headline_then_thread_and_buttons_work() {
    let (fake, mut bot) = connected(WATCHED).await;
    let reg = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT")
        .expect("registration");
    assert_eq!(reg.path, format!("/api/v10/applications/{BOT_ID}/commands"));
    let cmd = &reg.json()[0];
    assert_eq!(cmd["name"], "imds");
    let subs: Vec<&str> = cmd["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(subs, ["ask", "explain", "escalate", "list", "help"]);
    assert_eq!(cmd["options"][1]["options"][0]["autocomplete"], true);
    assert_eq!(cmd["options"][2]["options"][0]["autocomplete"], true);

    // /imds ask in a plain channel: headline in the response, details in a thread from it.
    let from = fake.requests().len();
    let id = fake.next_id();
    fake.dispatch(
        "INTERACTION_CREATE",
        fake.slash(id, channel(UNWATCHED, 0, None), "ask", Some(("query", HOP_LIMIT))),
    );
    let cb = fake
        .wait_request(from, "POST", &format!("/interactions/{id}/itoken-{id}/callback"))
        .await;
    let body = cb.json();
    assert_eq!(body["type"], 4);
    assert!(all_text(&body["data"]).contains("token-hop-limit-container"), "{body}");
    assert_eq!(body["data"]["allowed_mentions"]["parse"], json!([]));
    let original = fake.wait_request(from, "GET", "/messages/@original").await;
    assert_eq!(original.status, 200);
    let thread = fake.wait_request(from, "POST", "/threads").await;
    let head_id = thread.path.split('/').nth(6).unwrap().to_string();
    assert_eq!(
        thread.path,
        format!("/api/v10/channels/{UNWATCHED}/messages/{head_id}/threads")
    );
    assert!(!thread.json()["name"].as_str().unwrap().is_empty());
    let post = fake
        .wait_request(from, "POST", &format!("/channels/{head_id}/messages"))
        .await;
    assert!(
        post.at >= thread.at && thread.at >= cb.at,
        "headline, then thread, then details"
    );
    assert!(fake.requests().iter().all(|r| r.status < 300), "every call accepted");

    // Escalate on the headline: acknowledged, escalation posted in the thread.
    let buttons = body["data"]["components"].to_string();
    assert!(buttons.contains("escalate:token-hop-limit-container"), "{buttons}");
    let headline = json!({"id": head_id, "channel_id": UNWATCHED, "author": {"id": BOT_ID, "username": "imds-bot", "bot": true},
        "content": "", "timestamp": "2024-01-01T00:00:00.000000+00:00", "edited_timestamp": null, "tts": false,
        "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "type": 0});
    let from = fake.requests().len();
    let click = fake.next_id();
    fake.dispatch(
        "INTERACTION_CREATE",
        fake.click(
            click,
            channel(UNWATCHED, 0, None),
            headline.clone(),
            "escalate:token-hop-limit-container",
        ),
    );
    let ack = fake
        .wait_request(from, "POST", &format!("/interactions/{click}/itoken-{click}/callback"))
        .await;
    assert_eq!(ack.json()["type"], 6);
    let esc = fake
        .wait_request(from, "POST", &format!("/channels/{head_id}/messages"))
        .await;
    assert!(esc.body.to_lowercase().contains("escalat"), "{}", esc.body);
    bot.wait_log(&format!("interaction={click}")).await;

    // Helpful: acknowledged ephemerally, nothing posted.
    let from = fake.requests().len();
    let click = fake.next_id();
    fake.dispatch(
        "INTERACTION_CREATE",
        fake.click(
            click,
            channel(UNWATCHED, 0, None),
            headline,
            "helpful:token-hop-limit-container",
        ),
    );
    let ack = fake
        .wait_request(from, "POST", &format!("/interactions/{click}/itoken-{click}/callback"))
        .await;
    assert_eq!(ack.json()["type"], 4);
    assert_eq!(ack.json()["data"]["flags"], 64);

    // Autocomplete of scenario ids.
    let from = fake.requests().len();
    let ac = fake.next_id();
    let mut d = fake.slash(ac, channel(UNWATCHED, 0, None), "escalate", None);
    d["type"] = json!(4);
    d["data"]["options"][0]["options"] = json!([{"name": "id", "type": 3, "value": "hop", "focused": true}]);
    fake.dispatch("INTERACTION_CREATE", d);
    let r = fake
        .wait_request(from, "POST", &format!("/interactions/{ac}/itoken-{ac}/callback"))
        .await;
    assert_eq!(r.json()["type"], 8);
    assert_eq!(r.json()["data"]["choices"][0]["value"], "token-hop-limit-container");
    let helpful_posts = fake
        .requests()
        .iter()
        .skip(from)
        .filter(|r| r.path.contains("/channels/"))
        .count();
    assert_eq!(helpful_posts, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watched_paste_gets_a_thread_and_everything_else_gets_silence() {
    let (fake, mut bot) = connected(WATCHED).await;
    let from = fake.requests().len();
    // Silence: unrelated text, a paste in an unwatched channel, the bot's own message echoed
    // back, and another bot's paste.
    fake.dispatch(
        "MESSAGE_CREATE",
        fake.message(fake.next_id(), WATCHED, USER, false, UNRELATED),
    );
    fake.dispatch(
        "MESSAGE_CREATE",
        fake.message(fake.next_id(), UNWATCHED, USER, false, HOP_LIMIT),
    );
    fake.dispatch(
        "MESSAGE_CREATE",
        fake.message(fake.next_id(), WATCHED, BOT_ID, true, HOP_LIMIT),
    );
    fake.dispatch(
        "MESSAGE_CREATE",
        fake.message(fake.next_id(), WATCHED, "970000000000000009", true, HOP_LIMIT),
    );
    // Then a real paste: the only REST calls are its thread and answer.
    let id = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", fake.message(id, WATCHED, USER, false, HOP_LIMIT));
    answered(&mut bot, id).await;
    let calls: Vec<String> = fake
        .requests()
        .iter()
        .skip(from)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        calls[0],
        format!("POST /api/v10/channels/{WATCHED}/messages/{id}/threads")
    );
    assert!(
        calls[1..]
            .iter()
            .all(|c| *c == format!("POST /api/v10/channels/{id}/messages")),
        "{calls:#?}"
    );
    let posts = thread_posts(&fake, from, &id.to_string());
    assert!(posts.len() >= 2, "headline and details");
    assert!(all_text(&posts[0]).contains("token-hop-limit-container"));
    assert!(
        !posts[0]["components"].as_array().unwrap().is_empty(),
        "headline has buttons"
    );

    // A message inside that thread is answered in place (no new thread).
    let from = fake.requests().len();
    let inner = fake.next_id();
    fake.dispatch(
        "MESSAGE_CREATE",
        fake.message(inner, &id.to_string(), USER, false, UNREACHABLE),
    );
    answered(&mut bot, inner).await;
    let calls: Vec<Value> = fake
        .requests()
        .iter()
        .skip(from)
        .map(|r| json!([r.method, r.path]))
        .collect();
    assert!(!calls.is_empty());
    assert!(
        calls.iter().all(|c| c[1] == format!("/api/v10/channels/{id}/messages")),
        "{calls:?}"
    );
    assert!(all_text(&thread_posts(&fake, from, &id.to_string())[0]).contains("imds-unreachable-network"));

    // A thread someone else started in the watched channel (THREAD_CREATE): also in place.
    let t = fake.next_id();
    fake.dispatch(
        "THREAD_CREATE",
        json!({"id": t.to_string(), "type": 11, "name": "help", "parent_id": WATCHED, "guild_id": fake_discord::GUILD_ID, "newly_created": true}),
    );
    // serenity runs event handlers concurrently: wait until the thread is known.
    bot.wait_log(&format!("thread tracked thread={t}")).await;
    let from = fake.requests().len();
    let m = fake.next_id();
    fake.dispatch(
        "MESSAGE_CREATE",
        fake.message(m, &t.to_string(), USER, false, HOP_LIMIT),
    );
    answered(&mut bot, m).await;
    assert!(
        fake.requests()
            .iter()
            .skip(from)
            .all(|r| r.path == format!("/api/v10/channels/{t}/messages"))
    );
    assert!(!bot.log().contains("169.254.169.254"), "message text is never logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pasted_credentials_are_never_repeated_or_logged() {
    let (fake, mut bot) = connected(WATCHED).await;
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY";
    let key_id = "ASIAZZZZEXAMPLE12345";
    let paste = format!("{HOP_LIMIT}\n$ env | grep AWS\nAWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={secret}\n");
    let id = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", fake.message(id, WATCHED, USER, false, &paste));
    answered(&mut bot, id).await;
    let posts = thread_posts(&fake, 0, &id.to_string());
    assert!(!posts.is_empty());
    assert!(
        all_text(&posts[0]).contains(":warning:"),
        "the reply warns: {}",
        posts[0]
    );
    for r in fake.requests() {
        assert!(
            !r.body.contains(secret) && !r.body.contains(key_id),
            "{} {} leaks",
            r.method,
            r.path
        );
    }
    // The same through /imds ask.
    let sid = fake.next_id();
    fake.dispatch(
        "INTERACTION_CREATE",
        fake.slash(sid, channel(UNWATCHED, 0, None), "ask", Some(("query", &paste))),
    );
    fake.wait_request(0, "POST", &format!("/interactions/{sid}/itoken-{sid}/callback"))
        .await;
    bot.wait_log(&format!("interaction={sid}")).await;
    for r in fake.requests() {
        assert!(
            !r.body.contains(secret) && !r.body.contains(key_id),
            "{} {} leaks",
            r.method,
            r.path
        );
    }
    let log = bot.log();
    assert!(!log.contains(secret) && !log.contains(key_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_question_offers_a_pick_list_and_a_pick_answers_in_the_thread() {
    let (fake, mut bot) = connected(WATCHED).await;
    let id = fake.next_id();
    fake.dispatch(
        "INTERACTION_CREATE",
        fake.slash(
            id,
            channel(UNWATCHED, 0, None),
            "ask",
            Some(("query", "imds access denied")),
        ),
    );
    let cb = fake
        .wait_request(0, "POST", &format!("/interactions/{id}/itoken-{id}/callback"))
        .await;
    let comps = cb.json()["data"]["components"].to_string();
    let pick = comps
        .split('"')
        .find(|s| s.starts_with("pick:"))
        .unwrap_or_else(|| panic!("no pick-list: {}", cb.body))
        .to_string();
    bot.wait_log(&format!("interaction={id}")).await;
    let thread = fake.wait_request(0, "POST", "/threads").await;
    let head_id = thread.path.split('/').nth(6).unwrap().to_string();
    let from = fake.requests().len();
    let click = fake.next_id();
    let headline = json!({"id": head_id, "channel_id": UNWATCHED, "author": {"id": BOT_ID, "username": "imds-bot", "bot": true},
        "content": "", "timestamp": "2024-01-01T00:00:00.000000+00:00", "edited_timestamp": null, "tts": false,
        "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "type": 0});
    fake.dispatch(
        "INTERACTION_CREATE",
        fake.click(click, channel(UNWATCHED, 0, None), headline, &pick),
    );
    let ack = fake
        .wait_request(from, "POST", &format!("/interactions/{click}/itoken-{click}/callback"))
        .await;
    assert_eq!(ack.json()["type"], 6);
    let answer = fake
        .wait_request(from, "POST", &format!("/channels/{head_id}/messages"))
        .await;
    assert!(
        answer.body.contains(pick.trim_start_matches("pick:")),
        "{}",
        answer.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_answer_is_split_within_discord_limits() {
    let (fake, mut bot) = connected(WATCHED).await;
    // `list` is the whole catalogue, and a long paste makes a long "why it matched"; whatever
    // the renderer produces, the fake refuses anything over Discord's limits with 400/50035.
    let id = fake.next_id();
    fake.dispatch(
        "INTERACTION_CREATE",
        fake.slash(id, channel(UNWATCHED, 0, None), "list", None),
    );
    bot.wait_log(&format!("interaction={id}")).await;
    let long = fake.next_id();
    let paste = HOP_LIMIT.repeat(40);
    fake.dispatch("MESSAGE_CREATE", fake.message(long, WATCHED, USER, false, &paste));
    answered(&mut bot, long).await;
    let posts = thread_posts(&fake, 0, &long.to_string());
    let total: usize = posts.iter().map(|p| p.to_string().len()).sum();
    assert!(
        posts.len() >= 2 && total > 6000,
        "{} messages, {total} bytes",
        posts.len()
    );
    let refused: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.status >= 400)
        .map(|r| r.path.clone())
        .collect();
    assert!(refused.is_empty(), "refused: {refused:?}");
    // The fake really refuses oversize payloads (so the assertion above can fail).
    assert!(fake_discord::check_message(&json!({"content": "x".repeat(2001)})).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_the_gateway_closes_and_answers_the_next_message() {
    let (fake, mut bot) = connected(WATCHED).await;
    fake.close_gateway(4000);
    fake.wait_sessions(2).await;
    let id = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", fake.message(id, WATCHED, USER, false, HOP_LIMIT));
    answered(&mut bot, id).await;
    assert!(!thread_posts(&fake, 0, &id.to_string()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_message_content_intent_commands_and_mentions_still_work() {
    let fake = FakeDiscord::start().await;
    fake.reject_content_intent();
    let mut bot = Bot::spawn(&fake, WATCHED, &[]);
    let line = bot.wait_log("auto-replies in IMDSBOT_DISCORD_CHANNELS are OFF").await;
    assert!(line.contains("ERROR") || line.contains("WARN"), "{line}");
    fake.wait_sessions(1).await;
    let ids = fake.identifies();
    assert_eq!(ids[0]["intents"].as_u64().unwrap() & MESSAGE_CONTENT, MESSAGE_CONTENT);
    assert_eq!(ids.last().unwrap()["intents"].as_u64().unwrap() & MESSAGE_CONTENT, 0);
    fake.wait_request(0, "PUT", "/commands").await;

    let id = fake.next_id();
    fake.dispatch(
        "INTERACTION_CREATE",
        fake.slash(id, channel(UNWATCHED, 0, None), "ask", Some(("query", HOP_LIMIT))),
    );
    fake.wait_request(0, "POST", &format!("/interactions/{id}/itoken-{id}/callback"))
        .await;

    // A mention carries content even without the intent: answered in a thread.
    let m = fake.next_id();
    let mut msg = fake.message(m, UNWATCHED, USER, false, &format!("<@{BOT_ID}> {HOP_LIMIT}"));
    msg["mentions"] = json!([{"id": BOT_ID, "username": "imds-bot", "bot": true}]);
    fake.dispatch("MESSAGE_CREATE", msg);
    answered(&mut bot, m).await;
    assert!(all_text(&thread_posts(&fake, 0, &m.to_string())[0]).contains("token-hop-limit-container"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_a_clear_startup_error() {
    let fake = FakeDiscord::start().await;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_imdsbot"));
    let out = cmd
        .arg("serve")
        .env_clear()
        .env("DISCORD_TOKEN", "MTA.revoked.token")
        .env("IMDSBOT_DISCORD_API_URL", fake.api_url())
        .env("IMDSBOT_LISTEN", "127.0.0.1:0")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DISCORD_TOKEN") && err.contains("401"), "{err}");
    assert!(!err.contains("revoked"), "the token is not echoed");
}

#[test]
fn invite_url_asks_for_exactly_the_needed_permissions() {
    let out = Command::new(env!("CARGO_BIN_EXE_imdsbot"))
        .args(["discord", "invite-url", "--client-id", "123456789012345678"])
        .output()
        .expect("run");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "https://discord.com/oauth2/authorize?client_id=123456789012345678&scope=bot+applications.commands&permissions=309237730304\n"
    );
}

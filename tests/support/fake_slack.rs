//! A fake Slack on 127.0.0.1 that speaks the real wire format: the Web API methods the bot
//! uses (`auth.test`, `chat.postMessage`, `chat.postEphemeral`, `apps.connections.open`),
//! `response_url`s, and a Socket Mode WebSocket that sends `hello` and envelopes and records
//! acks. It records every request, enforces Slack's message limits with Slack's error codes,
//! and can be told to answer 429 with `Retry-After`, 5xx, or `not_in_channel`.
//!
//! Also the signing helper for requests sent to the bot.

#![allow(dead_code)]

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::{SinkExt, StreamExt};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::Message;

pub const BOT_TOKEN: &str = "xoxb-fake-bot-token";
pub const APP_TOKEN: &str = "xapp-fake-app-token";
pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
pub const BOT_USER: &str = "UBOT0000001";
pub const BOT_ID: &str = "BBOT0000001";
/// Every wait in the tests.
pub const WAIT: Duration = Duration::from_secs(10);

/// Slack's limits.
const BLOCKS_MAX: usize = 50;
const SECTION_TEXT_MAX: usize = 3000;
const TEXT_MAX: usize = 40_000;

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `auth.test`, `chat.postMessage`, …, or `response_url`.
    pub method: String,
    /// The raw body, exactly as received.
    pub raw: String,
    /// The body as JSON (form bodies are converted).
    pub json: Value,
    /// What the fake answered: `ok`, an error code, `429` or `500`.
    pub outcome: String,
    /// The `ts` given to a posted message.
    pub ts: Option<String>,
    /// When it arrived.
    pub at: std::time::Instant,
}

/// A scripted failure for the next `chat.postMessage`.
#[derive(Debug, Clone)]
pub enum Failure {
    RateLimited { retry_after_s: u64 },
    ServerError,
}

#[derive(Default)]
struct Inner {
    requests: Mutex<Vec<Recorded>>,
    acks: Mutex<Vec<Value>>,
    failures: Mutex<VecDeque<Failure>>,
    not_in_channel: Mutex<HashSet<String>>,
    sockets: Mutex<Vec<mpsc::UnboundedSender<String>>>,
    next: Mutex<u64>,
    changed: Notify,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeSlack {
    inner: Arc<Inner>,
    pub addr: SocketAddr,
    pub ws_addr: SocketAddr,
}

impl FakeSlack {
    pub async fn start() -> FakeSlack {
        let inner = Arc::new(Inner::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake");
        let addr = listener.local_addr().expect("addr");
        let ws = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake ws");
        let ws_addr = ws.local_addr().expect("ws addr");
        let app = Router::new()
            .route("/api/{method}", post(api).get(api))
            .route("/response/{id}", post(response_url))
            .with_state(Fake {
                inner: inner.clone(),
                ws_addr,
            });
        tokio::spawn(async move { axum::serve(listener, app).await });
        let i = inner.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = ws.accept().await {
                tokio::spawn(socket(i.clone(), stream));
            }
        });
        FakeSlack { inner, addr, ws_addr }
    }

    /// `IMDSBOT_SLACK_API_URL` for the bot.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// A `response_url` served by the fake.
    pub fn response_url(&self, id: &str) -> String {
        format!("http://{}/response/{id}", self.addr)
    }

    pub fn fail_next(&self, failures: impl IntoIterator<Item = Failure>) {
        self.inner.failures.lock().unwrap().extend(failures);
    }

    pub fn set_not_in_channel(&self, channel: &str) {
        self.inner.not_in_channel.lock().unwrap().insert(channel.to_string());
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// Successful `chat.postMessage` calls to `channel`.
    pub fn posts(&self, channel: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "chat.postMessage" && r.outcome == "ok" && r.json["channel"] == channel)
            .collect()
    }

    /// Waits until `f` holds for the recorded requests; panics after `WAIT`.
    pub async fn wait_for<T>(&self, what: &str, f: impl Fn(&[Recorded]) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let changed = self.inner.changed.notified();
            if let Some(t) = f(&self.requests()) {
                return t;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!(
                    "timed out waiting for {what}; recorded: {:#?}",
                    self.requests()
                        .iter()
                        .map(|r| (&r.method, &r.outcome, r.json.get("channel"), r.json.get("thread_ts")))
                        .collect::<Vec<_>>()
                );
            }
        }
    }

    /// Waits for `n` successful posts to `channel`, and returns them.
    pub async fn wait_posts(&self, channel: &str, n: usize) -> Vec<Recorded> {
        let channel = channel.to_string();
        self.wait_for(&format!("{n} posts to {channel}"), |_| {
            let p = self.posts(&channel);
            (p.len() >= n).then_some(p)
        })
        .await
    }

    /// Waits for a first successful post to `channel`, then until the number of posts to it
    /// stays the same for `quiet`; returns that number.
    pub async fn settled_posts(&self, channel: &str, quiet: Duration) -> usize {
        let mut last = self.wait_posts(channel, 1).await.len();
        loop {
            tokio::time::sleep(quiet).await;
            let now = self.posts(channel).len();
            if now == last {
                return now;
            }
            last = now;
        }
    }

    /// Socket Mode acks received.
    pub fn acks(&self) -> Vec<Value> {
        self.inner.acks.lock().unwrap().clone()
    }

    /// Waits until a Socket Mode connection is open.
    pub async fn wait_socket(&self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let changed = self.inner.changed.notified();
            if !self.inner.sockets.lock().unwrap().is_empty() {
                return;
            }
            tokio::time::timeout_at(deadline, changed)
                .await
                .expect("no Socket Mode connection");
        }
    }

    /// Sends an envelope on a Socket Mode connection and waits for its ack.
    pub async fn envelope(&self, kind: &str, payload: Value) -> Value {
        let id = format!("env-{}", self.next_id());
        let env = json!({
            "envelope_id": id,
            "type": kind,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
            "payload": payload,
        });
        self.wait_socket().await;
        let tx = self.inner.sockets.lock().unwrap()[0].clone();
        tx.send(env.to_string()).expect("socket open");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let changed = self.inner.changed.notified();
            if let Some(a) = self.acks().into_iter().find(|a| a["envelope_id"] == id.as_str()) {
                return a;
            }
            tokio::time::timeout_at(deadline, changed)
                .await
                .unwrap_or_else(|_| panic!("no ack for envelope {id}"));
        }
    }

    fn next_id(&self) -> u64 {
        let mut n = self.inner.next.lock().unwrap();
        *n += 1;
        *n
    }

    fn record(&self, r: Recorded) {
        self.inner.requests.lock().unwrap().push(r);
        self.inner.changed.notify_waiters();
    }
}

#[derive(Clone)]
struct Fake {
    inner: Arc<Inner>,
    ws_addr: SocketAddr,
}

impl Fake {
    fn handle(&self) -> FakeSlack {
        FakeSlack {
            inner: self.inner.clone(),
            addr: self.ws_addr,
            ws_addr: self.ws_addr,
        }
    }
}

fn slack_json(status: StatusCode, v: Value) -> Response {
    (
        status,
        [("content-type", "application/json; charset=utf-8")],
        v.to_string(),
    )
        .into_response()
}

fn bearer(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string()
}

/// The Slack limit a message breaks, if any.
fn limit_error(body: &Value) -> Option<&'static str> {
    if body["text"].as_str().is_some_and(|t| t.chars().count() > TEXT_MAX) {
        return Some("msg_too_long");
    }
    let blocks = body["blocks"].as_array()?;
    if blocks.len() > BLOCKS_MAX {
        return Some("invalid_blocks");
    }
    for b in blocks {
        if b.pointer("/text/text")
            .and_then(Value::as_str)
            .is_some_and(|t| t.chars().count() > SECTION_TEXT_MAX)
        {
            return Some("invalid_blocks");
        }
    }
    None
}

async fn api(State(f): State<Fake>, Path(method): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let fake = f.handle();
    let raw = String::from_utf8_lossy(&body).to_string();
    let json: Value = serde_json::from_str(&raw).unwrap_or_else(|_| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(&raw)
            .map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k, Value::String(v))).collect()))
            .unwrap_or(Value::Null)
    });
    let token = bearer(&headers);
    let mut rec = Recorded {
        method: method.clone(),
        raw,
        json: json.clone(),
        outcome: "ok".into(),
        ts: None,
        at: std::time::Instant::now(),
    };
    let expected = if method == "apps.connections.open" {
        APP_TOKEN
    } else {
        BOT_TOKEN
    };
    if token != expected {
        rec.outcome = "invalid_auth".into();
        fake.record(rec);
        return slack_json(StatusCode::OK, json!({"ok": false, "error": "invalid_auth"}));
    }
    let resp = match method.as_str() {
        "auth.test" => slack_json(
            StatusCode::OK,
            json!({"ok": true, "url": "https://fake.slack.test/", "team": "Fake", "user": "imdsbot",
                   "team_id": "T0000001", "user_id": BOT_USER, "bot_id": BOT_ID}),
        ),
        "apps.connections.open" => slack_json(
            StatusCode::OK,
            json!({"ok": true, "url": format!("ws://{}/link/?ticket=fake", f.ws_addr)}),
        ),
        "chat.postMessage" | "chat.postEphemeral" => {
            let scripted = if method == "chat.postMessage" {
                f.inner.failures.lock().unwrap().pop_front()
            } else {
                None
            };
            let channel = json["channel"].as_str().unwrap_or_default().to_string();
            if let Some(fail) = scripted {
                match fail {
                    Failure::RateLimited { retry_after_s } => {
                        rec.outcome = "429".into();
                        fake.record(rec);
                        return (
                            StatusCode::TOO_MANY_REQUESTS,
                            [("retry-after", retry_after_s.to_string())],
                            "",
                        )
                            .into_response();
                    }
                    Failure::ServerError => {
                        rec.outcome = "500".into();
                        fake.record(rec);
                        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
                    }
                }
            }
            if f.inner.not_in_channel.lock().unwrap().contains(&channel) {
                rec.outcome = "not_in_channel".into();
                fake.record(rec);
                return slack_json(StatusCode::OK, json!({"ok": false, "error": "not_in_channel"}));
            }
            if let Some(e) = limit_error(&json) {
                rec.outcome = e.into();
                fake.record(rec);
                return slack_json(StatusCode::OK, json!({"ok": false, "error": e}));
            }
            let ts = format!("1800000000.{:06}", fake.next_id());
            rec.ts = Some(ts.clone());
            if method == "chat.postEphemeral" {
                slack_json(StatusCode::OK, json!({"ok": true, "message_ts": ts}))
            } else {
                slack_json(
                    StatusCode::OK,
                    json!({"ok": true, "channel": channel, "ts": ts,
                           "message": {"type": "message", "ts": ts, "user": BOT_USER, "bot_id": BOT_ID, "text": ""}}),
                )
            }
        }
        _ => {
            rec.outcome = "unknown_method".into();
            slack_json(StatusCode::OK, json!({"ok": false, "error": "unknown_method"}))
        }
    };
    fake.record(rec);
    resp
}

async fn response_url(State(f): State<Fake>, Path(id): Path<String>, body: Bytes) -> Response {
    let raw = String::from_utf8_lossy(&body).to_string();
    let json: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
    let outcome = limit_error(&json).unwrap_or("ok");
    f.handle().record(Recorded {
        method: format!("response_url:{id}"),
        raw,
        json,
        outcome: outcome.into(),
        ts: None,
        at: std::time::Instant::now(),
    });
    if outcome == "ok" {
        slack_json(StatusCode::OK, json!({"ok": true}))
    } else {
        slack_json(StatusCode::OK, json!({"ok": false, "error": outcome}))
    }
}

async fn socket(inner: Arc<Inner>, stream: tokio::net::TcpStream) {
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut sink, mut source) = ws.split();
    let hello = json!({"type": "hello", "num_connections": 1,
        "debug_info": {"host": "fake-slack", "approximate_connection_time": 3600},
        "connection_info": {"app_id": "A0000001"}});
    if sink.send(Message::text(hello.to_string())).await.is_err() {
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    inner.sockets.lock().unwrap().push(tx);
    inner.changed.notify_waiters();
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(text) => if sink.send(Message::text(text)).await.is_err() { break },
                None => break,
            },
            incoming = source.next() => match incoming {
                Some(Ok(Message::Text(t))) => {
                    if let Ok(v) = serde_json::from_str::<Value>(&t) {
                        inner.acks.lock().unwrap().push(v);
                        inner.changed.notify_waiters();
                    }
                }
                Some(Ok(Message::Ping(p))) => { let _ = sink.send(Message::Pong(p)).await; }
                Some(Ok(_)) => {}
                _ => break,
            },
        }
    }
}

/// `v0=` + hex(HMAC-SHA256(secret, "v0:" + ts + ":" + body)), as Slack signs requests.
pub fn sign(secret: &str, ts: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(b"v0:");
    mac.update(ts.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// A `message` event callback as Slack sends it.
pub fn message_event(event_id: &str, channel: &str, ts: &str, text: &str) -> Value {
    json!({
        "token": "legacy", "team_id": "T0000001", "api_app_id": "A0000001", "type": "event_callback",
        "event_id": event_id, "event_time": 1_700_000_000,
        "authorizations": [{"team_id": "T0000001", "user_id": BOT_USER, "is_bot": true}],
        "event": {"type": "message", "channel": channel, "user": "U0000HUMAN", "text": text, "ts": ts,
                  "event_ts": ts, "channel_type": "channel"},
    })
}

/// A `/imds` slash command as Slack sends it (form fields).
pub fn command_fields(channel: &str, text: &str, response_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("token", "legacy".into()),
        ("team_id", "T0000001".into()),
        ("team_domain", "fake".into()),
        ("channel_id", channel.into()),
        ("channel_name", "ops".into()),
        ("user_id", "U0000HUMAN".into()),
        ("user_name", "alice".into()),
        ("command", "/imds".into()),
        ("text", text.into()),
        ("api_app_id", "A0000001".into()),
        ("is_enterprise_install", "false".into()),
        ("response_url", response_url.into()),
        ("trigger_id", "1337.42.abcdef".into()),
    ]
}

/// A `block_actions` payload for a click on `action_id` in `channel`'s message `message_ts`.
pub fn block_actions(channel: &str, message_ts: &str, action_id: &str, response_url: &str, trigger: &str) -> Value {
    json!({
        "type": "block_actions",
        "user": {"id": "U0000HUMAN", "username": "alice", "team_id": "T0000001"},
        "api_app_id": "A0000001",
        "token": "legacy",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": false},
        "trigger_id": trigger,
        "team": {"id": "T0000001", "domain": "fake"},
        "channel": {"id": channel, "name": "ops"},
        "message": {"type": "message", "ts": message_ts, "user": BOT_USER, "bot_id": BOT_ID, "text": "headline"},
        "response_url": response_url,
        "actions": [{"type": "button", "action_id": action_id, "block_id": "answer", "value": "x",
                     "text": {"type": "plain_text", "text": "Button"}, "action_ts": "1800000001.000001"}],
    })
}

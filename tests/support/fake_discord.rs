//! A fake Discord on 127.0.0.1 that speaks the real wire format: REST under `/api/v10` and a
//! gateway WebSocket (HELLO, READY on IDENTIFY, RESUMED on RESUME, heartbeat ACKs, injected
//! dispatches, closes with a chosen code). Every REST call is recorded; message payloads over
//! Discord's limits are refused with 400 / 50035 like the real API.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message as Ws, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

/// The bot token the fake accepts.
pub const TOKEN: &str = "ODk.fake-bot.token";
/// The bot's user and application id.
pub const BOT_ID: &str = "900000000000000001";
/// The guild everything happens in.
pub const GUILD_ID: &str = "920000000000000001";
/// The privileged MESSAGE_CONTENT intent bit.
pub const MESSAGE_CONTENT: u64 = 1 << 15;

/// One REST call the bot made.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub auth: String,
    pub body: String,
    pub status: u16,
    pub at: Instant,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

enum Out {
    Text(String),
    Close(u16),
}

#[derive(Default)]
struct Inner {
    addr: Mutex<Option<SocketAddr>>,
    requests: Mutex<Vec<Recorded>>,
    identifies: Mutex<Vec<Value>>,
    /// Handshakes completed (READY or RESUMED sent).
    sessions: AtomicU64,
    session: Mutex<Option<mpsc::UnboundedSender<Out>>>,
    changed: Notify,
    seq: AtomicU64,
    ids: AtomicU64,
    reject_content_intent: AtomicBool,
    /// Interaction token -> channel id, for the `@original` message.
    interactions: Mutex<Vec<(String, String, u64)>>,
}

/// The running fake.
pub struct FakeDiscord {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeDiscord {
    pub async fn start() -> FakeDiscord {
        let inner = Arc::new(Inner {
            ids: AtomicU64::new(980_000_000_000_000_000),
            ..Inner::default()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        *inner.addr.lock().unwrap() = Some(addr);
        let app = Router::new()
            .route("/gw", get(gateway))
            .fallback(rest)
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake discord");
        });
        FakeDiscord { addr, inner, task }
    }

    /// `IMDSBOT_DISCORD_API_URL`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Close with 4014 when IDENTIFY asks for MESSAGE_CONTENT (intent not enabled in the portal).
    pub fn reject_content_intent(&self) {
        self.inner.reject_content_intent.store(true, Ordering::SeqCst);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.requests.lock().unwrap().clone()
    }

    pub fn identifies(&self) -> Vec<Value> {
        self.inner.identifies.lock().unwrap().clone()
    }

    pub fn sessions(&self) -> u64 {
        self.inner.sessions.load(Ordering::SeqCst)
    }

    /// Waits (at most `secs`) until `cond` holds; panics with `what` otherwise.
    pub async fn wait<T>(&self, secs: u64, what: &str, mut cond: impl FnMut(&FakeDiscord) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(v) = cond(self) {
                return v;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let seen: Vec<String> = self
                    .requests()
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.path))
                    .collect();
                panic!("timed out waiting for {what}; requests: {seen:#?}");
            }
        }
    }

    /// Waits for a request matching `method` and a path ending with `suffix`, after `from` requests.
    pub async fn wait_request(&self, from: usize, method: &str, suffix: &str) -> Recorded {
        self.wait(10, &format!("{method} ...{suffix}"), |f| {
            f.requests()
                .into_iter()
                .skip(from)
                .find(|r| r.method == method && r.path.ends_with(suffix))
        })
        .await
    }

    /// Waits for `n` completed gateway handshakes.
    pub async fn wait_sessions(&self, n: u64) {
        self.wait(10, &format!("{n} gateway session(s)"), |f| {
            (f.sessions() >= n).then_some(())
        })
        .await;
    }

    /// Sends a dispatch to the connected bot.
    pub fn dispatch(&self, t: &str, d: Value) {
        let s = self.inner.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let frame = json!({"op": 0, "s": s, "t": t, "d": d}).to_string();
        let session = self.inner.session.lock().unwrap();
        session
            .as_ref()
            .expect("no gateway session")
            .send(Out::Text(frame))
            .expect("gateway session gone");
    }

    /// Closes the gateway connection with `code`.
    pub fn close_gateway(&self, code: u16) {
        if let Some(s) = self.inner.session.lock().unwrap().take() {
            let _ = s.send(Out::Close(code));
        }
    }

    pub fn next_id(&self) -> u64 {
        self.inner.ids.fetch_add(1, Ordering::SeqCst)
    }

    /// A MESSAGE_CREATE payload.
    pub fn message(&self, id: u64, channel: &str, author: &str, bot: bool, content: &str) -> Value {
        json!({
            "id": id.to_string(), "channel_id": channel, "guild_id": GUILD_ID,
            "author": {"id": author, "username": if bot {"somebot"} else {"alice"}, "bot": bot},
            "content": content, "timestamp": "2024-01-01T00:00:00.000000+00:00", "edited_timestamp": null,
            "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
            "attachments": [], "embeds": [], "pinned": false, "type": 0
        })
    }

    /// An INTERACTION_CREATE payload for `/imds <sub> <option>:<value>`.
    pub fn slash(&self, id: u64, channel: Value, sub: &str, option: Option<(&str, &str)>) -> Value {
        let opts: Vec<Value> = option
            .map(|(n, v)| json!({"name": n, "type": 3, "value": v}))
            .into_iter()
            .collect();
        let token = format!("itoken-{id}");
        let channel_id = channel["id"].as_str().unwrap_or_default().to_string();
        self.inner
            .interactions
            .lock()
            .unwrap()
            .push((token.clone(), channel_id.clone(), 0));
        let mut d = interaction_base(id, &token, channel, 2);
        d["data"] = json!({"id": "910000000000000000", "name": "imds", "type": 1,
            "options": [{"name": sub, "type": 1, "options": opts}]});
        d
    }

    /// An INTERACTION_CREATE payload for a button click on `message` in `channel`.
    pub fn click(&self, id: u64, channel: Value, message: Value, custom_id: &str) -> Value {
        let token = format!("itoken-{id}");
        let mut d = interaction_base(id, &token, channel, 3);
        d["message"] = message;
        d["data"] = json!({"custom_id": custom_id, "component_type": 2});
        d
    }
}

/// A partial channel as interactions carry it (`kind` 0 = text, 11 = public thread).
pub fn channel(id: &str, kind: u8, parent: Option<&str>) -> Value {
    let mut c = json!({"id": id, "type": kind, "name": "chan"});
    if let Some(p) = parent {
        c["parent_id"] = json!(p);
    }
    c
}

fn interaction_base(id: u64, token: &str, channel: Value, kind: u8) -> Value {
    json!({
        "id": id.to_string(), "application_id": BOT_ID, "type": kind, "token": token, "version": 1,
        "channel_id": channel["id"], "channel": channel, "guild_id": GUILD_ID,
        "member": {"user": {"id": "960000000000000001", "username": "alice"}, "roles": [],
            "joined_at": "2024-01-01T00:00:00.000000+00:00", "deaf": false, "mute": false, "flags": 0, "permissions": "0"},
        "locale": "en-US", "guild_locale": "en-US", "app_permissions": "0", "entitlements": [],
        "authorizing_integration_owners": {}, "context": 0, "attachment_size_limit": 26214400
    })
}

fn message_json(id: u64, channel: &str, body: &Value) -> Value {
    json!({
        "id": id.to_string(), "channel_id": channel,
        "author": {"id": BOT_ID, "username": "imds-bot", "bot": true},
        "content": body["content"].as_str().unwrap_or_default(),
        "timestamp": "2024-01-01T00:00:00.000000+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": [], "embeds": body.get("embeds").cloned().unwrap_or(json!([])),
        "components": body.get("components").cloned().unwrap_or(json!([])),
        "pinned": false, "type": 0
    })
}

/// Discord's message limits; the errors object of a 50035 when violated.
pub fn check_message(body: &Value) -> Result<(), Value> {
    let mut errors = serde_json::Map::new();
    let mut bad = |path: String, max: usize| {
        errors.insert(
            path,
            json!({"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": format!("Must be {max} or fewer in length.")}]}),
        );
    };
    let len = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    if len(&body["content"]) > 2000 {
        bad("content".into(), 2000);
    }
    let embeds = body["embeds"].as_array().cloned().unwrap_or_default();
    if embeds.len() > 10 {
        bad("embeds".into(), 10);
    }
    let mut total = 0;
    for (i, e) in embeds.iter().enumerate() {
        total += len(&e["title"]) + len(&e["description"]);
        if len(&e["title"]) > 256 {
            bad(format!("embeds.{i}.title"), 256);
        }
        if len(&e["description"]) > 4096 {
            bad(format!("embeds.{i}.description"), 4096);
        }
        let fields = e["fields"].as_array().cloned().unwrap_or_default();
        if fields.len() > 25 {
            bad(format!("embeds.{i}.fields"), 25);
        }
        for (j, f) in fields.iter().enumerate() {
            total += len(&f["name"]) + len(&f["value"]);
            if len(&f["name"]) > 256 {
                bad(format!("embeds.{i}.fields.{j}.name"), 256);
            }
            if len(&f["value"]) > 1024 {
                bad(format!("embeds.{i}.fields.{j}.value"), 1024);
            }
        }
    }
    if total > 6000 {
        bad("embeds".into(), 6000);
    }
    let content_empty = len(&body["content"]) == 0;
    if content_empty && embeds.is_empty() && body.get("components").is_none() {
        errors.insert(
            "content".into(),
            json!({"_errors": [{"code": "BASE_TYPE_REQUIRED", "message": "Cannot send an empty message"}]}),
        );
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Value::Object(errors))
    }
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

async fn rest(State(inner): State<Arc<Inner>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_string();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = String::from_utf8_lossy(&body).to_string();
    let json_body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let resp = route(&inner, &method, &path, &auth, &json_body);
    inner.requests.lock().unwrap().push(Recorded {
        method: method.to_string(),
        path,
        auth,
        body: text,
        status: resp.status().as_u16(),
        at: Instant::now(),
    });
    inner.changed.notify_waiters();
    resp
}

fn route(inner: &Inner, method: &Method, path: &str, auth: &str, body: &Value) -> Response {
    let addr = inner.addr.lock().unwrap().expect("addr");
    let ws = format!("ws://{addr}/gw");
    if auth != format!("Bot {TOKEN}") {
        return reply(
            StatusCode::UNAUTHORIZED,
            json!({"message": "401: Unauthorized", "code": 0}),
        );
    }
    let Some(rest) = path.strip_prefix("/api/v10/") else {
        return reply(StatusCode::NOT_FOUND, json!({"message": "404: Not Found", "code": 0}));
    };
    let seg: Vec<&str> = rest.split('/').collect();
    let invalid = |errors: Value| {
        reply(
            StatusCode::BAD_REQUEST,
            json!({"code": 50035, "message": "Invalid Form Body", "errors": errors}),
        )
    };
    match (method.as_str(), seg.as_slice()) {
        ("GET", ["gateway"]) => reply(StatusCode::OK, json!({"url": ws})),
        ("GET", ["gateway", "bot"]) => reply(
            StatusCode::OK,
            json!({"url": ws, "shards": 1, "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}}),
        ),
        ("GET", ["users", "@me"]) => reply(
            StatusCode::OK,
            json!({"id": BOT_ID, "username": "imds-bot", "bot": true, "discriminator": "0"}),
        ),
        ("PUT", ["applications", app, "commands"]) | ("PUT", ["applications", app, "guilds", _, "commands"]) => {
            let cmds: Vec<Value> = body
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|mut c| {
                    c["id"] = json!("910000000000000000");
                    c["application_id"] = json!(app);
                    c["version"] = json!("1");
                    c["type"] = json!(1);
                    c
                })
                .collect();
            reply(StatusCode::OK, json!(cmds))
        }
        ("POST", ["channels", ch, "messages", msg, "threads"]) => {
            let name = body["name"].as_str().unwrap_or_default();
            if name.is_empty() || name.chars().count() > 100 {
                return invalid(
                    json!({"name": {"_errors": [{"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 100 in length."}]}}),
                );
            }
            // Real Discord gives the thread the id of the message it starts from.
            reply(
                StatusCode::CREATED,
                json!({"id": msg, "type": 11, "name": name, "parent_id": ch, "guild_id": GUILD_ID,
                    "thread_metadata": {"archived": false, "auto_archive_duration": 1440, "archive_timestamp": "2024-01-01T00:00:00.000000+00:00", "locked": false}}),
            )
        }
        ("POST", ["channels", ch, "messages"]) => match check_message(body) {
            Ok(()) => reply(
                StatusCode::OK,
                message_json(inner.ids.fetch_add(1, Ordering::SeqCst), ch, body),
            ),
            Err(e) => invalid(e),
        },
        ("POST", ["interactions", _, token, "callback"]) => {
            if let (Some(4 | 7), Some(data)) = (body["type"].as_u64(), body.get("data"))
                && let Err(e) = check_message(data)
            {
                return invalid(json!({"data": e}));
            }
            let id = inner.ids.fetch_add(1, Ordering::SeqCst);
            for (t, _, m) in inner.interactions.lock().unwrap().iter_mut() {
                if t == token {
                    *m = id;
                }
            }
            StatusCode::NO_CONTENT.into_response()
        }
        ("GET" | "PATCH", ["webhooks", _, token, "messages", "@original"]) => {
            let found = inner
                .interactions
                .lock()
                .unwrap()
                .iter()
                .find(|(t, _, _)| t == token)
                .cloned();
            match found {
                Some((_, ch, m)) if m != 0 => reply(StatusCode::OK, message_json(m, &ch, body)),
                _ => reply(
                    StatusCode::NOT_FOUND,
                    json!({"message": "Unknown Message", "code": 10008}),
                ),
            }
        }
        ("POST", ["webhooks", _, _]) => match check_message(body) {
            Ok(()) => reply(
                StatusCode::OK,
                message_json(inner.ids.fetch_add(1, Ordering::SeqCst), "0", body),
            ),
            Err(e) => invalid(e),
        },
        _ => reply(StatusCode::NOT_FOUND, json!({"message": "404: Not Found", "code": 0})),
    }
}

async fn gateway(State(inner): State<Arc<Inner>>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| session(inner, socket))
}

async fn session(inner: Arc<Inner>, mut socket: WebSocket) {
    let hello = json!({"op": 10, "d": {"heartbeat_interval": 45000}}).to_string();
    if socket.send(Ws::Text(hello.into())).await.is_err() {
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let Some(Ok(Ws::Text(text))) = incoming else {
                    if matches!(incoming, Some(Ok(Ws::Ping(_) | Ws::Pong(_)))) { continue; }
                    break;
                };
                let v: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                match v["op"].as_u64() {
                    Some(1) => {
                        let _ = socket.send(Ws::Text(json!({"op": 11}).to_string().into())).await;
                    }
                    Some(2) => {
                        let intents = v["d"]["intents"].as_u64().unwrap_or(0);
                        inner.identifies.lock().unwrap().push(v["d"].clone());
                        inner.changed.notify_waiters();
                        if inner.reject_content_intent.load(Ordering::SeqCst) && intents & MESSAGE_CONTENT != 0 {
                            let _ = socket.send(Ws::Close(Some(CloseFrame { code: 4014, reason: "Disallowed intent(s).".into() }))).await;
                            break;
                        }
                        let addr = inner.addr.lock().unwrap().expect("addr");
                        let s = inner.seq.fetch_add(1, Ordering::SeqCst) + 1;
                        let ready = json!({"op": 0, "s": s, "t": "READY", "d": {
                            "v": 10, "user": {"id": BOT_ID, "username": "imds-bot", "bot": true},
                            "guilds": [], "session_id": "fake-session", "resume_gateway_url": format!("ws://{addr}/gw"),
                            "shard": v["d"]["shard"], "application": {"id": BOT_ID, "flags": 0}}});
                        *inner.session.lock().unwrap() = Some(tx.clone());
                        let _ = socket.send(Ws::Text(ready.to_string().into())).await;
                        inner.sessions.fetch_add(1, Ordering::SeqCst);
                        inner.changed.notify_waiters();
                    }
                    Some(6) => {
                        let s = inner.seq.fetch_add(1, Ordering::SeqCst) + 1;
                        *inner.session.lock().unwrap() = Some(tx.clone());
                        let resumed = json!({"op": 0, "s": s, "t": "RESUMED", "d": {}});
                        let _ = socket.send(Ws::Text(resumed.to_string().into())).await;
                        inner.sessions.fetch_add(1, Ordering::SeqCst);
                        inner.changed.notify_waiters();
                    }
                    _ => {}
                }
            }
            out = rx.recv() => match out {
                Some(Out::Text(t)) => {
                    if socket.send(Ws::Text(t.into())).await.is_err() { break; }
                }
                Some(Out::Close(code)) => {
                    let _ = socket.send(Ws::Close(Some(CloseFrame { code, reason: "fake: closed".into() }))).await;
                    break;
                }
                None => break,
            }
        }
    }
}

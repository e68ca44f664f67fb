//! `imdsbot serve` as a child process configured for the fake Slack (HTTP or Socket Mode),
//! killed on drop, with requests signed like Slack signs them. Used by the Slack and operations
//! tests and the `serve` benchmark (each uses a different subset).
#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::fake_slack::{APP_TOKEN, BOT_TOKEN, FakeSlack, SIGNING_SECRET, command_fields, message_event, now, sign};

/// How `serve` receives Slack's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Signed HTTP requests (`SLACK_SIGNING_SECRET`).
    Http,
    /// Socket Mode over the fake's WebSocket (`SLACK_APP_TOKEN`).
    Socket,
}

pub struct Served {
    pub child: Child,
    pub base: String,
    pub log: PathBuf,
    pub http: reqwest::Client,
    /// Time from spawn to `/readyz` = 200.
    pub ready_after: Duration,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- imdsbot log ---\n{}", self.log_text());
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

impl Served {
    /// Starts `serve` for Slack over HTTP against `fake`, with extra environment variables.
    pub async fn start(fake: &FakeSlack, extra_env: &[(&str, String)]) -> Served {
        Served::start_with(fake, Transport::Http, extra_env).await
    }

    /// Starts `serve` for Slack over `transport` against `fake`, with extra environment
    /// variables (which override the defaults, `RUST_LOG=info` among them).
    pub async fn start_with(fake: &FakeSlack, transport: Transport, extra_env: &[(&str, String)]) -> Served {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("imdsbot-serve-{port}-{}.log", std::process::id()));
        let file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_imdsbot"));
        cmd.arg("serve")
            .current_dir(std::env::temp_dir())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("SLACK_BOT_TOKEN", BOT_TOKEN)
            .env("IMDSBOT_SLACK_API_URL", fake.api_url())
            .env("IMDSBOT_LISTEN", format!("127.0.0.1:{port}"))
            .env("IMDSBOT_SLACK_PACE_MS", "1")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file);
        match transport {
            Transport::Http => cmd.env("SLACK_SIGNING_SECRET", SIGNING_SECRET),
            Transport::Socket => cmd.env("SLACK_APP_TOKEN", APP_TOKEN),
        };
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let child = cmd.spawn().expect("spawn imdsbot serve");
        let mut s = Served {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            http: reqwest::Client::new(),
            ready_after: Duration::ZERO,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = s.child.try_wait() {
                panic!("imdsbot exited ({status}):\n{}", s.log_text());
            }
            if let Ok(r) = s.http.get(format!("{}/readyz", s.base)).send().await
                && r.status() == 200
            {
                break;
            }
            assert!(Instant::now() < deadline, "imdsbot not ready:\n{}", s.log_text());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        s.ready_after = started.elapsed();
        s
    }

    pub fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// POSTs `body` to `path` with exactly `headers` (no signature unless among them); `form`
    /// picks the content type.
    async fn post(
        &self,
        path: &str,
        body: Vec<u8>,
        form: bool,
        headers: &[(&str, String)],
    ) -> reqwest::Result<reqwest::Response> {
        let content_type = if form {
            "application/x-www-form-urlencoded"
        } else {
            "application/json"
        };
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        req.send().await
    }

    /// Like [`Served::post`]; panics when `serve` cannot be reached.
    pub async fn raw(&self, path: &str, body: Vec<u8>, form: bool, headers: &[(&str, String)]) -> reqwest::Response {
        self.post(path, body, form, headers).await.expect("request to imdsbot")
    }

    /// POSTs `body` to `path` signed like Slack signs it, with extra `headers`.
    pub async fn signed(&self, path: &str, body: Vec<u8>, form: bool, headers: &[(&str, String)]) -> reqwest::Response {
        let mut all = signature(&body);
        all.extend(headers.iter().map(|(k, v)| (*k, v.clone())));
        self.raw(path, body, form, &all).await
    }

    /// Delivers a signed `message` event; returns the HTTP status (0 when `serve` cannot be
    /// reached).
    pub async fn deliver(&self, event_id: &str, channel: &str, ts: &str, text: &str) -> u16 {
        let body = message_event(event_id, channel, ts, text).to_string().into_bytes();
        let headers = signature(&body);
        self.post("/slack/events", body, false, &headers)
            .await
            .map_or(0, |r| r.status().as_u16())
    }

    /// Delivers a signed Events API request.
    pub async fn event(&self, ev: &Value) -> reqwest::Response {
        self.signed("/slack/events", ev.to_string().into_bytes(), false, &[])
            .await
    }

    /// Sends a signed `/imds` slash command.
    pub async fn command(&self, channel: &str, text: &str, response_url: &str) -> reqwest::Response {
        let body = serde_urlencoded::to_string(command_fields(channel, text, response_url)).expect("form");
        self.signed("/slack/commands", body.into_bytes(), true, &[]).await
    }

    /// Sends a signed interactivity request (a button click).
    pub async fn click(&self, payload: &Value) -> reqwest::Response {
        let body = serde_urlencoded::to_string([("payload", payload.to_string())]).expect("form");
        self.signed("/slack/interactivity", body.into_bytes(), true, &[]).await
    }

    /// Sends a signal with `kill`.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([format!("-{sig}"), self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics body")
    }

    /// Resident set size in KiB (Linux).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }
}

/// The headers with which Slack signs `body`, timestamped now.
fn signature(body: &[u8]) -> Vec<(&'static str, String)> {
    let stamp = now().to_string();
    let sig = sign(SIGNING_SECRET, &stamp, body);
    vec![("x-slack-request-timestamp", stamp), ("x-slack-signature", sig)]
}

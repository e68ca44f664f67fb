//! Slack adapter benchmark (not a timed test): signed `POST /slack/events` on loopback against
//! the in-process bot and the fake Slack of the tests.
//!
//! 1. Ack latency (p50/p99) at a fixed 1000 requests/s, open loop, for channel chatter (silent)
//!    and for pasted errors (each one diagnosed and answered).
//! 2. Peak acks per second with 64 concurrent senders.
//! 3. Event to first `chat.postMessage` latency (p50/p99), pastes at 50/s.
//!
//! Goal: ack p99 < 5 ms at 1000 requests/s, reply p99 < 50 ms. Run: `cargo bench --bench slack`.

#[path = "../tests/support/fake_slack.rs"]
mod fake_slack;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_slack::*;
use imdsbot::config::{Secret, SlackConfig};
use imdsbot::knowledge::load::{KbSource, load};
use imdsbot::serve::Runtime;

const PASTE: &str = include_str!("../tests/corpus/positive/token-hop-limit-container/jenkins-agent-js.txt");
const CHATTER: &str = "deploy of payments-api to staging finished, canary looks fine; lunch at 12:30?";

struct Target {
    url: String,
    http: reqwest::Client,
}

impl Target {
    async fn send(&self, event_id: &str, channel: &str, ts: &str, text: &str) -> Duration {
        let body = message_event(event_id, channel, ts, text).to_string().into_bytes();
        let now_s = now().to_string();
        let sig = sign(SIGNING_SECRET, &now_s, &body);
        let start = Instant::now();
        let r = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-slack-request-timestamp", now_s)
            .header("x-slack-signature", sig)
            .body(body)
            .send()
            .await
            .expect("request");
        let took = start.elapsed();
        assert_eq!(r.status(), 200);
        took
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(name: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "{name:<44} n={:<6} p50={:>8.3} ms  p99={:>8.3} ms  max={:>8.3} ms",
        v.len(),
        pct(&v, 0.50).as_secs_f64() * 1e3,
        pct(&v, 0.99).as_secs_f64() * 1e3,
        v.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

/// Open loop: one request every `1/rate` s for `n` requests; returns each ack latency.
async fn open_loop(t: &Arc<Target>, n: usize, rate: u64, prefix: &str, text: &'static str) -> Vec<Duration> {
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        tick.tick().await;
        let t = t.clone();
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            let ts = format!("1700000000.{i:06}");
            t.send(&format!("Ev{prefix}{i}"), &format!("C{prefix}{i}"), &ts, text)
                .await
        }));
    }
    let mut out = Vec::with_capacity(n);
    for task in tasks {
        out.push(task.await.expect("task"));
    }
    out
}

#[tokio::main]
async fn main() {
    let fake = FakeSlack::start().await;
    let kb = load(&KbSource::Embedded, &[]).expect("embedded knowledge base");
    let runtime = Runtime::new(kb);
    let config = SlackConfig {
        bot_token: Secret::new(BOT_TOKEN),
        signing_secret: Some(Secret::new(SIGNING_SECRET)),
        app_token: None,
        api_url: fake.api_url(),
        channels: None,
    };
    let router = imdsbot::slack::start(&config, &runtime).await.expect("slack start");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    let t = Arc::new(Target {
        url: format!("http://{addr}/slack/events"),
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()
            .expect("client"),
    });

    // Warm-up: connections, allocator, knowledge base caches.
    open_loop(&t, 300, 500, "warm", CHATTER).await;

    report(
        "ack, chatter at 1000 req/s",
        open_loop(&t, 5000, 1000, "chat", CHATTER).await,
    );
    report(
        "ack, pastes at 1000 req/s (all answered)",
        open_loop(&t, 3000, 1000, "paste", PASTE).await,
    );

    // Peak throughput, closed loop.
    let started = Instant::now();
    let senders = 64;
    let per = 200;
    let mut tasks = Vec::new();
    for s in 0..senders {
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                t.send(
                    &format!("Evpeak{s}-{i}"),
                    &format!("Cpeak{s}"),
                    "1700000000.000001",
                    CHATTER,
                )
                .await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let total = senders * per;
    println!(
        "{:<44} {total} requests in {:.2} s = {:.0} req/s",
        "peak acks (64 concurrent senders)",
        started.elapsed().as_secs_f64(),
        total as f64 / started.elapsed().as_secs_f64()
    );

    // Let the paste answers of the ack phase drain (about 7 messages each, paced at 1/s per channel) before measuring
    // reply latency on fresh channels.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let n = 300;
    let mut sent = Vec::with_capacity(n);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for i in 0..n {
        tick.tick().await;
        let channel = format!("Creply{i}");
        let at = Instant::now();
        t.send(&format!("Evreply{i}"), &channel, "1700000000.000001", PASTE)
            .await;
        sent.push((channel, at));
    }
    let mut latencies = Vec::with_capacity(n);
    for (channel, at) in sent {
        let first = fake.wait_posts(&channel, 1).await.remove(0);
        latencies.push(first.at.duration_since(at));
    }
    report("event -> first chat.postMessage, 50/s", latencies);
}

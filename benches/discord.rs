//! MESSAGE_CREATE -> first thread reply latency of the Discord adapter against the fake
//! Discord, in process (so the engine's cooldown can be lifted), over 1000 pastes.
//! Run: `cargo bench --bench discord`. Prints p50/p90/p99/max; the goal is p99 < 50 ms.

#[path = "../tests/support/fake_discord.rs"]
mod fake_discord;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_discord::{FakeDiscord, TOKEN};
use imdsbot::bot::{Engine, EngineConfig, MemoryStore, Metrics};
use imdsbot::config::DiscordConfig;
use imdsbot::serve::{Readiness, Runtime};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const PASTE: &str = include_str!("../tests/corpus/positive/token-hop-limit-container/ecs-bridge-boto3.txt");
const CHANNEL: u64 = 950_000_000_000_000_001;
const N: usize = 1000;
const WARMUP: usize = 20;

#[tokio::main]
async fn main() {
    let fake = FakeDiscord::start().await;
    let kb = imdsbot::knowledge::load_embedded().expect("knowledge base");
    let config = EngineConfig {
        cooldown_max: u64::MAX,
        ..EngineConfig::default()
    };
    let bot = Runtime {
        engine: Arc::new(Engine::new(
            kb,
            Arc::new(MemoryStore::new()),
            Arc::new(Metrics::new()),
            config,
        )),
        ready: Readiness::default(),
        shutdown: CancellationToken::new(),
        tasks: TaskTracker::new(),
    };
    let discord = DiscordConfig {
        token: imdsbot::config::Secret::new(TOKEN),
        api_url: Some(fake.api_url()),
        channels: vec![CHANNEL],
        guild: None,
        shards: None,
    };
    imdsbot::discord::start(discord, &bot).await.expect("start");
    fake.wait_sessions(1).await;
    fake.wait_request(0, "PUT", "/commands").await;

    let mut lat = Vec::with_capacity(N);
    for i in 0..N + WARMUP {
        let id = fake.next_id();
        let from = fake.requests().len();
        let sent = Instant::now();
        fake.dispatch(
            "MESSAGE_CREATE",
            fake.message(id, &CHANNEL.to_string(), "960000000000000001", false, PASTE),
        );
        let reply = fake
            .wait_request(from, "POST", &format!("/channels/{id}/messages"))
            .await;
        if i >= WARMUP {
            lat.push(reply.at.saturating_duration_since(sent));
        }
    }
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "discord MESSAGE_CREATE -> thread reply over {N} messages: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (goal p99 < 50 ms)",
        ms(pct(0.50)),
        ms(pct(0.90)),
        ms(pct(0.99)),
        ms(*lat.last().expect("samples"))
    );
    bot.shutdown.cancel();
}

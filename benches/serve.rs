//! Operations benchmark (not a timed test) of the real `imdsbot serve` binary against the fake
//! Slack of the tests, Slack over HTTP:
//!
//! - startup time to ready (`/readyz` = 200), median of 5 starts;
//! - idle RSS with the full knowledge base;
//! - knowledge-base reload time (SIGHUP with `IMDSBOT_KB` set), median of 5;
//! - the answer rate one instance sustains: distinct pasted errors (each answered in full),
//!   with in-memory duplicate suppression and with Redis.
//!
//! Run: `cargo bench --bench serve` (Redis figures need `redis-server` on PATH).

#[path = "../tests/support/fake_slack.rs"]
mod fake_slack;
#[path = "../tests/support/redis_server.rs"]
mod redis_server;
#[path = "../tests/support/serve_process.rs"]
mod serve_process;

use std::time::{Duration, Instant};

use fake_slack::FakeSlack;
use serve_process::Served;

const PASTE: &str = include_str!("../tests/corpus/positive/token-hop-limit-container/jenkins-agent-js.txt");
const ANSWERS: usize = 300;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let fake = FakeSlack::start().await;

    let mut starts = Vec::new();
    for _ in 0..5 {
        starts.push(Served::start(&fake, &[]).await.ready_after);
    }
    println!("startup to ready: median {:?} over 5 starts", median(starts));

    let bot = Served::start(&fake, &[]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    match bot.rss_kib() {
        Some(kib) => println!("idle RSS: {:.1} MiB", kib as f64 / 1024.0),
        None => println!("idle RSS: unavailable (no /proc)"),
    }
    drop(bot);

    let kb = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge");
    let bot = Served::start(&fake, &[("IMDSBOT_KB", kb.display().to_string())]).await;
    let mut reloads = Vec::new();
    for i in 1..=5 {
        let start = Instant::now();
        bot.signal("HUP");
        let needle = format!("imdsbot_kb_reloads_total{{outcome=\"ok\"}} {i}");
        while !bot.metrics().await.contains(&needle) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        reloads.push(start.elapsed());
    }
    println!(
        "knowledge-base reload (SIGHUP to swapped): median {:?} over 5",
        median(reloads)
    );
    drop(bot);

    answer_rate(&fake, "memory", &[]).await;
    match redis_server::RedisServer::start() {
        Some(redis) => answer_rate(&fake, "redis", &[("IMDSBOT_REDIS_URL", redis.url.clone())]).await,
        None => println!("answer rate (redis): skipped, redis-server not installed"),
    }
}

/// Distinct pastes, each in its own channel (the per-channel cooldown and pace would otherwise
/// be what is measured), sent by 16 concurrent senders; the rate counts complete answers
/// (every thread message posted).
async fn answer_rate(fake: &FakeSlack, label: &str, env: &[(&str, String)]) {
    let bot = Served::start(fake, env).await;
    let prefix = format!("R{}", label.to_uppercase());
    // One warm-up answer tells how many messages an answer has.
    bot.deliver(
        &format!("Ev{prefix}W"),
        &format!("{prefix}W"),
        "1700000000.000001",
        PASTE,
    )
    .await;
    let per_answer = fake
        .settled_posts(&format!("{prefix}W"), Duration::from_millis(500))
        .await;
    let before = fake.requests().len();
    let start = Instant::now();
    let bot = std::sync::Arc::new(bot);
    let mut senders = Vec::new();
    for s in 0..16 {
        let bot = bot.clone();
        let prefix = prefix.clone();
        senders.push(tokio::spawn(async move {
            for i in (s..ANSWERS).step_by(16) {
                let status = bot
                    .deliver(
                        &format!("Ev{prefix}{i}"),
                        &format!("{prefix}{i}"),
                        "1700000000.000100",
                        PASTE,
                    )
                    .await;
                assert_eq!(status, 200);
            }
        }));
    }
    for s in senders {
        s.await.expect("sender");
    }
    let want = before + ANSWERS * per_answer;
    let deadline = Instant::now() + Duration::from_secs(120);
    while fake.requests().len() < want {
        assert!(
            Instant::now() < deadline,
            "answers missing: {} of {want}",
            fake.requests().len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = start.elapsed();
    println!(
        "answer rate ({label}): {ANSWERS} pastes answered in full ({per_answer} messages each) in {took:.2?} = {:.0} answers/s",
        ANSWERS as f64 / took.as_secs_f64()
    );
}

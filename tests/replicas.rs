//! Operations end to end: several replicas behind the same fake Slack share duplicate
//! suppression through a real Redis; SIGTERM drains answers in flight; JSON logs carry the
//! answer fields and never the message text.

#[path = "support/fake_slack.rs"]
mod fake_slack;
#[path = "support/redis_server.rs"]
mod redis_server;
#[path = "support/serve_process.rs"]
mod serve_process;

use std::time::Duration;

use fake_slack::FakeSlack;
use serve_process::Served;

const PASTE: &str = include_str!("corpus/positive/token-hop-limit-container/jenkins-agent-js.txt");

/// How long the number of posts to a channel must stay the same for an answer to be complete.
const SETTLED: Duration = Duration::from_millis(700);

/// The same event delivered to two replicas at once.
async fn deliver_to_both(a: &Served, b: &Served, event_id: &str, channel: &str) {
    let (x, y) = tokio::join!(
        a.deliver(event_id, channel, "1700000100.000100", PASTE),
        b.deliver(event_id, channel, "1700000100.000100", PASTE)
    );
    assert_eq!((x, y), (200, 200));
}

#[tokio::test]
async fn two_replicas_share_redis_and_answer_exactly_once() {
    let Some(redis) = redis_server::RedisServer::start() else {
        return;
    };
    let fake = FakeSlack::start().await;
    let env = [("IMDSBOT_REDIS_URL", redis.url.clone())];
    let (a, b) = tokio::join!(Served::start(&fake, &env), Served::start(&fake, &env));

    // What one answer looks like: the same paste, delivered once.
    assert_eq!(a.deliver("EvSOLO", "CSOLO", "1700000100.000100", PASTE).await, 200);
    let one_answer = fake.settled_posts("CSOLO", SETTLED).await;

    deliver_to_both(&a, &b, "EvBOTH", "CBOTH").await;
    assert_eq!(
        fake.settled_posts("CBOTH", SETTLED).await,
        one_answer,
        "exactly one answer across replicas"
    );
    let m = format!("{}{}", a.metrics().await, b.metrics().await);
    assert!(
        m.contains("imdsbot_duplicates_suppressed_total{platform=\"slack\",reason=\"event\"} 1"),
        "{m}"
    );
}

#[tokio::test]
async fn without_shared_state_two_replicas_would_both_answer() {
    // The control for the test above: in-memory suppression cannot see the other replica.
    let fake = FakeSlack::start().await;
    let (a, b) = tokio::join!(Served::start(&fake, &[]), Served::start(&fake, &[]));
    assert_eq!(a.deliver("EvSOLO", "CSOLO", "1700000100.000100", PASTE).await, 200);
    let one_answer = fake.settled_posts("CSOLO", SETTLED).await;
    deliver_to_both(&a, &b, "EvBOTH", "CBOTH").await;
    assert_eq!(fake.settled_posts("CBOTH", SETTLED).await, 2 * one_answer);
}

#[tokio::test]
async fn sigterm_finishes_answers_in_flight_then_exits_zero() {
    let fake = FakeSlack::start().await;
    let mut bot = Served::start(&fake, &[("IMDSBOT_SLACK_PACE_MS", "150".to_string())]).await;
    assert_eq!(bot.deliver("EvTERM", "CTERM", "1700000200.000100", PASTE).await, 200);
    fake.wait_posts("CTERM", 1).await;
    bot.signal("TERM");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = bot.child.try_wait().expect("wait") {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "no exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(0), "{}", bot.log_text());
    // The answer (headline, then details paced 150 ms later) was still in flight when the
    // signal arrived, and it was finished before exit.
    let log = bot.log_text();
    let stop = log
        .find("shutting down")
        .unwrap_or_else(|| panic!("no shutdown line:\n{log}"));
    let done = log
        .find("answered in thread")
        .unwrap_or_else(|| panic!("answer not finished:\n{log}"));
    assert!(
        done > stop,
        "the answer was not in flight at SIGTERM; the test proves nothing:\n{log}"
    );
    assert!(fake.posts("CTERM").len() >= 2, "{log}");
}

#[tokio::test]
async fn json_logs_carry_the_answer_fields_but_no_text() {
    let fake = FakeSlack::start().await;
    let bot = Served::start(&fake, &[("IMDSBOT_LOG_FORMAT", "json".to_string())]).await;
    assert_eq!(bot.deliver("EvJSON", "CJSON", "1700000300.000100", PASTE).await, 200);
    fake.wait_posts("CJSON", 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = bot.log_text();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let diagnosed = lines
        .iter()
        .find(|l| l["message"] == "diagnosed")
        .unwrap_or_else(|| panic!("no diagnosis log line:\n{log}"));
    for field in ["scenario", "verdict", "score", "platform", "latency_us"] {
        assert!(diagnosed.get(field).is_some(), "{field} missing: {diagnosed}");
    }
    assert_eq!(diagnosed["platform"], "slack");
    let distinctive = PASTE.lines().find(|l| l.len() > 40).unwrap();
    assert!(!log.contains(distinctive.trim()), "message text leaked into the log");
}

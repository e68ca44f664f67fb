//! Duplicate suppression shared through a real Redis: two engines (as two replicas would)
//! receive the same deliveries and give exactly one answer.

#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::Arc;
use std::time::Duration;

use imdsbot::bot::{AutoOutcome, Engine, EngineConfig, Metrics, Place, Platform, RedisStore, Silence, Store};
use imdsbot::knowledge;

const PASTE: &str = "$ curl -s -w '%{http_code}' http://169.254.169.254/latest/meta-data/iam/security-credentials/\n401\ninstance i-0123456789abcdef0 has HttpTokens=required";

async fn replica(url: &str) -> Engine {
    let store = RedisStore::connect(url).await.expect("connect to redis");
    Engine::new(
        knowledge::load_embedded().unwrap(),
        Arc::new(store),
        Arc::new(Metrics::new()),
        EngineConfig::default(),
    )
}

#[tokio::test]
async fn two_replicas_answer_once() {
    let Some(server) = redis_server::RedisServer::start() else {
        return;
    };
    let (a, b) = (replica(&server.url).await, replica(&server.url).await);

    // The same event delivered to both replicas, concurrently.
    let (x, y) = tokio::join!(
        a.first_delivery(Platform::Slack, "Ev0001", "event"),
        b.first_delivery(Platform::Slack, "Ev0001", "event")
    );
    assert!(x ^ y, "exactly one replica takes the event: {x} {y}");

    // The same paste in the same thread, seen by both: one answer.
    let place = Place {
        channel: "C1",
        thread: "1700000000.000100",
    };
    let (x, y) = tokio::join!(
        a.auto(Platform::Slack, place, PASTE.as_bytes()),
        b.auto(Platform::Slack, place, PASTE.as_bytes())
    );
    let answered = [&x, &y].iter().filter(|o| matches!(o, AutoOutcome::Reply(_))).count();
    assert_eq!(answered, 1, "{x:?} / {y:?}");
    assert!(
        [&x, &y]
            .iter()
            .any(|o| matches!(o, AutoOutcome::Silent(Silence::AnsweredInThread)))
    );
}

#[tokio::test]
async fn counters_expire_and_claims_release() {
    let Some(server) = redis_server::RedisServer::start() else {
        return;
    };
    let store = RedisStore::connect(&server.url).await.unwrap();
    assert_eq!(store.incr("w", Duration::from_millis(200)).await, 1);
    assert_eq!(store.incr("w", Duration::from_millis(200)).await, 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        store.incr("w", Duration::from_millis(200)).await,
        1,
        "the window expired"
    );
    assert!(store.claim("k", Duration::from_secs(60)).await);
    assert!(!store.claim("k", Duration::from_secs(60)).await);
    store.release("k").await;
    assert!(store.claim("k", Duration::from_secs(60)).await);
}

#[tokio::test]
async fn an_unreachable_redis_is_a_clear_startup_error() {
    let err = RedisStore::connect("redis://127.0.0.1:1/0")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("IMDSBOT_REDIS_URL"), "{err}");
}

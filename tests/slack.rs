//! The Slack adapter end to end: the real `imdsbot serve` binary, configured only through its
//! stable environment variables, against a fake Slack on 127.0.0.1 (Web API, `response_url`
//! and Socket Mode WebSocket). Requests to the bot are signed like Slack signs them.

#[path = "support/fake_slack.rs"]
mod fake_slack;
#[path = "support/serve_process.rs"]
mod serve_process;

use fake_slack::*;
use serde_json::{Value, json};
use serve_process::{Served, Transport};

const HOP_LIMIT_PASTE: &str = include_str!("corpus/positive/token-hop-limit-container/jenkins-agent-js.txt");
const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// `serve` with debug logs, as when troubleshooting.
async fn start(fake: &FakeSlack, transport: Transport) -> Served {
    Served::start_with(fake, transport, &[("RUST_LOG", "info,imdsbot=debug".to_string())]).await
}

async fn setup() -> (FakeSlack, Served) {
    let fake = FakeSlack::start().await;
    let bot = start(&fake, Transport::Http).await;
    (fake, bot)
}

fn all_text(r: &Recorded) -> String {
    r.json.to_string()
}

fn action_ids(r: &Recorded) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(id)) = m.get("action_id") {
                    out.push(id.clone());
                }
                m.values().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(&r.json, &mut out);
    out
}

/// Waits for an answer thread in `channel`: the headline and its replies, all settled.
async fn answer_in(fake: &FakeSlack, channel: &str, thread: &str) -> Vec<Recorded> {
    // The headline carries the buttons; the details follow. Wait for at least the headline and
    // one detail message.
    let posts = fake.wait_posts(channel, 2).await;
    for p in &posts {
        assert_eq!(p.json["thread_ts"], thread, "every message in the thread");
    }
    posts
}

#[tokio::test]
async fn url_verification_and_signatures() {
    let (fake, bot) = setup().await;
    let challenge = json!({"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"});
    let r = bot.event(&challenge).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["challenge"], challenge["challenge"]);

    let ev = message_event("EvSIG1", "CSIG", "1700000000.000100", HOP_LIMIT_PASTE);
    let body = ev.to_string().into_bytes();
    let ts = now().to_string();
    // Forged: signed with another secret.
    let forged = sign("not-the-secret", &ts, &body);
    let r = bot
        .raw(
            "/slack/events",
            body.clone(),
            false,
            &[("x-slack-request-timestamp", ts.clone()), ("x-slack-signature", forged)],
        )
        .await;
    assert_eq!(r.status(), 401);
    // Tampered body under a valid signature.
    let good = sign(SIGNING_SECRET, &ts, &body);
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let r = bot
        .raw(
            "/slack/events",
            tampered,
            false,
            &[("x-slack-request-timestamp", ts.clone()), ("x-slack-signature", good)],
        )
        .await;
    assert_eq!(r.status(), 401);
    // Stale: correctly signed but six minutes old.
    let old = (now() - 360).to_string();
    let stale = sign(SIGNING_SECRET, &old, &body);
    let r = bot
        .raw(
            "/slack/events",
            body.clone(),
            false,
            &[("x-slack-request-timestamp", old), ("x-slack-signature", stale)],
        )
        .await;
    assert_eq!(r.status(), 401);
    // Missing.
    let r = bot.raw("/slack/events", body.clone(), false, &[]).await;
    assert_eq!(r.status(), 401);
    for path in ["/slack/commands", "/slack/interactivity"] {
        assert_eq!(
            bot.raw(path, b"payload=%7B%7D".to_vec(), true, &[]).await.status(),
            401,
            "{path}"
        );
    }
    // None of them was processed: the same event, correctly signed, is the first to be answered.
    assert_eq!(bot.event(&ev).await.status(), 200);
    let posts = answer_in(&fake, "CSIG", "1700000000.000100").await;
    assert!(all_text(&posts[0]).contains("token-hop-limit-container"));
    assert!(
        !bot.metrics().await.contains("imdsbot_duplicates_suppressed_total{"),
        "no duplicate was seen"
    );
}

#[tokio::test]
async fn pasted_error_is_answered_in_its_thread() {
    let (fake, bot) = setup().await;
    // A top-level message: the answer threads under it.
    assert_eq!(
        bot.event(&message_event("EvP1", "CPASTE1", "1700000001.000200", HOP_LIMIT_PASTE))
            .await
            .status(),
        200
    );
    let posts = answer_in(&fake, "CPASTE1", "1700000001.000200").await;
    let head = &posts[0];
    assert!(all_text(head).contains("token-hop-limit-container"));
    let ids = action_ids(head);
    assert!(
        ids.contains(&"escalate:token-hop-limit-container".to_string()),
        "{ids:?}"
    );
    assert!(ids.iter().any(|i| i.starts_with("helpful:")) && ids.iter().any(|i| i.starts_with("wrong:")));
    for p in &posts {
        assert!(p.json["text"].as_str().is_some_and(|t| !t.is_empty()), "text fallback");
        assert!(
            p.json["blocks"]
                .as_array()
                .is_some_and(|b| !b.is_empty() && b.len() <= 50)
        );
    }
    // A reply inside an existing thread: the answer goes to that thread, not a new one.
    let mut ev = message_event("EvP2", "CPASTE2", "1700000002.000300", HOP_LIMIT_PASTE);
    ev["event"]["thread_ts"] = json!("1700000000.999999");
    assert_eq!(bot.event(&ev).await.status(), 200);
    answer_in(&fake, "CPASTE2", "1700000000.999999").await;
    // Slack escapes `<`/`>`/`&` in message text; the same paste still matches.
    let escaped = HOP_LIMIT_PASTE
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    assert_eq!(
        bot.event(&message_event("EvP3", "CPASTE3", "1700000003.000400", &escaped))
            .await
            .status(),
        200
    );
    answer_in(&fake, "CPASTE3", "1700000003.000400").await;
}

#[tokio::test]
async fn bots_own_messages_subtypes_and_noise_get_no_request() {
    let (fake, bot) = setup().await;
    let ch = "CIGNORE";
    let mut variants = Vec::new();
    let mut from_bot = message_event("EvI1", ch, "1700000010.000001", HOP_LIMIT_PASTE);
    from_bot["event"]["bot_id"] = json!("BOTHER01");
    variants.push(from_bot);
    let mut own = message_event("EvI2", ch, "1700000010.000002", HOP_LIMIT_PASTE);
    own["event"]["user"] = json!(BOT_USER);
    variants.push(own);
    let mut bot_message = message_event("EvI3", ch, "1700000010.000003", HOP_LIMIT_PASTE);
    bot_message["event"]["subtype"] = json!("bot_message");
    variants.push(bot_message);
    let mut join = message_event("EvI4", ch, "1700000010.000004", HOP_LIMIT_PASTE);
    join["event"]["subtype"] = json!("channel_join");
    variants.push(join);
    let mut edit = message_event("EvI5", ch, "1700000010.000005", "");
    edit["event"]["subtype"] = json!("message_changed");
    edit["event"]["message"] =
        json!({"type": "message", "user": "U0000HUMAN", "text": HOP_LIMIT_PASTE, "ts": "1700000009.000001"});
    variants.push(edit);
    variants.push(message_event(
        "EvI6",
        ch,
        "1700000010.000006",
        "lunch at noon? the nginx 502 on staging is fixed btw",
    ));
    for v in &variants {
        assert_eq!(bot.event(v).await.status(), 200);
    }
    // The unrelated message was diagnosed (silently) before we look.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !bot.metrics().await.contains("verdict=\"none\"") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "unrelated message never diagnosed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // A barrier: a real paste in the same channel is answered, and it is the only thread.
    bot.event(&message_event("EvI7", ch, "1700000010.000007", HOP_LIMIT_PASTE))
        .await;
    let posts = answer_in(&fake, ch, "1700000010.000007").await;
    assert!(posts.iter().all(|p| p.json["thread_ts"] == "1700000010.000007"));
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.json["thread_ts"] != "1700000010.000006"),
        "no request for the unrelated message"
    );
}

#[tokio::test]
async fn retries_and_duplicate_event_ids_give_one_answer() {
    let (fake, bot) = setup().await;
    let ev = message_event("EvDUP1", "CDUP", "1700000020.000001", HOP_LIMIT_PASTE);
    // The first delivery, a concurrent retry (Slack thought the first timed out), and a replay.
    let retry_headers = [
        ("x-slack-retry-num", "1".to_string()),
        ("x-slack-retry-reason", "http_timeout".to_string()),
    ];
    let (a, b, c) = tokio::join!(
        bot.event(&ev),
        bot.signed("/slack/events", ev.to_string().into_bytes(), false, &retry_headers),
        bot.event(&ev),
    );
    assert_eq!(
        (a.status().as_u16(), b.status().as_u16(), c.status().as_u16()),
        (200, 200, 200)
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let m = bot.metrics().await;
        let dups: u64 = m
            .lines()
            .filter(|l| l.starts_with("imdsbot_duplicates_suppressed_total{") && l.contains("platform=\"slack\""))
            .filter(|l| l.contains("reason=\"retry\"") || l.contains("reason=\"event\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum();
        if dups == 2 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "duplicates not counted:\n{m}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Duplicates are suppressed before any work, so they can no longer post anything.
    let posts = answer_in(&fake, "CDUP", "1700000020.000001").await;
    let headlines = posts.iter().filter(|p| !action_ids(p).is_empty()).count();
    assert_eq!(headlines, 1, "exactly one answer");
}

#[tokio::test]
async fn slash_command_acks_then_posts_parent_and_thread() {
    let (fake, bot) = setup().await;
    let r = bot.command("CCMD", HOP_LIMIT_PASTE, &fake.response_url("cmd1")).await;
    assert_eq!(r.status(), 200);
    let ack: Value = r.json().await.expect("ack json");
    assert_eq!(ack["response_type"], "ephemeral");
    let posts = fake.wait_posts("CCMD", 2).await;
    let parent = &posts[0];
    assert!(
        parent.json.get("thread_ts").is_none(),
        "the parent is a channel message"
    );
    let parent_ts = parent.ts.clone().expect("ts");
    assert!(all_text(parent).contains("token-hop-limit-container"));
    for p in &posts[1..] {
        assert_eq!(p.json["thread_ts"], parent_ts.as_str());
    }
    // help answers the user alone through response_url.
    assert_eq!(
        bot.command("CCMD", "help", &fake.response_url("help1")).await.status(),
        200
    );
    let help = fake
        .wait_for("help", |r| r.iter().find(|x| x.method == "response_url:help1").cloned())
        .await;
    assert!(all_text(&help).contains("explain"), "{}", all_text(&help));
    // escalate <id> posts the escalation checklist.
    bot.command("CESC", "escalate token-hop-limit-container", &fake.response_url("esc1"))
        .await;
    let esc = fake.wait_posts("CESC", 1).await;
    assert!(all_text(&esc[0]).contains("token-hop-limit-container"));
}

#[tokio::test]
async fn not_in_channel_falls_back_to_an_ephemeral_answer() {
    let (fake, bot) = setup().await;
    fake.set_not_in_channel("CNOTIN");
    bot.command("CNOTIN", HOP_LIMIT_PASTE, &fake.response_url("nic")).await;
    let replies = fake
        .wait_for("ephemeral answer", |r| {
            let x: Vec<_> = r.iter().filter(|x| x.method == "response_url:nic").cloned().collect();
            (x.len() >= 2).then_some(x)
        })
        .await;
    assert!(all_text(&replies[0]).contains("/invite"), "says how to invite the bot");
    assert!(
        replies
            .iter()
            .any(|r| all_text(r).contains("token-hop-limit-container"))
    );
    assert!(fake.posts("CNOTIN").is_empty());
    assert_eq!(
        fake.requests().iter().filter(|r| r.outcome == "not_in_channel").count(),
        1,
        "not_in_channel is not retried"
    );
}

#[tokio::test]
async fn pick_list_escalate_and_feedback_buttons() {
    let (fake, bot) = setup().await;
    bot.command("CPICK", "access denied", &fake.response_url("pick")).await;
    let parent = fake.wait_posts("CPICK", 1).await.remove(0);
    let picks: Vec<String> = action_ids(&parent)
        .into_iter()
        .filter(|i| i.starts_with("pick:"))
        .collect();
    assert!(picks.len() >= 2, "a pick-list: {picks:?}");
    let parent_ts = parent.ts.clone().expect("ts");
    assert_eq!(
        bot.click(&block_actions(
            "CPICK",
            &parent_ts,
            &picks[1],
            &fake.response_url("p1"),
            "t1"
        ))
        .await
        .status(),
        200
    );
    let chosen = picks[1].trim_start_matches("pick:").to_string();
    let answer = fake
        .wait_for("picked answer", |r| {
            r.iter()
                .find(|x| {
                    x.method == "chat.postMessage"
                        && x.json["thread_ts"] == parent_ts.as_str()
                        && all_text(x).contains(&chosen)
                })
                .cloned()
        })
        .await;
    assert_eq!(answer.json["channel"], "CPICK");

    // Escalate on an auto-answer: the checklist carries evidence from the paste.
    let paste = format!("{HOP_LIMIT_PASTE}\ninstance i-0123456789abcdef0 in us-east-1");
    bot.event(&message_event("EvB1", "CBTN", "1700000030.000001", &paste))
        .await;
    answer_in(&fake, "CBTN", "1700000030.000001").await;
    let head_ts = "1700000030.000001";
    let before = fake.requests().len();
    // The click is on a message inside the thread: its thread_ts names the thread.
    let mut in_thread = block_actions(
        "CBTN",
        "1800000000.000002",
        "escalate:token-hop-limit-container",
        &fake.response_url("e2"),
        "t3",
    );
    in_thread["message"]["thread_ts"] = json!(head_ts);
    bot.click(&in_thread).await;
    let esc = fake
        .wait_for("escalation in the thread", |r| {
            r[before..]
                .iter()
                .find(|x| {
                    x.method == "chat.postMessage"
                        && x.json["thread_ts"] == head_ts
                        && all_text(x).contains("· escalation ·")
                })
                .cloned()
        })
        .await;
    assert_eq!(esc.json["channel"], "CBTN");
    // The checklist (the rest of the escalation reply) carries evidence found in the paste.
    let at = fake
        .requests()
        .iter()
        .position(|x| x.ts == esc.ts)
        .expect("escalation recorded");
    fake.wait_for("evidence in the escalation", |r| {
        r[at..]
            .iter()
            .any(|x| x.json["thread_ts"] == head_ts && all_text(x).contains("i-0123456789abcdef0"))
            .then_some(())
    })
    .await;

    // Feedback: acknowledged to the user alone, counted.
    bot.click(&block_actions(
        "CBTN",
        head_ts,
        "helpful:token-hop-limit-container",
        &fake.response_url("fb"),
        "t4",
    ))
    .await;
    let ack = fake
        .wait_for("feedback ack", |r| {
            r.iter().find(|x| x.method == "response_url:fb").cloned()
        })
        .await;
    assert_eq!(ack.json["replace_original"], false);
    assert!(bot.metrics().await.contains("kind=\"helpful\""));
}

#[tokio::test]
async fn rate_limit_and_server_errors_still_give_exactly_one_answer() {
    let (fake, bot) = setup().await;
    fake.fail_next([
        Failure::RateLimited { retry_after_s: 1 },
        Failure::ServerError,
        Failure::ServerError,
    ]);
    let started = std::time::Instant::now();
    bot.event(&message_event("EvRL", "CRL", "1700000040.000001", HOP_LIMIT_PASTE))
        .await;
    let posts = answer_in(&fake, "CRL", "1700000040.000001").await;
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After was honoured"
    );
    let attempts: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "chat.postMessage")
        .collect();
    assert_eq!(attempts[0].outcome, "429");
    assert_eq!(attempts[1].outcome, "500");
    assert_eq!(attempts[2].outcome, "500");
    assert_eq!(attempts[3].outcome, "ok");
    let headlines = posts.iter().filter(|p| !action_ids(p).is_empty()).count();
    assert_eq!(headlines, 1);
    let m = bot.metrics().await;
    assert!(
        m.contains("imdsbot_replies_total{platform=\"slack\",outcome=\"retried\"} 3"),
        "{m}"
    );
}

#[tokio::test]
async fn pasted_credentials_never_leave_the_bot() {
    let (fake, bot) = setup().await;
    let paste = format!(
        "export AWS_ACCESS_KEY_ID={ACCESS_KEY}\nexport AWS_SECRET_ACCESS_KEY={SECRET_KEY}\naws s3 ls\nAn error occurred (ExpiredToken) when calling the ListBuckets operation: The security token included in the request is expired\n"
    );
    bot.event(&message_event("EvCRED", "CCRED", "1700000050.000001", &paste))
        .await;
    let posts = answer_in(&fake, "CCRED", "1700000050.000001").await;
    assert!(
        all_text(&posts[0]).to_lowercase().contains("exposed"),
        "warns: {}",
        all_text(&posts[0])
    );
    bot.command("CCRED2", &paste, &fake.response_url("cred")).await;
    fake.wait_posts("CCRED2", 2).await;
    for r in fake.requests() {
        assert!(
            !r.raw.contains(ACCESS_KEY) && !r.raw.contains(SECRET_KEY),
            "{} leaked a credential",
            r.method
        );
    }
    let log = bot.log_text();
    assert!(
        !log.contains(ACCESS_KEY) && !log.contains(SECRET_KEY),
        "log leaked a credential"
    );
    assert!(!log.contains("ListBuckets"), "log has message text");
}

#[tokio::test]
async fn a_one_mebibyte_paste_is_answered_within_limits() {
    let (fake, bot) = setup().await;
    let mut paste = String::with_capacity(1 << 20);
    while paste.len() < (1 << 20) - HOP_LIMIT_PASTE.len() {
        paste.push_str("2024-05-01T12:00:00Z INFO worker heartbeat ok queue=deploy depth=0\n");
    }
    paste.push_str(HOP_LIMIT_PASTE);
    bot.event(&message_event("EvBIG", "CBIG", "1700000060.000001", &paste))
        .await;
    let posts = answer_in(&fake, "CBIG", "1700000060.000001").await;
    assert!(all_text(&posts[0]).contains("token-hop-limit-container"));
    assert!(
        fake.requests().iter().all(|r| r.outcome == "ok"),
        "within Slack's limits"
    );
}

#[tokio::test]
async fn socket_mode_runs_the_same_flows() {
    let fake = FakeSlack::start().await;
    let bot = start(&fake, Transport::Socket).await;
    assert!(fake.requests().iter().any(|r| r.method == "apps.connections.open"));
    // A paste: acked, answered in its thread; a redelivered envelope with the same event id is
    // not answered again.
    let ev = message_event("EvS1", "CSOCK", "1700000070.000001", HOP_LIMIT_PASTE);
    let ack = fake.envelope("events_api", ev.clone()).await;
    assert!(ack.get("envelope_id").is_some());
    fake.envelope("events_api", ev).await;
    let posts = answer_in(&fake, "CSOCK", "1700000070.000001").await;
    let mut bot_msg = message_event("EvS2", "CSOCK", "1700000070.000002", HOP_LIMIT_PASTE);
    bot_msg["event"]["bot_id"] = json!("BOTHER01");
    fake.envelope("events_api", bot_msg).await;
    // Slash command: the ack carries the ephemeral text, then parent + thread.
    let cmd: serde_json::Map<String, Value> = command_fields("CSOCKCMD", HOP_LIMIT_PASTE, &fake.response_url("sc"))
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::String(v)))
        .collect();
    let ack = fake.envelope("slash_commands", Value::Object(cmd)).await;
    assert_eq!(ack["payload"]["response_type"], "ephemeral", "{ack}");
    let cposts = fake.wait_posts("CSOCKCMD", 2).await;
    let parent_ts = cposts[0].ts.clone().expect("ts");
    assert_eq!(cposts[1].json["thread_ts"], parent_ts.as_str());
    // Interactive: Escalate posts in the thread.
    fake.envelope(
        "interactive",
        block_actions(
            "CSOCKCMD",
            &parent_ts,
            "escalate:token-hop-limit-container",
            &fake.response_url("si"),
            "ts1",
        ),
    )
    .await;
    fake.wait_for("escalation over Socket Mode", |r| {
        r.iter()
            .find(|x| {
                x.method == "chat.postMessage"
                    && x.json["thread_ts"] == parent_ts.as_str()
                    && all_text(x).contains("scalat")
            })
            .cloned()
    })
    .await;
    let headlines = fake.posts("CSOCK").iter().filter(|p| !action_ids(p).is_empty()).count();
    assert_eq!(headlines, 1, "one answer for the duplicate envelope, none for the bot");
    assert!(posts.len() >= 2);
    drop(bot);
}

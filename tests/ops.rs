//! `serve` operations: configuration errors, `config check`, knowledge-base reloads, shadow
//! scenarios, metrics and the HTTP ops endpoints.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use imdsbot::bot::{AutoOutcome, Place, Platform, Silence};
use imdsbot::knowledge::{self, KbSource};
use imdsbot::reload::{self, Reloaded};
use imdsbot::serve::Runtime;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_imdsbot"));
    for (k, _) in std::env::vars() {
        if k.starts_with("IMDSBOT_") || k.starts_with("SLACK_") || k.starts_with("DISCORD_") {
            c.env_remove(k);
        }
    }
    c
}

fn repo_kb() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge")
}

/// A scratch copy of the built-in knowledge directory.
fn scratch_kb(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("imdsbot-ops-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(repo_kb()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
    dir
}

#[test]
fn serve_with_nothing_configured_says_what_to_set() {
    let out = bin().arg("serve").output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    for var in [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "DISCORD_TOKEN",
    ] {
        assert!(err.contains(var), "{var} missing from:\n{err}");
    }
}

#[test]
fn malformed_values_are_named_and_secrets_never_printed() {
    let out = bin()
        .args(["serve"])
        .env("SLACK_BOT_TOKEN", "xoxp-not-a-bot-token-1234")
        .env("SLACK_SIGNING_SECRET", "topsecret-signing")
        .env("IMDSBOT_LISTEN", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SLACK_BOT_TOKEN") && err.contains("IMDSBOT_LISTEN"),
        "{err}"
    );
    assert!(
        !err.contains("xoxp-not-a-bot-token-1234") && !err.contains("topsecret-signing"),
        "{err}"
    );
}

#[test]
fn config_check_shows_effective_values_with_secrets_redacted() {
    let file = std::env::temp_dir().join(format!("imdsbot-ops-{}.toml", std::process::id()));
    std::fs::write(&file, "listen = \"127.0.0.1:9999\"\n[slack]\nbot_token = \"xoxb-file-secret-123\"\nsigning_secret = \"file-signing-secret\"\n").unwrap();
    let out = bin()
        .args(["config", "check", "--config"])
        .arg(&file)
        .env("IMDSBOT_LISTEN", "127.0.0.1:7777")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("127.0.0.1:7777"), "environment wins:\n{stdout}");
    assert!(
        stdout.contains("SLACK_BOT_TOKEN") && stdout.contains("<redacted>"),
        "{stdout}"
    );
    assert!(!stdout.contains("xoxb-file-secret-123") && !stdout.contains("file-signing-secret"));

    std::fs::write(&file, "[slack]\nbot_tokn = \"x\"\n").unwrap();
    let out = bin().args(["config", "check", "--config"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown key `slack.bot_tokn`"));
    let _ = std::fs::remove_file(file);
}

#[tokio::test]
async fn reload_swaps_valid_and_refuses_invalid_knowledge() {
    let dir = scratch_kb("reload");
    let base = KbSource::Dir(dir.clone());
    let rt = Runtime::new(knowledge::load(&base, &[]).expect("copy of the built-in KB is valid"));
    let before = rt.engine.kb().version().to_string();

    // A changed title is picked up and reported as "changed".
    let file = dir.join("token-hop-limit-container.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let (head, rest) = text.split_once("\ntitle: ").expect("title line");
    let rest = rest.split_once('\n').unwrap().1;
    std::fs::write(
        &file,
        format!("{head}\ntitle: Hop limit too low for containers (edited)\n{rest}"),
    )
    .unwrap();
    match reload::reload(&rt.engine, &base, &[]).await {
        Reloaded::Ok { diff, .. } => {
            assert_eq!(diff.changed, vec!["token-hop-limit-container".to_string()]);
            assert!(diff.added.is_empty() && diff.removed.is_empty());
        }
        Reloaded::Rejected { problems } => panic!("valid KB refused: {problems:?}"),
    }
    assert_ne!(rt.engine.kb().version(), before);
    let served = rt.engine.kb().version().to_string();

    // A broken file is refused; the previous knowledge base keeps serving.
    std::fs::write(dir.join("broken.yaml"), "id: broken\ntitle: [unclosed\n").unwrap();
    match reload::reload(&rt.engine, &base, &[]).await {
        Reloaded::Rejected { problems } => assert!(problems.iter().any(|p| p.contains("broken.yaml")), "{problems:?}"),
        Reloaded::Ok { .. } => panic!("invalid KB accepted"),
    }
    assert_eq!(rt.engine.kb().version(), served);
    let metrics = rt.engine.metrics().encode();
    assert!(
        metrics.contains("imdsbot_kb_reloads_total{outcome=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("imdsbot_kb_reloads_total{outcome=\"rejected\"} 1"),
        "{metrics}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_watcher_reloads_on_file_changes() {
    let dir = scratch_kb("watch");
    let base = KbSource::Dir(dir.clone());
    let rt = Runtime::new(knowledge::load(&base, &[]).unwrap());
    let count = rt.engine.kb().scenarios().len();
    tokio::spawn(reload::watch(rt.engine.clone(), base, Vec::new(), rt.shutdown.clone()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    std::fs::remove_file(dir.join("token-hop-limit-container.yaml")).unwrap();
    // Other scenarios list it as related: removing it alone is refused, and counted.
    let rejected = wait_for(&rt, "outcome=\"rejected\"").await;
    assert!(rejected, "a broken reference must be refused");
    assert_eq!(rt.engine.kb().scenarios().len(), count);
    rt.shutdown.cancel();
    let _ = std::fs::remove_dir_all(dir);
}

async fn wait_for(rt: &Runtime, needle: &str) -> bool {
    for _ in 0..100 {
        if rt.engine.metrics().encode().contains(needle) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn shadow_scenarios_are_counted_but_never_speak() {
    let dir = scratch_kb("shadow");
    let paste = std::fs::read_to_string(first_positive("token-hop-limit-container")).unwrap();
    let file = dir.join("token-hop-limit-container.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let text = if text.contains("\nmode: live") {
        text.replace("\nmode: live", "\nmode: shadow")
    } else {
        text.replacen("\ntitle: ", "\nmode: shadow\ntitle: ", 1)
    };
    std::fs::write(&file, text).unwrap();

    let live = Runtime::new(knowledge::load(&KbSource::Dir(repo_kb()), &[]).unwrap());
    let place = Place {
        channel: "C1",
        thread: "1.0",
    };
    let out = live.engine.auto(Platform::Slack, place, paste.as_bytes()).await;
    assert!(
        matches!(out, AutoOutcome::Reply(_)),
        "the paste must auto-answer when live: {out:?}"
    );

    let shadow = Runtime::new(knowledge::load(&KbSource::Dir(dir.clone()), &[]).unwrap());
    let out = shadow.engine.auto(Platform::Slack, place, paste.as_bytes()).await;
    assert!(matches!(out, AutoOutcome::Silent(Silence::Shadow)), "{out:?}");
    let m = shadow.engine.metrics().encode();
    assert!(
        m.contains("scenario=\"token-hop-limit-container\",verdict=\"shadow\""),
        "{m}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A positive corpus paste of `id` that auto-answers.
fn first_positive(id: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus/positive")
        .join(id);
    let kb = knowledge::load_embedded().unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .into_iter()
        .find(|f| {
            let d = imdsbot::diagnose(&kb, &std::fs::read(f).unwrap(), imdsbot::MatchMode::Auto);
            matches!(d.verdict, imdsbot::Verdict::Match(_))
        })
        .expect("an auto-answered positive")
}

#[tokio::test]
async fn ops_endpoints_answer() {
    let rt = Runtime::new(knowledge::load_embedded().unwrap());
    rt.ready.register("slack");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(axum::serve(listener, imdsbot::serve::ops_router(&rt)).into_future());
    let probe = |path: &'static str| {
        let addr = addr.clone();
        tokio::task::spawn_blocking(move || imdsbot::serve::probe(&addr, path).unwrap())
    };
    assert_eq!(probe("/healthz").await.unwrap(), 200);
    assert_eq!(probe("/readyz").await.unwrap(), 503);
    rt.ready.set("slack", true);
    assert_eq!(probe("/readyz").await.unwrap(), 200);
    assert_eq!(probe("/metrics").await.unwrap(), 200);
    assert_eq!(probe("/nope").await.unwrap(), 404);
    let _ = Arc::clone(&rt.engine);
}

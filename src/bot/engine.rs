//! The platform-neutral bot: what to do with a command, a pasted message or a button click.
//!
//! Adapters (Slack, Discord) translate their wire events into these calls and render the
//! returned `Reply`; every decision (answer or stay silent, duplicates, cooldowns, feedback,
//! metrics) is taken here so both platforms behave the same.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::bot::metrics::Metrics;
use crate::bot::store::Store;
use crate::diagnose::{Diagnosis, diagnose};
use crate::knowledge::KnowledgeBase;
use crate::matcher::{MatchMode, Verdict};
use crate::reply::{self, Reply};

/// Which chat platform an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    /// Slack (HTTP or Socket Mode).
    Slack,
    /// Discord (gateway).
    Discord,
}

impl Platform {
    /// Label used in metrics, logs and store keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Slack => "slack",
            Platform::Discord => "discord",
        }
    }
}

/// Where a message lives: its channel and the thread an answer belongs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place<'a> {
    /// Channel id.
    pub channel: &'a str,
    /// Thread root: Slack `thread_ts` (or the message `ts`), Discord thread channel id.
    pub thread: &'a str,
}

/// Tunables of duplicate suppression.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Length of the per-channel auto-reply window.
    pub cooldown_window: Duration,
    /// Auto-replies allowed per channel per window.
    pub cooldown_max: u64,
    /// How long "this scenario was answered in this thread" is remembered.
    pub thread_memory: Duration,
    /// How long delivered event ids are remembered (Slack retries for up to about an hour).
    pub event_memory: Duration,
    /// Recent diagnoses kept for pick-list and escalate buttons.
    pub evidence_capacity: usize,
    /// How long a diagnosis is kept for buttons.
    pub evidence_memory: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            cooldown_window: Duration::from_secs(60),
            cooldown_max: 5,
            thread_memory: Duration::from_secs(24 * 3600),
            event_memory: Duration::from_secs(2 * 3600),
            evidence_capacity: 4096,
            evidence_memory: Duration::from_secs(24 * 3600),
        }
    }
}

/// Why an auto-reply stayed silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Silence {
    /// Not confident, or not about IMDS / EC2-IAM.
    NotConfident,
    /// The scenario is in shadow mode: counted, never spoken.
    Shadow,
    /// This scenario was already answered in this thread.
    AnsweredInThread,
    /// Too many auto-replies in this channel recently.
    Cooldown,
}

/// What to do with a pasted message.
#[derive(Debug)]
pub enum AutoOutcome {
    /// Post this in the message's thread.
    Reply(Box<Reply>),
    /// Say nothing and make no API call.
    Silent(Silence),
}

/// A parsed `/imds` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `help` or nothing at all.
    Help,
    /// `list`.
    List,
    /// `explain <id|term>`.
    Explain(String),
    /// `escalate <id>`.
    Escalate(String),
    /// Anything else: a question or a paste.
    Diagnose(String),
}

impl Command {
    /// Parses the text after `/imds`.
    pub fn parse(text: &str) -> Command {
        let t = text.trim();
        let (head, rest) = match t.split_once(char::is_whitespace) {
            Some((h, r)) => (h, r.trim()),
            None => (t, ""),
        };
        match head.to_ascii_lowercase().as_str() {
            "" | "help" | "--help" | "-h" | "?" if rest.is_empty() => Command::Help,
            "list" | "ls" if rest.is_empty() => Command::List,
            "explain" | "define" | "what-is" if !rest.is_empty() => Command::Explain(rest.to_string()),
            "escalate" if !rest.is_empty() => Command::Escalate(rest.to_string()),
            _ => Command::Diagnose(t.to_string()),
        }
    }
}

/// The result of a command.
#[derive(Debug)]
pub struct CommandOutcome {
    /// What to post.
    pub reply: Reply,
    /// The diagnosis behind it, to `remember` once the adapter knows the thread it posted in.
    pub diagnosis: Option<Arc<Diagnosis>>,
}

/// A button the user clicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionKind {
    /// Choose a pick-list candidate.
    Pick,
    /// Post the escalation checklist.
    Escalate,
    /// Feedback: the answer helped.
    Helpful,
    /// Feedback: wrong diagnosis.
    Wrong,
}

/// What to do after a click.
#[derive(Debug)]
pub enum ActionOutcome {
    /// Post this in the thread.
    Reply(Box<Reply>),
    /// Feedback recorded: acknowledge privately with this text.
    Acknowledged(String),
    /// Unknown action or scenario (stale button after a knowledge base change).
    Unknown(String),
}

/// Parses an action id (`escalate:<id>`, `helpful:<id>`, `wrong:<id>`, `pick:<id>`).
pub fn parse_action(id: &str) -> Option<(ActionKind, &str)> {
    let (kind, scenario) = id.split_once(':')?;
    let kind = match kind {
        "pick" => ActionKind::Pick,
        "escalate" => ActionKind::Escalate,
        "helpful" => ActionKind::Helpful,
        "wrong" => ActionKind::Wrong,
        _ => return None,
    };
    (!scenario.is_empty()).then_some((kind, scenario))
}

/// The bot core shared by every adapter.
pub struct Engine {
    kb: RwLock<Arc<KnowledgeBase>>,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    evidence: Mutex<Evidence>,
    config: EngineConfig,
    cpu: tokio::sync::Semaphore,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.store.kind())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// A bot serving `kb`.
    pub fn new(kb: KnowledgeBase, store: Arc<dyn Store>, metrics: Arc<Metrics>, config: EngineConfig) -> Engine {
        metrics.kb(kb.version(), kb.scenarios().len());
        Engine {
            kb: RwLock::new(Arc::new(kb)),
            store,
            metrics,
            evidence: Mutex::new(Evidence::default()),
            cpu: tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())),
            config,
        }
    }

    /// The knowledge base currently served.
    pub fn kb(&self) -> Arc<KnowledgeBase> {
        self.kb.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Atomically replaces the knowledge base; returns the old one.
    pub fn replace_kb(&self, kb: KnowledgeBase) -> Arc<KnowledgeBase> {
        self.metrics.kb(kb.version(), kb.scenarios().len());
        let mut guard = self.kb.write().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *guard, Arc::new(kb))
    }

    /// Metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The duplicate-suppression store.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// True the first time an event id is seen (across replicas when the store is shared).
    /// Later deliveries are counted as duplicates with `reason`.
    pub async fn first_delivery(&self, platform: Platform, event_id: &str, reason: &str) -> bool {
        let key = format!("{}:event:{event_id}", platform.as_str());
        let first = self.store.claim(&key, self.config.event_memory).await;
        if !first {
            self.metrics.duplicate(platform.as_str(), reason);
            tracing::debug!(platform = platform.as_str(), reason, "duplicate delivery suppressed");
        }
        first
    }

    /// Decides whether a pasted message gets an auto-reply, and builds it.
    pub async fn auto(&self, platform: Platform, place: Place<'_>, text: &[u8]) -> AutoOutcome {
        let kb = self.kb();
        let d = match self
            .diagnose_off_workers(&kb, platform, "auto", text.to_vec(), MatchMode::Auto)
            .await
        {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "diagnosis task failed; staying silent");
                return AutoOutcome::Silent(Silence::NotConfident);
            }
        };
        let Verdict::Match(hit) = &d.verdict else {
            if let Some(hit) = kb.matcher().shadow_match(&d.ranking) {
                tracing::debug!(scenario = %kb.scenario(hit.scenario).id, "shadow scenario: silent");
                return AutoOutcome::Silent(Silence::Shadow);
            }
            return AutoOutcome::Silent(Silence::NotConfident);
        };
        let scenario = kb.scenario(hit.scenario);
        let p = platform.as_str();
        let thread_key = format!("{p}:thread:{}:{}:{}", place.channel, place.thread, scenario.id);
        if !self.store.claim(&thread_key, self.config.thread_memory).await {
            self.metrics.duplicate(p, "thread");
            return AutoOutcome::Silent(Silence::AnsweredInThread);
        }
        let window = now_secs() / self.config.cooldown_window.as_secs().max(1);
        let cooldown_key = format!("{p}:cooldown:{}:{window}", place.channel);
        if self.store.incr(&cooldown_key, self.config.cooldown_window).await > self.config.cooldown_max {
            self.store.release(&thread_key).await;
            self.metrics.duplicate(p, "cooldown");
            tracing::info!(platform = p, scenario = %scenario.id, "channel cooldown: auto-reply suppressed");
            return AutoOutcome::Silent(Silence::Cooldown);
        }
        let d = Arc::new(d);
        self.remember(platform, place, d.clone());
        match reply::build(&kb, &d) {
            Some(r) => AutoOutcome::Reply(Box::new(r)),
            None => AutoOutcome::Silent(Silence::NotConfident),
        }
    }

    /// Answers an explicit `/imds` command. `command` is how users type it (for help texts).
    pub async fn command(&self, platform: Platform, command: &str, text: &str) -> CommandOutcome {
        let kb = self.kb();
        let plain = |reply| CommandOutcome { reply, diagnosis: None };
        match Command::parse(text) {
            Command::Help => plain(reply::help(&kb, command)),
            Command::List => plain(reply::list(&kb)),
            Command::Explain(name) => plain(reply::explain(&kb, &name).unwrap_or_else(|| unknown(&kb, command, &name))),
            Command::Escalate(id) => match kb.get(&id) {
                Some(s) => {
                    self.metrics.feedback(s.id.as_str(), "escalate");
                    plain(reply::escalation(&kb, s, None))
                }
                None => plain(unknown(&kb, command, &id)),
            },
            Command::Diagnose(q) => {
                let d = match self
                    .diagnose_off_workers(&kb, platform, "command", q.into_bytes(), MatchMode::Command)
                    .await
                {
                    Ok(d) => Arc::new(d),
                    Err(e) => {
                        tracing::error!(error = %e, "diagnosis task failed; answering with the scenario list");
                        return plain(reply::list(&kb));
                    }
                };
                let reply = reply::build(&kb, &d).unwrap_or_else(|| reply::list(&kb));
                CommandOutcome {
                    reply,
                    diagnosis: Some(d),
                }
            }
        }
    }

    /// Handles a button click in `place` (the thread holding the button).
    pub fn action(&self, platform: Platform, place: Place<'_>, action_id: &str, user: &str) -> ActionOutcome {
        let Some((kind, id)) = parse_action(action_id) else {
            return ActionOutcome::Unknown("That button is no longer supported.".to_string());
        };
        let kb = self.kb();
        let Some(s) = kb.get(id) else {
            return ActionOutcome::Unknown(format!(
                "Scenario `{id}` is no longer in the knowledge base. Ask again to get a fresh answer."
            ));
        };
        let evidence = self.recall(platform, place);
        let p = platform.as_str();
        match kind {
            ActionKind::Pick => {
                self.metrics
                    .diagnosis(s.id.as_str(), "match", p, "button", Duration::ZERO);
                ActionOutcome::Reply(Box::new(reply::picked(&kb, s, evidence.as_deref())))
            }
            ActionKind::Escalate => {
                self.metrics.feedback(s.id.as_str(), "escalate");
                tracing::info!(platform = p, scenario = %s.id, user, "escalation requested");
                ActionOutcome::Reply(Box::new(reply::escalation(&kb, s, evidence.as_deref())))
            }
            ActionKind::Helpful | ActionKind::Wrong => {
                let (label, thanks) = if kind == ActionKind::Helpful {
                    ("helpful", "Thanks, noted that this answer helped.")
                } else {
                    (
                        "wrong",
                        "Thanks, noted as a wrong diagnosis. Try `explain <id>` for another scenario, or paste more of the error.",
                    )
                };
                self.metrics.feedback(s.id.as_str(), label);
                tracing::info!(platform = p, scenario = %s.id, kind = label, "feedback");
                ActionOutcome::Acknowledged(thanks.to_string())
            }
        }
    }

    /// Diagnoses `text` with [`diagnose_counted`] on the blocking pool, at most one per core:
    /// diagnosis is CPU work (up to a few ms for a 1 MiB paste), and the async workers must stay
    /// free to ack events within Slack's and Discord's deadlines. Fails only if the diagnosis
    /// task panicked or was cancelled.
    async fn diagnose_off_workers(
        &self,
        kb: &Arc<KnowledgeBase>,
        platform: Platform,
        trigger: &'static str,
        text: Vec<u8>,
        mode: MatchMode,
    ) -> Result<Diagnosis, tokio::task::JoinError> {
        // The semaphore is never closed; were it closed, diagnosis would go on without a permit.
        let _permit = self.cpu.acquire().await.ok();
        let (kb, metrics) = (kb.clone(), self.metrics.clone());
        tokio::task::spawn_blocking(move || diagnose_counted(&metrics, &kb, platform, trigger, &text, mode)).await
    }

    /// Keeps a diagnosis so buttons in `place` can use its evidence.
    pub fn remember(&self, platform: Platform, place: Place<'_>, d: Arc<Diagnosis>) {
        let key = evidence_key(platform, place);
        let mut ev = self.evidence.lock().unwrap_or_else(|e| e.into_inner());
        ev.insert(key, d, self.config.evidence_capacity);
    }

    fn recall(&self, platform: Platform, place: Place<'_>) -> Option<Arc<Diagnosis>> {
        let key = evidence_key(platform, place);
        let ev = self.evidence.lock().unwrap_or_else(|e| e.into_inner());
        ev.get(&key, self.config.evidence_memory)
    }
}

/// Diagnoses, then counts and logs the result (scenario, verdict, score, latency; never text).
fn diagnose_counted(
    metrics: &Metrics,
    kb: &KnowledgeBase,
    platform: Platform,
    trigger: &str,
    text: &[u8],
    mode: MatchMode,
) -> Diagnosis {
    let start = Instant::now();
    let d = diagnose(kb, text, mode);
    let took = start.elapsed();
    let (scenario, verdict, score) = match &d.verdict {
        Verdict::Match(h) => (kb.scenario(h.scenario).id.as_str(), "match", h.score),
        Verdict::Ambiguous(hs) => (kb.scenario(hs[0].scenario).id.as_str(), "ambiguous", hs[0].score),
        Verdict::None => match kb
            .matcher()
            .shadow_match(&d.ranking)
            .filter(|_| mode == MatchMode::Auto)
        {
            Some(h) => (kb.scenario(h.scenario).id.as_str(), "shadow", h.score),
            None => ("none", "none", d.ranking.first().map_or(0.0, |h| h.score)),
        },
    };
    metrics.diagnosis(scenario, verdict, platform.as_str(), trigger, took);
    tracing::info!(
        platform = platform.as_str(),
        trigger,
        scenario,
        verdict,
        score = format_args!("{score:.2}"),
        latency_us = took.as_micros() as u64,
        bytes = text.len(),
        secrets = d.secrets.count(),
        "diagnosed"
    );
    d
}

fn unknown(kb: &KnowledgeBase, command: &str, name: &str) -> Reply {
    let mut r = reply::list(kb);
    if let Reply::NoMatch(n) = &mut r {
        let shown: String = name.chars().take(80).collect();
        n.text = format!(
            "I do not know `{}`. Use `{command} explain <id or term>` with one of these scenario ids, or a glossary term:",
            shown.replace('`', "'")
        );
    }
    r
}

fn evidence_key(platform: Platform, place: Place<'_>) -> String {
    format!("{}:{}:{}", platform.as_str(), place.channel, place.thread)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A bounded, insertion-ordered cache of recent diagnoses.
#[derive(Default)]
struct Evidence {
    map: HashMap<String, (Instant, Arc<Diagnosis>)>,
    order: VecDeque<String>,
}

impl Evidence {
    fn insert(&mut self, key: String, d: Arc<Diagnosis>, capacity: usize) {
        if self.map.insert(key.clone(), (Instant::now(), d)).is_none() {
            self.order.push_back(key);
        }
        while self.map.len() > capacity.max(1) {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
    }

    fn get(&self, key: &str, ttl: Duration) -> Option<Arc<Diagnosis>> {
        self.map
            .get(key)
            .filter(|(at, _)| at.elapsed() <= ttl)
            .map(|(_, d)| d.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bot::store::MemoryStore;
    use crate::knowledge::load::{KbSource, load};

    fn engine(config: EngineConfig) -> Engine {
        let kb = load(&KbSource::Embedded, &[]).expect("embedded knowledge base");
        Engine::new(kb, Arc::new(MemoryStore::new()), Arc::new(Metrics::new()), config)
    }

    const PASTE: &str = "$ curl -s http://169.254.169.254/latest/meta-data/iam/security-credentials/\n< HTTP/1.1 401 Unauthorized\nIMDSv2 is required on this instance (HttpTokens=required)";

    #[test]
    fn parses_commands() {
        assert_eq!(Command::parse(""), Command::Help);
        assert_eq!(Command::parse(" help "), Command::Help);
        assert_eq!(Command::parse("list"), Command::List);
        assert_eq!(Command::parse("explain  IMDSv2"), Command::Explain("IMDSv2".into()));
        assert_eq!(
            Command::parse("escalate imds-hop-limit"),
            Command::Escalate("imds-hop-limit".into())
        );
        assert_eq!(
            Command::parse("403 forbidden"),
            Command::Diagnose("403 forbidden".into())
        );
        assert_eq!(Command::parse("explain"), Command::Diagnose("explain".into()));
        assert_eq!(
            parse_action("pick:imds-hop-limit"),
            Some((ActionKind::Pick, "imds-hop-limit"))
        );
        assert_eq!(parse_action("bogus:x"), None);
        assert_eq!(parse_action("pick:"), None);
    }

    #[tokio::test]
    async fn auto_answers_once_per_thread_and_stays_silent_on_noise() {
        let e = engine(EngineConfig::default());
        let place = Place {
            channel: "C1",
            thread: "1.1",
        };
        let first = e.auto(Platform::Slack, place, PASTE.as_bytes()).await;
        assert!(matches!(first, AutoOutcome::Reply(_)), "{first:?}");
        let again = e.auto(Platform::Slack, place, PASTE.as_bytes()).await;
        assert!(
            matches!(again, AutoOutcome::Silent(Silence::AnsweredInThread)),
            "{again:?}"
        );
        let other = e
            .auto(
                Platform::Slack,
                Place {
                    channel: "C1",
                    thread: "2.2",
                },
                PASTE.as_bytes(),
            )
            .await;
        assert!(matches!(other, AutoOutcome::Reply(_)));
        let noise = e.auto(Platform::Slack, place, b"nginx: 403 Forbidden on /admin").await;
        assert!(matches!(noise, AutoOutcome::Silent(Silence::NotConfident)), "{noise:?}");
        assert!(e.metrics().encode().contains("reason=\"thread\""));
    }

    #[tokio::test]
    async fn cooldown_limits_replies_per_channel() {
        let e = engine(EngineConfig {
            cooldown_max: 2,
            cooldown_window: Duration::from_secs(3600),
            ..EngineConfig::default()
        });
        let mut replies = 0;
        for t in 0..4 {
            let thread = t.to_string();
            if let AutoOutcome::Reply(_) = e
                .auto(
                    Platform::Discord,
                    Place {
                        channel: "C9",
                        thread: &thread,
                    },
                    PASTE.as_bytes(),
                )
                .await
            {
                replies += 1;
            }
        }
        assert_eq!(replies, 2);
    }

    #[tokio::test]
    async fn buttons_use_remembered_evidence() {
        let e = engine(EngineConfig::default());
        let place = Place {
            channel: "C1",
            thread: "9.9",
        };
        let paste = "$ curl -s -w '%{http_code}' http://169.254.169.254/latest/meta-data/iam/security-credentials/\n401\ninstance i-0123456789abcdef0 has HttpTokens=required";
        let AutoOutcome::Reply(r) = e.auto(Platform::Slack, place, paste.as_bytes()).await else {
            panic!("expected an answer")
        };
        let Reply::Answer(a) = *r else {
            panic!("expected an answer")
        };
        let ActionOutcome::Reply(esc) = e.action(Platform::Slack, place, &format!("escalate:{}", a.scenario_id), "U1")
        else {
            panic!("expected escalation")
        };
        let text = crate::render::text::render(&esc);
        assert!(text.contains("i-0123456789abcdef0"), "{text}");
        assert!(matches!(
            e.action(Platform::Slack, place, &format!("helpful:{}", a.scenario_id), "U1"),
            ActionOutcome::Acknowledged(_)
        ));
        assert!(matches!(
            e.action(Platform::Slack, place, "helpful:nope", "U1"),
            ActionOutcome::Unknown(_)
        ));
        assert!(e.metrics().encode().contains("kind=\"helpful\""));
    }

    #[tokio::test]
    async fn events_are_delivered_once() {
        let e = engine(EngineConfig::default());
        assert!(e.first_delivery(Platform::Slack, "Ev1", "event").await);
        assert!(!e.first_delivery(Platform::Slack, "Ev1", "event").await);
        assert!(e.first_delivery(Platform::Discord, "Ev1", "event").await);
    }

    #[tokio::test]
    async fn commands_always_answer() {
        let e = engine(EngineConfig::default());
        for q in [
            "help",
            "list",
            "explain IMDSv2",
            "explain nope",
            "escalate imds-hop-limit",
            "escalate nope",
            "403 forbidden",
            "hello",
        ] {
            let out = e.command(Platform::Slack, "/imds", q).await;
            let text = crate::render::text::render(&out.reply);
            assert!(!text.trim().is_empty(), "{q}");
        }
    }
}

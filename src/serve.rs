//! `imdsbot serve`: one process running whatever is configured (Slack over HTTP, Slack over
//! Socket Mode, Discord), plus `/healthz`, `/readyz` and `/metrics` on `IMDSBOT_LISTEN`.
//!
//! Adapters receive a [`Runtime`]: the engine, a readiness flag to set once connected, the
//! shutdown token to stop taking new events, and a task tracker so answers in flight finish
//! before the process exits.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bot::{Engine, EngineConfig, MemoryStore, Metrics, Store};
use crate::config::Config;
use crate::knowledge::{KbSource, KnowledgeBase};

/// How long answers in flight may take to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Which components are ready; `/readyz` is 200 only when all are.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    parts: Arc<Mutex<BTreeMap<String, bool>>>,
}

impl Readiness {
    /// Declares a component, not ready yet.
    pub fn register(&self, name: &str) {
        self.lock().insert(name.to_string(), false);
    }

    /// Marks a component ready or not.
    pub fn set(&self, name: &str, ready: bool) {
        self.lock().insert(name.to_string(), ready);
    }

    /// All components ready.
    pub fn all_ready(&self) -> bool {
        self.lock().values().all(|r| *r)
    }

    /// Component states, for `/readyz`.
    pub fn snapshot(&self) -> BTreeMap<String, bool> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, bool>> {
        self.parts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What every adapter gets.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// The bot core.
    pub engine: Arc<Engine>,
    /// Readiness of each component.
    pub ready: Readiness,
    /// Cancelled on SIGTERM / Ctrl-C: stop taking new events.
    pub shutdown: CancellationToken,
    /// Work in flight; waited for (bounded) before exit.
    pub tasks: TaskTracker,
}

impl Runtime {
    /// A runtime around `kb` with an in-memory store.
    pub fn new(kb: KnowledgeBase) -> Runtime {
        Runtime::with_store(kb, Arc::new(MemoryStore::new()))
    }

    /// A runtime around `kb` and a duplicate-suppression store.
    pub fn with_store(kb: KnowledgeBase, store: Arc<dyn Store>) -> Runtime {
        let metrics = Arc::new(Metrics::new());
        Runtime {
            engine: Arc::new(Engine::new(kb, store, metrics, EngineConfig::default())),
            ready: Readiness::default(),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }
    }
}

/// Liveness: the process answers.
pub const HEALTH_PATH: &str = "/healthz";
/// Readiness: knowledge base loaded and every configured platform connected.
pub const READY_PATH: &str = "/readyz";
/// Prometheus metrics.
pub const METRICS_PATH: &str = "/metrics";

/// `/healthz`, `/readyz` and `/metrics`.
pub fn ops_router(rt: &Runtime) -> Router {
    Router::new()
        .route(HEALTH_PATH, get(|| async { "ok\n" }))
        .route(READY_PATH, get(readyz))
        .route(METRICS_PATH, get(metrics))
        .with_state(rt.clone())
}

/// A minimal blocking HTTP/1.0 GET against `listen` (an `IMDSBOT_LISTEN` value; a wildcard
/// address is probed on loopback). Returns the status code. Used by `imdsbot health`, so
/// container images need no curl.
pub fn probe(listen: &str, path: &str) -> std::io::Result<u16> {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    let mut addr: SocketAddr = listen
        .parse()
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "IMDSBOT_LISTEN is not an address"))?;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let timeout = Duration::from_secs(3);
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut head = [0u8; 64];
    let n = s.read(&mut head)?;
    let line = String::from_utf8_lossy(&head[..n]);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response"))
}

async fn readyz(State(rt): State<Runtime>) -> impl IntoResponse {
    let parts = rt.ready.snapshot();
    let body: String = parts
        .iter()
        .map(|(k, v)| format!("{k}: {}\n", if *v { "ready" } else { "not ready" }))
        .collect();
    let body = format!("knowledge base: {} scenarios\n{body}", rt.engine.kb().scenarios().len());
    let status = if rt.ready.all_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body)
}

async fn metrics(State(rt): State<Runtime>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        rt.engine.metrics().encode(),
    )
}

/// Where the served knowledge base comes from, for reloads.
#[derive(Debug, Clone)]
pub struct KbOrigin {
    /// Base: embedded or a directory.
    pub base: KbSource,
    /// Operator directories added to it.
    pub extra: Vec<PathBuf>,
}

/// Runs until SIGTERM or Ctrl-C, then drains work in flight.
pub async fn run(config: Config, kb: KnowledgeBase, origin: KbOrigin) -> anyhow::Result<()> {
    let store: Arc<dyn Store> = match &config.redis_url {
        Some(url) => {
            let store = crate::bot::RedisStore::connect(url.expose()).await?;
            tracing::info!("duplicate suppression shared through Redis");
            Arc::new(store)
        }
        None => Arc::new(MemoryStore::new()),
    };
    let rt = Runtime::with_store(kb, store);
    if matches!(origin.base, KbSource::Dir(_)) || !origin.extra.is_empty() {
        tokio::spawn(crate::reload::watch(
            rt.engine.clone(),
            origin.base.clone(),
            origin.extra.clone(),
            rt.shutdown.clone(),
        ));
    }
    let mut router = ops_router(&rt);
    if let Some(slack) = &config.slack {
        router = router.merge(crate::slack::start(slack, &rt).await?);
    }
    if let Some(discord) = config.discord.clone() {
        crate::discord::start(discord, &rt).await?;
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("IMDSBOT_LISTEN: cannot listen on {}: {e}", config.listen))?;
    tracing::info!(listen = %config.listen, scenarios = rt.engine.kb().scenarios().len(), "serving");
    let token = rt.shutdown.clone();
    let server = tokio::spawn(
        axum::serve(listener, router)
            .with_graceful_shutdown(async move { token.cancelled().await })
            .into_future(),
    );
    shutdown_signal().await;
    tracing::info!("shutting down: no new events, finishing answers in flight");
    rt.shutdown.cancel();
    rt.tasks.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, rt.tasks.wait()).await.is_err() {
        tracing::warn!(
            grace_s = SHUTDOWN_GRACE.as_secs(),
            "answers still in flight at shutdown were abandoned"
        );
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

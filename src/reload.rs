//! Knowledge-base reloads without restarts (`serve --kb DIR`): a change to the directory
//! (polled) or SIGHUP loads and validates the new knowledge base in full, examples included,
//! then swaps it in atomically. An invalid one is refused: the old one keeps serving and the
//! diagnostics are logged and counted.
//!
//! Polling (every [`POLL_EVERY`]) instead of inotify keeps this dependency-free and also sees
//! Kubernetes ConfigMap updates, which replace a symlinked directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::bot::Engine;
use crate::knowledge::{self, KbSource, KnowledgeBase};

/// How often the knowledge directories are checked for changes.
pub const POLL_EVERY: Duration = Duration::from_secs(2);

/// What a reload changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct KbDiff {
    /// New scenario ids.
    pub added: Vec<String>,
    /// Scenario ids whose content changed.
    pub changed: Vec<String>,
    /// Removed scenario ids.
    pub removed: Vec<String>,
}

impl KbDiff {
    /// Compares two knowledge bases scenario by scenario.
    pub fn between(old: &KnowledgeBase, new: &KnowledgeBase) -> KbDiff {
        let fingerprint = |kb: &KnowledgeBase| -> BTreeMap<String, String> {
            kb.scenarios()
                .iter()
                .map(|s| (s.id.to_string(), format!("{s:?}")))
                .collect()
        };
        let (a, b) = (fingerprint(old), fingerprint(new));
        KbDiff {
            added: b.keys().filter(|k| !a.contains_key(*k)).cloned().collect(),
            changed: b
                .iter()
                .filter(|(k, v)| a.get(*k).is_some_and(|o| o != *v))
                .map(|(k, _)| k.clone())
                .collect(),
            removed: a.keys().filter(|k| !b.contains_key(*k)).cloned().collect(),
        }
    }
}

/// Outcome of one reload.
#[derive(Debug)]
pub enum Reloaded {
    /// Swapped in.
    Ok {
        /// What changed.
        diff: KbDiff,
        /// Time to load and validate.
        took: Duration,
    },
    /// Refused; the old knowledge base keeps serving.
    Rejected {
        /// Every problem found.
        problems: Vec<String>,
    },
}

/// Loads, validates and (when valid) swaps in the knowledge base.
pub async fn reload(engine: &Engine, base: &KbSource, extra: &[PathBuf]) -> Reloaded {
    let start = Instant::now();
    let (base2, extra2) = (base.clone(), extra.to_vec());
    let loaded = tokio::task::spawn_blocking(move || knowledge::load(&base2, &extra2))
        .await
        .unwrap_or_else(|e| {
            Err(vec![crate::diagnostic::Diagnostic::error(
                crate::diagnostic::Code::Io,
                "<reload>",
                (0, 0),
                format!("reload task failed: {e}"),
            )])
        });
    match loaded {
        Ok(kb) => {
            let took = start.elapsed();
            let diff = KbDiff::between(&engine.kb(), &kb);
            let version = kb.version().to_string();
            let count = kb.scenarios().len();
            engine.replace_kb(kb);
            engine.metrics().reload(true);
            tracing::info!(
                version,
                scenarios = count,
                added = ?diff.added,
                changed = ?diff.changed,
                removed = ?diff.removed,
                took_ms = took.as_millis() as u64,
                "knowledge base reloaded"
            );
            Reloaded::Ok { diff, took }
        }
        Err(diags) => {
            engine.metrics().reload(false);
            let problems: Vec<String> = diags.iter().map(ToString::to_string).collect();
            for p in &problems {
                tracing::error!(problem = %p, "knowledge base reload refused");
            }
            tracing::error!(
                problems = problems.len(),
                "knowledge base reload refused; the previous knowledge base keeps serving"
            );
            Reloaded::Rejected { problems }
        }
    }
}

/// A cheap fingerprint of the knowledge files: names, sizes and modification times.
pub fn fingerprint(dirs: &[PathBuf]) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut out = Vec::new();
    for d in dirs {
        scan(d, &mut out);
    }
    out.sort();
    out
}

fn scan(dir: &Path, out: &mut Vec<(PathBuf, u64, Option<SystemTime>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        out.push((dir.to_path_buf(), 0, None));
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        // `metadata` follows symlinks (ConfigMaps are symlinks into a timestamped directory).
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        if meta.is_file() {
            out.push((path, meta.len(), meta.modified().ok()));
        }
    }
}

/// Watches the knowledge directories and SIGHUP until `shutdown`; reloads on change.
pub async fn watch(
    engine: std::sync::Arc<Engine>,
    base: KbSource,
    extra: Vec<PathBuf>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let mut dirs = extra.clone();
    if let KbSource::Dir(d) = &base {
        dirs.push(d.clone());
    }
    let mut seen = fingerprint(&dirs);
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut tick = tokio::time::interval(POLL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        #[cfg(unix)]
        let hangup = async {
            match hup.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let hangup = std::future::pending::<()>();
        let why = tokio::select! {
            () = shutdown.cancelled() => return,
            () = hangup => "SIGHUP",
            _ = tick.tick() => {
                let now = fingerprint(&dirs);
                if now == seen { continue; }
                "files changed"
            }
        };
        tracing::info!(trigger = why, "reloading the knowledge base");
        reload(&engine, &base, &extra).await;
        seen = fingerprint(&dirs);
    }
}

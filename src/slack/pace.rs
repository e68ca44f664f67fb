//! Per-channel pacing: Slack allows about one message per second per channel, so messages to
//! the same channel are spaced by a fixed interval while other channels are not held up.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Entries kept before idle channels are forgotten.
const PRUNE_AT: usize = 4096;

/// Hands out send slots per channel, `every` apart.
#[derive(Debug)]
pub(crate) struct Pacer {
    every: Duration,
    next: Mutex<HashMap<String, Instant>>,
}

impl Pacer {
    /// A pacer spacing messages of one channel by `every` (zero: no pacing).
    pub(crate) fn new(every: Duration) -> Pacer {
        Pacer {
            every,
            next: Mutex::new(HashMap::new()),
        }
    }

    /// Reserves the next slot of `channel` and sleeps until it.
    pub(crate) async fn wait(&self, channel: &str) {
        if self.every.is_zero() {
            return;
        }
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            if next.len() >= PRUNE_AT {
                next.retain(|_, t| *t > now);
            }
            let entry = next.entry(channel.to_string()).or_insert(now);
            let slot = (*entry).max(now);
            *entry = slot + self.every;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn spaces_one_channel_not_others() {
        let every = Duration::from_millis(200);
        let p = Pacer::new(every);
        let start = Instant::now();
        p.wait("C1").await;
        p.wait("C2").await;
        assert!(start.elapsed() < every, "first messages of two channels go at once");
        p.wait("C1").await;
        p.wait("C1").await;
        assert!(start.elapsed() >= every * 2, "a channel's messages are spaced");
    }
}

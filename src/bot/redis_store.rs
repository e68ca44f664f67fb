//! The Redis-backed [`Store`]: duplicate suppression shared by every replica
//! (`IMDSBOT_REDIS_URL`). `claim` is `SET key 1 NX PX ttl`; `incr` is `INCR` plus `PEXPIRE` on
//! the first increment, in one script so a crash between them cannot leave a key without expiry.
//!
//! When Redis is unreachable, `claim` answers "first" (one duplicate answer is better than a lost
//! one) and `incr` answers 1; every failure is logged (without the URL, which may hold a password).

use std::time::Duration;

use redis::aio::ConnectionManager;

use super::store::{Store, StoreFuture};

/// Keys are namespaced so the bot can share a Redis with other users.
const PREFIX: &str = "imdsbot:";

const INCR_SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
";

/// A store shared through Redis.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects (and checks the connection with a PING).
    pub async fn connect(url: &str) -> anyhow::Result<RedisStore> {
        let client = redis::Client::open(url).map_err(|e| anyhow::anyhow!("IMDSBOT_REDIS_URL: invalid URL: {e}"))?;
        let mut conn = tokio::time::timeout(Duration::from_secs(5), client.get_connection_manager())
            .await
            .map_err(|_| anyhow::anyhow!("IMDSBOT_REDIS_URL: no answer from Redis within 5 s"))?
            .map_err(|e| anyhow::anyhow!("IMDSBOT_REDIS_URL: cannot connect to Redis: {e}"))?;
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(|e| anyhow::anyhow!("IMDSBOT_REDIS_URL: Redis did not answer PING: {e}"))?;
        Ok(RedisStore { conn })
    }
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Store for RedisStore {
    fn claim<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let res: redis::RedisResult<Option<String>> = redis::cmd("SET")
                .arg(format!("{PREFIX}{key}"))
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(millis(ttl))
                .query_async(&mut conn)
                .await;
            match res {
                Ok(v) => v.is_some(),
                Err(e) => {
                    tracing::warn!(error = %e, "redis claim failed; treating the event as new");
                    true
                }
            }
        })
    }

    fn incr<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let res: redis::RedisResult<u64> = redis::cmd("EVAL")
                .arg(INCR_SCRIPT)
                .arg(1)
                .arg(format!("{PREFIX}{key}"))
                .arg(millis(ttl))
                .query_async(&mut conn)
                .await;
            res.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "redis incr failed; not counting");
                1
            })
        })
    }

    fn release<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let res: redis::RedisResult<i64> = redis::cmd("DEL")
                .arg(format!("{PREFIX}{key}"))
                .query_async(&mut conn)
                .await;
            if let Err(e) = res {
                tracing::warn!(error = %e, "redis release failed");
            }
        })
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}

//! The bot service layer shared by the chat adapters: decisions, duplicate suppression,
//! feedback and metrics. Platform-neutral: it knows places, threads and action ids, never
//! Slack or Discord payloads.

pub mod engine;
pub mod metrics;
pub mod redis_store;
pub mod store;

pub use engine::{ActionOutcome, AutoOutcome, Command, CommandOutcome, Engine, EngineConfig, Place, Platform, Silence};
pub use metrics::Metrics;
pub use redis_store::RedisStore;
pub use store::{MemoryStore, Store};

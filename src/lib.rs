//! imdsbot: diagnoses EC2 instance-metadata (IMDS) and EC2/IAM authorization errors pasted
//! into chat, and answers with the scenario, its cause, the fix, a checklist and what to
//! collect before escalating.
//!
//! The core (knowledge, signals, matcher, diagnose, reply, render) is platform-neutral and does
//! no I/O beyond reading knowledge files; the adapters (`cli`, and the chat platforms) depend on
//! it, never the reverse. See `ARCHITECTURE.md`.

#![forbid(unsafe_code)]

pub mod bot;
pub mod cli;
pub mod config;
pub mod diagnose;
pub mod diagnostic;
pub mod discord;
pub mod knowledge;
pub mod literals;
pub mod matcher;
pub mod par;
pub mod redact;
pub mod reload;
pub mod render;
pub mod reply;
pub mod serve;
pub mod signals;
pub mod slack;
pub mod text;

pub use diagnose::{Diagnosis, diagnose};

/// mimalloc instead of the system allocator, for the binary and for everything else built on
/// this crate (tests, benches): loading the knowledge base and diagnosing make many small
/// allocations (words, labels, syntax trees, automata), and glibc's malloc and free took about
/// a third of a load's instructions. Without transparent huge pages (`no_thp`), the resident
/// size stays that of the system allocator (26 MB against 25 MB for one diagnosis).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
pub use knowledge::KnowledgeBase;
pub use matcher::{MatchMode, Verdict};

//! A client for the HTTP API that sched's agents serve (Nomad's `/v1` paths
//! and JSON). The CLI and the black-box tests talk to agents only through it.
//!
//! It owns the address resolution (`-address`, `SCHED_ADDR`, `NOMAD_ADDR`),
//! the request/response shapes and the errors a caller can act on; it does
//! not know how the server stores or schedules anything.
#![deny(missing_docs)]

mod client;
mod error;
mod query;
mod types;

pub use client::{Client, DEFAULT_ADDRESS};
pub use error::Error;
pub use query::{QueryMeta, QueryOptions};
pub use types::*;

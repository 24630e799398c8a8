//! The sched client: the node agent that runs allocations.
//!
//! [`Client`] is the entry point: it fingerprints the node
//! ([`fingerprint`]), registers it and heartbeats through a [`ServerConn`]
//! (the seam the servers' RPC implements), watches for the node's
//! allocations and runs each in an alloc runner ([`allocrunner`]) whose
//! tasks run in task runners ([`taskrunner`]) through the WASM driver host
//! ([`driver_host`]). Task output goes to rotating files ([`logs`]); what
//! must survive a client restart lives in sled ([`state`]).
#![deny(missing_docs)]

pub mod allocrunner;
mod client;
pub mod config;
pub mod conn;
pub mod driver_host;
pub mod fingerprint;
pub mod logs;
pub mod state;
pub mod taskrunner;
pub mod updates;

pub use client::{Client, ClientError, NodeStats};
pub use config::{ClientConfig, ReservedResources};
pub use conn::{AllocUpdate, ConnError, HeartbeatResponse, RegisterResponse, ServerConn};

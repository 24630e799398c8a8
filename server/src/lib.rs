//! sched's server: the cluster's memory and its placement engine.
//!
//! Owns the Raft node and its sled storage ([`raft`]), the one state machine
//! that writes the replicated state ([`fsm`]) and the state store readers get
//! snapshots of ([`state`]), the leader's scheduling machinery — eval broker,
//! workers, plan applier, periodic launcher, deployment watcher
//! ([`scheduling`]) — and node
//! liveness ([`heartbeat`]), the evaluations the server creates ([`evals`]),
//! the HTTP API ([`http`]), gRPC between servers and from nodes ([`rpc`]),
//! and the assembly that starts them all ([`server`]). It does not decide
//! placements (that is `sched-scheduler`, which this crate drives) nor run
//! tasks (`sched-client`).
#![deny(missing_docs)]

pub mod evals;
pub mod fsm;
pub mod heartbeat;
pub mod http;
pub mod raft;
pub mod rpc;
pub mod scheduling;
pub mod server;
pub mod state;

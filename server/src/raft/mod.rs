//! Consensus: one task owns the raft-rs `RawNode`, its sled storage and the
//! Ready loop; everyone else talks to it through a [`RaftHandle`].
//!
//! Owns the Raft log, hard state, conf state and snapshots in sled, proposal
//! bookkeeping (an ID in each entry's context, answered through a oneshot
//! when applied), read-index barriers, membership changes and snapshot
//! creation and installation. It does not know what the entries mean: it
//! hands committed entries to a [`StateMachine`] and messages to a
//! [`Transport`].

mod error;
mod logger;
pub mod memory;
mod node;
mod storage;

pub use error::RaftError;
pub use logger::{TracingDrain, raft_logger};
pub use memory::MemoryNetwork;
pub use node::{RaftConfig, RaftHandle, RaftStatus, Role, spawn};
pub use storage::SledStorage;

use raft::eraftpb::Message;

use crate::fsm::CommandResponse;

/// What the Raft node applies committed entries to (the FSM).
pub trait StateMachine: Send + 'static {
    /// Applies one committed normal entry's data at `index`. Must be
    /// deterministic: every server applies the same entries to the same state.
    fn apply(&mut self, index: u64, data: &[u8]) -> CommandResponse;
    /// The index of the last entry whose effects are durable in the state,
    /// so a restarted node resumes applying after it.
    fn applied_index(&self) -> u64;
    /// The whole state, serialised, for a Raft snapshot at
    /// [`StateMachine::applied_index`].
    fn snapshot(&self) -> Vec<u8>;
    /// Replaces the whole state with a snapshot's, taken at `index`.
    fn restore(&mut self, index: u64, data: &[u8]) -> Result<(), String>;
}

/// How Raft messages reach other servers. Sending never blocks the Ready
/// loop: an implementation queues and may drop (Raft retries).
pub trait Transport: Send + Sync + 'static {
    /// Sends messages to their `to` peers.
    fn send(&self, msgs: Vec<Message>);
    /// Learns (or changes) where a peer is.
    fn add_peer(&self, id: u64, addr: &str);
    /// Forgets a peer.
    fn remove_peer(&self, id: u64);
}

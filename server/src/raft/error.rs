//! The errors of the consensus layer, one variant per case a caller can act on.

/// What can go wrong talking to the Raft node or its storage.
#[derive(Debug, thiserror::Error)]
pub enum RaftError {
    /// This node is not the leader; retry at `leader` when one is known.
    #[error("not the leader (leader: {leader:?})")]
    NotLeader {
        /// The leader this node knows of.
        leader: Option<u64>,
    },
    /// The proposal was not committed because leadership changed or the
    /// leader refused it; it was not acknowledged, so retrying is safe.
    #[error("proposal dropped before it was committed")]
    ProposalDropped,
    /// No answer within the deadline (no quorum reachable, or overloaded).
    /// The proposal may still commit later.
    #[error("timed out waiting for the raft node")]
    Timeout,
    /// The node's task has ended (shut down or failed).
    #[error("the raft node has stopped")]
    Stopped,
    /// The node's mailbox is full; the message was dropped (Raft resends).
    #[error("the raft node's mailbox is full")]
    Overloaded,
    /// The node was started outside a tokio runtime.
    #[error("the raft node needs a tokio runtime")]
    NoRuntime,
    /// The storage was asked to bootstrap a cluster it already holds.
    #[error("raft storage is already initialized")]
    AlreadyInitialized,
    /// sled failed reading or writing the log.
    #[error("raft storage: {0}")]
    Storage(#[from] sled::Error),
    /// Stored bytes do not decode (a damaged or foreign database).
    #[error("raft storage holds undecodable data: {0}")]
    Corrupt(String),
    /// The state machine refused a snapshot.
    #[error("state machine could not restore a snapshot: {0}")]
    Restore(String),
    /// raft-rs refused an operation (invalid config, bad conf change).
    #[error("raft: {0}")]
    Raft(#[from] raft::Error),
}

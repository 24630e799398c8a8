//! The one write path: propose here when leading, forward to the leader
//! otherwise, wait out an election within a deadline.

use std::time::Duration;

use crate::fsm::{Command, CommandResponse};
use crate::raft::RaftError;
use crate::rpc::RpcError;

use super::Shared;

/// How long a write waits for a leader to be elected or reached.
const LEADER_WAIT: Duration = Duration::from_secs(10);

/// Why a write did not happen (or may not have).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// No leader was reachable within the deadline.
    #[error("no cluster leader")]
    NoLeader,
    /// The write was handed to Raft but leadership changed before it was
    /// applied: it may or may not have been committed.
    #[error(
        "leadership changed before the write was applied; it may or may not have been committed"
    )]
    Uncertain,
    /// The write timed out; it may still commit.
    #[error("timed out waiting for the write to be applied")]
    Timeout,
    /// The server is shutting down or its consensus failed.
    #[error("server unavailable: {0}")]
    Unavailable(String),
}

/// Proposes `cmd`, forwarding to the leader when this server does not lead.
pub(super) async fn apply(shared: &Shared, cmd: Command) -> Result<CommandResponse, ApplyError> {
    let deadline = tokio::time::Instant::now() + LEADER_WAIT;
    let data = cmd.encode();
    loop {
        let leader = match shared.raft.propose(data.clone()).await {
            Ok(resp) => return Ok(resp),
            Err(RaftError::NotLeader { leader }) => leader,
            Err(RaftError::ProposalDropped) => return Err(ApplyError::Uncertain),
            Err(RaftError::Timeout) => return Err(ApplyError::Timeout),
            Err(other) => return Err(ApplyError::Unavailable(other.to_string())),
        };
        if let Some(addr) = leader.and_then(|id| leader_addr(shared, id)) {
            match shared.peers.forward(&addr, &cmd).await {
                Ok(resp) => return Ok(resp),
                Err(RpcError::NotLeader { .. }) | Err(RpcError::Unavailable { .. }) => {}
                Err(RpcError::Timeout { .. }) => return Err(ApplyError::Timeout),
                Err(err) => {
                    tracing::debug!(error = %err, leader = ?leader, "forwarding to the leader failed");
                }
            }
        }
        if !wait_for_leader(shared, deadline).await {
            return Err(ApplyError::NoLeader);
        }
    }
}

/// A linearizable read barrier through Raft's read index (answered by the
/// leader, whichever server asks).
pub(super) async fn read_barrier(shared: &Shared) -> Result<u64, ApplyError> {
    let deadline = tokio::time::Instant::now() + LEADER_WAIT;
    loop {
        match shared.raft.read_index().await {
            Ok(index) => return Ok(index),
            Err(RaftError::NotLeader { .. }) | Err(RaftError::ProposalDropped) => {}
            Err(RaftError::Timeout) => return Err(ApplyError::Timeout),
            Err(other) => return Err(ApplyError::Unavailable(other.to_string())),
        }
        if !wait_for_leader(shared, deadline).await {
            return Err(ApplyError::NoLeader);
        }
    }
}

/// The gRPC address of server `id`.
fn leader_addr(shared: &Shared, id: u64) -> Option<String> {
    if let Some(s) = shared
        .reader
        .snapshot()
        .servers()
        .into_iter()
        .find(|s| s.raft_id == id)
    {
        return Some(s.rpc_addr);
    }
    shared
        .transport
        .peers()
        .into_iter()
        .find(|(pid, _)| *pid == id)
        .map(|(_, addr)| addr)
}

/// Waits (at most until `deadline`) for Raft to know a leader again, after
/// a short pause so a stale answer is not retried in a hot loop. Returns
/// whether there is time left.
async fn wait_for_leader(shared: &Shared, deadline: tokio::time::Instant) -> bool {
    let pause = tokio::time::Instant::now() + Duration::from_millis(50);
    tokio::time::sleep_until(pause.min(deadline)).await;
    let mut status = shared.raft.watch_status();
    let known = status.wait_for(|s| s.leader_id.is_some());
    let _ = tokio::time::timeout_at(deadline, known).await;
    tokio::time::Instant::now() < deadline
}

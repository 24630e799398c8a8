//! The seam between the HTTP API and the server that serves it.

use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::fsm::{Command, CommandResponse};
use crate::state::{StateSnapshot, Table};

/// What the HTTP API needs from a server. The server implements it over its
/// Raft node and state store; tests implement it over an in-process FSM.
/// Keeping the API behind this trait means handlers never touch Raft, sled or
/// the clock directly, so every path can be driven from a test.
pub trait Backend: Send + Sync + 'static {
    /// A snapshot for a read. Unless `stale`, the snapshot must include every
    /// write committed before the call (a leader read-index barrier), so a
    /// client sees its own writes on any server.
    fn read(&self, stale: bool) -> BoxFuture<'_, Result<StateSnapshot, BackendError>>;

    /// The blocking query: waits until one of `tables` changes past `index`
    /// or `wait` passes, then answers with the latest snapshot either way.
    fn block(
        &self,
        tables: &'static [Table],
        index: u64,
        wait: Duration,
    ) -> BoxFuture<'_, Result<StateSnapshot, BackendError>>;

    /// Proposes a command through Raft (forwarded to the leader when this
    /// server follows) and answers once it is applied locally.
    fn apply(&self, cmd: Command) -> BoxFuture<'_, Result<CommandResponse, BackendError>>;

    /// What this server knows about the Raft cluster.
    fn raft_info(&self) -> RaftInfo;

    /// The servers this agent knows, for `/v1/agent/members`.
    fn members(&self) -> Vec<Member>;

    /// This agent's identity and configuration.
    fn agent_self(&self) -> AgentSelf;

    /// Unix nanoseconds from the clock the server was given: commands carry
    /// the proposer's time so every server applies the same bytes.
    fn now(&self) -> i64;

    /// Removes a server from the Raft configuration.
    fn remove_peer(&self, raft_id: u64) -> BoxFuture<'_, Result<(), BackendError>>;

    /// Asks the leader to hand leadership to `raft_id` (or to the most
    /// up-to-date follower when `None`).
    fn transfer_leadership(&self, raft_id: Option<u64>) -> BoxFuture<'_, Result<(), BackendError>>;
}

/// Why the backend could not serve a request; each maps to one HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// No leader is known, so consistent reads and writes cannot proceed
    /// (503; the client may retry or ask with `?stale`).
    #[error("No cluster leader")]
    NoLeader,
    /// The request did not complete in time (504; it may still apply).
    #[error("timed out waiting for the cluster")]
    Timeout,
    /// The server cannot serve right now, e.g. it is shutting down (503).
    #[error("server unavailable: {0}")]
    Unavailable(String),
    /// The request is invalid for the cluster's current state (400).
    #[error("{0}")]
    Rejected(String),
    /// The named object (a peer, a server) does not exist (404).
    #[error("{0}")]
    NotFound(String),
}

/// The Raft view of one server.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RaftInfo {
    /// Whether a leader is known.
    pub known_leader: bool,
    /// The leader's RPC address, empty when none is known.
    pub leader_addr: String,
    /// Milliseconds since the leader was last heard from (0 on the leader).
    pub last_contact_ms: u64,
    /// Every server in the Raft configuration.
    pub peers: Vec<RaftPeer>,
    /// The last Raft index this server has applied.
    pub applied_index: u64,
    /// The Raft term this server is in (saved in operator snapshots).
    #[serde(default)]
    pub term: u64,
}

/// One server in the Raft configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RaftPeer {
    /// Raft ID.
    pub id: u64,
    /// Server name.
    pub name: String,
    /// RPC address.
    pub address: String,
    /// Whether it leads.
    pub leader: bool,
    /// Whether it votes.
    pub voter: bool,
}

/// One agent in the cluster, as `/v1/agent/members` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Member {
    /// Agent name.
    pub name: String,
    /// Host address.
    pub addr: String,
    /// RPC port.
    pub port: u16,
    /// `alive`, `failed` or `left`.
    pub status: String,
    /// Region.
    pub region: String,
    /// Datacenter.
    pub datacenter: String,
    /// Whether it is the leader.
    pub leader: bool,
    /// Build version.
    pub version: String,
    /// Raft ID.
    pub raft_id: u64,
}

/// This agent's identity, for `/v1/agent/self` and `/v1/regions`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AgentSelf {
    /// Agent name.
    pub name: String,
    /// Region.
    pub region: String,
    /// Datacenter.
    pub datacenter: String,
    /// Build version.
    pub version: String,
    /// Whether it runs a server.
    pub server: bool,
    /// Whether it runs a client.
    pub client: bool,
    /// The HTTP address it serves.
    pub http_addr: String,
    /// The RPC address peers dial.
    pub rpc_addr: String,
}

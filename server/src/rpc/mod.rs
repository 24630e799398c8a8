//! gRPC between servers: Raft message batches, chunked snapshot transfer,
//! forwarding writes to the leader, joining a cluster and asking a server
//! who it is.
//!
//! Owns the wire protocol (`proto/sched.proto`, generated into [`proto`]),
//! the listening side ([`serve`]), the Raft [`Transport`](crate::raft::Transport)
//! over gRPC ([`GrpcTransport`]) and the request side for everything else
//! ([`PeerClient`]). It does not decide anything: what an incoming message or
//! request means is the [`PeerHandler`]'s business, which the server assembly
//! implements over the Raft node and the FSM.
//!
//! Peers are not authenticated yet: the listener must only be reachable by
//! the cluster's servers (see the note on protobuf 2 in `.cargo/audit.toml`).

mod client;
mod error;
pub mod node;
mod replies;
mod service;
mod snapshot;
mod transport;

use raft::eraftpb::Message;

use crate::fsm::{Command, CommandResponse, ServerEntry};

pub use client::{ClientConfig, PeerClient};
pub use error::{HandlerError, RpcError, ServeError};
pub use replies::{JoinReply, PeerStatus};
pub use service::{ServeConfig, peer_routes, serve, serve_routes, serve_with};
pub use snapshot::{SnapshotError, SnapshotReassembler};
pub use transport::{GrpcTransport, SnapshotOutcome, SnapshotReporter, TransportConfig};

/// The code generated from `proto/sched.proto`: the wire messages and the raw
/// client and server of the `Peer` service. Public so other components (and
/// tests) can speak the protocol directly; most callers want [`PeerClient`].
#[allow(missing_docs, clippy::all)]
pub mod proto {
    tonic::include_proto!("sched.peer.v1");
}

/// What a server does with what its peers send it. The server assembly
/// implements it over the Raft node and the FSM; [`serve`] calls it once per
/// request, concurrently across peers but in order for each peer's Raft
/// traffic.
#[tonic::async_trait]
pub trait PeerHandler: Send + Sync + 'static {
    /// Steps Raft messages that arrived from a peer, in the order given.
    /// A snapshot arrives here whole, after its chunks were reassembled.
    async fn raft_messages(&self, msgs: Vec<Message>) -> Result<(), HandlerError>;

    /// Proposes a command a follower forwarded and answers once it is applied.
    /// A server that is not the leader answers [`HandlerError::NotLeader`].
    async fn forward(&self, command: Command) -> Result<CommandResponse, HandlerError>;

    /// Adds a server to the cluster (the leader proposes the conf change and
    /// records its addresses).
    async fn join(&self, server: ServerEntry) -> Result<JoinReply, HandlerError>;

    /// Who this server is and which leader it knows of.
    async fn status(&self) -> Result<PeerStatus, HandlerError>;
}

//! The server's answers to its peers: Raft traffic into the Raft node,
//! forwarded writes proposed here, joins turned into conf changes.

use std::sync::OnceLock;

use raft::eraftpb::Message;

use crate::fsm::{Command, CommandResponse, ServerEntry};
use crate::raft::{RaftError, RaftHandle};
use crate::rpc::{HandlerError, JoinReply, PeerHandler, PeerStatus};
use crate::state::StateReader;

/// Answers peers. It exists before the Raft node does (peers ask who this
/// server is while the cluster forms), so the node is attached later.
#[derive(Debug)]
pub(super) struct Handler {
    me: ServerEntry,
    node: OnceLock<(RaftHandle, StateReader)>,
}

impl Handler {
    pub(super) fn new(me: ServerEntry) -> Handler {
        Handler {
            me,
            node: OnceLock::new(),
        }
    }

    /// Attaches the Raft node once it runs.
    pub(super) fn attach(&self, raft: RaftHandle, reader: StateReader) {
        if self.node.set((raft, reader)).is_err() {
            tracing::warn!("peer handler attached twice; keeping the first node");
        }
    }

    fn node(&self) -> Result<&(RaftHandle, StateReader), HandlerError> {
        self.node
            .get()
            .ok_or_else(|| HandlerError::Unavailable("the server is still starting".into()))
    }
}

/// How a Raft refusal reaches a peer.
pub(super) fn handler_error(err: RaftError) -> HandlerError {
    match err {
        RaftError::NotLeader { leader } => HandlerError::NotLeader { leader },
        RaftError::Timeout => HandlerError::Timeout,
        other => HandlerError::Unavailable(other.to_string()),
    }
}

#[tonic::async_trait]
impl PeerHandler for Handler {
    async fn raft_messages(&self, msgs: Vec<Message>) -> Result<(), HandlerError> {
        let (raft, _) = self.node()?;
        for m in msgs {
            raft.step(m).await.map_err(handler_error)?;
        }
        Ok(())
    }

    async fn forward(&self, command: Command) -> Result<CommandResponse, HandlerError> {
        let (raft, _) = self.node()?;
        raft.propose(command.encode()).await.map_err(handler_error)
    }

    async fn join(&self, server: ServerEntry) -> Result<JoinReply, HandlerError> {
        if server.raft_id == 0 || server.rpc_addr.is_empty() {
            return Err(HandlerError::Invalid(
                "a joining server needs a raft id and an rpc address".into(),
            ));
        }
        let (raft, reader) = self.node()?;
        let status = raft.status();
        if status.leader_id != Some(self.me.raft_id) {
            return Err(HandlerError::NotLeader {
                leader: status.leader_id,
            });
        }
        if !status.voters.contains(&server.raft_id) {
            raft.add_voter(server.raft_id, server.rpc_addr.clone())
                .await
                .map_err(handler_error)?;
        }
        let resp = raft
            .propose(
                Command::ServerUpsert {
                    server: server.clone(),
                }
                .encode(),
            )
            .await
            .map_err(handler_error)?;
        if let Some(err) = resp.error {
            return Err(HandlerError::Unavailable(err));
        }
        tracing::info!(raft_id = server.raft_id, rpc = %server.rpc_addr, "server joined");
        let mut servers = reader
            .wait_for_index(resp.index, std::time::Duration::from_secs(5))
            .await
            .servers();
        if !servers.iter().any(|s| s.raft_id == self.me.raft_id) {
            servers.push(self.me.clone());
        }
        Ok(JoinReply {
            leader_id: self.me.raft_id,
            servers,
        })
    }

    async fn status(&self) -> Result<PeerStatus, HandlerError> {
        let (leader_id, term) = match self.node.get() {
            Some((raft, _)) => {
                let s = raft.status();
                (s.leader_id, s.term)
            }
            None => (None, 0),
        };
        Ok(PeerStatus {
            server: self.me.clone(),
            leader_id,
            term,
        })
    }
}

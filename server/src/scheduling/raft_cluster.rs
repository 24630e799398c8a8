//! The [`Cluster`] a server's scheduling runs on: commands are proposed
//! through its Raft node and answered once applied; the state is the FSM's.

use futures::future::BoxFuture;
use tokio::sync::watch;

use super::broker::Clock;
use super::{Cluster, ClusterError};
use crate::fsm::{Command, CommandResponse};
use crate::raft::{RaftError, RaftHandle, Role};
use crate::state::StateReader;

/// Commands through Raft, state from the FSM the node applies to.
#[derive(Debug, Clone)]
pub struct RaftCluster {
    raft: RaftHandle,
    reader: StateReader,
    clock: Clock,
}

impl RaftCluster {
    /// A cluster over a running Raft node and the reader of its FSM.
    pub fn new(raft: RaftHandle, reader: StateReader, clock: Clock) -> RaftCluster {
        RaftCluster {
            raft,
            reader,
            clock,
        }
    }

    /// Whether the node leads, as the `leader` signal
    /// [`Scheduling::start`](super::Scheduling::start) takes. The task that
    /// follows the node's status ends with it.
    pub fn leadership(&self) -> watch::Receiver<bool> {
        let mut status = self.raft.watch_status();
        let (tx, rx) = watch::channel(status.borrow().role == Role::Leader);
        tokio::spawn(async move {
            while status.changed().await.is_ok() {
                let leads = status.borrow().role == Role::Leader;
                tx.send_if_modified(|v| std::mem::replace(v, leads) != leads);
                if tx.is_closed() {
                    break;
                }
            }
        });
        rx
    }
}

fn cluster_error(e: RaftError) -> ClusterError {
    match e {
        RaftError::NotLeader { .. } | RaftError::ProposalDropped => ClusterError::NotLeader,
        RaftError::Timeout => ClusterError::Timeout,
        other => ClusterError::Unavailable(other.to_string()),
    }
}

impl Cluster for RaftCluster {
    fn state(&self) -> StateReader {
        self.reader.clone()
    }

    fn apply(&self, cmd: Command) -> BoxFuture<'_, Result<CommandResponse, ClusterError>> {
        Box::pin(async move { self.raft.propose(cmd.encode()).await.map_err(cluster_error) })
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }
}

//! The scheduling machinery's [`Cluster`] over the server's Raft write path.

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::fsm::{Command, CommandResponse};
use crate::scheduling::{Cluster, ClusterError};
use crate::state::StateReader;

use crate::raft::RaftError;

use super::{Shared, leader};

/// Commits the broker's, workers' and applier's commands through Raft.
#[derive(Debug)]
pub(super) struct RaftCluster {
    shared: Arc<Shared>,
}

impl RaftCluster {
    pub(super) fn new(shared: Arc<Shared>) -> RaftCluster {
        RaftCluster { shared }
    }
}

impl Cluster for RaftCluster {
    fn state(&self) -> StateReader {
        self.shared.reader.clone()
    }

    fn apply(&self, cmd: Command) -> BoxFuture<'_, Result<CommandResponse, ClusterError>> {
        Box::pin(async move {
            // Never forwarded: the machinery runs on the leader only, and
            // a former leader's plans must not reach the new one.
            let resp = self
                .shared
                .raft
                .propose(cmd.encode())
                .await
                .map_err(|e| match e {
                    RaftError::NotLeader { .. } => ClusterError::NotLeader,
                    RaftError::Timeout | RaftError::ProposalDropped => ClusterError::Timeout,
                    other => ClusterError::Unavailable(other.to_string()),
                })?;
            match resp.error {
                Some(err) => Err(ClusterError::Rejected(err)),
                None => Ok(resp),
            }
        })
    }

    fn now(&self) -> i64 {
        leader::unix_nanos()
    }
}

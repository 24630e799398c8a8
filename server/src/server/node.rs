//! The server's answers to client nodes: registration and heartbeats on the
//! leader, the allocation long poll and status reports on any server.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use sched_core::model::{Allocation, ClientStatus, Node, NodeId, NodeStatus};

use crate::evals::{new_eval, trigger};
use crate::fsm::{AllocClientUpdate, Command};
use crate::heartbeat::node_evals;
use crate::rpc::node::{NodeError, NodeHandler, NodeReply};
use crate::state::Table;

use super::{ApplyError, ServerHandle, leader::unix_nanos};

/// Most status reports accepted in one call.
const MAX_UPDATES: usize = 10_000;

/// Answers nodes; attached to the server once it runs (the listener starts
/// before the cluster forms).
#[derive(Debug, Default)]
pub(super) struct Handler {
    server: OnceLock<ServerHandle>,
}

impl Handler {
    pub(super) fn attach(&self, server: ServerHandle) {
        if self.server.set(server).is_err() {
            tracing::warn!("node handler attached twice; keeping the first server");
        }
    }

    fn server(&self) -> Result<&ServerHandle, NodeError> {
        self.server
            .get()
            .ok_or_else(|| NodeError::Unavailable("the server is still starting".into()))
    }

    /// Heartbeats are tracked by the leader alone.
    fn leader(&self) -> Result<&ServerHandle, NodeError> {
        let server = self.server()?;
        if server.is_leader() {
            return Ok(server);
        }
        Err(NodeError::NotLeader {
            leader_addr: server.leader().map(|l| l.rpc_addr),
        })
    }
}

fn unavailable(err: ApplyError) -> NodeError {
    NodeError::Unavailable(err.to_string())
}

#[tonic::async_trait]
impl NodeHandler for Handler {
    async fn register(&self, mut node: Node) -> Result<NodeReply, NodeError> {
        let server = self.leader()?;
        let now = unix_nanos();
        node.status = NodeStatus::Ready;
        node.status_updated_at = now / 1_000_000_000;
        let snapshot = server.state().snapshot();
        let evals = node_evals(&snapshot, &node.id, now);
        let id = node.id.clone();
        let resp = server
            .apply(Command::NodeRegister {
                node: Box::new(node),
                evals,
                now,
            })
            .await
            .map_err(unavailable)?;
        if let Some(err) = resp.error {
            return Err(NodeError::Invalid(err));
        }
        let ttl = server.node_heartbeat(&id);
        tracing::info!(node_id = %id.0, ttl_ms = ttl.as_millis() as u64, "node registered");
        Ok(NodeReply {
            heartbeat_ttl: ttl,
            index: resp.index,
        })
    }

    async fn heartbeat(&self, node_id: NodeId) -> Result<NodeReply, NodeError> {
        let server = self.leader()?;
        let snapshot = server.state().snapshot();
        let Some(node) = snapshot.node(&node_id) else {
            return Err(NodeError::UnknownNode(node_id.0));
        };
        let mut index = 0;
        if node.status != NodeStatus::Ready {
            let now = unix_nanos();
            let resp = server
                .apply(Command::NodeStatusUpdate {
                    node_id: node_id.clone(),
                    status: NodeStatus::Ready,
                    evals: node_evals(&snapshot, &node_id, now),
                    now,
                })
                .await
                .map_err(unavailable)?;
            index = resp.index;
            tracing::info!(node_id = %node_id.0, "node is back");
        }
        Ok(NodeReply {
            heartbeat_ttl: server.node_heartbeat(&node_id),
            index,
        })
    }

    async fn allocations(
        &self,
        node_id: NodeId,
        min_index: u64,
        wait: Duration,
    ) -> Result<(Vec<Arc<Allocation>>, u64), NodeError> {
        let server = self.server()?;
        let reader = server.state();
        let deadline = Instant::now() + wait;
        let mut seen = 0;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let snapshot = if seen == 0 {
                reader.snapshot()
            } else {
                reader
                    .wait_for_change(&[Table::Allocs], seen, remaining)
                    .await
            };
            if snapshot.node(&node_id).is_none() {
                return Err(NodeError::UnknownNode(node_id.0));
            }
            let allocs = snapshot.allocs_by_node(&node_id);
            // Only server-side changes count: a node is not woken by its own
            // status reports.
            let index = allocs
                .iter()
                .map(|a| a.alloc_modify_index.max(a.create_index))
                .max()
                .unwrap_or(0);
            if index > min_index || remaining.is_zero() {
                return Ok((allocs, index.max(min_index)));
            }
            seen = snapshot.table_index(Table::Allocs).max(1);
        }
    }

    async fn update_allocs(&self, updates: Vec<AllocClientUpdate>) -> Result<u64, NodeError> {
        if updates.len() > MAX_UPDATES {
            return Err(NodeError::Invalid(format!(
                "{} updates in one call is over the limit of {MAX_UPDATES}",
                updates.len()
            )));
        }
        if updates.is_empty() {
            return Ok(0);
        }
        let server = self.server()?;
        let snapshot = server.state().snapshot();
        let now = unix_nanos();
        // A failed allocation is replaced by the job's reschedule policy,
        // and one reported again after its node was disconnected is
        // reconciled with its replacement: one evaluation per job.
        let mut jobs = BTreeSet::new();
        let mut evals = Vec::new();
        for u in &updates {
            let Some(alloc) = snapshot.alloc(&u.alloc_id) else {
                continue;
            };
            let why = if alloc.client_status == ClientStatus::Unknown
                && u.client_status != ClientStatus::Unknown
            {
                trigger::RECONNECT
            } else if u.client_status == ClientStatus::Failed
                && alloc.client_status != ClientStatus::Failed
            {
                trigger::ALLOC_FAILURE
            } else {
                continue;
            };
            let Some(job) = snapshot.job(&alloc.namespace, &alloc.job_id) else {
                continue;
            };
            if !jobs.insert((alloc.namespace.clone(), alloc.job_id.clone())) {
                continue;
            }
            evals.push(new_eval(&job, why, now));
        }
        let resp = server
            .apply(Command::AllocClientUpdate {
                updates,
                evals,
                now,
            })
            .await
            .map_err(unavailable)?;
        if let Some(err) = resp.error {
            return Err(NodeError::Invalid(err));
        }
        Ok(resp.index)
    }
}

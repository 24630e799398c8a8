//! The server's background duties: following leadership, keeping the
//! transport's address book in step with the replicated one, and (on the
//! leader) declaring nodes disconnected or down when their heartbeats stop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sched_core::model::{NodeId, NodeStatus};
use tokio::sync::watch;

use crate::fsm::Command;
use crate::heartbeat::{Expiry, node_evals, on_expiry};
use crate::raft::{Role, Transport};
use crate::state::Table;

use super::{Shared, writer};

/// Longest pause of a background loop between looks at its condition.
const IDLE: Duration = Duration::from_secs(1);

/// Publishes whether this server leads; a server that just became leader
/// first gives every live node a fresh heartbeat deadline.
pub(super) async fn watch_leadership(
    shared: Arc<Shared>,
    leader: watch::Sender<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut status = shared.raft.watch_status();
    loop {
        let leads = status.borrow_and_update().role == Role::Leader;
        if leads != *leader.borrow() {
            if leads {
                let snapshot = shared.reader.snapshot();
                let live = snapshot
                    .nodes("")
                    .into_iter()
                    .filter(|n| n.status != NodeStatus::Down)
                    .map(|n| n.id.clone());
                shared
                    .heartbeats
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .reset_all(live, Instant::now());
                tracing::info!(raft_id = shared.me.raft_id, "this server leads");
            } else {
                tracing::info!(raft_id = shared.me.raft_id, "this server no longer leads");
            }
            leader.send_replace(leads);
        }
        tokio::select! {
            changed = status.changed() => if changed.is_err() { return },
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// Keeps the transport pointed at every server in the replicated address
/// book, and puts this server in the book once a leader can take the write.
pub(super) async fn sync_peers(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut seen = 0;
    let mut status = shared.raft.watch_status();
    loop {
        let snapshot = shared.reader.snapshot();
        let known: Vec<(u64, String)> = shared.transport.peers();
        for s in snapshot.servers() {
            if s.raft_id == shared.me.raft_id {
                continue;
            }
            if !known
                .iter()
                .any(|(id, addr)| *id == s.raft_id && *addr == s.rpc_addr)
            {
                shared.transport.add_peer(s.raft_id, &s.rpc_addr);
            }
        }
        let listed = snapshot.servers().into_iter().any(|s| s == shared.me);
        if !listed && shared.raft.status().leader_id.is_some() {
            let cmd = Command::ServerUpsert {
                server: shared.me.clone(),
            };
            if let Err(err) = writer::apply(&shared, cmd).await {
                tracing::debug!(error = %err, "recording this server's addresses; will retry");
            }
        }
        seen = seen.max(snapshot.table_index(Table::Servers));
        let wait = if listed {
            Duration::from_secs(30)
        } else {
            IDLE
        };
        let leader = status.borrow_and_update().leader_id;
        tokio::select! {
            _ = shared.reader.wait_for_change(&[Table::Servers], seen, wait) => {}
            // A new leader may be able to take the write at once.
            changed = status.wait_for(|s| s.leader_id != leader) => if changed.is_err() { return },
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// On the leader: marks nodes whose heartbeat deadline passed as
/// disconnected or down, with the evaluations that replace their work.
pub(super) async fn expire_heartbeats(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut leader = shared.leader.clone();
    loop {
        if !*leader.borrow_and_update() {
            tokio::select! {
                r = leader.changed() => if r.is_err() { return },
                _ = shutdown.wait_for(|s| *s) => return,
            }
            continue;
        }
        let next = {
            let hb = shared.heartbeats.lock().unwrap_or_else(|p| p.into_inner());
            hb.next_deadline()
        };
        let now = Instant::now();
        let until = next.map_or(now + IDLE, |d| d.min(now + IDLE));
        tokio::select! {
            _ = tokio::time::sleep_until(until.into()) => {}
            _ = leader.changed() => continue,
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let expired = shared
            .heartbeats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .expired(Instant::now());
        for node_id in expired {
            expire_node(&shared, node_id).await;
        }
    }
}

/// Turns one expired node into its next status: disconnected (its
/// disconnect-tolerant allocations wait for it, the rest are replaced),
/// down, or another wait while its disconnect window runs.
async fn expire_node(shared: &Arc<Shared>, node_id: NodeId) {
    let snapshot = shared.reader.snapshot();
    let now_ns = unix_nanos();
    let status = match on_expiry(&snapshot, &node_id, now_ns) {
        Expiry::Nothing => return,
        Expiry::Wait(left) => {
            track_until(shared, &node_id, Instant::now() + left);
            return;
        }
        Expiry::Disconnect(window) => {
            tracing::warn!(node_id = %node_id.0, window_ms = window.as_millis() as u64, "node missed its heartbeat; marking it disconnected");
            track_until(shared, &node_id, Instant::now() + window);
            NodeStatus::Disconnected
        }
        Expiry::Down => {
            tracing::warn!(node_id = %node_id.0, "node missed its heartbeat; marking it down");
            NodeStatus::Down
        }
    };
    let evals = node_evals(&snapshot, &node_id, now_ns);
    let cmd = Command::NodeStatusUpdate {
        node_id: node_id.clone(),
        status,
        evals,
        now: now_ns,
    };
    if let Err(err) = writer::apply(shared, cmd).await {
        tracing::warn!(node_id = %node_id.0, error = %err, "changing the node's status failed; retrying at the next beat deadline");
        // Track it again so the next round retries.
        shared
            .heartbeats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .beat(&node_id, Instant::now());
    }
}

fn track_until(shared: &Shared, node_id: &NodeId, deadline: Instant) {
    shared
        .heartbeats
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .track_until(node_id, deadline);
}

/// Unix nanoseconds now (the server's clock for the commands it writes).
pub(super) fn unix_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

//! Disconnected clients: what reconciliation does with the allocations of a
//! group that allows its node to be out of touch (`disconnect.lost_after`,
//! or the older `max_client_disconnect`), as Nomad does.
//!
//! - A running allocation on a `disconnected` node becomes `unknown` (kept,
//!   not stopped) with a follow-up evaluation when its window ends; a
//!   replacement is placed elsewhere unless `replace = false`. A pending one
//!   is lost.
//! - An `unknown` allocation whose window passed, or whose node went `down`,
//!   is lost; it is replaced if nothing replaces it yet.
//! - When the client reconnects and reports the original again, the original
//!   and its replacement are compared per `disconnect.reconcile` and the loser
//!   is stopped. An original that ended (failed, complete) while away loses;
//!   a replacement that ended loses.
//!
//! This module owns only these decisions. It runs before the generic
//! per-group logic of [`reconcile`](crate::reconcile) and hands back the
//! allocations that logic should still see; groups without a disconnect
//! window pass through untouched. It does not time heartbeats or mark nodes
//! (the server does).
//!
//! Nomad records when an allocation became unknown in its `AllocStates`;
//! sched's allocation has no such list, so the time is the allocation's last
//! modification, which is the plan that marked it unknown (a disconnected
//! client sends no updates).

use std::collections::HashSet;

use sched_core::model::{AllocId, Allocation, ClientStatus, DesiredStatus, NodeStatus, TaskGroup};

use crate::job_view::nanos;
use crate::rank::binpack::score_fit_binpack;
use crate::reconcile::{
    DelayedReschedule, Placement, RESCHEDULE_WINDOW_NANOS, Reconciled, Stop, reasons,
};
use crate::state::State;
use crate::usage::{Capacity, Usage};

/// Stop and status descriptions, as Nomad words them.
pub mod descriptions {
    /// The client status description of an allocation on a disconnected node.
    pub const UNKNOWN: &str = "alloc is unknown since its node is disconnected";
    /// The loser of a reconnect.
    pub const RECONNECTED: &str = "alloc not needed due to disconnected client reconnect";
}

/// Which allocation stays when a disconnected client comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconnectPolicy {
    /// The one on the better-scoring node (Nomad's default since 1.8).
    BestScore,
    /// Always the original.
    KeepOriginal,
    /// Always the replacement.
    KeepReplacement,
    /// The one whose tasks have run without a restart the longest.
    LongestRunning,
}

/// A group's disconnect settings, resolved from `disconnect` and the older
/// `max_client_disconnect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisconnectPolicy {
    /// How long an allocation may stay unknown before it is lost (ns).
    pub lost_after: i64,
    /// Whether an unknown allocation is replaced at once.
    pub replace: bool,
    /// Which allocation stays on reconnect.
    pub reconcile: ReconnectPolicy,
}

/// The group's disconnect settings; `None` when the group does not allow
/// its allocations to outlive a lost heartbeat (they are lost at once).
pub fn policy(group: &TaskGroup) -> Option<DisconnectPolicy> {
    let d = group.disconnect.as_ref();
    let lost_after = d
        .and_then(|d| d.lost_after)
        .or(group.max_client_disconnect)?;
    let reconcile = match d.and_then(|d| d.reconcile.as_deref()) {
        Some("keep_original") => ReconnectPolicy::KeepOriginal,
        Some("keep_replacement") => ReconnectPolicy::KeepReplacement,
        Some("longest_running") => ReconnectPolicy::LongestRunning,
        _ => ReconnectPolicy::BestScore,
    };
    Some(DisconnectPolicy {
        lost_after: nanos(Some(lost_after)).max(0),
        replace: d.and_then(|d| d.replace).unwrap_or(true),
        reconcile,
    })
}

/// Decides the group's disconnect cases into `out` and returns the
/// allocations the generic per-group logic should still see (all of them
/// when the group has no disconnect window). `allocs` are the group's
/// allocations the servers want running.
pub fn reconcile_group<'a>(
    state: &dyn State,
    group: &TaskGroup,
    allocs: &[&'a Allocation],
    now: i64,
    out: &mut Reconciled,
) -> Vec<&'a Allocation> {
    // Allocations decided here, kept out of the generic logic.
    let mut decided: HashSet<&AllocId> = HashSet::new();
    let Some(policy) = policy(group) else {
        // No window: on a disconnected node they are lost at once, as on a
        // down one.
        for &a in allocs {
            let status = state.node(&a.node_id).map(|n| n.status);
            if status == Some(NodeStatus::Disconnected) && !a.client_status.is_terminal() {
                lose(a, group, true, out);
                decided.insert(&a.id);
            }
        }
        return keep_undecided(allocs, &decided);
    };
    for &a in allocs {
        if decided.contains(&a.id) {
            continue;
        }
        let status = state.node(&a.node_id).map(|n| n.status);
        let replacement = replacement_of(a, allocs);
        if a.client_status == ClientStatus::Unknown {
            // The follow-up evaluation is due when the window ends, give or
            // take the time the marking plan took to commit.
            let expired = a.modify_time.saturating_add(policy.lost_after)
                <= now.saturating_add(RESCHEDULE_WINDOW_NANOS);
            let node_gone = matches!(status, None | Some(NodeStatus::Down));
            if expired || node_gone {
                lose(a, group, replacement.is_none(), out);
                decided.insert(&a.id);
            } else if replacement.is_some() {
                // The replacement stands for it until the client is back.
                decided.insert(&a.id);
            } else if policy.replace {
                // The replacement could not be placed before: try again.
                out.place.push(replace(a, group));
                decided.insert(&a.id);
            }
            // Without `replace` it holds its slot: the generic logic keeps it.
            continue;
        }
        if status == Some(NodeStatus::Disconnected) {
            match a.client_status {
                ClientStatus::Running => {
                    let mut unknown = a.clone();
                    unknown.client_status = ClientStatus::Unknown;
                    unknown.client_description = descriptions::UNKNOWN.to_owned();
                    // The window counts from now (the store stamps the
                    // commit time over it).
                    unknown.modify_time = now;
                    // Marks it unknown and wakes the scheduler when the
                    // window ends.
                    out.delayed.push(DelayedReschedule {
                        alloc: unknown,
                        at: now.saturating_add(policy.lost_after),
                    });
                    if policy.replace && replacement.is_none() {
                        out.place.push(replace(a, group));
                    }
                    // Without `replace` it holds its slot: the generic
                    // logic keeps it.
                    if policy.replace || replacement.is_some() {
                        decided.insert(&a.id);
                    }
                }
                ClientStatus::Pending => {
                    lose(a, group, replacement.is_none(), out);
                    decided.insert(&a.id);
                }
                _ => {}
            }
            continue;
        }
        let back = matches!(status, Some(NodeStatus::Ready | NodeStatus::Initializing));
        if let (true, Some(r)) = (back, replacement) {
            let loser = if a.client_status.is_terminal() {
                a
            } else if !r_alive(state, r) {
                r
            } else if keep_replacement(state, policy.reconcile, a, r) {
                a
            } else {
                r
            };
            out.stop.push(Stop {
                alloc: loser.clone(),
                description: descriptions::RECONNECTED,
                client_status: None,
            });
            decided.insert(&loser.id);
        }
    }
    keep_undecided(allocs, &decided)
}

fn keep_undecided<'a>(
    allocs: &[&'a Allocation],
    decided: &HashSet<&AllocId>,
) -> Vec<&'a Allocation> {
    allocs
        .iter()
        .copied()
        .filter(|a| !decided.contains(&a.id))
        .collect()
}

/// The allocation placed to replace `a`: one naming it as its previous
/// allocation, or else a newer one of the same name.
fn replacement_of<'a>(a: &Allocation, allocs: &[&'a Allocation]) -> Option<&'a Allocation> {
    let others = || allocs.iter().copied().filter(move |r| r.id != a.id);
    others()
        .find(|r| r.previous_allocation.as_ref() == Some(&a.id))
        .or_else(|| {
            others().find(|r| {
                r.name == a.name
                    && r.create_index > a.create_index
                    && r.previous_allocation.is_none()
            })
        })
}

/// Whether a replacement can still take over: not ended, and on a node
/// that is up.
fn r_alive(state: &dyn State, r: &Allocation) -> bool {
    !r.client_status.is_terminal()
        && r.client_status != ClientStatus::Unknown
        && r.desired_status == DesiredStatus::Run
        && state
            .node(&r.node_id)
            .is_some_and(|n| matches!(n.status, NodeStatus::Ready | NodeStatus::Initializing))
}

/// Stops `a` as lost and, when `place`, replaces it.
fn lose(a: &Allocation, group: &TaskGroup, place: bool, out: &mut Reconciled) {
    out.stop.push(Stop {
        alloc: a.clone(),
        description: reasons::LOST,
        client_status: Some(ClientStatus::Lost),
    });
    if place {
        out.place.push(replace(a, group));
    }
}

/// A placement replacing `a` under its name.
fn replace(a: &Allocation, group: &TaskGroup) -> Placement {
    Placement {
        group: group.name.clone().unwrap_or_default(),
        name: a.name.clone(),
        previous: Some(a.clone()),
        reschedule: false,
        penalty_nodes: HashSet::new(),
    }
}

/// Whether the replacement `r` should stay rather than the reconnected
/// original `a`; both are alive.
fn keep_replacement(
    state: &dyn State,
    policy: ReconnectPolicy,
    a: &Allocation,
    r: &Allocation,
) -> bool {
    match policy {
        ReconnectPolicy::KeepOriginal => false,
        ReconnectPolicy::KeepReplacement => true,
        ReconnectPolicy::LongestRunning => match (running_since(a), running_since(r)) {
            (Some(x), Some(y)) => y < x,
            (None, Some(_)) => true,
            _ => false,
        },
        ReconnectPolicy::BestScore => {
            // A replacement of a newer job version always wins; otherwise
            // the better node wins, but never a running original for one
            // that is not running yet; ties keep the original.
            let version = |x: &Allocation| x.job.as_ref().map(|j| (j.version, j.create_index));
            if version(r) > version(a) {
                return true;
            }
            let better = node_score(state, r) > node_score(state, a);
            better
                && (r.client_status == ClientStatus::Running
                    || a.client_status != ClientStatus::Running)
        }
    }
}

/// The bin-packing score of the node an allocation runs on, with what runs
/// there now (allocations keep no placement score to compare).
fn node_score(state: &dyn State, a: &Allocation) -> f64 {
    let Some(node) = state.node(&a.node_id) else {
        return 0.0;
    };
    let used = Usage::of(state.allocs_by_node(&a.node_id));
    score_fit_binpack(&Capacity::of(node), used.cpu, used.memory_mb)
}

/// Since when every task of the allocation has run without a restart
/// (RFC 3339 times from one clock compare as strings); `None` when a task
/// never started.
fn running_since(a: &Allocation) -> Option<String> {
    let mut latest: Option<String> = None;
    for s in a.task_states.values() {
        let t = s.last_restart.clone().or_else(|| s.started_at.clone())?;
        if latest.as_ref().is_none_or(|l| t > *l) {
            latest = Some(t);
        }
    }
    latest
}

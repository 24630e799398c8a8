//! Reconciliation: per task group, the job's desired count against its
//! existing allocations. Decides placements (new), stops (count down, job
//! stopped), in-place updates (only count or metadata changed) versus
//! destructive updates (task driver, config, resources and the like
//! changed), lost allocations (on down or missing nodes: stopped and
//! replaced), migrations off draining nodes, and rescheduling of failed
//! allocations per the group's reschedule policy, now or — when delayed —
//! through a follow-up evaluation.
//!
//! It decides only *what*; *where* is the stack's. Deployments and canaries
//! are not done here yet; disconnected clients' allocations are decided by
//! [`reconcile_disconnect`](crate::reconcile_disconnect) first.

use std::collections::{BTreeSet, HashSet};

use sched_core::model::{
    Allocation, ClientStatus, Job, NodeId, NodeStatus, ReschedulePolicy, TaskGroup,
};

use crate::job_view::{GroupView, JobView, nanos};
use crate::state::State;

/// Reschedules due within this window happen now rather than through a
/// follow-up evaluation (Nomad's batching window).
pub const RESCHEDULE_WINDOW_NANOS: i64 = 1_000_000_000;

/// A placement the stack must find a node for.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// Task group name.
    pub group: String,
    /// Allocation name, `job.group[index]`.
    pub name: String,
    /// The allocation this one replaces (rescheduled, lost, migrated,
    /// destructively updated).
    pub previous: Option<Allocation>,
    /// Whether the previous allocation failed and this is a reschedule.
    pub reschedule: bool,
    /// Nodes to avoid (where the previous allocations failed).
    pub penalty_nodes: HashSet<NodeId>,
}

/// An allocation to stop.
#[derive(Debug, Clone, PartialEq)]
pub struct Stop {
    /// The allocation.
    pub alloc: Allocation,
    /// Why (Nomad's descriptions).
    pub description: &'static str,
    /// The client status to record, for lost allocations.
    pub client_status: Option<ClientStatus>,
}

/// A failed allocation to reschedule later.
#[derive(Debug, Clone, PartialEq)]
pub struct DelayedReschedule {
    /// The failed allocation.
    pub alloc: Allocation,
    /// When (Unix nanoseconds).
    pub at: i64,
}

/// What reconciliation decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reconciled {
    /// New and replacement placements.
    pub place: Vec<Placement>,
    /// Allocations to stop.
    pub stop: Vec<Stop>,
    /// Allocations updated in place (the new job attached).
    pub inplace: Vec<Allocation>,
    /// Failed allocations to reschedule later.
    pub delayed: Vec<DelayedReschedule>,
}

/// Stop descriptions, as Nomad words them.
pub mod reasons {
    /// Count decreased.
    pub const NOT_NEEDED: &str = "alloc not needed due to job update";
    /// Job stopped or deleted.
    pub const JOB_STOPPED: &str = "alloc not needed as job is stopped";
    /// Node down.
    pub const LOST: &str = "alloc is lost since its node is down";
    /// Node draining.
    pub const MIGRATING: &str = "alloc is being migrated";
    /// Destructive update.
    pub const UPDATING: &str = "alloc is being updated due to job update";
    /// Failed and replaced.
    pub const RESCHEDULED: &str = "alloc was rescheduled because it failed";
    /// Group removed from the job.
    pub const GROUP_REMOVED: &str = "alloc not needed as task group was removed";
}

/// Reconciles a job (or its absence) with its allocations.
///
/// `eval_id` identifies the running evaluation: a failed allocation whose
/// follow-up evaluation is this one is rescheduled now.
pub fn reconcile(
    state: &dyn State,
    job: Option<&Job>,
    allocs: &[&Allocation],
    now: i64,
    eval_id: &str,
) -> Reconciled {
    let mut out = Reconciled::default();
    let live: Vec<&Allocation> = allocs
        .iter()
        .copied()
        .filter(|a| a.desired_status == sched_core::model::DesiredStatus::Run)
        .collect();
    let Some(job) = job.filter(|j| !j.stopped()) else {
        for a in live.into_iter().filter(|a| !a.client_status.is_terminal()) {
            out.stop.push(Stop {
                alloc: a.clone(),
                description: reasons::JOB_STOPPED,
                client_status: None,
            });
        }
        return out;
    };
    let groups: BTreeSet<&str> = job.groups().iter().map(|g| g.name()).collect();
    for a in &live {
        if !groups.contains(a.task_group.as_str()) && !a.client_status.is_terminal() {
            out.stop.push(Stop {
                alloc: (*a).clone(),
                description: reasons::GROUP_REMOVED,
                client_status: None,
            });
        }
    }
    for group in job.groups() {
        let mine: Vec<&Allocation> = live
            .iter()
            .copied()
            .filter(|a| a.task_group == group.name())
            .collect();
        reconcile_group(state, job, group, &mine, now, eval_id, &mut out);
    }
    out
}

fn reconcile_group(
    state: &dyn State,
    job: &Job,
    group: &TaskGroup,
    allocs: &[&Allocation],
    now: i64,
    eval_id: &str,
    out: &mut Reconciled,
) {
    // Disconnected clients' allocations first; the rest as usual.
    let allocs = &crate::reconcile_disconnect::reconcile_group(state, group, allocs, now, out);
    let desired = group.count() as usize;
    let batch = job.job_type() == "batch";
    let policy = group.reschedule(job);
    // Allocations that count toward the desired count, by name.
    let mut kept: Vec<Allocation> = Vec::new();
    let mut replacements: Vec<Placement> = Vec::new();
    for a in allocs {
        let node = state.node(&a.node_id);
        let node_down = node.is_none_or(|n| n.status == NodeStatus::Down);
        match a.client_status {
            ClientStatus::Complete => {
                // A finished batch allocation is done; a service one is
                // replaced (it does not count).
                if batch {
                    kept.push((*a).clone());
                }
                continue;
            }
            ClientStatus::Lost => continue,
            ClientStatus::Failed => {
                if a.next_allocation.is_some() {
                    continue;
                }
                match reschedule_decision(a, policy.as_ref(), now, eval_id) {
                    Reschedule::Now(penalty) => {
                        out.stop.push(Stop {
                            alloc: (*a).clone(),
                            description: reasons::RESCHEDULED,
                            client_status: None,
                        });
                        replacements.push(Placement {
                            group: group.name().to_owned(),
                            name: a.name.clone(),
                            previous: Some((*a).clone()),
                            reschedule: true,
                            penalty_nodes: penalty,
                        });
                    }
                    Reschedule::Later(at) => {
                        // Still counts until its replacement is placed.
                        kept.push((*a).clone());
                        if a.followup_eval_id.is_none() {
                            out.delayed.push(DelayedReschedule {
                                alloc: (*a).clone(),
                                at,
                            });
                        }
                    }
                    Reschedule::Never => kept.push((*a).clone()),
                }
                continue;
            }
            _ => {}
        }
        if node_down {
            out.stop.push(Stop {
                alloc: (*a).clone(),
                description: reasons::LOST,
                client_status: Some(ClientStatus::Lost),
            });
            replacements.push(Placement {
                group: group.name().to_owned(),
                name: a.name.clone(),
                previous: Some((*a).clone()),
                reschedule: false,
                penalty_nodes: HashSet::new(),
            });
            continue;
        }
        if node.is_some_and(|n| n.drain_strategy.is_some()) {
            out.stop.push(Stop {
                alloc: (*a).clone(),
                description: reasons::MIGRATING,
                client_status: None,
            });
            replacements.push(Placement {
                group: group.name().to_owned(),
                name: a.name.clone(),
                previous: Some((*a).clone()),
                reschedule: false,
                penalty_nodes: HashSet::new(),
            });
            continue;
        }
        kept.push((*a).clone());
    }

    // Count down: stop the highest-indexed names first.
    let total = kept.len() + replacements.len();
    if total > desired {
        let mut excess = total - desired;
        // Replacements are dropped first (their old alloc is stopped anyway).
        while excess > 0 && !replacements.is_empty() {
            replacements.pop();
            excess -= 1;
        }
        kept.sort_by_key(|a| std::cmp::Reverse(name_index(&a.name)));
        let mut remaining = Vec::new();
        for a in kept.drain(..) {
            if excess > 0 && !a.client_status.is_terminal() {
                out.stop.push(Stop {
                    alloc: a,
                    description: reasons::NOT_NEEDED,
                    client_status: None,
                });
                excess -= 1;
            } else {
                remaining.push(a);
            }
        }
        kept = remaining;
    }

    // Updates of what stays.
    for a in kept.iter().filter(|a| !a.client_status.is_terminal()) {
        let old = a.job.as_ref().and_then(|j| j.group(group.name()));
        // An allocation without its job cannot be compared: leave it.
        let same_version = a
            .job
            .as_ref()
            .is_none_or(|j| j.ver() == job.ver() && j.job_modify_index == job.job_modify_index);
        if same_version {
            continue;
        }
        match old {
            Some(old) if !destructive_change(old, group) => {
                let mut updated = a.clone();
                updated.job = Some(std::sync::Arc::new(job.clone()));
                out.inplace.push(updated);
            }
            _ => {
                out.stop.push(Stop {
                    alloc: a.clone(),
                    description: reasons::UPDATING,
                    client_status: None,
                });
                replacements.push(Placement {
                    group: group.name().to_owned(),
                    name: a.name.clone(),
                    previous: Some(a.clone()),
                    reschedule: false,
                    penalty_nodes: HashSet::new(),
                });
            }
        }
    }
    out.place.extend(replacements);

    // Count up with the lowest free name indexes.
    let total = kept.len() + out.place.iter().filter(|p| p.group == group.name()).count();
    if total < desired {
        let used: BTreeSet<u64> = kept
            .iter()
            .map(|a| a.name.as_str())
            .chain(
                out.place
                    .iter()
                    .filter(|p| p.group == group.name())
                    .map(|p| p.name.as_str()),
            )
            .filter_map(name_index)
            .collect();
        let mut i = 0u64;
        let mut missing = desired - total;
        while missing > 0 {
            if !used.contains(&i) {
                out.place.push(Placement {
                    group: group.name().to_owned(),
                    name: alloc_name(job.job_id(), group.name(), i),
                    previous: None,
                    reschedule: false,
                    penalty_nodes: HashSet::new(),
                });
                missing -= 1;
            }
            i += 1;
        }
    }
}

/// `job.group[index]`.
pub fn alloc_name(job: &str, group: &str, index: u64) -> String {
    format!("{job}.{group}[{index}]")
}

/// The index in an allocation name, `web.api[3]` → 3.
pub fn name_index(name: &str) -> Option<u64> {
    let open = name.rfind('[')?;
    name.get(open + 1..name.len().checked_sub(1)?)?.parse().ok()
}

/// Whether a group change needs new allocations (Nomad's "tasks updated"):
/// tasks added or removed, or a task's driver, config, env, user,
/// resources, artifacts, templates, volume mounts or lifecycle changed, or
/// the group's networks or volumes changed. Count and metadata changes are
/// applied in place.
pub fn destructive_change(old: &TaskGroup, new: &TaskGroup) -> bool {
    if old.networks != new.networks || old.volumes != new.volumes {
        return true;
    }
    let (a, b) = (old.task_list(), new.task_list());
    if a.len() != b.len() {
        return true;
    }
    a.iter().any(|t| {
        let Some(u) = b.iter().find(|u| u.name == t.name) else {
            return true;
        };
        t.driver != u.driver
            || t.config != u.config
            || t.env != u.env
            || t.user != u.user
            || t.resources != u.resources
            || t.artifacts != u.artifacts
            || t.templates != u.templates
            || t.volume_mounts != u.volume_mounts
            || t.lifecycle != u.lifecycle
    })
}

enum Reschedule {
    Now(HashSet<NodeId>),
    Later(i64),
    Never,
}

fn reschedule_decision(
    a: &Allocation,
    policy: Option<&ReschedulePolicy>,
    now: i64,
    eval_id: &str,
) -> Reschedule {
    let Some(policy) = policy else {
        return Reschedule::Never;
    };
    let fail_time = failure_time(a);
    if !reschedule_eligible(a, policy, fail_time) {
        return Reschedule::Never;
    }
    let at = fail_time + next_delay(a, policy, fail_time);
    let followup_due = a
        .followup_eval_id
        .as_ref()
        .is_some_and(|id| id.as_str() == eval_id);
    if at <= now + RESCHEDULE_WINDOW_NANOS || followup_due {
        let mut penalty: HashSet<NodeId> = HashSet::new();
        penalty.insert(a.node_id.clone());
        if let Some(t) = &a.reschedule_tracker {
            penalty.extend(t.events.iter().map(|e| e.prev_node_id.clone()));
        }
        Reschedule::Now(penalty)
    } else {
        Reschedule::Later(at)
    }
}

/// When the allocation failed: its last modification, which is the client's
/// update reporting the failure (task finish times are not consulted yet).
pub fn failure_time(a: &Allocation) -> i64 {
    a.modify_time
}

/// Nomad's `RescheduleEligible`: unlimited, or fewer than `attempts`
/// reschedules within `interval` before the failure.
pub fn reschedule_eligible(a: &Allocation, policy: &ReschedulePolicy, fail_time: i64) -> bool {
    let attempts = policy.attempts.unwrap_or(0);
    let unlimited = policy.unlimited.unwrap_or(false);
    if attempts <= 0 && !unlimited {
        return false;
    }
    if unlimited {
        return true;
    }
    let events = a
        .reschedule_tracker
        .as_ref()
        .map(|t| t.events.as_slice())
        .unwrap_or(&[]);
    let interval = nanos(policy.interval);
    let recent = events
        .iter()
        .filter(|e| fail_time - e.reschedule_time < interval)
        .count() as i64;
    recent < attempts
}

/// Nomad's `NextDelay`: constant, exponential (doubling the last delay) or
/// fibonacci (sum of the last two), capped at `max_delay`; past the cap the
/// series restarts once the allocation ran longer than the cap.
pub fn next_delay(a: &Allocation, policy: &ReschedulePolicy, fail_time: i64) -> i64 {
    let base = nanos(policy.delay);
    let max = nanos(policy.max_delay);
    let events = a
        .reschedule_tracker
        .as_ref()
        .map(|t| t.events.as_slice())
        .unwrap_or(&[]);
    let Some(last) = events.last() else {
        return base;
    };
    let mut delay = match policy.delay_function.as_deref().unwrap_or("constant") {
        "exponential" => last.delay.as_nanos().saturating_mul(2),
        "fibonacci" => {
            if events.len() >= 2 {
                let n1 = last.delay.as_nanos();
                let n2 = events[events.len() - 2].delay.as_nanos();
                if n2 == max && n1 == base { n1 } else { n1 + n2 }
            } else {
                base
            }
        }
        _ => return base,
    };
    if max > 0 && delay > max {
        delay = max;
        if fail_time - last.reschedule_time > delay {
            delay = base;
        }
    }
    delay
}

#[cfg(test)]
mod tests {
    use super::*;
    use sched_core::model::{Duration, RescheduleEvent, RescheduleTracker};

    fn policy(func: &str, delay_s: i64, max_s: i64) -> ReschedulePolicy {
        ReschedulePolicy {
            attempts: Some(3),
            interval: Some(Duration::from_hours(1)),
            delay: Some(Duration::from_secs(delay_s)),
            delay_function: Some(func.into()),
            max_delay: Some(Duration::from_secs(max_s)),
            unlimited: Some(false),
        }
    }

    fn with_events(delays_s: &[i64], at: i64) -> Allocation {
        Allocation {
            reschedule_tracker: Some(RescheduleTracker {
                events: delays_s
                    .iter()
                    .map(|d| RescheduleEvent {
                        reschedule_time: at,
                        delay: Duration::from_secs(*d),
                        ..Default::default()
                    })
                    .collect(),
            }),
            ..Default::default()
        }
    }

    const S: i64 = 1_000_000_000;

    #[test]
    fn delays() {
        let p = policy("constant", 5, 0);
        assert_eq!(next_delay(&with_events(&[5, 5], 0), &p, 10 * S), 5 * S);
        let p = policy("exponential", 5, 60);
        assert_eq!(next_delay(&Allocation::default(), &p, 0), 5 * S);
        assert_eq!(next_delay(&with_events(&[5], 0), &p, 1), 10 * S);
        assert_eq!(next_delay(&with_events(&[5, 10, 20, 40], 0), &p, 1), 60 * S);
        // Past the cap and ran longer than it: back to the base delay.
        assert_eq!(next_delay(&with_events(&[40], 0), &p, 100 * S), 5 * S);
        let p = policy("fibonacci", 5, 100);
        assert_eq!(next_delay(&with_events(&[5], 0), &p, 1), 5 * S);
        assert_eq!(next_delay(&with_events(&[5, 5], 0), &p, 1), 10 * S);
        assert_eq!(next_delay(&with_events(&[5, 5, 10], 0), &p, 1), 15 * S);
    }

    #[test]
    fn eligibility() {
        let p = policy("constant", 5, 0);
        assert!(reschedule_eligible(&Allocation::default(), &p, 0));
        let a = with_events(&[5, 5, 5], 0);
        assert!(!reschedule_eligible(&a, &p, 10 * S));
        // Events older than the interval do not count.
        assert!(reschedule_eligible(&a, &p, 2 * 3600 * S));
        let mut unlimited = p.clone();
        unlimited.unlimited = Some(true);
        assert!(reschedule_eligible(&a, &unlimited, 10 * S));
        let mut none = p;
        none.attempts = Some(0);
        assert!(!reschedule_eligible(&Allocation::default(), &none, 0));
    }

    #[test]
    fn names() {
        assert_eq!(alloc_name("web", "api", 3), "web.api[3]");
        assert_eq!(name_index("web.api[3]"), Some(3));
        assert_eq!(name_index("web.api"), None);
    }
}

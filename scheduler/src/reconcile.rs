//! Reconciliation: per task group, the job's desired count against its
//! existing allocations. Decides placements (new), stops (count down, job
//! stopped), in-place updates (only count or metadata changed) versus
//! destructive updates (task driver, config, resources and the like
//! changed), lost allocations (on down or missing nodes: stopped and
//! replaced), migrations off draining nodes, and rescheduling of failed
//! allocations per the group's reschedule policy, now or — when delayed —
//! through a follow-up evaluation.
//!
//! Service groups with an update strategy roll out through deployments
//! (Nomad's semantics, decided with [`crate::deployment`]): a new job
//! version gets a deployment, destructive updates start at most
//! `max_parallel` at a time as earlier replacements turn healthy, canaries
//! run beside the old allocations until promoted, and a paused or failed
//! deployment starts nothing new. Drain migrations of service groups move
//! `migrate.max_parallel` at a time.
//!
//! It decides only *what*; *where* is the stack's. Disconnected clients'
//! allocations are decided by
//! [`reconcile_disconnect`](crate::reconcile_disconnect) first.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use sched_core::model::{
    Allocation, ClientStatus, Deployment, DeploymentState, DeploymentStatus,
    DeploymentStatusUpdate, Job, NodeId, NodeStatus, ReschedulePolicy, TaskGroup,
};

use crate::deployment::{
    Rollout, descriptions, group_state_complete, health, is_canary, migrate_max_parallel,
    new_deployment, new_group_state, rolling_strategy,
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
    /// Canaries to place beside the allocations they will replace.
    pub canaries: Vec<Placement>,
    /// Replacements placed with the job version of the allocation they
    /// replace (its `job`), because the group waits for canary promotion.
    pub downgraded: Vec<Placement>,
    /// A deployment to create for this job version; the scheduler gives it
    /// an ID and every placement of its groups joins it.
    pub deployment: Option<Deployment>,
    /// The existing deployment of this job version, which placements of its
    /// groups join when no new one is created.
    pub current_deployment: Option<Deployment>,
    /// Status changes to existing deployments (cancelled, successful).
    pub deployment_updates: Vec<DeploymentStatusUpdate>,
}

impl Reconciled {
    /// The deployment a placement in `group` joins: the new one (whose ID
    /// is `new_id`) or the current one, when it tracks the group.
    pub fn deployment_for(
        &self,
        group: &str,
        new_id: &sched_core::model::DeploymentId,
    ) -> Option<sched_core::model::DeploymentId> {
        if let Some(d) = &self.deployment {
            return d.task_groups.contains_key(group).then(|| new_id.clone());
        }
        self.current_deployment
            .as_ref()
            .filter(|d| d.task_groups.contains_key(group))
            .map(|d| d.id.clone())
    }
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
    let latest = job
        .map(|j| (j.ns(), j.job_id()))
        .or_else(|| {
            allocs
                .first()
                .map(|a| (a.namespace.as_str(), a.job_id.as_str()))
        })
        .and_then(|(ns, id)| state.latest_deployment(ns, id));
    let rollout = Rollout::new(job, latest);
    out.deployment_updates = rollout.updates.clone();
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
    let mut new_groups: BTreeMap<String, DeploymentState> = BTreeMap::new();
    let mut complete = true;
    for group in job.groups() {
        let mine: Vec<&Allocation> = live
            .iter()
            .copied()
            .filter(|a| a.task_group == group.name())
            .collect();
        let history: Vec<&Allocation> = allocs
            .iter()
            .copied()
            .filter(|a| a.task_group == group.name())
            .collect();
        let ctx = GroupCtx {
            state,
            job,
            group,
            now,
            eval_id,
            rollout: &rollout,
        };
        complete &= reconcile_group(&ctx, &mine, &history, &mut new_groups, &mut out);
    }
    if !new_groups.is_empty() {
        out.deployment = Some(new_deployment(job, new_groups));
    } else if let Some(current) = &rollout.current {
        // Nomad marks a deployment successful once every group is placed,
        // healthy and promoted and nothing is left to replace.
        if complete && current.status == DeploymentStatus::Running {
            out.deployment_updates.push(DeploymentStatusUpdate {
                deployment_id: current.id.clone(),
                status: DeploymentStatus::Successful,
                status_description: descriptions::SUCCESSFUL.to_owned(),
            });
        }
        out.current_deployment = Some(current.clone());
    }
    out
}

/// What every group of one reconciliation shares.
struct GroupCtx<'a> {
    state: &'a dyn State,
    job: &'a Job,
    group: &'a TaskGroup,
    now: i64,
    eval_id: &'a str,
    rollout: &'a Rollout,
}

/// A placement under construction, and whether it is a canary.
type Pending = (Placement, bool);

/// Reconciles one group; returns whether its part of the current deployment
/// is complete (nothing left to place, replace or migrate, and healthy).
fn reconcile_group(
    ctx: &GroupCtx<'_>,
    allocs: &[&Allocation],
    history: &[&Allocation],
    new_groups: &mut BTreeMap<String, DeploymentState>,
    out: &mut Reconciled,
) -> bool {
    let (state, job, group, rollout) = (ctx.state, ctx.job, ctx.group, ctx.rollout);
    // Disconnected clients' allocations first; the rest as usual.
    let allocs = &crate::reconcile_disconnect::reconcile_group(state, group, allocs, ctx.now, out);
    let desired = group.count() as usize;
    let batch = job.job_type() == "batch";
    let policy = group.reschedule(job);
    let strategy = rolling_strategy(job, group);
    let dstate = strategy.and(rollout.group_state(group.name()));
    let place_for = |a: &Allocation, reschedule: bool, penalty: HashSet<NodeId>| Placement {
        group: group.name().to_owned(),
        name: a.name.clone(),
        previous: Some(a.clone()),
        reschedule,
        penalty_nodes: penalty,
    };
    // Allocations that count toward the desired count, by name.
    let mut kept: Vec<Allocation> = Vec::new();
    // Replacements of lost allocations (their stops are already decided).
    let mut lost: Vec<Pending> = Vec::new();
    // Failed allocations to replace now (stopped only when replaced).
    let mut resched: Vec<Pending> = Vec::new();
    // Allocations on draining nodes, migrated up to the group's limit.
    let mut migrate: Vec<Allocation> = Vec::new();
    // The current deployment's canaries still running.
    let mut canaries: Vec<Allocation> = Vec::new();
    let mut reschedule_later = false;
    for a in allocs {
        let node = state.node(&a.node_id);
        let node_down = node.is_none_or(|n| n.status == NodeStatus::Down);
        let draining = node.is_some_and(|n| n.drain_strategy.is_some());
        if is_canary(a) && !a.client_status.is_terminal() {
            // Canaries of a superseded or failed deployment are not needed;
            // the current deployment's lost or draining canaries are stopped
            // and placed again as canaries, not replaced one by one.
            if rollout.canary_unneeded(a) {
                out.stop.push(Stop {
                    alloc: (*a).clone(),
                    description: reasons::NOT_NEEDED,
                    client_status: None,
                });
                continue;
            }
            if rollout.owns(a) {
                if node_down || draining {
                    out.stop.push(Stop {
                        alloc: (*a).clone(),
                        description: if node_down {
                            reasons::LOST
                        } else {
                            reasons::MIGRATING
                        },
                        client_status: node_down.then_some(ClientStatus::Lost),
                    });
                    continue;
                }
                canaries.push((*a).clone());
            }
        }
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
                match reschedule_decision(a, policy.as_ref(), ctx.now, ctx.eval_id) {
                    Reschedule::Now(penalty) => {
                        let canary = is_canary(a) && rollout.owns(a);
                        resched.push((place_for(a, true, penalty), canary));
                    }
                    Reschedule::Later(at) => {
                        // Still counts until its replacement is placed.
                        kept.push((*a).clone());
                        reschedule_later = true;
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
            lost.push((place_for(a, false, HashSet::new()), false));
            continue;
        }
        if draining {
            migrate.push((*a).clone());
            continue;
        }
        kept.push((*a).clone());
    }
    let canary_ids: HashSet<&sched_core::model::AllocId> = canaries.iter().map(|a| &a.id).collect();
    // Waiting for promotion: canaries run beside the count, not in it.
    let canarying = dstate.is_some_and(|d| d.desired_canaries > 0 && !d.promoted);
    let counted = |kept: &[Allocation]| {
        kept.iter()
            .filter(|a| !(canarying && canary_ids.contains(&a.id)))
            .count()
    };

    // Count down: replacements first, then (once promoted) old allocations
    // sharing a canary's name, then migrating allocations, then the
    // highest-indexed names.
    let total = counted(&kept) + migrate.len() + lost.len() + resched.len();
    if total > desired {
        let mut excess = total - desired;
        while excess > 0 && !(resched.is_empty() && lost.is_empty()) {
            if let Some((p, _)) = resched.pop() {
                // Failed and not replaced: stopped all the same.
                if let Some(prev) = p.previous {
                    out.stop.push(Stop {
                        alloc: prev,
                        description: reasons::RESCHEDULED,
                        client_status: None,
                    });
                }
            } else {
                lost.pop();
            }
            excess -= 1;
        }
        let mut stop_kept =
            |pick: &dyn Fn(&Allocation) -> bool, kept: &mut Vec<Allocation>, excess: &mut usize| {
                let mut remaining = Vec::new();
                for a in kept.drain(..) {
                    if *excess > 0 && !a.client_status.is_terminal() && pick(&a) {
                        out.stop.push(Stop {
                            alloc: a,
                            description: reasons::NOT_NEEDED,
                            client_status: None,
                        });
                        *excess -= 1;
                    } else {
                        remaining.push(a);
                    }
                }
                *kept = remaining;
            };
        if !canarying && !canaries.is_empty() {
            let names: HashSet<&str> = canaries.iter().map(|a| a.name.as_str()).collect();
            stop_kept(
                &|a| !canary_ids.contains(&a.id) && names.contains(a.name.as_str()),
                &mut kept,
                &mut excess,
            );
        }
        migrate.sort_by_key(|a| std::cmp::Reverse(name_index(&a.name)));
        stop_kept(&|_| true, &mut migrate, &mut excess);
        kept.sort_by_key(|a| std::cmp::Reverse(name_index(&a.name)));
        stop_kept(
            &|a| !(canarying && canary_ids.contains(&a.id)),
            &mut kept,
            &mut excess,
        );
    }

    // Updates of what stays: in place where possible, else destructive. A
    // failed allocation that may not be rescheduled stays and counts, as in
    // Nomad, so it is updated like a running one: after a revert, the
    // failures of the bad version are replaced by the good one.
    let mut destructive: Vec<Allocation> = Vec::new();
    let mut inplace = 0usize;
    for a in kept
        .iter()
        .filter(|a| !a.client_status.is_terminal() || a.client_status == ClientStatus::Failed)
    {
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
                inplace += 1;
            }
            _ => destructive.push(a.clone()),
        }
    }
    destructive.sort_by_key(|a| name_index(&a.name));

    // Canaries: placed beside the old allocations until promotion.
    let canary_target = strategy
        .and_then(|s| s.canary)
        .unwrap_or(0)
        .clamp(0, desired as i64) as usize;
    let requires_canaries = strategy.is_some()
        && !destructive.is_empty()
        && canaries.len() < canary_target
        && !dstate.is_some_and(|d| d.promoted);
    let mut placing: Vec<Pending> = Vec::new();
    if requires_canaries && !rollout.paused && !rollout.failed {
        for name in canary_names(
            canary_target - canaries.len(),
            &canaries,
            &destructive,
            job,
            group,
        ) {
            placing.push((
                Placement {
                    group: group.name().to_owned(),
                    name,
                    previous: None,
                    reschedule: false,
                    penalty_nodes: HashSet::new(),
                },
                true,
            ));
        }
    }
    let canarying = canarying || (dstate.is_none() && requires_canaries);
    // Whether new work may start: always without a rollout; with one, only
    // while it is neither paused, failed nor waiting for promotion.
    let place_ready = strategy.is_none() || (!rollout.paused && !rollout.failed && !canarying);
    let mut limit = strategy.map_or(usize::MAX, |s| {
        rollout.replacement_limit(
            s,
            desired,
            &kept,
            !destructive.is_empty() || !migrate.is_empty(),
            canarying,
        )
    });

    // Replacements already decided for disconnected clients' allocations
    // hold their names and count toward the group.
    let decided: Vec<String> = out
        .place
        .iter()
        .filter(|p| p.group == group.name())
        .map(|p| p.name.clone())
        .collect();
    // Missing allocations take the lowest free name indexes.
    let existing = counted(&kept) + migrate.len() + lost.len() + resched.len() + decided.len();
    let mut count_up: Vec<Pending> = Vec::new();
    if existing < desired {
        let used: BTreeSet<u64> = kept
            .iter()
            .chain(migrate.iter())
            .map(|a| a.name.as_str())
            .chain(
                lost.iter()
                    .chain(resched.iter())
                    .chain(placing.iter())
                    .map(|(p, _)| p.name.as_str()),
            )
            .chain(decided.iter().map(String::as_str))
            .filter_map(name_index)
            .collect();
        let mut i = 0u64;
        let mut missing = desired - existing;
        while missing > 0 {
            if !used.contains(&i) {
                count_up.push((
                    Placement {
                        group: group.name().to_owned(),
                        name: alloc_name(job.job_id(), group.name(), i),
                        previous: None,
                        reschedule: false,
                        penalty_nodes: HashSet::new(),
                    },
                    false,
                ));
                missing -= 1;
            }
            i += 1;
        }
    }
    let pending_work = !count_up.is_empty() || !lost.is_empty() || !resched.is_empty();
    let failed_deployment = rollout.failed.then_some(rollout.current.as_ref()).flatten();
    let mut placed = 0usize;
    for (p, canary) in lost.into_iter() {
        placing.push((p, canary));
        placed += 1;
    }
    for (p, canary) in resched {
        // A failed deployment's own failures stay failed (Nomad); others
        // are replaced whatever the deployment's state.
        let own_failure = p.previous.as_ref().is_some_and(|prev| {
            failed_deployment.is_some_and(|d| prev.deployment_id.as_ref() == Some(&d.id))
        });
        if !place_ready && own_failure {
            continue;
        }
        if let Some(prev) = &p.previous {
            out.stop.push(Stop {
                alloc: prev.clone(),
                description: reasons::RESCHEDULED,
                client_status: None,
            });
        }
        placing.push((p, canary));
        placed += 1;
    }
    if place_ready {
        placed += count_up.len();
        placing.extend(count_up);
    }
    limit = limit.saturating_sub(placed);

    // Destructive updates, at most `limit` now; the rest wait for the
    // replacements in flight to turn healthy.
    if place_ready {
        for a in destructive.iter().take(limit) {
            out.stop.push(Stop {
                alloc: a.clone(),
                description: reasons::UPDATING,
                client_status: None,
            });
            placing.push((place_for(a, false, HashSet::new()), false));
        }
    }

    // Drain migrations: service groups move at most `migrate.max_parallel`
    // at a time, counting earlier migrations not yet healthy; past a
    // node's drain deadline everything moves.
    let migrate_budget = if job.job_type() == "service" {
        migrate_max_parallel(group).saturating_sub(migrations_in_flight(history))
    } else {
        usize::MAX
    };
    migrate.sort_by_key(|a| name_index(&a.name));
    let mut moved = 0usize;
    let migrate_pending = migrate.len();
    for a in &migrate {
        let forced = state
            .node(&a.node_id)
            .and_then(|n| n.drain_strategy.as_ref())
            .is_some_and(|d| {
                d.deadline.is_negative() || (d.force_deadline > 0 && ctx.now >= d.force_deadline)
            });
        if !forced && moved >= migrate_budget {
            continue;
        }
        moved += 1;
        out.stop.push(Stop {
            alloc: a.clone(),
            description: reasons::MIGRATING,
            client_status: None,
        });
        placing.push((place_for(a, false, HashSet::new()), false));
    }

    // A new deployment for a new job version (or the job's first), unless
    // one already tracks this version.
    if let Some(s) = strategy
        && dstate.is_none()
        && rollout.current.is_none()
    {
        let had_running = history.iter().any(|a| {
            a.job
                .as_ref()
                .is_some_and(|j| j.ver() == job.ver() && j.create_index == job.create_index)
        });
        let desired_total = desired.saturating_sub(inplace);
        let tracked = !destructive.is_empty() || (!had_running && !placing.is_empty());
        if desired_total > 0 && tracked {
            let canaries_wanted = if requires_canaries { canary_target } else { 0 };
            new_groups.insert(
                group.name().to_owned(),
                new_group_state(s, desired_total, canaries_wanted, ctx.now),
            );
        }
    }

    let group_done = destructive.is_empty()
        && inplace == 0
        && !pending_work
        && migrate_pending == 0
        && !reschedule_later
        && !requires_canaries
        && dstate.is_none_or(group_state_complete);
    // While canaries wait for promotion, replacements of old allocations
    // (lost, failed, migrated) keep the old version: the new one runs only
    // as canaries until promoted.
    let keeps_old_version = |p: &Placement| {
        strategy.is_some()
            && canarying
            && p.previous
                .as_ref()
                .and_then(|prev| prev.job.as_ref())
                .is_some_and(|j| j.ver() != job.ver())
    };
    for (p, canary) in placing {
        if canary {
            out.canaries.push(p);
        } else if keeps_old_version(&p) {
            out.downgraded.push(p);
        } else {
            out.place.push(p);
        }
    }
    group_done
}

/// Nomad's `NextCanaries`: names of the allocations being replaced first
/// (in name order), then the lowest indexes no canary holds yet.
fn canary_names(
    n: usize,
    canaries: &[Allocation],
    destructive: &[Allocation],
    job: &Job,
    group: &TaskGroup,
) -> Vec<String> {
    let mut taken: BTreeSet<String> = canaries.iter().map(|a| a.name.clone()).collect();
    let mut names = Vec::with_capacity(n);
    for a in destructive {
        if names.len() == n {
            return names;
        }
        if taken.insert(a.name.clone()) {
            names.push(a.name.clone());
        }
    }
    let mut i = 0u64;
    while names.len() < n {
        let name = alloc_name(job.job_id(), group.name(), i);
        if taken.insert(name.clone()) {
            names.push(name);
        }
        i += 1;
    }
    names
}

/// Drain migrations still in flight: running replacements of allocations
/// stopped for migration, not yet judged healthy.
fn migrations_in_flight(history: &[&Allocation]) -> usize {
    let migrated: HashSet<&sched_core::model::AllocId> = history
        .iter()
        .filter(|a| {
            a.desired_status == sched_core::model::DesiredStatus::Stop
                && a.desired_description == reasons::MIGRATING
        })
        .map(|a| &a.id)
        .collect();
    history
        .iter()
        .filter(|a| {
            a.desired_status == sched_core::model::DesiredStatus::Run
                && !a.client_status.is_terminal()
                && a.previous_allocation
                    .as_ref()
                    .is_some_and(|p| migrated.contains(p))
                && health(a) != Some(true)
        })
        .count()
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

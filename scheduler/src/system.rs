//! The system scheduler for `system` and `sysbatch` jobs: one allocation
//! per task group on every ready node that passes feasibility, so new nodes
//! get placements when their evaluation runs; allocations on down nodes
//! are marked lost, on draining nodes stopped; job updates are applied in
//! place or by replacement on the same node. Nodes a constraint filters
//! are not failures; nodes without room are (a blocked evaluation waits),
//! unless preemption (on by default for system jobs) evicts lower-priority
//! allocations to make room.

use std::collections::{BTreeMap, HashMap};

use sched_core::model::{AllocId, AllocMetric, ClientStatus, Evaluation, NodeStatus};

use crate::context::EvalContext;
use crate::job_view::{GroupView, JobView};
use crate::rank::preemption::record_preemptions;
use crate::reconcile::{Placement, Stop, alloc_name, destructive_change, reasons};
use crate::stack::{SchedulerConfig, Stack};
use crate::state::{Planner, SchedulerError, State};
use crate::submit::{
    Attempt, MAX_BATCH_ATTEMPTS, append_stop, new_alloc, new_plan, process_seeded,
};

/// The system and sysbatch scheduler.
pub struct SystemScheduler<'p> {
    planner: &'p mut dyn Planner,
    config: SchedulerConfig,
}

impl std::fmt::Debug for SystemScheduler<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemScheduler")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<'p> SystemScheduler<'p> {
    /// A scheduler writing through `planner`.
    pub fn new(planner: &'p mut dyn Planner, config: SchedulerConfig) -> SystemScheduler<'p> {
        SystemScheduler { planner, config }
    }

    /// Processes one evaluation.
    pub fn process(&mut self, eval: &Evaluation) -> Result<(), SchedulerError> {
        process_seeded(
            self.planner,
            eval,
            &self.config,
            MAX_BATCH_ATTEMPTS,
            attempt,
        )
    }
}

fn attempt(
    state: &dyn State,
    eval: &Evaluation,
    config: &SchedulerConfig,
    now: i64,
    seed: u64,
    ids: &mut fastrand::Rng,
) -> Result<Attempt, SchedulerError> {
    let job = state.job(&eval.namespace, &eval.job_id);
    let allocs: Vec<_> = state
        .allocs_by_job(&eval.namespace, &eval.job_id)
        .into_iter()
        .filter(|a| !a.is_terminal())
        .collect();
    // A sysbatch allocation that ran to completion for the current job
    // version is done on its node: it is not placed again.
    let finished: std::collections::HashSet<(&sched_core::model::NodeId, &str)> = match job {
        Some(j) if j.job_type() == "sysbatch" => state
            .allocs_by_job(&eval.namespace, &eval.job_id)
            .into_iter()
            .filter(|a| a.client_status == ClientStatus::Complete)
            .filter(|a| {
                a.job.as_ref().is_none_or(|aj| {
                    aj.ver() == j.ver() && aj.job_modify_index == j.job_modify_index
                })
            })
            .map(|a| (&a.node_id, a.task_group.as_str()))
            .collect(),
        _ => Default::default(),
    };
    let mut ctx = EvalContext::new(state, new_plan(eval, job, state.index()));
    let mut out = Attempt::default();
    let stop =
        |ctx: &mut EvalContext<'_>, a: &sched_core::model::Allocation, why: &'static str, cs| {
            append_stop(
                &mut ctx.plan,
                &Stop {
                    alloc: a.clone(),
                    description: why,
                    client_status: cs,
                },
            );
        };
    let Some(job) = job.filter(|j| !j.stopped()) else {
        for a in &allocs {
            stop(&mut ctx, a, reasons::JOB_STOPPED, None);
        }
        out.plan = ctx.plan;
        return Ok(out);
    };
    let mut stack = Stack::new(config.clone(), state, job, seed);
    let nodes: Vec<_> = state
        .nodes()
        .into_iter()
        .filter(|n| n.is_schedulable())
        .collect();
    let mut failed: BTreeMap<String, AllocMetric> = BTreeMap::new();
    for group in job.groups() {
        let mut on_node: HashMap<&sched_core::model::NodeId, &sched_core::model::Allocation> =
            HashMap::new();
        for a in allocs.iter().filter(|a| a.task_group == group.name()) {
            let node = state.node(&a.node_id);
            if node.is_none_or(|n| n.status == NodeStatus::Down) {
                stop(&mut ctx, a, reasons::LOST, Some(ClientStatus::Lost));
            } else if node.is_some_and(|n| n.drain_strategy.is_some()) {
                stop(&mut ctx, a, reasons::MIGRATING, None);
            } else if on_node.contains_key(&a.node_id) {
                stop(&mut ctx, a, reasons::NOT_NEEDED, None);
            } else {
                on_node.insert(&a.node_id, a);
            }
        }
        for node in &nodes {
            let existing = on_node.get(&node.id).copied();
            if existing.is_none() && finished.contains(&(&node.id, group.name())) {
                continue;
            }
            if let Some(a) = existing {
                let same = a.job.as_ref().is_none_or(|j| {
                    j.ver() == job.ver() && j.job_modify_index == job.job_modify_index
                });
                if same {
                    continue;
                }
                let old = a.job.as_ref().and_then(|j| j.group(group.name()));
                if old.is_some_and(|old| !destructive_change(old, group)) {
                    let mut updated = a.clone();
                    updated.job = Some(std::sync::Arc::new(job.clone()));
                    ctx.plan
                        .node_allocation
                        .entry(a.node_id.clone())
                        .or_default()
                        .push(updated);
                    continue;
                }
                stop(&mut ctx, a, reasons::UPDATING, None);
            }
            ctx.metrics = AllocMetric::default();
            match stack.select_on(&mut ctx, job, group, node) {
                Some(chosen) => {
                    let place = Placement {
                        group: group.name().to_owned(),
                        name: alloc_name(job.job_id(), group.name(), 0),
                        previous: existing.cloned(),
                        reschedule: false,
                        penalty_nodes: Default::default(),
                    };
                    let mut alloc = new_alloc(
                        &ctx,
                        eval,
                        job,
                        &place,
                        &chosen,
                        AllocId::from_u128(ids.u128(..)),
                        now,
                    );
                    record_preemptions(&mut ctx.plan, &mut alloc, &chosen.preempted);
                    ctx.plan
                        .node_allocation
                        .entry(node.id.clone())
                        .or_default()
                        .push(alloc);
                }
                None if ctx.metrics.nodes_exhausted > 0 => {
                    let m = failed.entry(group.name().to_owned()).or_default();
                    merge_metric(m, &ctx.metrics);
                    *out.queued.entry(group.name().to_owned()).or_default() += 1;
                }
                // Filtered by a constraint or driver: not this job's node.
                None => {}
            }
        }
    }
    out.failed = failed;
    out.plan = ctx.plan;
    Ok(out)
}

fn merge_metric(into: &mut AllocMetric, m: &AllocMetric) {
    into.nodes_evaluated += m.nodes_evaluated;
    into.nodes_filtered += m.nodes_filtered;
    into.nodes_exhausted += m.nodes_exhausted;
    into.nodes_in_pool = m.nodes_in_pool;
    for (k, v) in &m.dimension_exhausted {
        *into.dimension_exhausted.entry(k.clone()).or_default() += v;
    }
    for (k, v) in &m.class_exhausted {
        *into.class_exhausted.entry(k.clone()).or_default() += v;
    }
    for (k, v) in &m.constraint_filtered {
        *into.constraint_filtered.entry(k.clone()).or_default() += v;
    }
}

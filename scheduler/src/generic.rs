//! The generic scheduler for `service` and `batch` jobs: reconcile, then
//! place each missing allocation through the [`Stack`], submit the plan
//! (retrying after partial commits), and leave a blocked evaluation for
//! what did not fit and follow-up evaluations for delayed reschedules.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use sched_core::model::{
    AllocDeploymentStatus, AllocId, AllocMetric, DeploymentId, EvalId, Evaluation,
};

use crate::context::EvalContext;
use crate::job_view::JobView;
use crate::reconcile::reconcile;
use crate::stack::{SchedulerConfig, SelectOptions, Stack};
use crate::state::{Planner, SchedulerError, State};
use crate::submit::{
    Attempt, MAX_BATCH_ATTEMPTS, MAX_SERVICE_ATTEMPTS, append_stop, followup_eval, new_alloc,
    new_plan, process_seeded,
};

/// The service and batch scheduler.
pub struct GenericScheduler<'p> {
    planner: &'p mut dyn Planner,
    config: SchedulerConfig,
}

impl std::fmt::Debug for GenericScheduler<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenericScheduler")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A seed derived from the evaluation ID, so runs are reproducible.
pub fn eval_seed(eval: &Evaluation) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    eval.id.hash(&mut h);
    h.finish()
}

impl<'p> GenericScheduler<'p> {
    /// A scheduler writing through `planner`.
    pub fn new(planner: &'p mut dyn Planner, config: SchedulerConfig) -> GenericScheduler<'p> {
        GenericScheduler { planner, config }
    }

    /// Processes one evaluation.
    pub fn process(&mut self, eval: &Evaluation) -> Result<(), SchedulerError> {
        let max = if eval.r#type == "batch" {
            MAX_BATCH_ATTEMPTS
        } else {
            MAX_SERVICE_ATTEMPTS
        };
        process_seeded(self.planner, eval, &self.config, max, attempt)
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
    let allocs = state.allocs_by_job(&eval.namespace, &eval.job_id);
    let rec = reconcile(state, job, &allocs, now, eval.id.as_str());
    let mut ctx = EvalContext::new(state, new_plan(eval, job, state.index()));
    let mut out = Attempt::default();
    // A new deployment gets its ID here, from the evaluation's seeded
    // source, so a retried attempt plans the same way.
    let new_deployment_id = match rec.deployment {
        Some(_) => DeploymentId::from_u128(ids.u128(..)),
        None => DeploymentId::default(),
    };
    ctx.plan.deployment = rec.deployment.clone().map(|mut d| {
        d.id = new_deployment_id.clone();
        d
    });
    ctx.plan.deployment_updates = rec.deployment_updates.clone();
    for stop in &rec.stop {
        append_stop(&mut ctx.plan, stop);
    }
    for a in rec.inplace.iter().cloned() {
        ctx.plan
            .node_allocation
            .entry(a.node_id.clone())
            .or_default()
            .push(a);
    }
    // Delayed reschedules: one follow-up evaluation per due time, recorded
    // on the failed allocations.
    let mut by_time: BTreeMap<i64, EvalId> = BTreeMap::new();
    for d in &rec.delayed {
        let id = by_time
            .entry(d.at)
            .or_insert_with(|| EvalId::from_u128(ids.u128(..)))
            .clone();
        let mut a = d.alloc.clone();
        a.followup_eval_id = Some(id);
        ctx.plan
            .node_allocation
            .entry(a.node_id.clone())
            .or_default()
            .push(a);
    }
    for (at, id) in by_time {
        out.followups.push(followup_eval(eval, id, at, now));
    }
    let Some(job) = job.filter(|j| !j.stopped()) else {
        out.plan = ctx.plan;
        return Ok(out);
    };
    let mut stack = Stack::new(config.clone(), state, job, seed);
    // Stacks for older job versions, which replacements keep while their
    // group waits for canary promotion.
    let mut old_stacks: BTreeMap<u64, Stack<'_>> = BTreeMap::new();
    let mut failed: BTreeMap<String, AllocMetric> = BTreeMap::new();
    // Canaries first, so a full cluster leaves the rollout waiting rather
    // than the count short.
    let placements = rec
        .canaries
        .iter()
        .map(|p| (p, true, false))
        .chain(rec.place.iter().map(|p| (p, false, false)))
        .chain(rec.downgraded.iter().map(|p| (p, false, true)));
    for (place, canary, downgraded) in placements {
        let old_job = place
            .previous
            .as_ref()
            .and_then(|p| p.job.as_deref())
            .filter(|_| downgraded);
        let place_job = old_job.unwrap_or(job);
        let Some(group) = place_job.group(&place.group) else {
            continue;
        };
        if let Some(m) = failed.get_mut(&place.group) {
            m.coalesced_failures += 1;
            *out.queued.entry(place.group.clone()).or_default() += 1;
            continue;
        }
        let opts = SelectOptions {
            penalty_nodes: place.penalty_nodes.clone(),
        };
        let stack = match old_job {
            Some(old) => old_stacks
                .entry(old.ver())
                .or_insert_with(|| Stack::new(config.clone(), state, old, seed)),
            None => &mut stack,
        };
        match stack.select(&mut ctx, place_job, group, &opts) {
            Some(chosen) => {
                let mut alloc = new_alloc(
                    &ctx,
                    eval,
                    place_job,
                    place,
                    &chosen,
                    AllocId::from_u128(ids.u128(..)),
                    now,
                );
                // Every placement of a tracked group joins the deployment,
                // old-version replacements too (as in Nomad).
                alloc.deployment_id = rec.deployment_for(&place.group, &new_deployment_id);
                if canary && alloc.deployment_id.is_some() {
                    alloc.deployment_status = Some(AllocDeploymentStatus {
                        canary: true,
                        ..Default::default()
                    });
                }
                ctx.plan
                    .node_allocation
                    .entry(chosen.node_id.clone())
                    .or_default()
                    .push(alloc);
            }
            None => {
                failed.insert(place.group.clone(), ctx.metrics.clone());
                *out.queued.entry(place.group.clone()).or_default() += 1;
            }
        }
    }
    out.failed = failed;
    out.plan = ctx.plan;
    Ok(out)
}

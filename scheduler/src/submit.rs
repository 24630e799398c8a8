//! Turning decisions into plan entries and evaluations: new allocations
//! with their allocated resources, stops, follow-up evaluations for
//! delayed reschedules, blocked evaluations for failed placements, and the
//! bounded retry loop around partially committed plans.
//!
//! This module owns the shapes written to the [`Planner`]; what to decide
//! is the schedulers' ([`crate::generic`], [`crate::system`]).

use std::collections::BTreeMap;

use sched_core::model::{
    AllocId, AllocMetric, AllocatedCpuResources, AllocatedMemoryResources, AllocatedResources,
    AllocatedSharedResources, AllocatedTaskResources, Allocation, ClientStatus, DesiredStatus,
    Duration, EvalId, EvalStatus, Evaluation, Job, Plan, RescheduleEvent, RescheduleTracker,
};

use crate::context::EvalContext;
use crate::job_view::{GroupAsk, JobView};
use crate::reconcile::{Placement, Stop};
use crate::stack::Selected;
use crate::state::{Planner, SchedulerError};

/// Service jobs retry a refused plan this many times (Nomad's bound).
pub const MAX_SERVICE_ATTEMPTS: u32 = 5;
/// Batch and system jobs retry a refused plan this many times.
pub const MAX_BATCH_ATTEMPTS: u32 = 2;

/// An empty plan for an evaluation.
pub fn new_plan(eval: &Evaluation, job: Option<&Job>, snapshot_index: u64) -> Plan {
    Plan {
        eval_id: eval.id.clone(),
        priority: eval.priority,
        all_at_once: job.and_then(|j| j.all_at_once).unwrap_or(false),
        job: job.map(|j| std::sync::Arc::new(j.clone())),
        snapshot_index,
        ..Default::default()
    }
}

/// Adds a stop to the plan.
pub fn append_stop(plan: &mut Plan, stop: &Stop) {
    let mut a = stop.alloc.clone();
    a.desired_status = DesiredStatus::Stop;
    a.desired_description = stop.description.to_owned();
    if let Some(cs) = stop.client_status {
        a.client_status = cs;
    }
    a.job = None;
    plan.node_update
        .entry(a.node_id.clone())
        .or_default()
        .push(a);
}

/// A new allocation of `place` on the selected node.
pub fn new_alloc(
    ctx: &EvalContext<'_>,
    eval: &Evaluation,
    job: &Job,
    place: &Placement,
    chosen: &Selected,
    id: AllocId,
    now: i64,
) -> Allocation {
    let ask = job
        .group(&place.group)
        .map(GroupAsk::of)
        .unwrap_or_default();
    let mut tasks = sched_core::model::SmallMap::new();
    // Reserved cores: the lowest core IDs the node's proposed allocations
    // do not hold.
    let mut held: Vec<u32> = if ask.cores > 0 {
        ctx.proposed_allocs(&chosen.node_id)
            .iter()
            .flat_map(|a| a.allocated_resources.tasks.values())
            .flat_map(|t| t.cpu.reserved_cores.iter().copied())
            .collect()
    } else {
        Vec::new()
    };
    let mut next_core = 0u32;
    for (name, cpu, mem, cores) in &ask.tasks {
        let mut reserved = Vec::new();
        while (reserved.len() as i64) < *cores {
            if !held.contains(&next_core) {
                reserved.push(next_core);
                held.push(next_core);
            }
            next_core += 1;
        }
        tasks.insert(
            name.clone(),
            AllocatedTaskResources {
                cpu: AllocatedCpuResources {
                    cpu_shares: *cpu,
                    reserved_cores: reserved,
                },
                memory: AllocatedMemoryResources {
                    memory_mb: *mem,
                    memory_max_mb: 0,
                },
                networks: Vec::new(),
            },
        );
    }
    let mut alloc = Allocation {
        id,
        namespace: job.ns().to_owned(),
        eval_id: eval.id.clone(),
        name: place.name.clone(),
        node_id: chosen.node_id.clone(),
        node_name: chosen.node_name.clone(),
        job_id: job.job_id().to_owned(),
        job: Some(shared_job(ctx, job)),
        task_group: place.group.clone(),
        allocated_resources: AllocatedResources {
            tasks,
            shared: AllocatedSharedResources {
                ports: chosen.ports.clone(),
                ..Default::default()
            },
        },
        desired_status: DesiredStatus::Run,
        client_status: ClientStatus::Pending,
        create_time: now,
        modify_time: now,
        ..Default::default()
    };
    if let Some(prev) = &place.previous {
        alloc.previous_allocation = Some(prev.id.clone());
        if place.reschedule {
            let mut events = prev.reschedule_tracker.clone().unwrap_or_default().events;
            let policy = job
                .group(&place.group)
                .and_then(|g| crate::job_view::GroupView::reschedule(g, job));
            let delay = policy
                .map(|p| {
                    crate::reconcile::next_delay(prev, &p, crate::reconcile::failure_time(prev))
                })
                .unwrap_or(0);
            events.push(RescheduleEvent {
                reschedule_time: now,
                prev_alloc_id: prev.id.clone(),
                prev_node_id: prev.node_id.clone(),
                delay: Duration::from_nanos(delay),
            });
            alloc.reschedule_tracker = Some(RescheduleTracker { events });
        }
    }
    alloc
}

/// The plan's copy of the job when it is this very job, so the placements
/// of one evaluation share one copy instead of each carrying its own.
fn shared_job(ctx: &EvalContext<'_>, job: &Job) -> std::sync::Arc<Job> {
    match &ctx.plan.job {
        Some(j)
            if j.id == job.id
                && j.namespace == job.namespace
                && j.version == job.version
                && j.job_modify_index == job.job_modify_index =>
        {
            j.clone()
        }
        _ => std::sync::Arc::new(job.clone()),
    }
}

/// A blocked evaluation that waits for capacity for the failed groups.
pub fn blocked_eval(
    eval: &Evaluation,
    failed: &BTreeMap<String, AllocMetric>,
    id: EvalId,
    now: i64,
) -> Evaluation {
    Evaluation {
        id,
        namespace: eval.namespace.clone(),
        priority: eval.priority,
        r#type: eval.r#type.clone(),
        triggered_by: "queued-allocs".to_owned(),
        job_id: eval.job_id.clone(),
        job_modify_index: eval.job_modify_index,
        status: EvalStatus::Blocked,
        status_description: "created to place remaining allocations".to_owned(),
        previous_eval: Some(eval.id.clone()),
        failed_tg_allocs: failed.clone(),
        create_time: now,
        modify_time: now,
        trace_id: eval.trace_id.clone(),
        ..Default::default()
    }
}

/// A follow-up evaluation that runs a delayed reschedule at `at`.
pub fn followup_eval(eval: &Evaluation, id: EvalId, at: i64, now: i64) -> Evaluation {
    Evaluation {
        id,
        namespace: eval.namespace.clone(),
        priority: eval.priority,
        r#type: eval.r#type.clone(),
        triggered_by: "failed-follow-up".to_owned(),
        job_id: eval.job_id.clone(),
        job_modify_index: eval.job_modify_index,
        status: EvalStatus::Pending,
        status_description: "created for delayed rescheduling".to_owned(),
        wait: Duration::from_nanos((at - now).max(0)),
        wait_until: Some(at.to_string()),
        previous_eval: Some(eval.id.clone()),
        create_time: now,
        modify_time: now,
        trace_id: eval.trace_id.clone(),
        ..Default::default()
    }
}

/// What one scheduling attempt produced.
#[derive(Debug, Default)]
pub struct Attempt {
    /// The plan (possibly empty).
    pub plan: Plan,
    /// Failure metrics per group.
    pub failed: BTreeMap<String, AllocMetric>,
    /// Follow-up evaluations to create.
    pub followups: Vec<Evaluation>,
    /// Placements still queued per group.
    pub queued: BTreeMap<String, i64>,
}

/// Whether a plan has anything to commit (a deployment created, cancelled
/// or completed counts).
pub fn plan_is_empty(plan: &Plan) -> bool {
    plan.node_update.is_empty()
        && plan.node_allocation.is_empty()
        && plan.node_preemptions.is_empty()
        && plan.deployment.is_none()
        && plan.deployment_updates.is_empty()
}

/// One attempt at an evaluation against a state snapshot: its inputs are the
/// eval, the scheduler config, the eval's clock reading and seed, and the
/// random source for new allocation ids.
pub(crate) type AttemptFn = fn(
    &dyn crate::state::State,
    &Evaluation,
    &crate::stack::SchedulerConfig,
    i64,
    u64,
    &mut fastrand::Rng,
) -> Result<Attempt, SchedulerError>;

/// Processes `eval` with `attempt` and up to `max_attempts` tries: the clock
/// is read once and every random choice is seeded from the eval (and the
/// config's seed), so the same eval on the same state plans the same way.
pub(crate) fn process_seeded(
    planner: &mut dyn Planner,
    eval: &Evaluation,
    config: &crate::stack::SchedulerConfig,
    max_attempts: u32,
    attempt: AttemptFn,
) -> Result<(), SchedulerError> {
    let now = config.now();
    let seed = crate::generic::eval_seed(eval);
    let mut ids = fastrand::Rng::with_seed(seed ^ config.seed);
    let mut blocked_ids = fastrand::Rng::with_seed(seed.rotate_left(17));
    run_with_retries(
        planner,
        eval,
        max_attempts,
        now,
        |state| attempt(state, eval, config, now, seed, &mut ids),
        || blocked_ids.u128(..),
    )
}

/// Runs `attempt` against fresh snapshots until its plan commits in full
/// (or is empty), then writes follow-ups, a blocked evaluation for
/// failures, and the evaluation's final status. After `max_attempts`
/// refusals in a row without progress the evaluation fails and a blocked
/// one is left to retry when the cluster changes.
pub fn run_with_retries(
    planner: &mut dyn Planner,
    eval: &Evaluation,
    max_attempts: u32,
    now: i64,
    mut attempt: impl FnMut(&dyn crate::state::State) -> Result<Attempt, SchedulerError>,
    mut ids: impl FnMut() -> u128,
) -> Result<(), SchedulerError> {
    let mut tries = 0;
    let outcome = loop {
        tries += 1;
        let mut out = attempt(planner.state())?;
        if plan_is_empty(&out.plan) {
            break out;
        }
        let result = planner.submit_plan(std::mem::take(&mut out.plan))?;
        if result.refresh_index == 0 {
            break out;
        }
        // Partial commit: the applier refused some nodes. Retry on a
        // snapshot that includes what it committed; committing anything
        // counts as progress and resets the bound, as in Nomad.
        if !result.node_allocation.is_empty() || !result.node_update.is_empty() {
            tries = 0;
        }
        if tries >= max_attempts {
            // No progress: fail the evaluation and leave a blocked one to
            // retry when the cluster changes.
            let mut blocked = blocked_eval(eval, &out.failed, EvalId::from_u128(ids()), now);
            blocked.status_description = "created due to placement conflicts".to_owned();
            let mut failed = eval.clone();
            failed.status = EvalStatus::Failed;
            failed.status_description = format!("maximum attempts reached ({max_attempts})");
            failed.blocked_eval = Some(blocked.id.clone());
            planner.create_eval(blocked)?;
            planner.update_eval(failed)?;
            return Ok(());
        }
        planner.refresh(result.refresh_index)?;
    };
    for f in &outcome.followups {
        planner.create_eval(f.clone())?;
    }
    let mut done = eval.clone();
    done.failed_tg_allocs = outcome.failed.clone();
    done.queued_allocations = outcome.queued.clone();
    if !outcome.failed.is_empty() {
        if eval.status == EvalStatus::Blocked {
            let mut again = eval.clone();
            again.failed_tg_allocs = outcome.failed.clone();
            planner.reblock_eval(again)?;
            return Ok(());
        }
        let blocked = blocked_eval(eval, &outcome.failed, EvalId::from_u128(ids()), now);
        done.blocked_eval = Some(blocked.id.clone());
        planner.create_eval(blocked)?;
    }
    done.status = EvalStatus::Complete;
    planner.update_eval(done)?;
    Ok(())
}

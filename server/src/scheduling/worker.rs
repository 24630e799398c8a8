//! Scheduling workers: each loops dequeue → wait for a snapshot at least as
//! new as the eval → run the scheduler → ack (or nack on any failure).
//!
//! The scheduler is synchronous, so each evaluation runs on a blocking
//! thread; its [`Planner`] reaches the async side (the plan queue, the
//! cluster's commits, state waits) by blocking on the runtime handle. A
//! worker never commits placements itself: plans go through the plan queue
//! to the single applier.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sched_core::model::{EvalId, Evaluation, Plan, PlanResult};
use sched_scheduler::{Planner, PlannerError, SchedulerConfig, State};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tracing::Instrument;

use super::Cluster;
use super::broker::EvalBroker;
use super::capacity::{CapacityTracker, IndexedSnapshot};
use super::plan_queue::PlanQueue;
use crate::fsm::Command;

/// The workers' settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// How many workers run (default: the machine's cores).
    pub workers: usize,
    /// The scheduler's settings.
    pub scheduler: SchedulerConfig,
    /// Scheduler types the workers take.
    pub types: Vec<String>,
    /// How long one dequeue waits before looking at shutdown again.
    pub dequeue_timeout: Duration,
    /// How long to wait for the state to reach an eval's index.
    pub index_wait: Duration,
    /// How long to wait for the plan applier's answer.
    pub plan_timeout: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            scheduler: SchedulerConfig::default(),
            types: ["service", "batch", "system", "sysbatch"]
                .into_iter()
                .map(str::to_owned)
                .collect(),
            dequeue_timeout: Duration::from_millis(500),
            index_wait: Duration::from_secs(5),
            plan_timeout: Duration::from_secs(60),
        }
    }
}

/// How many recent eval durations [`WorkerStats`] keeps.
const KEPT_DURATIONS: usize = 100_000;

/// What the workers did, for metrics: counts and the durations (dequeue to
/// ack or nack) of the most recent evals.
#[derive(Debug, Default)]
pub struct WorkerStats {
    inner: Mutex<StatsInner>,
}

#[derive(Debug, Default)]
struct StatsInner {
    acked: u64,
    nacked: u64,
    recent: VecDeque<Duration>,
}

/// A copy of [`WorkerStats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerStatsView {
    /// Evals processed and acked.
    pub acked: u64,
    /// Evals given back to the broker.
    pub nacked: u64,
    /// Durations of the most recent evals, oldest first.
    pub recent: Vec<Duration>,
}

impl WorkerStats {
    fn record(&self, took: Duration, acked: bool) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if acked {
            inner.acked += 1;
        } else {
            inner.nacked += 1;
        }
        if inner.recent.len() >= KEPT_DURATIONS {
            inner.recent.pop_front();
        }
        inner.recent.push_back(took);
    }

    /// A copy of the counts and recent durations.
    pub fn view(&self) -> WorkerStatsView {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        WorkerStatsView {
            acked: inner.acked,
            nacked: inner.nacked,
            recent: inner.recent.iter().copied().collect(),
        }
    }
}

/// The scheduler's [`Planner`] for one delivered eval.
struct WorkerPlanner {
    runtime: Handle,
    shared: Shared,
    snapshot: IndexedSnapshot,
    eval_id: EvalId,
    token: String,
    config: WorkerConfig,
}

impl WorkerPlanner {
    fn write_evals(&mut self, evals: Vec<Evaluation>) -> Result<(), PlannerError> {
        let resp = self
            .runtime
            .block_on(self.shared.cluster.apply(Command::EvalUpsert { evals }))
            .map_err(|e| PlannerError::Failed(e.to_string()))?;
        match resp.error {
            Some(e) => Err(PlannerError::Failed(e)),
            None => Ok(()),
        }
    }

    fn stamp(&self, mut eval: Evaluation) -> Evaluation {
        eval.snapshot_index = self.snapshot.snapshot.index();
        eval.modify_time = self.shared.cluster.now();
        eval
    }
}

impl Planner for WorkerPlanner {
    fn state(&self) -> &dyn State {
        &self.snapshot
    }

    fn submit_plan(&mut self, mut plan: Plan) -> Result<PlanResult, PlannerError> {
        plan.eval_token = self.token.clone();
        let result = self
            .runtime
            .block_on(self.shared.plans.submit(plan, self.config.plan_timeout))
            .map_err(|e| PlannerError::Failed(e.to_string()))?;
        // Still working on it: keep the broker from taking it back.
        self.shared
            .broker
            .outstanding_reset(&self.eval_id, &self.token)
            .map_err(|e| PlannerError::Failed(e.to_string()))?;
        Ok(result)
    }

    fn update_eval(&mut self, eval: Evaluation) -> Result<(), PlannerError> {
        let eval = self.stamp(eval);
        self.write_evals(vec![eval])
    }

    fn create_eval(&mut self, eval: Evaluation) -> Result<(), PlannerError> {
        let eval = self.stamp(eval);
        self.write_evals(vec![eval])
    }

    fn reblock_eval(&mut self, eval: Evaluation) -> Result<(), PlannerError> {
        let eval = self.stamp(eval);
        self.write_evals(vec![eval])
    }

    fn refresh(&mut self, index: u64) -> Result<(), PlannerError> {
        let reader = self.shared.cluster.state();
        let snapshot = self
            .runtime
            .block_on(reader.wait_for_index(index, self.config.index_wait));
        if snapshot.index() < index {
            return Err(PlannerError::Failed(format!(
                "state did not reach index {index} (at {})",
                snapshot.index()
            )));
        }
        self.snapshot = IndexedSnapshot {
            snapshot,
            capacity: self.shared.capacity.current(),
        };
        Ok(())
    }
}

/// Why one delivered eval was not processed.
#[derive(Debug, thiserror::Error)]
enum WorkError {
    #[error("state did not reach the eval's index {want} (at {have})")]
    StaleState { want: u64, have: u64 },
    #[error(transparent)]
    Scheduler(#[from] sched_scheduler::SchedulerError),
    #[error("scheduler thread failed: {0}")]
    Join(String),
}

/// What every worker shares with the rest of the machinery.
#[derive(Clone)]
pub struct Shared {
    /// The cluster.
    pub cluster: Arc<dyn Cluster>,
    /// The eval broker.
    pub broker: Arc<EvalBroker>,
    /// The plan queue.
    pub plans: Arc<PlanQueue>,
    /// The capacity index workers hand the scheduler.
    pub capacity: Arc<CapacityTracker>,
    /// Where workers record what they did.
    pub stats: Arc<WorkerStats>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

/// One worker's loop; runs until `shutdown` turns `true`.
pub async fn run_worker(
    id: usize,
    shared: Shared,
    config: WorkerConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let broker = shared.broker.clone();
    let stats = shared.stats.clone();
    loop {
        if *shutdown.borrow() {
            break;
        }
        let got = tokio::select! {
            g = broker.dequeue(&config.types, config.dequeue_timeout) => g,
            _ = shutdown.changed() => None,
        };
        let Some((eval, token)) = got else {
            continue;
        };
        let span = tracing::info_span!(
            "eval",
            worker = id,
            eval_id = %eval.id.0,
            job_id = %eval.job_id,
            trace_id = %eval.trace_id,
        );
        let started = Instant::now();
        let outcome = process(&shared, &config, &eval, &token)
            .instrument(span.clone())
            .await;
        let _enter = span.enter();
        stats.record(started.elapsed(), outcome.is_ok());
        match outcome {
            Ok(()) => {
                if let Err(e) = broker.ack(&eval.id, &token) {
                    tracing::warn!(error = %e, "ack refused");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "evaluation failed; nacking");
                if let Err(e) = broker.nack(&eval.id, &token) {
                    tracing::warn!(error = %e, "nack refused");
                }
            }
        }
    }
}

async fn process(
    shared: &Shared,
    config: &WorkerConfig,
    eval: &Evaluation,
    token: &str,
) -> Result<(), WorkError> {
    let want = eval.modify_index;
    let snapshot = shared
        .cluster
        .state()
        .wait_for_index(want, config.index_wait)
        .await;
    if snapshot.index() < want {
        return Err(WorkError::StaleState {
            want,
            have: snapshot.index(),
        });
    }
    let mut planner = WorkerPlanner {
        runtime: Handle::current(),
        shared: shared.clone(),
        snapshot: IndexedSnapshot {
            snapshot,
            capacity: shared.capacity.current(),
        },
        eval_id: eval.id.clone(),
        token: token.to_owned(),
        config: config.clone(),
    };
    let eval = eval.clone();
    let mut sched_config = config.scheduler.clone();
    // The scheduler seeds allocation IDs from the eval; an eval processed
    // again (redelivered, or a blocked eval unblocked twice) must not mint
    // the IDs of its earlier run, so each delivery mixes in its token.
    sched_config.seed ^= delivery_seed(token);
    // Unless configured, the scheduler reads the cluster's clock, not the
    // machine's.
    sched_config
        .now_nanos
        .get_or_insert_with(|| shared.cluster.now());
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _enter = span.enter();
        sched_scheduler::process_eval(&mut planner, &eval, &sched_config)
    })
    .await
    .map_err(|e| WorkError::Join(e.to_string()))??;
    Ok(())
}

/// A seed from a delivery token (a random UUID).
fn delivery_seed(token: &str) -> u64 {
    let n = uuid::Uuid::parse_str(token)
        .map(|u| u.as_u128())
        .unwrap_or_else(|_| {
            token
                .bytes()
                .fold(0u128, |h, b| h.wrapping_mul(31).wrapping_add(u128::from(b)))
        });
    (n as u64) ^ ((n >> 64) as u64)
}

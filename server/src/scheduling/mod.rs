//! The leader's scheduling machinery: the eval broker, blocked evaluations,
//! the workers that run the scheduler, and the plan queue with its single
//! applier.
//!
//! Owns the way an evaluation travels from the state (a pending eval) to
//! committed allocations: [`broker::EvalBroker`] hands evals out one per job
//! at a time, [`worker`] runs `sched_scheduler::process_eval` against a
//! snapshot at least as new as the eval, [`plan_queue::PlanQueue`] orders the
//! plans, and [`plan_apply`] re-checks each node against the latest state
//! before committing. [`blocked::BlockedEvals`] parks evals that could not be
//! placed until capacity changes, and [`leader`] feeds both from the state's
//! events while this server leads. [`deployment_watcher`] moves rollouts
//! along (fails, reverts, promotes, completes them) on the leader.
//!
//! It does not decide placements (that is `sched-scheduler`), write the state
//! (everything goes through [`Cluster::apply`], which the server assembly
//! backs with Raft), or know about leadership elections: it is told through a
//! `watch` channel whether it leads.

pub mod blocked;
pub mod broker;
pub mod capacity;
pub mod deployment_watcher;
pub mod leader;
pub mod local_cluster;
pub mod periodic;
pub mod plan_apply;
pub mod plan_queue;
pub mod raft_cluster;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::fsm::{Command, CommandResponse};
use crate::state::StateReader;

use blocked::BlockedEvals;
use broker::{BrokerConfig, EvalBroker};
use capacity::CapacityTracker;
use plan_queue::PlanQueue;
use worker::{WorkerConfig, WorkerStats};

/// What the scheduling machinery needs from the server: the state to read,
/// a way to commit commands, and a clock. The server assembly implements it
/// over Raft; tests implement it over the FSM directly.
pub trait Cluster: Send + Sync + 'static {
    /// The state readers follow.
    fn state(&self) -> StateReader;
    /// Proposes a command and answers once it is applied.
    fn apply(&self, cmd: Command) -> BoxFuture<'_, Result<CommandResponse, ClusterError>>;
    /// Unix nanoseconds, for timestamps and delays.
    fn now(&self) -> i64;
}

/// Why a command could not be committed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// This server no longer leads: the caller stops and lets the new leader
    /// redo the work.
    #[error("not the leader")]
    NotLeader,
    /// The command was not committed in time; it may still commit later.
    #[error("timed out committing a command")]
    Timeout,
    /// The command was committed but the state refused it.
    #[error("state refused the command: {0}")]
    Rejected(String),
    /// The server is shutting down or its consensus failed.
    #[error("cluster unavailable: {0}")]
    Unavailable(String),
}

/// Settings of the whole machinery.
#[derive(Debug, Clone, Default)]
pub struct SchedulingConfig {
    /// The eval broker's timeouts and limits.
    pub broker: BrokerConfig,
    /// The workers.
    pub worker: WorkerConfig,
    /// How many plans may wait for the applier (workers wait for their own
    /// plan, so more than the number of workers is never needed).
    pub plan_queue_capacity: usize,
}

/// The running machinery: shared handles for the server's API (stats,
/// outstanding tokens) and the tasks to stop on shutdown.
#[derive(Debug)]
pub struct Scheduling {
    /// The eval broker.
    pub broker: Arc<EvalBroker>,
    /// Blocked evaluations.
    pub blocked: Arc<BlockedEvals>,
    /// The plan queue.
    pub plans: Arc<PlanQueue>,
    /// What the workers did.
    pub workers: Arc<WorkerStats>,
    /// Free capacity per node, for the scheduler.
    pub capacity: Arc<CapacityTracker>,
    tasks: Vec<JoinHandle<()>>,
}

impl Scheduling {
    /// Starts the workers, the plan applier and the leader task on the
    /// current tokio runtime. `leader` says whether this server leads (only
    /// the leader's broker hands out evals); `shutdown` turning `true` stops
    /// every task.
    pub fn start(
        cluster: Arc<dyn Cluster>,
        config: SchedulingConfig,
        leader: watch::Receiver<bool>,
        shutdown: watch::Receiver<bool>,
    ) -> Scheduling {
        let clock = {
            let c = cluster.clone();
            broker::Clock::new(move || c.now())
        };
        let broker = Arc::new(EvalBroker::new(config.broker.clone(), clock));
        let blocked = Arc::new(BlockedEvals::new());
        let capacity = config
            .plan_queue_capacity
            .max(config.worker.workers.max(1) * 2);
        let plans = Arc::new(PlanQueue::new(capacity));
        let workers = Arc::new(WorkerStats::default());
        let capacity = Arc::new(CapacityTracker::new());
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(plan_apply::run_applier(
            cluster.clone(),
            plans.clone(),
            broker.clone(),
            shutdown.clone(),
        )));
        tasks.push(tokio::spawn(periodic::run_periodic(
            cluster.clone(),
            leader.clone(),
            shutdown.clone(),
        )));
        let leader_for_watcher = leader.clone();
        tasks.push(tokio::spawn(leader::run_leader(
            cluster.clone(),
            broker.clone(),
            blocked.clone(),
            capacity.clone(),
            leader,
            shutdown.clone(),
        )));
        let shared = worker::Shared {
            cluster: cluster.clone(),
            broker: broker.clone(),
            plans: plans.clone(),
            capacity: capacity.clone(),
            stats: workers.clone(),
        };
        for n in 0..config.worker.workers.max(1) {
            tasks.push(tokio::spawn(worker::run_worker(
                n,
                shared.clone(),
                config.worker.clone(),
                shutdown.clone(),
            )));
        }
        tasks.push(tokio::spawn(deployment_watcher::run_deployment_watcher(
            cluster.clone(),
            leader_for_watcher,
            shutdown.clone(),
        )));
        Scheduling {
            broker,
            blocked,
            plans,
            workers,
            capacity,
            tasks,
        }
    }

    /// Waits for every task to stop (after `shutdown` turned `true`), at
    /// most `timeout`; tasks still running then are aborted.
    pub async fn join(self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        for t in self.tasks {
            let abort = t.abort_handle();
            if tokio::time::timeout_at(deadline, t).await.is_err() {
                abort.abort();
            }
        }
    }
}

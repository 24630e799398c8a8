//! The scheduler's view of the cluster ([`State`], read-only) and its way of
//! writing decisions ([`Planner`]). The server implements both over its
//! replicated store, eval broker and plan applier; the
//! [`harness`](crate::harness) implements them in memory.
//!
//! This module owns the traits and the scheduler's error type, nothing else.

use sched_core::model::{
    Allocation, Deployment, Evaluation, Job, Node, NodeId, Plan, PlanResult, SchedulerConfiguration,
};

use crate::rank::capacity_index::CapacityIndex;

/// A consistent, read-only snapshot of cluster state at [`State::index`].
pub trait State {
    /// Every registered node, in a stable order.
    fn nodes(&self) -> Vec<&Node>;
    /// One node by ID.
    fn node(&self, id: &NodeId) -> Option<&Node>;
    /// Every allocation on a node, terminal ones included.
    fn allocs_by_node(&self, id: &NodeId) -> Vec<&Allocation>;
    /// Every allocation of a job, terminal ones included.
    fn allocs_by_job(&self, namespace: &str, job_id: &str) -> Vec<&Allocation>;
    /// The current version of a job, if registered.
    fn job(&self, namespace: &str, id: &str) -> Option<&Job>;
    /// The job's most recent deployment.
    fn latest_deployment(&self, namespace: &str, job_id: &str) -> Option<&Deployment>;
    /// The raft index this snapshot reflects.
    fn index(&self) -> u64;
    /// An index of partly filled nodes by free capacity, kept up to date by
    /// the store, when it keeps one. Without it the stack builds one per
    /// evaluation when [`CandidateSelection::CapacityIndex`] is selected.
    ///
    /// [`CandidateSelection::CapacityIndex`]: crate::stack::CandidateSelection::CapacityIndex
    fn capacity_index(&self) -> Option<&CapacityIndex> {
        None
    }
    /// The operator's scheduler configuration (algorithm, which schedulers
    /// may preempt), or `None` when none was ever stored: then the
    /// scheduler's own [`SchedulerConfig`](crate::stack::SchedulerConfig)
    /// algorithm and Nomad's preemption defaults apply.
    fn scheduler_configuration(&self) -> Option<SchedulerConfiguration> {
        None
    }
}

/// Why the planner refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlannerError {
    /// The plan applier or the store failed; the evaluation should be retried.
    #[error("planner: {0}")]
    Failed(String),
}

/// Where the scheduler sends its decisions, and where it gets the snapshot it
/// decides on (a worker holds both: the snapshot it waited for and the plan
/// queue it submits to).
pub trait Planner {
    /// The snapshot to schedule against.
    fn state(&self) -> &dyn State;
    /// Submits a plan. The applier re-checks every node against the latest
    /// state and may commit only part of it: the result then lists what was
    /// committed and carries a non-zero `refresh_index` the scheduler must
    /// wait for before retrying the rest.
    fn submit_plan(&mut self, plan: Plan) -> Result<PlanResult, PlannerError>;
    /// Records the evaluation's final status.
    fn update_eval(&mut self, eval: Evaluation) -> Result<(), PlannerError>;
    /// Creates a follow-up or blocked evaluation.
    fn create_eval(&mut self, eval: Evaluation) -> Result<(), PlannerError>;
    /// Puts a blocked evaluation back with updated failure metrics.
    fn reblock_eval(&mut self, eval: Evaluation) -> Result<(), PlannerError>;
    /// Moves [`Planner::state`] to a snapshot at least as new as `index`,
    /// for retrying after a partial commit. The in-memory harness always has
    /// the latest state at hand.
    fn refresh(&mut self, index: u64) -> Result<(), PlannerError> {
        let _ = index;
        Ok(())
    }
}

/// Why an evaluation could not be processed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchedulerError {
    /// The planner failed.
    #[error(transparent)]
    Planner(#[from] PlannerError),
}

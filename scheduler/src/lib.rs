//! sched's scheduler: turns an evaluation into a
//! [`Plan`](sched_core::model::Plan) of placements and stops, the way
//! Nomad's scheduler does.
//!
//! The way through one evaluation:
//! 1. [`reconcile`] compares each task group's desired count with the job's
//!    existing allocations and decides what to place, stop, update in place,
//!    replace (lost or destructively updated) and reschedule; for service
//!    groups with an update strategy it rolls new versions out through
//!    [`deployment`]s (batches of `max_parallel`, canaries).
//! 2. For every placement the [`stack::Stack`] runs the feasibility checkers
//!    ([`feasible`]) and the rankers ([`rank`]) over a candidate set of nodes
//!    and picks the best, recording an
//!    [`AllocMetric`](sched_core::model::AllocMetric) that explains failures.
//! 3. [`generic::GenericScheduler`] (service, batch) and
//!    [`system::SystemScheduler`] (system, sysbatch) submit the plan through a
//!    [`state::Planner`], retry what the plan applier refused, and leave a
//!    blocked evaluation for what could not be placed.
//!
//! This crate owns placement decisions only. It reads cluster state through
//! the [`state::State`] trait and writes through [`state::Planner`], which the
//! server implements (with its Raft-backed store, eval broker and plan
//! applier); [`harness`] implements both in memory for tests and benchmarks.
//! No I/O, no async runtime.

#![deny(missing_docs)]

pub mod context;
pub mod deployment;
pub mod feasible;
pub mod generic;
pub mod harness;
pub mod job_view;
pub mod mock;
pub mod rank;
pub mod reconcile;
pub mod reconcile_disconnect;
pub mod stack;
pub mod state;
pub mod submit;
pub mod system;
pub mod usage;

pub use generic::GenericScheduler;
pub use stack::{CandidateSelection, SchedulerConfig, ScoringAlgorithm, Stack};
pub use state::{Planner, PlannerError, SchedulerError, State};
pub use system::SystemScheduler;

use sched_core::model::Evaluation;

/// Runs the scheduler that fits the evaluation's type (`service`, `batch`,
/// `system`, `sysbatch`) with the given configuration.
pub fn process_eval(
    planner: &mut dyn Planner,
    eval: &Evaluation,
    config: &SchedulerConfig,
) -> Result<(), SchedulerError> {
    match eval.r#type.as_str() {
        "system" | "sysbatch" => SystemScheduler::new(planner, config.clone()).process(eval),
        _ => GenericScheduler::new(planner, config.clone()).process(eval),
    }
}

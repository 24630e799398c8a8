//! Which user requests trigger an evaluation.

use sched_core::model::Job;

pub(crate) use crate::evals::{new_eval, trigger};

/// Whether registering `job` creates an evaluation: periodic and
/// parameterized parents only launch children, so they get none.
pub(crate) fn register_needs_eval(job: &Job) -> bool {
    let periodic = job
        .periodic
        .as_ref()
        .is_some_and(|p| p.enabled.unwrap_or(true));
    let parameterized = job.parameterized_job.is_some() && !job.dispatched.unwrap_or(false);
    !(periodic || parameterized)
}

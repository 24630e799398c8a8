//! The evaluations user requests trigger, built as Nomad builds them.

use sched_core::model::{EvalId, EvalStatus, Evaluation, Job};

/// Nomad's `TriggeredBy` values for the requests this API serves.
pub(crate) mod trigger {
    pub(crate) const JOB_REGISTER: &str = "job-register";
    pub(crate) const JOB_DEREGISTER: &str = "job-deregister";
    pub(crate) const JOB_EVAL: &str = "job-eval";
    pub(crate) const JOB_SCALING: &str = "job-scaling";
    pub(crate) const PERIODIC_JOB: &str = "periodic-job";
    pub(crate) const ALLOC_STOP: &str = "alloc-stop";
    pub(crate) const NODE_DRAIN: &str = "node-drain";
    pub(crate) const NODE_UPDATE: &str = "node-update";
}

/// A pending evaluation of `job` with a fresh ID and trace id, stamped with
/// the request's time.
pub(crate) fn new_eval(job: &Job, triggered_by: &str, now: i64) -> Evaluation {
    Evaluation {
        id: EvalId::generate(),
        namespace: job.namespace.clone().unwrap_or_else(|| "default".into()),
        priority: job.priority.unwrap_or(50),
        r#type: job.r#type.clone().unwrap_or_else(|| "service".into()),
        triggered_by: triggered_by.to_string(),
        job_id: job.id.clone().unwrap_or_default(),
        job_modify_index: job.job_modify_index.unwrap_or(0),
        status: EvalStatus::Pending,
        create_time: now,
        modify_time: now,
        trace_id: uuid::Uuid::new_v4().simple().to_string(),
        ..Default::default()
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evals_carry_the_jobs_scheduler_and_a_fresh_trace() {
        let job = Job {
            id: Some("web".into()),
            namespace: Some("prod".into()),
            r#type: Some("batch".into()),
            priority: Some(70),
            ..Default::default()
        };
        let a = new_eval(&job, trigger::JOB_REGISTER, 42);
        let b = new_eval(&job, trigger::JOB_REGISTER, 42);
        assert_eq!(a.r#type, "batch");
        assert_eq!(a.priority, 70);
        assert_eq!(a.namespace, "prod");
        assert_eq!(a.status, EvalStatus::Pending);
        assert_eq!((a.create_time, a.modify_time), (42, 42));
        assert_ne!(a.id, b.id);
        assert_ne!(a.trace_id, b.trace_id);
    }
}

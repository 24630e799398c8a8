//! The evaluations the server creates, built as Nomad builds them: for user
//! requests (the HTTP API), node changes (heartbeats, registration), failed
//! allocations, periodic launches and deployments. One constructor, so every evaluation
//! gets a fresh ID and trace ID the same way.

use sched_core::model::{EvalId, EvalStatus, Evaluation, Job};

/// Nomad's `TriggeredBy` values.
pub mod trigger {
    /// `job-register`.
    pub const JOB_REGISTER: &str = "job-register";
    /// `job-deregister`.
    pub const JOB_DEREGISTER: &str = "job-deregister";
    /// `job-eval`.
    pub const JOB_EVAL: &str = "job-eval";
    /// `job-scaling`.
    pub const JOB_SCALING: &str = "job-scaling";
    /// `periodic-job`.
    pub const PERIODIC_JOB: &str = "periodic-job";
    /// `alloc-stop`.
    pub const ALLOC_STOP: &str = "alloc-stop";
    /// `node-drain`.
    pub const NODE_DRAIN: &str = "node-drain";
    /// `node-update`.
    pub const NODE_UPDATE: &str = "node-update";
    /// `alloc-failure`: a client reported a failed allocation.
    pub const ALLOC_FAILURE: &str = "alloc-failure";
    /// `reconnect`: a disconnected client reported its allocations again.
    pub const RECONNECT: &str = "reconnect";
    /// `deployment-watcher`: a deployment progressed, was promoted or
    /// failed.
    pub const DEPLOYMENT_WATCHER: &str = "deployment-watcher";
}

/// A pending evaluation of `job` with a fresh ID and trace id, stamped with
/// the request's time.
pub fn new_eval(job: &Job, triggered_by: &str, now: i64) -> Evaluation {
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

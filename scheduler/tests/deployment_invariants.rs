//! Property tests over random rollouts driven through the harness: new
//! versions, health verdicts, promotion, pause, failure and resumption in
//! any order. No node is overcommitted, a rollout never has more unjudged
//! replacements than `max_parallel` (or its canaries) allow, the group
//! never runs more than its count plus its canaries, and once everything is
//! healthy, promoted and resumed the job converges on its latest version
//! with a successful deployment.

use proptest::prelude::*;
use sched_core::model::{Allocation, DeploymentStatus, DesiredStatus, Job, UpdateStrategy};
use sched_scheduler::harness::Harness;
use sched_scheduler::job_view::JobView;
use sched_scheduler::{SchedulerConfig, State, mock};

fn cfg() -> SchedulerConfig {
    SchedulerConfig {
        now_nanos: Some(1_000_000_000_000),
        ..SchedulerConfig::default()
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Registers a destructive change.
    NewVersion,
    /// Judges the k-th unjudged allocation healthy.
    Healthy(usize),
    /// Judges the k-th unjudged allocation unhealthy.
    Unhealthy(usize),
    Promote,
    Pause,
    Fail,
    Resume,
    Rerun,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::NewVersion),
        4 => (0usize..8).prop_map(Op::Healthy),
        1 => (0usize..8).prop_map(Op::Unhealthy),
        1 => Just(Op::Promote),
        1 => Just(Op::Pause),
        1 => Just(Op::Fail),
        1 => Just(Op::Resume),
        3 => Just(Op::Rerun),
    ]
}

fn job(count: i64, max_parallel: i64, canary: i64, version: u32) -> Job {
    let mut j = mock::service_job("web", count, 200, 256);
    let group = &mut j.task_groups.as_mut().expect("mock job has a group")[0];
    group.update = Some(UpdateStrategy {
        max_parallel: Some(max_parallel),
        canary: Some(canary),
        ..Default::default()
    });
    let task = &mut group.tasks.as_mut().expect("mock group has a task")[0];
    task.config.get_or_insert_with(Default::default).insert(
        "command".into(),
        serde_json::Value::String(format!("/bin/v{version}")),
    );
    j
}

fn live(h: &Harness) -> Vec<Allocation> {
    h.allocs_by_job("default", "web")
        .into_iter()
        .filter(|a| a.desired_status == DesiredStatus::Run && !a.client_status.is_terminal())
        .cloned()
        .collect()
}

fn unjudged(h: &Harness) -> Vec<Allocation> {
    live(h)
        .into_iter()
        .filter(|a| {
            a.deployment_status
                .as_ref()
                .and_then(|s| s.healthy)
                .is_none()
        })
        .collect()
}

fn rerun(h: &mut Harness) {
    let eval = h.job_eval("default", "web");
    h.run(&eval, &cfg())
        .expect("the harness planner does not fail");
}

fn set_status(h: &mut Harness, status: DeploymentStatus) {
    if let Some(mut d) = h.latest_deployment("default", "web").cloned() {
        d.status = status;
        h.upsert_deployment(d);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn rollouts_respect_their_limits_and_converge(
        count in 1i64..7,
        max_parallel in 1i64..4,
        canary_pick in 0i64..7,
        ops in prop::collection::vec(op(), 1..30),
    ) {
        let canary = canary_pick % (count + 1);
        let mut h = Harness::new();
        for i in 1..=4 {
            h.upsert_node(mock::node(i));
        }
        let mut version = 0u32;
        h.register_and_run(job(count, max_parallel, canary, version), &cfg())
            .expect("the harness planner does not fail");
        for op in ops {
            match op {
                Op::NewVersion => {
                    version += 1;
                    h.register_and_run(job(count, max_parallel, canary, version), &cfg())
                        .expect("the harness planner does not fail");
                }
                Op::Healthy(k) | Op::Unhealthy(k) => {
                    let pending = unjudged(&h);
                    if !pending.is_empty() {
                        let id = pending[k % pending.len()].id.clone();
                        h.set_alloc_health(&id, matches!(op, Op::Healthy(_)));
                    }
                }
                Op::Promote => {
                    if let Some(mut d) = h.latest_deployment("default", "web").cloned() {
                        for g in d.task_groups.values_mut() {
                            g.promoted = true;
                        }
                        h.upsert_deployment(d);
                    }
                }
                Op::Pause => set_status(&mut h, DeploymentStatus::Paused),
                Op::Fail => set_status(&mut h, DeploymentStatus::Failed),
                Op::Resume => set_status(&mut h, DeploymentStatus::Running),
                Op::Rerun => rerun(&mut h),
            }
            h.check_no_overcommit().map_err(TestCaseError::fail)?;
            let now = live(&h);
            prop_assert!(now.len() as i64 <= count + canary, "{} running", now.len());
            if let Some(d) = h.latest_deployment("default", "web")
                && d.job_version > 0
            {
                let in_flight = now
                    .iter()
                    .filter(|a| a.deployment_id.as_ref() == Some(&d.id))
                    .filter(|a| a.deployment_status.as_ref().and_then(|s| s.healthy).is_none())
                    .count() as i64;
                prop_assert!(
                    in_flight <= max_parallel.max(canary),
                    "{in_flight} replacements in flight"
                );
            }
        }

        // Everything healthy, promoted and resumed: the latest version
        // takes over and its deployment succeeds.
        set_status(&mut h, DeploymentStatus::Running);
        for _ in 0..(3 * count + 6) {
            for a in live(&h) {
                if a.deployment_status.as_ref().and_then(|s| s.healthy) != Some(true) {
                    h.set_alloc_health(&a.id, true);
                }
            }
            if let Some(mut d) = h.latest_deployment("default", "web").cloned()
                && d.task_groups.values().any(|g| !g.promoted && g.desired_canaries > 0)
            {
                for g in d.task_groups.values_mut() {
                    g.promoted = true;
                }
                h.upsert_deployment(d);
            }
            rerun(&mut h);
        }
        let now = live(&h);
        prop_assert_eq!(now.len() as i64, count);
        let latest = h.job("default", "web").expect("registered").ver();
        prop_assert!(now.iter().all(|a| a.job.as_ref().is_some_and(|j| j.ver() == latest)));
        let d = h.latest_deployment("default", "web").expect("a deployment");
        prop_assert_eq!(d.status, DeploymentStatus::Successful);
    }
}

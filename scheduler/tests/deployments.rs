//! Deployments against the in-memory harness: rolling updates in batches
//! of `max_parallel` as replacements turn healthy, canaries before and
//! after promotion, cancellation by a newer version, failed and paused
//! deployments, drain migrations at `migrate.max_parallel`, and odd input.

use sched_core::model::{
    Allocation, ClientStatus, DeploymentStatus, DesiredStatus, Job, NodeId, UpdateStrategy,
};
use sched_scheduler::deployment::{descriptions, is_canary};
use sched_scheduler::harness::Harness;
use sched_scheduler::job_view::JobView;
use sched_scheduler::{SchedulerConfig, State, mock};

fn cluster(n: u128) -> Harness {
    let mut h = Harness::new();
    for i in 1..=n {
        h.upsert_node(mock::node(i));
    }
    h
}

fn cfg() -> SchedulerConfig {
    SchedulerConfig {
        now_nanos: Some(1_000_000_000_000),
        ..SchedulerConfig::default()
    }
}

/// A service job `web` with the given update strategy.
fn job(count: i64, max_parallel: i64, canary: i64) -> Job {
    let mut j = mock::service_job("web", count, 100, 128);
    j.task_groups.as_mut().expect("mock job has a group")[0].update = Some(UpdateStrategy {
        max_parallel: Some(max_parallel),
        canary: Some(canary),
        ..Default::default()
    });
    j
}

/// The same job with a changed task command: a destructive change.
fn changed(mut j: Job, command: &str) -> Job {
    let group = &mut j.task_groups.as_mut().expect("mock job has a group")[0];
    let task = &mut group.tasks.as_mut().expect("mock group has a task")[0];
    task.config
        .get_or_insert_with(Default::default)
        .insert("command".into(), serde_json::Value::String(command.into()));
    j
}

fn live(h: &Harness) -> Vec<Allocation> {
    h.allocs_by_job("default", "web")
        .into_iter()
        .filter(|a| a.desired_status == DesiredStatus::Run && !a.client_status.is_terminal())
        .cloned()
        .collect()
}

fn version(a: &Allocation) -> u64 {
    a.job.as_ref().expect("allocations carry their job").ver()
}

fn rerun(h: &mut Harness) {
    let eval = h.job_eval("default", "web");
    h.run(&eval, &cfg())
        .expect("the harness planner does not fail");
}

/// Marks every running allocation not yet judged healthy.
fn all_healthy(h: &mut Harness) {
    for a in live(h) {
        if a.deployment_status
            .as_ref()
            .and_then(|s| s.healthy)
            .is_none()
        {
            h.set_alloc_health(&a.id, true);
        }
    }
}

fn latest(h: &Harness) -> sched_core::model::Deployment {
    h.latest_deployment("default", "web")
        .expect("the job has a deployment")
        .clone()
}

#[test]
fn first_version_gets_a_deployment_that_completes_when_healthy() {
    let mut h = cluster(3);
    h.register_and_run(job(4, 2, 0), &cfg()).unwrap();
    // The first placement is not limited by max_parallel.
    let allocs = live(&h);
    assert_eq!(allocs.len(), 4);
    let d = latest(&h);
    assert_eq!(d.status, DeploymentStatus::Running);
    assert_eq!(d.status_description, descriptions::RUNNING);
    assert_eq!(d.job_version, 0);
    let g = &d.task_groups["web"];
    assert_eq!(
        (g.desired_total, g.desired_canaries, g.placed_allocs),
        (4, 0, 4)
    );
    assert!(g.require_progress_by.is_some());
    assert_eq!(g.progress_deadline.as_nanos(), 600_000_000_000);
    assert!(
        allocs
            .iter()
            .all(|a| a.deployment_id.as_ref() == Some(&d.id))
    );
    // Nothing healthy yet: the deployment stays running.
    rerun(&mut h);
    assert_eq!(latest(&h).status, DeploymentStatus::Running);
    all_healthy(&mut h);
    rerun(&mut h);
    let d = latest(&h);
    assert_eq!(d.status, DeploymentStatus::Successful);
    assert_eq!(d.status_description, descriptions::SUCCESSFUL);
    assert_eq!(d.task_groups["web"].healthy_allocs, 4);
    // A deployment-only plan was submitted: no allocation changed.
    let last = h.plans.last().unwrap();
    assert!(last.node_allocation.is_empty() && last.node_update.is_empty());
    // Nothing more to do: no new deployment, no plan.
    let plans = h.plans.len();
    rerun(&mut h);
    assert_eq!(h.plans.len(), plans);
    assert_eq!(h.deployments_of("default", "web").len(), 1);
}

#[test]
fn rolling_update_moves_in_batches_as_replacements_turn_healthy() {
    let mut h = cluster(3);
    let v0 = job(6, 2, 0);
    h.register_and_run(v0.clone(), &cfg()).unwrap();
    all_healthy(&mut h);
    rerun(&mut h);
    let first = latest(&h);
    assert_eq!(first.status, DeploymentStatus::Successful);

    h.register_and_run(changed(v0, "/bin/v1"), &cfg()).unwrap();
    let d = latest(&h);
    assert_ne!(d.id, first.id);
    assert_eq!(d.job_version, 1);
    assert_eq!(d.task_groups["web"].desired_total, 6);
    // A finished deployment is not cancelled again.
    assert_eq!(
        h.deployment(&first.id).unwrap().status,
        DeploymentStatus::Successful
    );
    let count = |h: &Harness, v: u64| live(h).iter().filter(|a| version(a) == v).count();
    assert_eq!((count(&h, 0), count(&h, 1)), (4, 2));

    // Without health news nothing more moves, however often it runs.
    rerun(&mut h);
    rerun(&mut h);
    assert_eq!((count(&h, 0), count(&h, 1)), (4, 2));

    // One replacement healthy: one more starts.
    let new: Vec<Allocation> = live(&h).into_iter().filter(|a| version(a) == 1).collect();
    h.set_alloc_health(&new[0].id, true);
    rerun(&mut h);
    assert_eq!((count(&h, 0), count(&h, 1)), (3, 3));

    // Batches follow health until everything runs the new version; at no
    // point are more than two replacements unhealthy or the count short.
    for _ in 0..10 {
        if count(&h, 0) == 0 {
            break;
        }
        all_healthy(&mut h);
        rerun(&mut h);
        let in_flight = live(&h)
            .iter()
            .filter(|a| a.deployment_id.as_ref() == Some(&d.id))
            .filter(|a| {
                a.deployment_status
                    .as_ref()
                    .and_then(|s| s.healthy)
                    .is_none()
            })
            .count();
        assert!(in_flight <= 2, "{in_flight} replacements in flight");
        assert_eq!(live(&h).len(), 6);
    }
    assert_eq!((count(&h, 0), count(&h, 1)), (0, 6));
    // Each replacement names the allocation it replaced.
    assert!(live(&h).iter().all(|a| a.previous_allocation.is_some()));
    all_healthy(&mut h);
    rerun(&mut h);
    let d = latest(&h);
    assert_eq!(d.status, DeploymentStatus::Successful);
    assert_eq!(d.task_groups["web"].placed_allocs, 6);
}

#[test]
fn canaries_run_beside_the_old_version_until_promoted() {
    let mut h = cluster(3);
    let v0 = job(3, 1, 1);
    h.register_and_run(v0.clone(), &cfg()).unwrap();
    all_healthy(&mut h);
    rerun(&mut h);
    h.register_and_run(changed(v0, "/bin/v1"), &cfg()).unwrap();
    let d = latest(&h);
    assert_eq!(d.status_description, descriptions::NEEDS_PROMOTION);
    let g = &d.task_groups["web"];
    assert_eq!((g.desired_total, g.desired_canaries), (3, 1));
    let allocs = live(&h);
    assert_eq!(allocs.len(), 4);
    let canaries: Vec<&Allocation> = allocs.iter().filter(|a| is_canary(a)).collect();
    assert_eq!(canaries.len(), 1);
    let canary = canaries[0].clone();
    assert_eq!(version(&canary), 1);
    assert_eq!(canary.deployment_id.as_ref(), Some(&d.id));
    assert!(canary.previous_allocation.is_none());
    assert_eq!(g.placed_canaries, vec![canary.id.clone()]);
    // Takes the name of an allocation it will replace.
    assert_eq!(canary.name, "web.web[0]");

    // Healthy but not promoted: nothing is replaced, nothing completes.
    h.set_alloc_health(&canary.id, true);
    rerun(&mut h);
    rerun(&mut h);
    assert_eq!(live(&h).len(), 4);
    assert_eq!(live(&h).iter().filter(|a| version(a) == 0).count(), 3);
    assert_eq!(latest(&h).status, DeploymentStatus::Running);

    // Promoted: the old allocation sharing the canary's name stops and the
    // rest roll one at a time.
    let mut promoted = latest(&h);
    promoted.task_groups.get_mut("web").unwrap().promoted = true;
    h.upsert_deployment(promoted);
    rerun(&mut h);
    let now = live(&h);
    assert_eq!(now.len(), 3);
    assert!(now.iter().any(|a| a.id == canary.id));
    assert_eq!(now.iter().filter(|a| version(a) == 0).count(), 1);
    for _ in 0..10 {
        if live(&h).iter().all(|a| version(a) == 1) {
            break;
        }
        all_healthy(&mut h);
        rerun(&mut h);
        assert_eq!(live(&h).len(), 3);
    }
    let names: std::collections::BTreeSet<String> =
        live(&h).iter().map(|a| a.name.clone()).collect();
    assert_eq!(names.len(), 3);
    assert!(live(&h).iter().all(|a| version(a) == 1));
    all_healthy(&mut h);
    rerun(&mut h);
    assert_eq!(latest(&h).status, DeploymentStatus::Successful);
}

#[test]
fn newer_version_cancels_the_running_deployment_and_its_canaries() {
    let mut h = cluster(3);
    let v0 = job(3, 1, 1);
    h.register_and_run(v0.clone(), &cfg()).unwrap();
    all_healthy(&mut h);
    rerun(&mut h);
    h.register_and_run(changed(v0.clone(), "/bin/v1"), &cfg())
        .unwrap();
    let v1 = latest(&h);
    let canary = live(&h).into_iter().find(is_canary).unwrap();

    h.register_and_run(changed(v0, "/bin/v2"), &cfg()).unwrap();
    let old = h.deployment(&v1.id).unwrap();
    assert_eq!(old.status, DeploymentStatus::Cancelled);
    assert_eq!(old.status_description, descriptions::NEWER_JOB);
    let v2 = latest(&h);
    assert_ne!(v2.id, v1.id);
    assert_eq!(v2.job_version, 2);
    assert_eq!(v2.status, DeploymentStatus::Running);
    // The unpromoted canary of v1 is stopped; a v2 canary takes its place.
    let c = h.alloc(&canary.id).unwrap();
    assert_eq!(c.desired_status, DesiredStatus::Stop);
    let now = live(&h);
    assert_eq!(now.iter().filter(|a| version(a) == 0).count(), 3);
    let canaries: Vec<&Allocation> = now.iter().filter(|a| is_canary(a)).collect();
    assert_eq!(canaries.len(), 1);
    assert_eq!(version(canaries[0]), 2);
}

#[test]
fn stopping_the_job_cancels_its_deployment() {
    let mut h = cluster(2);
    let v0 = job(2, 1, 0);
    h.register_and_run(v0.clone(), &cfg()).unwrap();
    let d = latest(&h);
    let mut stopped = v0;
    stopped.stop = Some(true);
    h.register_and_run(stopped, &cfg()).unwrap();
    let d = h.deployment(&d.id).unwrap();
    assert_eq!(d.status, DeploymentStatus::Cancelled);
    assert_eq!(d.status_description, descriptions::STOPPED_JOB);
    assert!(live(&h).is_empty());
}

#[test]
fn failed_deployment_stops_the_rollout() {
    let mut h = cluster(3);
    let v0 = job(4, 1, 0);
    h.register_and_run(v0.clone(), &cfg()).unwrap();
    all_healthy(&mut h);
    rerun(&mut h);
    h.register_and_run(changed(v0, "/bin/v1"), &cfg()).unwrap();
    assert_eq!(live(&h).iter().filter(|a| version(a) == 1).count(), 1);
    let mut failed = latest(&h);
    failed.status = DeploymentStatus::Failed;
    failed.status_description = "Failed due to unhealthy allocations".into();
    h.upsert_deployment(failed.clone());
    all_healthy(&mut h);
    for _ in 0..3 {
        rerun(&mut h);
    }
    let now = live(&h);
    assert_eq!(now.len(), 4);
    assert_eq!(now.iter().filter(|a| version(a) == 1).count(), 1);
    // No new deployment for the same version, and the failed one stays.
    assert_eq!(latest(&h).id, failed.id);
    assert_eq!(latest(&h).status, DeploymentStatus::Failed);

    // A lost allocation is still replaced.
    let victim = now.iter().find(|a| version(a) == 0).unwrap().clone();
    h.set_node_status(&victim.node_id, sched_core::model::NodeStatus::Down);
    rerun(&mut h);
    assert_eq!(live(&h).len(), 4);
    assert!(live(&h).iter().all(|a| a.node_id != victim.node_id));
}

#[test]
fn unhealthy_replacement_halts_and_paused_deployment_waits() {
    let mut h = cluster(3);
    let v0 = job(4, 2, 0);
    h.register_and_run(v0.clone(), &cfg()).unwrap();
    all_healthy(&mut h);
    rerun(&mut h);
    h.register_and_run(changed(v0, "/bin/v1"), &cfg()).unwrap();
    let new: Vec<Allocation> = live(&h).into_iter().filter(|a| version(a) == 1).collect();
    assert_eq!(new.len(), 2);
    // One healthy, one unhealthy: nothing more starts.
    h.set_alloc_health(&new[0].id, true);
    h.set_alloc_health(&new[1].id, false);
    rerun(&mut h);
    assert_eq!(live(&h).iter().filter(|a| version(a) == 1).count(), 2);
    assert_eq!(latest(&h).task_groups["web"].unhealthy_allocs, 1);

    // Healthy again but paused: still nothing; resumed: the rest go.
    h.set_alloc_health(&new[1].id, true);
    let mut paused = latest(&h);
    paused.status = DeploymentStatus::Paused;
    h.upsert_deployment(paused.clone());
    rerun(&mut h);
    assert_eq!(live(&h).iter().filter(|a| version(a) == 1).count(), 2);
    paused.status = DeploymentStatus::Running;
    h.upsert_deployment(paused);
    rerun(&mut h);
    assert_eq!(live(&h).iter().filter(|a| version(a) == 1).count(), 4);
}

#[test]
fn drain_migrates_at_most_migrate_max_parallel() {
    let mut h = Harness::new();
    h.upsert_node(mock::node(1));
    let mut v0 = job(5, 1, 0);
    v0.task_groups.as_mut().unwrap()[0].migrate = Some(sched_core::model::MigrateStrategy {
        max_parallel: Some(2),
        ..Default::default()
    });
    h.register_and_run(v0, &cfg()).unwrap();
    all_healthy(&mut h);
    rerun(&mut h);
    for i in 2..=3 {
        h.upsert_node(mock::node(i));
    }
    let drained = NodeId::from_u128(1);
    let mut node = h.node(&drained).unwrap().clone();
    node.drain_strategy = Some(Default::default());
    h.upsert_node(node);
    let off = |h: &Harness| live(h).iter().filter(|a| a.node_id != drained).count();

    rerun(&mut h);
    assert_eq!(off(&h), 2);
    assert_eq!(live(&h).len(), 5);
    // Migrations not yet healthy hold the next ones back.
    rerun(&mut h);
    assert_eq!(off(&h), 2);
    let moved: Vec<Allocation> = live(&h)
        .into_iter()
        .filter(|a| a.node_id != drained)
        .collect();
    h.set_alloc_health(&moved[0].id, true);
    rerun(&mut h);
    assert_eq!(off(&h), 3);
    for _ in 0..5 {
        all_healthy(&mut h);
        rerun(&mut h);
    }
    assert_eq!(off(&h), 5);
    assert_eq!(live(&h).len(), 5);
    let stopped = h
        .allocs_by_job("default", "web")
        .into_iter()
        .filter(|a| a.node_id == drained)
        .all(|a| a.desired_status == DesiredStatus::Stop);
    assert!(stopped);
}

#[test]
fn drain_past_its_deadline_migrates_everything() {
    let mut h = Harness::new();
    h.upsert_node(mock::node(1));
    h.register_and_run(job(3, 1, 0), &cfg()).unwrap();
    h.upsert_node(mock::node(2));
    let drained = NodeId::from_u128(1);
    let mut node = h.node(&drained).unwrap().clone();
    node.drain_strategy = Some(sched_core::model::DrainStrategy {
        force_deadline: 1,
        ..Default::default()
    });
    h.upsert_node(node);
    rerun(&mut h);
    assert!(live(&h).iter().all(|a| a.node_id != drained));
    assert_eq!(live(&h).len(), 3);
}

#[test]
fn batch_jobs_and_max_parallel_zero_have_no_deployment() {
    let mut h = cluster(2);
    let batch = mock::job_of_type("web", "batch", 3, 100, 128);
    h.register_and_run(batch.clone(), &cfg()).unwrap();
    assert!(h.latest_deployment("default", "web").is_none());
    assert!(live(&h).iter().all(|a| a.deployment_id.is_none()));
    // A destructive change of a batch job replaces everything at once.
    h.register_and_run(changed(batch, "/bin/v1"), &cfg())
        .unwrap();
    assert!(live(&h).iter().all(|a| version(a) == 1));
    assert!(h.latest_deployment("default", "web").is_none());

    let mut h = cluster(2);
    let v0 = job(4, 0, 0);
    h.register_and_run(v0.clone(), &cfg()).unwrap();
    assert!(h.latest_deployment("default", "web").is_none());
    h.register_and_run(changed(v0, "/bin/v1"), &cfg()).unwrap();
    let now = live(&h);
    assert_eq!(now.len(), 4);
    assert!(
        now.iter()
            .all(|a| version(a) == 1 && a.deployment_id.is_none())
    );
}

#[test]
fn odd_update_strategies_do_not_panic() {
    // More canaries than the count (the API refuses it; the scheduler caps
    // it at the count), and negative values.
    let mut h = cluster(2);
    let v0 = job(2, 1, 5);
    h.register_and_run(v0.clone(), &cfg()).unwrap();
    all_healthy(&mut h);
    rerun(&mut h);
    h.register_and_run(changed(v0, "/bin/v1"), &cfg()).unwrap();
    let d = latest(&h);
    assert_eq!(d.task_groups["web"].desired_canaries, 2);
    assert_eq!(live(&h).iter().filter(|a| is_canary(a)).count(), 2);
    assert_eq!(live(&h).len(), 4);

    let mut h = cluster(2);
    let v0 = job(2, -3, -1);
    h.register_and_run(v0.clone(), &cfg()).unwrap();
    h.register_and_run(changed(v0, "/bin/v1"), &cfg()).unwrap();
    assert!(h.latest_deployment("default", "web").is_none());
    assert!(live(&h).iter().all(|a| version(a) == 1));

    // A count of zero with a strategy creates nothing.
    let mut h = cluster(1);
    h.register_and_run(job(0, 2, 1), &cfg()).unwrap();
    assert!(h.latest_deployment("default", "web").is_none());
    assert!(live(&h).is_empty());
}

#[test]
fn in_place_updates_keep_running_without_a_deployment() {
    let mut h = cluster(2);
    let v0 = job(3, 1, 0);
    h.register_and_run(v0.clone(), &cfg()).unwrap();
    all_healthy(&mut h);
    rerun(&mut h);
    let before: Vec<_> = live(&h).iter().map(|a| a.id.clone()).collect();
    let mut meta = v0;
    meta.meta = Some([("owner".to_owned(), "ops".to_owned())].into());
    h.register_and_run(meta, &cfg()).unwrap();
    let now = live(&h);
    assert_eq!(now.len(), 3);
    assert!(
        now.iter()
            .all(|a| before.contains(&a.id) && version(a) == 1)
    );
    assert_eq!(h.deployments_of("default", "web").len(), 1);
}

#[test]
fn failed_replacement_is_rescheduled_within_a_running_deployment() {
    let mut h = cluster(3);
    let v0 = job(3, 1, 0);
    h.register_and_run(v0.clone(), &cfg()).unwrap();
    all_healthy(&mut h);
    rerun(&mut h);
    h.register_and_run(changed(v0, "/bin/v1"), &cfg()).unwrap();
    let new = live(&h).into_iter().find(|a| version(a) == 1).unwrap();
    h.set_client_status(&new.id, ClientStatus::Failed, 1_000_000_000_000);
    rerun(&mut h);
    // The failure holds the rollout back until its delayed reschedule.
    assert_eq!(live(&h).len(), 2);
    assert_eq!(live(&h).iter().filter(|a| version(a) == 0).count(), 2);
    let followup = h
        .created_evals
        .iter()
        .rfind(|e| e.triggered_by == "failed-follow-up")
        .unwrap()
        .clone();
    h.run(&followup, &cfg()).unwrap();
    // Rescheduled (the count is whole again) and still one rollout step.
    assert_eq!(live(&h).len(), 3);
    assert_eq!(live(&h).iter().filter(|a| version(a) == 1).count(), 1);
}

#[test]
fn only_groups_with_a_strategy_join_the_deployment() {
    let mut h = cluster(3);
    let mut v0 = job(2, 1, 0);
    let mut other = v0.task_groups.as_ref().expect("group")[0].clone();
    other.name = Some("db".into());
    other.update = Some(UpdateStrategy {
        max_parallel: Some(0),
        ..Default::default()
    });
    v0.task_groups.as_mut().expect("group").push(other);
    h.register_and_run(v0.clone(), &cfg()).unwrap();
    let d = latest(&h);
    assert_eq!(d.task_groups.keys().collect::<Vec<_>>(), vec!["web"]);
    for a in live(&h) {
        assert_eq!(
            a.deployment_id.is_some(),
            a.task_group == "web",
            "{}",
            a.name
        );
    }
    all_healthy(&mut h);
    rerun(&mut h);
    assert_eq!(latest(&h).status, DeploymentStatus::Successful);
    // A change to both groups: `db` is replaced at once, `web` one by one.
    let mut v1 = v0;
    for g in v1.task_groups.as_mut().expect("groups") {
        let task = &mut g.tasks.as_mut().expect("task")[0];
        task.config.get_or_insert_with(Default::default).insert(
            "command".into(),
            serde_json::Value::String("/bin/v1".into()),
        );
    }
    h.register_and_run(v1, &cfg()).unwrap();
    let now = live(&h);
    let new_in = |g: &str| {
        now.iter()
            .filter(|a| a.task_group == g && version(a) == 1)
            .count()
    };
    assert_eq!((new_in("web"), new_in("db")), (1, 2));
}

#[test]
fn a_lost_canary_is_placed_again_as_a_canary() {
    let mut h = cluster(3);
    let v0 = job(2, 1, 1);
    h.register_and_run(v0.clone(), &cfg()).unwrap();
    all_healthy(&mut h);
    rerun(&mut h);
    h.register_and_run(changed(v0, "/bin/v1"), &cfg()).unwrap();
    let canary = live(&h).into_iter().find(is_canary).unwrap();
    h.set_node_status(&canary.node_id, sched_core::model::NodeStatus::Down);
    rerun(&mut h);
    let lost = h.alloc(&canary.id).unwrap();
    assert_eq!(lost.client_status, ClientStatus::Lost);
    let canaries: Vec<Allocation> = live(&h).into_iter().filter(is_canary).collect();
    assert_eq!(canaries.len(), 1);
    assert_ne!(canaries[0].id, canary.id);
    assert_ne!(canaries[0].node_id, canary.node_id);
    assert_eq!(
        latest(&h).task_groups["web"].placed_canaries,
        vec![canary.id.clone(), canaries[0].id.clone()]
    );
    // The old version's allocations are whole again where they were lost:
    // replacements keep the old version while the canary waits.
    assert_eq!(live(&h).iter().filter(|a| version(a) == 0).count(), 2);
    // After promotion they are replaced by the new version like the rest.
    h.set_alloc_health(&canaries[0].id, true);
    let mut promoted = latest(&h);
    promoted.task_groups.get_mut("web").unwrap().promoted = true;
    h.upsert_deployment(promoted);
    for _ in 0..6 {
        all_healthy(&mut h);
        rerun(&mut h);
    }
    assert_eq!(live(&h).len(), 2);
    assert!(live(&h).iter().all(|a| version(a) == 1));
    assert_eq!(latest(&h).status, DeploymentStatus::Successful);
}

#[test]
fn failures_that_may_not_be_rescheduled_are_replaced_by_a_newer_version() {
    let mut h = cluster(3);
    let mut v0 = job(2, 1, 0);
    v0.reschedule = Some(sched_core::model::ReschedulePolicy {
        attempts: Some(0),
        unlimited: Some(false),
        ..Default::default()
    });
    h.register_and_run(v0.clone(), &cfg()).unwrap();
    all_healthy(&mut h);
    rerun(&mut h);
    // Both fail; with no reschedule attempt they stay and count.
    for a in live(&h) {
        h.set_client_status(&a.id, ClientStatus::Failed, 1_000_000_000_000);
    }
    rerun(&mut h);
    assert!(live(&h).is_empty(), "nothing replaces them in this version");
    let failed: Vec<Allocation> = h
        .allocs_by_job("default", "web")
        .into_iter()
        .filter(|a| a.client_status == ClientStatus::Failed)
        .cloned()
        .collect();
    assert_eq!(failed.len(), 2);
    assert!(
        failed
            .iter()
            .all(|a| a.desired_status == DesiredStatus::Run)
    );

    // A new version replaces them, max_parallel at a time.
    h.register_and_run(changed(v0, "/bin/true"), &cfg())
        .unwrap();
    let now = live(&h);
    assert_eq!(now.len(), 1, "one at a time");
    assert_eq!(version(&now[0]), 1);
    all_healthy(&mut h);
    rerun(&mut h);
    let now = live(&h);
    assert_eq!(now.len(), 2);
    assert!(now.iter().all(|a| version(a) == 1));
    let stopped = h
        .allocs_by_job("default", "web")
        .into_iter()
        .filter(|a| failed.iter().any(|f| f.id == a.id))
        .filter(|a| a.desired_status == DesiredStatus::Stop)
        .count();
    assert_eq!(stopped, 2, "the failed allocations are stopped");
}

//! The leader's deployment watcher in a real server: a deployment whose
//! allocations all report healthy completes and marks its job version
//! stable; one with an unhealthy allocation fails and reverts the job.

use std::time::Duration;

use sched_core::model::{DeploymentState, DeploymentStatus};
use sched_server::fsm::Command;
use sched_server::fsm::deployment_fixture::{self as fixture, GROUP, JOB, deployment_id};
use sched_server::server::{Server, ServerConfig, ServerHandle};
use tokio::net::TcpListener;

const DEADLINE: Duration = Duration::from_secs(30);

async fn leader() -> (tempfile::TempDir, Server, ServerHandle) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = ServerConfig::new(dir.path());
    config.scheduling.worker.workers = 1;
    let rpc = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = Server::start(config, rpc, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("server starts");
    let handle = server.handle();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !handle.is_leader() {
        assert!(tokio::time::Instant::now() < deadline, "no leader");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (dir, server, handle)
}

async fn wait_for_status(handle: &ServerHandle, want: DeploymentStatus) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let d = handle.state().snapshot().deployment(&deployment_id());
        if d.as_ref().is_some_and(|d| d.status == want) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "deployment never became {want:?}: {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Applies the fixture's commands; the deployment names the job's create
/// index, which only the state knows, as the scheduler's would (otherwise
/// the scheduler takes it for a deployment of an older job and cancels it).
async fn setup(handle: &ServerHandle, group: DeploymentState, allocs: usize) {
    for mut cmd in fixture::setup(group, allocs, 0, now()) {
        if let Command::ApplyPlanResult {
            deployment: Some(d),
            ..
        } = &mut cmd
        {
            let job = handle.state().snapshot().job("default", JOB).expect("job");
            d.job_create_index = job.create_index.unwrap_or(0);
        }
        handle.apply(cmd).await.expect("applied");
    }
}

fn group(auto_revert: bool) -> DeploymentState {
    DeploymentState {
        desired_total: 2,
        auto_revert,
        ..DeploymentState::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_allocations_complete_the_deployment() {
    let (_dir, server, handle) = leader().await;
    // All of the job's three allocations, so the scheduler has nothing
    // left to place.
    let mut g = group(false);
    g.desired_total = 3;
    setup(&handle, g, 3).await;
    handle
        .apply(fixture::report(&[0, 1, 2], true, now()))
        .await
        .expect("reported");
    wait_for_status(&handle, DeploymentStatus::Successful).await;
    let snap = handle.state().snapshot();
    let d = snap.deployment(&deployment_id()).expect("deployment");
    assert_eq!(d.status_description, "Deployment completed successfully");
    assert_eq!(d.task_groups[GROUP].healthy_allocs, 3);
    assert_eq!(
        snap.job_version("default", JOB, 1).expect("v1").stable,
        Some(true)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_allocation_fails_and_reverts() {
    let (_dir, server, handle) = leader().await;
    setup(&handle, group(true), 2).await;
    handle
        .apply(fixture::report(&[0], false, now()))
        .await
        .expect("reported");
    wait_for_status(&handle, DeploymentStatus::Failed).await;
    let snap = handle.state().snapshot();
    let d = snap.deployment(&deployment_id()).expect("deployment");
    assert_eq!(
        d.status_description,
        "Failed due to unhealthy allocations - rolling back to job version 0"
    );
    let job = snap.job("default", JOB).expect("job");
    assert_eq!(job.version, Some(2));
    assert_eq!(job.priority, fixture::job(0).priority);
    server.shutdown().await;
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

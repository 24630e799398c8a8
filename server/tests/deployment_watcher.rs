//! The leader's deployment watcher in a real server: a deployment whose
//! allocations all report healthy completes and marks its job version
//! stable; one with an unhealthy allocation fails and reverts the job.

use std::time::Duration;

use sched_core::model::{DeploymentState, DeploymentStatus};
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
    for cmd in fixture::setup(group(false), 2, 0, now()) {
        handle.apply(cmd).await.expect("applied");
    }
    handle
        .apply(fixture::report(&[0, 1], true, now()))
        .await
        .expect("reported");
    wait_for_status(&handle, DeploymentStatus::Successful).await;
    let snap = handle.state().snapshot();
    let d = snap.deployment(&deployment_id()).expect("deployment");
    assert_eq!(d.status_description, "Deployment completed successfully");
    assert_eq!(d.task_groups[GROUP].healthy_allocs, 2);
    assert_eq!(
        snap.job_version("default", JOB, 1).expect("v1").stable,
        Some(true)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_allocation_fails_and_reverts() {
    let (_dir, server, handle) = leader().await;
    for cmd in fixture::setup(group(true), 2, 0, now()) {
        handle.apply(cmd).await.expect("applied");
    }
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

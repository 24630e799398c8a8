//! Deployment health through a real client: allocations placed by a
//! deployment are judged healthy once their tasks ran for
//! `min_healthy_time`, unhealthy when a task fails first, never when health
//! is manual, and a verdict survives a client restart without being judged
//! again.
#![allow(clippy::unwrap_used)]

mod client_support;

use std::time::Duration;

use client_support::*;
use sched_core::model::{
    AllocDeploymentStatus, Allocation, DeploymentId, NodeId, Task, UpdateStrategy,
};

const LONG: Duration = Duration::from_secs(30);

/// An allocation of a deployment whose group judges health by `check`.
fn deployed(node: &NodeId, tasks: Vec<Task>, check: &str, canary: bool) -> Allocation {
    let mut a = alloc(node, "service", tasks, None);
    let mut job = (**a.job.as_ref().unwrap()).clone();
    for g in job.task_groups.iter_mut().flatten() {
        g.update = Some(UpdateStrategy {
            max_parallel: Some(1),
            health_check: Some(check.into()),
            min_healthy_time: Some(sched_core::model::Duration::from_secs(2)),
            healthy_deadline: Some(sched_core::model::Duration::from_secs(60)),
            ..UpdateStrategy::default()
        });
    }
    a.job = Some(std::sync::Arc::new(job));
    a.deployment_id = Some(DeploymentId::generate());
    a.deployment_status = Some(AllocDeploymentStatus {
        canary,
        ..AllocDeploymentStatus::default()
    });
    a
}

/// The deployment status the client reported for `a`, once it has.
fn reported(servers: &InMemoryServers, a: &Allocation) -> Option<AllocDeploymentStatus> {
    servers.latest(&a.id)?.deployment_status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_judged_once_from_task_states_and_kept_across_a_restart() {
    let dir = tempdir();
    let servers = InMemoryServers::new();
    let host = driver_host();
    let (client, _stop1) = start(dir.path(), &servers, &host).await;
    let node = client.node_id();

    let good = deployed(
        &node,
        vec![sh_task("web", "sleep 600")],
        "task_states",
        true,
    );
    let checks = deployed(&node, vec![sh_task("web", "sleep 600")], "checks", false);
    let manual = deployed(&node, vec![sh_task("web", "sleep 600")], "manual", false);
    let bad = deployed(&node, vec![sh_task("web", "exit 3")], "task_states", false);
    let mut plain = alloc(&node, "service", vec![sh_task("web", "sleep 600")], None);
    plain.deployment_id = None;
    for a in [&manual, &plain, &good, &checks, &bad] {
        servers.put_alloc(a.clone());
    }

    let unhealthy = eventually(LONG, || reported(&servers, &bad))
        .await
        .expect("the failing allocation is judged");
    assert_eq!(unhealthy.healthy, Some(false), "{unhealthy:?}");

    let healthy = eventually(LONG, || reported(&servers, &good))
        .await
        .expect("the running allocation is judged");
    assert_eq!(healthy.healthy, Some(true), "{healthy:?}");
    assert!(healthy.canary, "the canary flag is kept");
    assert!(healthy.timestamp.is_some());
    let running = client.alloc(&good.id).unwrap().update.task_states["web"].clone();
    assert_eq!(running.state, "running");
    assert_eq!(running.restarts, 0);

    let by_checks = eventually(LONG, || reported(&servers, &checks))
        .await
        .expect("\"checks\" is judged from the task states");
    assert_eq!(by_checks.healthy, Some(true));

    // Placed before the judged ones and running as long: manual health and
    // an allocation outside any deployment are never judged by the client.
    assert_eq!(reported(&servers, &manual), None);
    assert_eq!(reported(&servers, &plain), None);
    assert_eq!(
        client
            .alloc(&manual.id)
            .unwrap()
            .update
            .task_states
            .get("web")
            .map(|s| s.state.clone())
            .as_deref(),
        Some("running")
    );

    // A new client on the same state reports the stored verdict at once,
    // with its original time, instead of judging again.
    client.shutdown().await;
    let updates_before = servers.updates.lock().unwrap().len();
    let (client, _stop2) = start(dir.path(), &servers, &host).await;
    let first_after = eventually(LONG, || {
        servers.updates.lock().unwrap()[updates_before..]
            .iter()
            .find(|u| u.alloc_id == good.id)
            .cloned()
    })
    .await
    .expect("the restarted client reports the allocation");
    assert_eq!(first_after.deployment_status, Some(healthy));

    for a in [&good, &checks, &manual, &plain, &bad] {
        servers.stop_alloc(&a.id);
    }
    for a in [&good, &checks, &manual, &plain] {
        eventually(LONG, || {
            let s = task_state(&client, &a.id, "web")?;
            (s.state == "dead").then_some(())
        })
        .await
        .expect("stopping the allocation kills its task");
    }
    client.shutdown().await;
}

//! The deployment methods against the real router served on a loopback
//! port, over the in-process test backend (the real state machine).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use sched_api::{Client, Deployment, QueryOptions};
use sched_core::model::{AllocDeploymentStatus, DeploymentId, DeploymentState, DeploymentStatus};
use sched_scheduler::mock;
use sched_server::fsm::Command;
use sched_server::http::{HttpLimits, TestBackend, router, serve};

const NOW: i64 = 1_700_000_000_000_000_000;

fn run<F: std::future::Future<Output = ()>>(f: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f);
}

async fn start() -> (Client, Arc<TestBackend>, tokio::sync::oneshot::Sender<()>) {
    let backend = TestBackend::new(NOW);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(
        listener,
        router(backend.clone(), HttpLimits::default()),
        async move {
            let _ = rx.await;
        },
    ));
    (Client::new(&addr.to_string()).unwrap(), backend, tx)
}

/// Registers job `web` (one group `web` of `count`), commits one allocation
/// of it under a new running deployment, and answers the deployment.
async fn deployed(c: &Client, backend: &TestBackend, canaries: i64) -> Deployment {
    let job = mock::service_job("web", 2, 100, 128);
    c.register(&job).await.unwrap();
    let node = mock::node(1);
    backend.apply_now(Command::NodeRegister {
        node: Box::new(node.clone()),
        evals: vec![],
        now: NOW,
    });
    let stored = backend.snapshot().job("default", "web").unwrap();
    let d = Deployment {
        id: DeploymentId::generate(),
        namespace: "default".into(),
        job_id: "web".into(),
        job_version: stored.version.unwrap_or(0),
        job_modify_index: stored.job_modify_index.unwrap_or(0),
        job_create_index: stored.create_index.unwrap_or(0),
        status: DeploymentStatus::Running,
        status_description: "Deployment is running".into(),
        task_groups: BTreeMap::from([(
            "web".to_string(),
            DeploymentState {
                desired_total: 2,
                desired_canaries: canaries,
                ..DeploymentState::default()
            },
        )]),
        ..Deployment::default()
    };
    let mut alloc = mock::alloc(&stored, &node, 1);
    alloc.job = Some(stored);
    alloc.deployment_id = Some(d.id.clone());
    alloc.deployment_status = Some(AllocDeploymentStatus {
        canary: canaries > 0,
        ..AllocDeploymentStatus::default()
    });
    backend.apply_now(Command::ApplyPlanResult {
        job: None,
        allocs: vec![alloc],
        stopped: vec![],
        preempted: vec![],
        deployment: Some(d.clone()),
        deployment_updates: vec![],
        evals: vec![],
        now: NOW,
    });
    d
}

#[test]
fn deployments_are_listed_and_read_by_prefix() {
    run(async {
        let (c, backend, _stop) = start().await;
        let d = deployed(&c, &backend, 0).await;
        let id = d.id.to_string();
        let none = QueryOptions::default();

        let (all, meta) = c.deployments(&none).await.unwrap();
        assert_eq!(all.len(), 1);
        assert!(meta.last_index > 0);
        let (by_prefix, _) = c
            .deployments(&QueryOptions::with_prefix(&id[..4]))
            .await
            .unwrap();
        assert_eq!(by_prefix[0].id, d.id);
        let (other, _) = c
            .deployments(&QueryOptions::with_prefix("zzzz"))
            .await
            .unwrap();
        assert!(other.is_empty());

        let (got, _) = c.deployment(&id[..8], &none).await.unwrap();
        assert_eq!(got.job_id, "web");
        assert_eq!(got.task_groups["web"].desired_total, 2);
        assert_eq!(got.task_groups["web"].placed_allocs, 1);

        let e = c.deployment("ffffffff", &none).await.unwrap_err();
        assert!(e.is_not_found(), "{e}");
    });
}

#[test]
fn deployments_are_promoted_paused_resumed_and_failed() {
    run(async {
        let (c, backend, _stop) = start().await;
        let d = deployed(&c, &backend, 1).await;
        let id = d.id.to_string();
        let none = QueryOptions::default();

        let (allocs, _) = c.deployment_allocations(&id, &none).await.unwrap();
        assert_eq!(allocs.len(), 1);
        let canary = allocs[0].id.clone();
        let (of_job, _) = c.job_deployments("web", &none).await.unwrap();
        assert_eq!(of_job[0].id, d.id);
        let (latest, _) = c.job_latest_deployment("web", &none).await.unwrap();
        assert_eq!(latest.unwrap().id, d.id);

        // An unhealthy canary cannot be promoted; the refusal changes nothing.
        let e = c.promote_deployment(&id, &[]).await.unwrap_err();
        assert!(matches!(e.status(), Some(400..=499)), "{e}");
        let (same, _) = c.deployment(&id, &none).await.unwrap();
        assert!(!same.task_groups["web"].promoted);

        c.deployment_allocation_health(&id, std::slice::from_ref(&canary), &[])
            .await
            .unwrap();
        let (a, _) = c.allocation(&canary, &none).await.unwrap();
        assert_eq!(a.deployment_status.unwrap().healthy, Some(true));
        c.promote_deployment(&id, &["web".to_string()])
            .await
            .unwrap();
        let (promoted, _) = c.deployment(&id, &none).await.unwrap();
        assert!(promoted.task_groups["web"].promoted, "{promoted:?}");

        c.pause_deployment(&id, true).await.unwrap();
        let (paused, _) = c.deployment(&id, &none).await.unwrap();
        assert_eq!(paused.status, DeploymentStatus::Paused);
        c.pause_deployment(&id, false).await.unwrap();
        let (resumed, _) = c.deployment(&id, &none).await.unwrap();
        assert_eq!(resumed.status, DeploymentStatus::Running);

        c.fail_deployment(&id).await.unwrap();
        let (failed, _) = c.deployment(&id, &none).await.unwrap();
        assert_eq!(failed.status, DeploymentStatus::Failed);
        // A terminal deployment cannot be failed again.
        let e = c.fail_deployment(&id).await.unwrap_err();
        assert!(matches!(e.status(), Some(400..=499)), "{e}");
        let e = c.fail_deployment("ffffffff").await.unwrap_err();
        assert!(matches!(e.status(), Some(400..=499)), "{e}");
    });
}

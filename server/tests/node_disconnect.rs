//! Disconnected clients on a real one-server cluster over gRPC: a node that
//! stops beating while it runs an allocation whose group allows
//! disconnection is marked disconnected (not down), the allocation turns
//! unknown and is replaced on another node; the node goes down and the
//! allocation is lost once the window passes, or, when it comes back in
//! time, the original and its replacement are reconciled.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sched_core::model::{
    AllocId, ClientStatus, DesiredStatus, EvalId, EvalStatus, Evaluation, NodeId, NodeStatus,
};
use sched_scheduler::mock;
use sched_server::fsm::{AllocClientUpdate, Command};
use sched_server::rpc::node::NodeClient;
use sched_server::server::{Server, ServerConfig};
use sched_server::state::StateReader;
use tokio::net::TcpListener;

const DEADLINE: Duration = Duration::from_secs(30);

async fn one_server(dir: &std::path::Path) -> Server {
    let mut config = ServerConfig::new(dir);
    config.heartbeat.min_ttl = Duration::from_millis(300);
    config.heartbeat.grace = Duration::from_millis(200);
    config.scheduling.worker.workers = 1;
    let rpc = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = Server::start(config, rpc, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("server starts");
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !server.handle().is_leader() {
        assert!(tokio::time::Instant::now() < deadline, "no leader");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server
}

fn register_job(id: &str, window: Duration) -> Command {
    let mut job = mock::service_job(id, 1, 100, 128);
    job.task_groups.as_mut().expect("groups")[0].max_client_disconnect = Some(window.into());
    Command::JobRegister {
        job: Box::new(job),
        eval: Some(Evaluation {
            id: EvalId::generate(),
            namespace: "default".into(),
            priority: 50,
            r#type: "service".into(),
            triggered_by: "job-register".into(),
            job_id: id.into(),
            status: EvalStatus::Pending,
            ..Default::default()
        }),
        submission: None,
        now: 1,
    }
}

/// Polls `f` every 50 ms until it gives a value or the deadline passes.
async fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Heartbeats `node` every 100 ms until `stop` is set.
fn keep_beating(server: &Server, node: NodeId, stop: Arc<AtomicBool>) {
    let client = NodeClient::new(vec![server.rpc_addr().to_string()]);
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            let _ = client.heartbeat(&node).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

async fn report(client: &NodeClient, id: &AllocId, status: ClientStatus) {
    client
        .update_allocs(&[AllocClientUpdate {
            alloc_id: id.clone(),
            client_status: status,
            client_description: "reported".into(),
            ..Default::default()
        }])
        .await
        .expect("status reported");
}

/// One node runs the job's allocation, a second node joins and keeps
/// beating, the first falls silent: returns (original, replacement) once
/// the first is disconnected and the replacement placed.
async fn disconnected(
    server: &Server,
    client: &NodeClient,
    window: Duration,
    stop_b: Arc<AtomicBool>,
) -> (AllocId, AllocId) {
    let (a, b) = (mock::node(1), mock::node(2));
    client.register(&a).await.expect("registered");
    server
        .handle()
        .apply(register_job("web", window))
        .await
        .expect("job registered");
    let state = server.handle().state();
    let original = wait_for("the placement", || {
        state
            .snapshot()
            .allocs_by_job("default", "web")
            .first()
            .map(|a| a.id.clone())
    })
    .await;
    report(client, &original, ClientStatus::Running).await;
    client.register(&b).await.expect("registered");
    keep_beating(server, b.id.clone(), stop_b);
    // Node a says nothing more.
    wait_for("node a disconnected", || {
        (state.snapshot().node(&a.id)?.status == NodeStatus::Disconnected).then_some(())
    })
    .await;
    let replacement = wait_for("the replacement", || {
        let s = state.snapshot();
        let o = s.alloc(&original)?;
        if o.client_status != ClientStatus::Unknown || o.desired_status != DesiredStatus::Run {
            return None;
        }
        s.allocs_by_job("default", "web")
            .into_iter()
            .find(|r| r.previous_allocation.as_ref() == Some(&original))
            .map(|r| {
                assert_eq!(r.node_id, b.id);
                r.id.clone()
            })
    })
    .await;
    (original, replacement)
}

fn status(state: &StateReader, id: &AllocId) -> (ClientStatus, DesiredStatus) {
    let a = state.snapshot().alloc(id).expect("alloc");
    (a.client_status, a.desired_status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_node_is_disconnected_then_down_once_its_window_passes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = one_server(dir.path()).await;
    let client = NodeClient::new(vec![server.rpc_addr().to_string()]);
    let stop = Arc::new(AtomicBool::new(false));
    let (original, replacement) =
        disconnected(&server, &client, Duration::from_secs(2), stop.clone()).await;
    let state = server.handle().state();
    let a = mock::node(1).id;
    wait_for("node a down", || {
        (state.snapshot().node(&a)?.status == NodeStatus::Down).then_some(())
    })
    .await;
    wait_for("the original lost", || {
        (status(&state, &original) == (ClientStatus::Lost, DesiredStatus::Stop)).then_some(())
    })
    .await;
    let live: Vec<AllocId> = state
        .snapshot()
        .allocs_by_job("default", "web")
        .into_iter()
        .filter(|a| !a.is_terminal())
        .map(|a| a.id.clone())
        .collect();
    assert_eq!(live, vec![replacement], "no second replacement");
    stop.store(true, Ordering::Relaxed);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_back_within_its_window_is_ready_and_one_of_the_pair_stays() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = one_server(dir.path()).await;
    let client = NodeClient::new(vec![server.rpc_addr().to_string()]);
    let stop = Arc::new(AtomicBool::new(false));
    let (original, replacement) =
        disconnected(&server, &client, Duration::from_secs(600), stop.clone()).await;
    let state = server.handle().state();
    let a = mock::node(1).id;
    report(&client, &replacement, ClientStatus::Running).await;
    client.heartbeat(&a).await.expect("heartbeat");
    assert_eq!(
        state.snapshot().node(&a).map(|n| n.status),
        Some(NodeStatus::Ready)
    );
    keep_beating(&server, a.clone(), stop.clone());
    // The client reports the original again: it is reconciled with its
    // replacement (best score: equal nodes keep the original).
    report(&client, &original, ClientStatus::Running).await;
    assert!(
        state
            .snapshot()
            .evals_by_job("default", "web")
            .iter()
            .any(|e| e.triggered_by == "reconnect")
    );
    wait_for("the replacement stopped", || {
        (status(&state, &replacement).1 == DesiredStatus::Stop).then_some(())
    })
    .await;
    assert_eq!(
        status(&state, &original),
        (ClientStatus::Running, DesiredStatus::Run)
    );
    stop.store(true, Ordering::Relaxed);
    server.shutdown().await;
}

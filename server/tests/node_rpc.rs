//! A client node's conversation with a real one-server cluster over gRPC:
//! register, heartbeat, the long poll of its allocations, status reports,
//! and being marked down when its heartbeats stop.

use std::time::Duration;

use sched_core::model::{ClientStatus, EvalId, EvalStatus, Evaluation, NodeId, NodeStatus};
use sched_scheduler::mock;
use sched_server::fsm::{AllocClientUpdate, Command};
use sched_server::rpc::node::{NodeCallError, NodeClient};
use sched_server::server::{Server, ServerConfig};
use tokio::net::TcpListener;

const DEADLINE: Duration = Duration::from_secs(20);

async fn one_server(dir: &std::path::Path, min_ttl: Duration) -> Server {
    let mut config = ServerConfig::new(dir);
    config.heartbeat.min_ttl = min_ttl;
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

fn register_job(id: &str, count: i64) -> Command {
    let job = mock::service_job(id, count, 100, 128);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_registers_gets_its_allocations_and_reports_their_status() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = one_server(dir.path(), Duration::from_secs(10)).await;
    let client = NodeClient::new(vec![server.rpc_addr().to_string()]);
    let node = mock::node(1);
    let reply = client.register(&node).await.expect("registered");
    assert!(reply.heartbeat_ttl >= Duration::from_secs(10));
    let state = server.handle().state();
    assert_eq!(
        state.snapshot().node(&node.id).map(|n| n.status),
        Some(NodeStatus::Ready)
    );
    client.heartbeat(&node.id).await.expect("heartbeat");

    server
        .handle()
        .apply(register_job("web", 3))
        .await
        .expect("job registered");
    // The long poll answers once the scheduler has placed the allocations.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut index = 0;
    let allocs = loop {
        let (allocs, next) = client
            .allocations(&node.id, index, Duration::from_secs(5))
            .await
            .expect("poll");
        if allocs.len() == 3 {
            break allocs;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "placed {}",
            allocs.len()
        );
        index = next;
    };
    assert!(
        allocs.iter().all(|a| a.job.is_some()),
        "allocations carry their job"
    );
    let (_, index) = client
        .allocations(&node.id, 0, Duration::ZERO)
        .await
        .expect("poll");
    // Nothing changed server-side: a poll from the current index waits out
    // its time and answers the same index.
    let (same, again) = client
        .allocations(&node.id, index, Duration::from_millis(200))
        .await
        .expect("poll");
    assert_eq!((same.len(), again), (3, index));

    let updates: Vec<AllocClientUpdate> = allocs
        .iter()
        .map(|a| AllocClientUpdate {
            alloc_id: a.id.clone(),
            client_status: ClientStatus::Running,
            client_description: "Tasks are running".into(),
            ..Default::default()
        })
        .collect();
    client
        .update_allocs(&updates)
        .await
        .expect("status reported");
    let snap = state.snapshot();
    assert!(
        allocs
            .iter()
            .all(|a| snap.alloc(&a.id).map(|x| x.client_status) == Some(ClientStatus::Running))
    );

    // A failed allocation triggers an evaluation to replace it.
    let failed = vec![AllocClientUpdate {
        alloc_id: allocs[0].id.clone(),
        client_status: ClientStatus::Failed,
        client_description: "Failed tasks".into(),
        ..Default::default()
    }];
    client
        .update_allocs(&failed)
        .await
        .expect("status reported");
    let evals = state.snapshot().evals_by_job("default", "web");
    assert!(
        evals.iter().any(|e| e.triggered_by == "alloc-failure"),
        "{evals:?}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_node_is_marked_down_and_comes_back_with_a_heartbeat() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = one_server(dir.path(), Duration::from_millis(300)).await;
    let client = NodeClient::new(vec![server.rpc_addr().to_string()]);
    let node = mock::node(7);
    client.register(&node).await.expect("registered");
    server
        .handle()
        .apply(register_job("api", 1))
        .await
        .expect("job");
    let state = server.handle().state();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let s = state.snapshot();
        if s.node(&node.id).map(|n| n.status) == Some(NodeStatus::Down) {
            // The jobs on the node are re-evaluated.
            assert!(
                s.evals_by_job("default", "api")
                    .iter()
                    .any(|e| e.triggered_by == "node-update")
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "node never marked down"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client.heartbeat(&node.id).await.expect("heartbeat");
    assert_eq!(
        state.snapshot().node(&node.id).map(|n| n.status),
        Some(NodeStatus::Ready)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_clearly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = one_server(dir.path(), Duration::from_secs(10)).await;
    let client = NodeClient::new(vec![server.rpc_addr().to_string()]);
    let unknown = NodeId::from_u128(99);
    assert!(matches!(
        client.heartbeat(&unknown).await,
        Err(NodeCallError::UnknownNode(_))
    ));
    assert!(matches!(
        client.allocations(&unknown, 0, Duration::ZERO).await,
        Err(NodeCallError::UnknownNode(_))
    ));
    let mut nameless = mock::node(1);
    nameless.id = NodeId(String::new());
    assert!(matches!(
        client.register(&nameless).await,
        Err(NodeCallError::Rejected(_))
    ));
    let nobody = NodeClient::new(vec!["127.0.0.1:1".into()]);
    let err = nobody
        .heartbeat(&unknown)
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, NodeCallError::Unreachable { .. }), "{err}");
    server.shutdown().await;
}

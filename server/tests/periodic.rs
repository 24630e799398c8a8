//! The leader launches periodic jobs: a job with a cron spec that fires every
//! second gets children, each placed like any job, and a stopped parent
//! launches no more.

use std::time::Duration;

use sched_core::model::PeriodicConfig;
use sched_scheduler::mock;
use sched_server::fsm::Command;
use sched_server::rpc::node::NodeClient;
use sched_server::server::{Server, ServerConfig};
use tokio::net::TcpListener;

const DEADLINE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_periodic_job_launches_children_that_are_placed() {
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
    NodeClient::new(vec![server.rpc_addr().to_string()])
        .register(&mock::node(1))
        .await
        .expect("node registers");

    let mut job = mock::job_of_type("tick", "batch", 1, 100, 64);
    // Seven fields: second to year, so every second.
    job.periodic = Some(PeriodicConfig {
        spec: Some("* * * * * * *".into()),
        prohibit_overlap: Some(false),
        ..Default::default()
    });
    handle
        .apply(Command::JobRegister {
            job: Box::new(job.clone()),
            eval: None,
            submission: None,
            now: now(),
        })
        .await
        .expect("registered");
    let state = handle.state();
    let child = loop {
        let snap = state.snapshot();
        let children = snap.jobs("default", "tick/periodic-");
        if let Some(c) = children.first()
            && snap
                .allocs_by_job("default", c.id.as_deref().unwrap_or_default())
                .len()
                == 1
        {
            break c.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no child placed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(child.parent_id.as_deref(), Some("tick"));
    assert!(child.periodic.is_none());
    let evals = state
        .snapshot()
        .evals_by_job("default", child.id.as_deref().unwrap_or_default());
    assert!(
        evals.iter().any(|e| e.triggered_by == "periodic-job"),
        "{evals:?}"
    );

    // Stopped, the parent launches nothing new.
    handle
        .apply(Command::JobDeregister {
            namespace: "default".into(),
            job_id: "tick".into(),
            purge: false,
            eval: None,
            now: now(),
        })
        .await
        .expect("stopped");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = state.snapshot().jobs("default", "tick/periodic-").len();
    // Long enough for two more launches had the parent still run.
    let until = tokio::time::Instant::now() + Duration::from_millis(2500);
    while tokio::time::Instant::now() < until {
        assert_eq!(
            state.snapshot().jobs("default", "tick/periodic-").len(),
            before
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.shutdown().await;
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

//! The HTTP API served by real servers (Raft, FSM, scheduler) and used
//! through the API client: a job submitted over HTTP is placed on a node
//! that registered over gRPC, reads see their own writes on every server,
//! and blocking queries wake on change.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sched_api::{Client, QueryOptions};
use sched_scheduler::mock;
use sched_server::http::{HttpLimits, router, serve};
use sched_server::rpc::node::NodeClient;
use sched_server::server::{HttpBackend, Server, ServerConfig};
use tokio::net::TcpListener;
use tokio::sync::watch;

const DEADLINE: Duration = Duration::from_secs(30);

const JOB: &str = r#"
job "web" {
  datacenters = ["dc1"]
  group "app" {
    count = 2
    task "server" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["60"]
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
"#;

struct Agent {
    server: Server,
    http: SocketAddr,
    stop: watch::Sender<bool>,
}

impl Agent {
    async fn start(config: ServerConfig, rpc: TcpListener) -> Agent {
        let http = TcpListener::bind("127.0.0.1:0").await.expect("bind http");
        let http_addr = http.local_addr().expect("addr");
        let server = Server::start(config, rpc, http_addr)
            .await
            .expect("server starts");
        let backend = HttpBackend::new(server.handle(), false, http_addr.to_string());
        let app = router(Arc::new(backend), HttpLimits::default());
        let (stop, mut stopped) = watch::channel(false);
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            let _ = serve(http, app, shutdown).await;
        });
        Agent {
            server,
            http: http_addr,
            stop,
        }
    }

    fn api(&self) -> Client {
        Client::new(&format!("http://{}", self.http)).expect("client")
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        self.server.shutdown().await;
    }
}

fn job() -> sched_core::model::Job {
    sched_core::jobspec::parse("web.hcl", JOB, &Default::default())
        .expect("job parses")
        .job
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_submitted_over_http_is_placed_on_a_registered_node() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = ServerConfig::new(dir.path());
    config.scheduling.worker.workers = 1;
    let rpc = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let agent = Agent::start(config, rpc).await;
    let api = agent.api();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while api
        .status_leader()
        .await
        .map(|l| l.is_empty())
        .unwrap_or(true)
    {
        assert!(tokio::time::Instant::now() < deadline, "no leader");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let nodes = NodeClient::new(vec![agent.server.rpc_addr().to_string()]);
    nodes
        .register(&mock::node(1))
        .await
        .expect("node registers");

    let resp = api.register(&job()).await.expect("job registered");
    assert!(!resp.eval_id.is_empty());
    // A blocking query on the job's allocations wakes when they are placed.
    let mut index = 0;
    let allocs = loop {
        let (allocs, meta) = api
            .job_allocations(
                "web",
                &QueryOptions::blocking(index, Duration::from_secs(5)),
            )
            .await
            .expect("allocations");
        if allocs.len() == 2 {
            break allocs;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "placed {}",
            allocs.len()
        );
        assert!(meta.last_index >= index);
        index = meta.last_index;
    };
    assert!(allocs.iter().all(|a| a.node_id == mock::node(1).id.0));
    // The worker marks its evaluation complete after the plan commits.
    let mut index = 0;
    loop {
        let (eval, meta) = api
            .evaluation(
                &resp.eval_id,
                &QueryOptions::blocking(index, Duration::from_secs(5)),
            )
            .await
            .expect("eval");
        if eval.status == sched_core::model::EvalStatus::Complete {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "eval still {:?}",
            eval.status
        );
        index = meta.last_index;
    }
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_server_of_three_serves_the_api_and_sees_writes_made_through_another() {
    let mut listeners = Vec::new();
    for _ in 0..3 {
        listeners.push(TcpListener::bind("127.0.0.1:0").await.expect("bind"));
    }
    let join: Vec<String> = listeners
        .iter()
        .map(|l| l.local_addr().expect("addr").to_string())
        .collect();
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let starts = listeners
        .into_iter()
        .zip(&dirs)
        .enumerate()
        .map(|(i, (l, d))| {
            let mut c = ServerConfig::new(d.path());
            c.name = format!("s{i}");
            c.bootstrap_expect = 3;
            c.join = join.clone();
            c.retry_interval = Duration::from_millis(100);
            c.scheduling.worker.workers = 1;
            Agent::start(c, l)
        });
    let agents = futures::future::join_all(starts).await;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let leader = loop {
        let mut leaders = Vec::new();
        for a in &agents {
            leaders.push(a.api().status_leader().await.unwrap_or_default());
        }
        if !leaders[0].is_empty() && leaders.iter().all(|l| *l == leaders[0]) {
            break leaders[0].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no agreed leader: {leaders:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let follower = agents
        .iter()
        .position(|a| a.server.rpc_addr().to_string() != leader)
        .expect("a follower");
    // Written through a follower (forwarded), read consistently from every
    // server at once.
    agents[follower]
        .api()
        .register(&job())
        .await
        .expect("registered via a follower");
    for a in &agents {
        let (j, meta) = a
            .api()
            .job("web", &QueryOptions::default())
            .await
            .expect("job visible");
        assert_eq!(j.id.as_deref(), Some("web"));
        assert!(meta.known_leader);
        assert!(meta.last_index > 0);
    }
    let (peers, _) = (agents[0].api().status_peers().await.expect("peers"), ());
    assert_eq!(peers.len(), 3, "{peers:?}");
    let members = agents[0].api().agent_members().await.expect("members");
    assert_eq!(members.members.len(), 3);
    for a in agents {
        a.stop().await;
    }
}

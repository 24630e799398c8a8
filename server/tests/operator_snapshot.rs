//! Operator snapshots over HTTP on three real servers: a saved state
//! restored after later changes is, on every server, the state that was
//! saved; damaged files are refused with 400 and change nothing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sched_api::Client;
use sched_core::model::AllocId;
use sched_scheduler::mock;
use sched_server::fsm::Command;
use sched_server::http::{HttpLimits, decode_snapshot_file, router, serve};
use sched_server::server::{HttpBackend, Server, ServerConfig, ServerHandle};
use tokio::net::TcpListener;
use tokio::sync::watch;

const DEADLINE: Duration = Duration::from_secs(30);

struct Agent {
    _dir: tempfile::TempDir,
    server: Server,
    http: SocketAddr,
    stop: watch::Sender<bool>,
}

impl Agent {
    fn api(&self) -> Client {
        Client::new(&format!("http://{}", self.http)).expect("client")
    }

    fn handle(&self) -> ServerHandle {
        self.server.handle()
    }
}

async fn start_cluster() -> Vec<Agent> {
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_test_writer()
        .try_init();
    let mut rpcs = Vec::new();
    for _ in 0..3 {
        rpcs.push(TcpListener::bind("127.0.0.1:0").await.expect("bind rpc"));
    }
    let join: Vec<String> = rpcs
        .iter()
        .map(|l| l.local_addr().expect("addr").to_string())
        .collect();
    let starts = rpcs.into_iter().enumerate().map(|(i, rpc)| {
        let join = join.clone();
        async move {
            let dir = tempfile::tempdir().expect("temp dir");
            let mut config = ServerConfig::new(dir.path());
            config.name = format!("s{i}");
            config.bootstrap_expect = 3;
            config.join = join;
            config.retry_interval = Duration::from_millis(100);
            config.scheduling.worker.workers = 1;
            // The nodes below never heartbeat: keep them up for the test.
            config.heartbeat.min_ttl = Duration::from_secs(600);
            config.heartbeat.grace = Duration::from_secs(600);
            config.heartbeat.failover_ttl = Duration::from_secs(600);
            let http = TcpListener::bind("127.0.0.1:0").await.expect("bind http");
            let http_addr = http.local_addr().expect("addr");
            let server = tokio::time::timeout(DEADLINE, Server::start(config, rpc, http_addr))
                .await
                .expect("server starts in time")
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
                _dir: dir,
                server,
                http: http_addr,
                stop,
            }
        }
    });
    let agents = futures::future::join_all(starts).await;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let leaders: Vec<Option<u64>> = agents
            .iter()
            .map(|a| a.handle().raft_status().leader_id)
            .collect();
        if leaders[0].is_some() && leaders.iter().all(|l| *l == leaders[0]) {
            return agents;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no leader: {leaders:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn stop_cluster(agents: Vec<Agent>) {
    for a in agents {
        let _ = a.stop.send(true);
        a.server.shutdown().await;
    }
}

async fn apply(agent: &Agent, cmd: Command) {
    let resp = agent.handle().apply(cmd).await.expect("applied");
    assert_eq!(resp.error, None);
    // The answer comes from the leader: read this server's own write.
    let snap = agent
        .handle()
        .state()
        .wait_for_index(resp.index, DEADLINE)
        .await;
    assert!(snap.index() >= resp.index, "write not applied here");
}

/// Two nodes, two jobs and allocations of both.
async fn populate(agent: &Agent) {
    let nodes = [mock::node(1), mock::node(2)];
    for node in &nodes {
        apply(
            agent,
            Command::NodeRegister {
                node: Box::new(node.clone()),
                evals: vec![],
                now: 1,
            },
        )
        .await;
    }
    for (job_n, id) in ["web", "api"].into_iter().enumerate() {
        apply(
            agent,
            Command::JobRegister {
                job: Box::new(mock::service_job(id, 2, 100, 64)),
                eval: None,
                submission: None,
                now: 2,
            },
        )
        .await;
        let job = agent
            .handle()
            .state()
            .snapshot()
            .job("default", id)
            .expect("job registered");
        let allocs = (0..2)
            .map(|i| {
                let mut a = mock::alloc(&job, &nodes[i as usize], i);
                // One ID per job and index: the mock derives it from the index.
                a.id = AllocId::from_u128(((job_n as u128 + 1) << 16) | u128::from(i));
                a
            })
            .collect();
        apply(
            agent,
            Command::ApplyPlanResult {
                job: Some(Box::new((*job).clone())),
                allocs,
                stopped: vec![],
                preempted: vec![],
                deployment: None,
                deployment_updates: vec![],
                evals: vec![],
                now: 3,
            },
        )
        .await;
    }
}

/// The FSM snapshot's tables, without the index fields a restore moves.
fn tables(payload: &[u8]) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(payload).expect("state JSON");
    let obj = v.as_object_mut().expect("state is an object");
    obj.remove("Index");
    obj.remove("TableIndex");
    v
}

/// This server's own FSM snapshot (a stale save answers from its state).
async fn state_tables(agent: &Agent) -> serde_json::Value {
    let file = agent.api().snapshot_save(true).await.expect("stale save");
    let (_, payload) = decode_snapshot_file(&file).expect("a valid file");
    tables(payload)
}

/// Waits until every server has applied `index` and holds `want`.
async fn converges(agents: &[Agent], index: u64, want: &serde_json::Value) {
    for (i, a) in agents.iter().enumerate() {
        let snap = a.handle().state().wait_for_index(index, DEADLINE).await;
        assert!(snap.index() >= index, "server {i} did not reach {index}");
        assert_eq!(&state_tables(a).await, want, "server {i} state differs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_snapshot_is_the_saved_state_on_every_server() {
    let agents = start_cluster().await;
    populate(&agents[0]).await;
    // Saved through a follower or the leader alike: the read is consistent.
    let file = agents[1].api().snapshot_save(false).await.expect("saved");
    let (header, payload) = decode_snapshot_file(&file).expect("a valid file");
    assert!(header.index > 0);
    assert!(header.term > 0);
    let saved = tables(payload);
    assert_eq!(saved["Allocs"].as_array().map(Vec::len), Some(4));
    assert_eq!(saved["Nodes"].as_array().map(Vec::len), Some(2));

    // Change the state after the save: purge a job, add another.
    apply(
        &agents[2],
        Command::JobDeregister {
            namespace: "default".into(),
            job_id: "web".into(),
            purge: true,
            eval: None,
            now: 4,
        },
    )
    .await;
    apply(
        &agents[2],
        Command::JobRegister {
            job: Box::new(mock::service_job("later", 1, 100, 64)),
            eval: None,
            submission: None,
            now: 5,
        },
    )
    .await;
    assert_ne!(state_tables(&agents[0]).await, saved);

    agents[2]
        .api()
        .snapshot_restore(file.clone())
        .await
        .expect("restored");
    let index = agents[2].handle().state().snapshot().index();
    assert!(index > header.index);
    converges(&agents, index, &saved).await;
    stop_cluster(agents).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_snapshot_files_are_refused_and_change_nothing() {
    let agents = start_cluster().await;
    populate(&agents[0]).await;
    let api = agents[0].api();
    let file = api.snapshot_save(false).await.expect("saved");
    let before = state_tables(&agents[0]).await;
    let index_before = agents[0].handle().state().snapshot().index();

    let mut flipped = file.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x20;
    let mut wrong_payload = Vec::new();
    wrong_payload.extend_from_slice(&sched_server::http::encode_snapshot_file(
        1,
        1,
        br#"{"Index":1,"Jobs":"not a list"}"#,
    ));
    let bad = [
        ("truncated", file[..file.len() / 2].to_vec()),
        ("checksum", flipped),
        ("garbage", b"not a snapshot at all, just text".to_vec()),
        ("empty", Vec::new()),
        ("not a state", wrong_payload),
    ];
    for (what, body) in bad {
        match api.snapshot_restore(body).await {
            Err(sched_api::Error::Api { status, .. }) => {
                assert_eq!(status, 400, "{what}: want 400")
            }
            other => panic!("{what}: want a 400, got {other:?}"),
        }
    }
    // Nothing changed on any server.
    converges(&agents, index_before, &before).await;
    stop_cluster(agents).await;
}

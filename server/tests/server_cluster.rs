//! Three real servers in one process, talking gRPC on loopback: they
//! bootstrap together, accept writes through any of them, survive the loss
//! of their leader and a full restart, and a wiped server catches up from a
//! snapshot. (Partitions of real processes are covered by the Docker
//! cluster tests; Raft-level partitions by the raft cluster tests.)

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use sched_core::model::Variable;
use sched_server::fsm::Command;
use sched_server::server::{Server, ServerConfig, ServerHandle};
use tokio::net::TcpListener;

/// How long anything in these tests may take.
const DEADLINE: Duration = Duration::from_secs(20);

struct Member {
    dir: tempfile::TempDir,
    rpc: SocketAddr,
    server: Option<Server>,
}

fn config(
    dir: &std::path::Path,
    name: &str,
    join: Vec<String>,
    snapshot_every: u64,
) -> ServerConfig {
    let mut c = ServerConfig::new(dir);
    c.name = name.into();
    c.bootstrap_expect = 3;
    c.join = join;
    c.retry_interval = Duration::from_millis(100);
    c.raft.snapshot_every = snapshot_every;
    c.raft.keep_after_snapshot = 4;
    c.scheduling.worker.workers = 1;
    c
}

fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_test_writer()
        .try_init();
}

async fn start(m: &Member, name: &str, join: Vec<String>, snapshot_every: u64) -> Server {
    let listener = bind(m.rpc).await;
    let http: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    tokio::time::timeout(
        DEADLINE,
        Server::start(
            config(m.dir.path(), name, join, snapshot_every),
            listener,
            http,
        ),
    )
    .await
    .expect("server starts in time")
    .expect("server starts")
}

/// Binds `addr`, retrying briefly while a previous listener's socket closes.
async fn bind(addr: SocketAddr) -> TcpListener {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        match TcpListener::bind(addr).await {
            Ok(l) => return l,
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(error = %e, "port busy; retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("binding {addr}: {e}"),
        }
    }
}

struct Cluster {
    members: Vec<Member>,
    snapshot_every: u64,
}

impl Cluster {
    async fn start(snapshot_every: u64) -> Cluster {
        logs();
        let mut members = Vec::new();
        for _ in 0..3 {
            let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let rpc = l.local_addr().expect("addr");
            drop(l);
            members.push(Member {
                dir: tempfile::tempdir().expect("temp dir"),
                rpc,
                server: None,
            });
        }
        let mut c = Cluster {
            members,
            snapshot_every,
        };
        c.start_all().await;
        c
    }

    fn join_list(&self) -> Vec<String> {
        self.members.iter().map(|m| m.rpc.to_string()).collect()
    }

    async fn start_all(&mut self) {
        let join = self.join_list();
        let every = self.snapshot_every;
        let starts = self.members.iter().enumerate().map(|(i, m)| {
            start(
                m,
                Box::leak(format!("s{i}").into_boxed_str()),
                join.clone(),
                every,
            )
        });
        let servers = futures::future::join_all(starts).await;
        for (m, s) in self.members.iter_mut().zip(servers) {
            m.server = Some(s);
        }
    }

    fn handle(&self, i: usize) -> ServerHandle {
        self.members[i].server.as_ref().expect("running").handle()
    }

    fn running(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|i| self.members[*i].server.is_some())
            .collect()
    }

    /// Waits until the running servers agree on one leader among them.
    async fn leader(&self) -> usize {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let running = self.running();
            let ids: Vec<Option<u64>> = running
                .iter()
                .map(|i| self.handle(*i).raft_status().leader_id)
                .collect();
            if let Some(Some(id)) = ids.first()
                && ids.iter().all(|l| *l == Some(*id))
                && let Some(i) = running
                    .iter()
                    .find(|i| self.handle(**i).me().raft_id == *id)
            {
                return *i;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no leader agreed: {ids:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop(&mut self, i: usize) {
        if let Some(s) = self.members[i].server.take() {
            s.shutdown().await;
        }
    }

    /// Waits until server `i` has every variable in `want`.
    async fn converges(&self, i: usize, want: &BTreeMap<String, String>) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let snap = self.handle(i).state().snapshot();
            let have: BTreeMap<String, String> = snap
                .variables("default", "")
                .iter()
                .map(|v| {
                    (
                        v.path.clone(),
                        v.items.get("v").cloned().unwrap_or_default(),
                    )
                })
                .collect();
            if want.iter().all(|(k, v)| have.get(k) == Some(v)) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "server {i} has {} of {} writes",
                want.iter()
                    .filter(|(k, v)| have.get(*k) == Some(*v))
                    .count(),
                want.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn put(path: &str, value: &str) -> Command {
    Command::VariableUpsert {
        variable: Variable {
            namespace: "default".into(),
            path: path.into(),
            items: [("v".to_string(), value.to_string())].into(),
            ..Default::default()
        },
        cas: None,
        now: 1,
    }
}

/// Writes `n` variables through server `via`, recording the acknowledged ones.
async fn write(
    c: &Cluster,
    via: usize,
    prefix: &str,
    n: usize,
    acked: &mut BTreeMap<String, String>,
) {
    for k in 0..n {
        let path = format!("{prefix}/{k}");
        let resp = c
            .handle(via)
            .apply(put(&path, "x"))
            .await
            .expect("write applied");
        assert_eq!(resp.error, None);
        acked.insert(path, "x".into());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_bootstrap_and_accept_writes_through_any_of_them() {
    let mut c = Cluster::start(10_000).await;
    let leader = c.leader().await;
    let mut acked = BTreeMap::new();
    for i in 0..3 {
        write(&c, i, &format!("via{i}"), 5, &mut acked).await;
    }
    for i in 0..3 {
        c.converges(i, &acked).await;
    }
    // Every server learns every other's addresses.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while c.handle(leader).state().snapshot().servers().len() < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "address book incomplete"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for i in 0..3 {
        c.stop(i).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_leader_elects_another_and_loses_no_acknowledged_write() {
    let mut c = Cluster::start(10_000).await;
    let old = c.leader().await;
    let mut acked = BTreeMap::new();
    write(&c, old, "before", 20, &mut acked).await;
    c.stop(old).await;
    let elected = tokio::time::Instant::now();
    let new = c.leader().await;
    assert_ne!(new, old);
    assert!(
        elected.elapsed() < Duration::from_secs(5),
        "election took {:?}",
        elected.elapsed()
    );
    let follower = c
        .running()
        .into_iter()
        .find(|i| *i != new)
        .expect("a follower");
    write(&c, follower, "after", 5, &mut acked).await;
    for i in c.running() {
        c.converges(i, &acked).await;
    }
    for i in c.running() {
        c.stop(i).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_restart_keeps_the_state() {
    let mut c = Cluster::start(10_000).await;
    let leader = c.leader().await;
    let mut acked = BTreeMap::new();
    write(&c, leader, "k", 30, &mut acked).await;
    for i in 0..3 {
        c.stop(i).await;
    }
    c.start_all().await;
    let leader = c.leader().await;
    for i in 0..3 {
        c.converges(i, &acked).await;
    }
    write(&c, leader, "more", 3, &mut acked).await;
    for i in 0..3 {
        c.converges(i, &acked).await;
        c.stop(i).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_server_rejoins_and_catches_up_from_a_snapshot() {
    let mut c = Cluster::start(16).await;
    let leader = c.leader().await;
    let victim = (leader + 1) % 3;
    let victim_id = c.handle(victim).me().raft_id;
    let mut acked = BTreeMap::new();
    write(&c, leader, "old", 60, &mut acked).await;
    c.stop(victim).await;
    c.handle(leader)
        .raft()
        .remove_voter(victim_id)
        .await
        .expect("remove the lost server");
    // The disk is gone: a new, empty data dir at the same address.
    c.members[victim].dir = tempfile::tempdir().expect("temp dir");
    let join = c.join_list();
    let server = start(&c.members[victim], "replacement", join, 16).await;
    c.members[victim].server = Some(server);
    c.converges(victim, &acked).await;
    let leader = c.leader().await;
    write(&c, leader, "new", 5, &mut acked).await;
    c.converges(victim, &acked).await;
    assert_eq!(c.handle(leader).raft_status().voters.len(), 3);
    for i in 0..3 {
        c.stop(i).await;
    }
}

//! Black-box tests of the Raft layer: real sled storage in temp dirs, nodes
//! connected by the in-process network, a small key/value state machine.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sched_server::fsm::CommandResponse;
use sched_server::raft::{
    MemoryNetwork, RaftConfig, RaftError, RaftHandle, Role, SledStorage, StateMachine, spawn,
};

/// A key/value store in a sled tree beside the Raft log. Commands are
/// `key=value`; the applied index is written with each change so a restart
/// resumes after it.
struct KvMachine {
    tree: sled::Tree,
    restores: Arc<AtomicU64>,
}

const APPLIED_KEY: &[u8] = b"\0applied";

impl KvMachine {
    fn open(db: &sled::Db, restores: Arc<AtomicU64>) -> KvMachine {
        KvMachine {
            tree: db.open_tree("kv").expect("open kv tree"),
            restores,
        }
    }

    fn read_all(tree: &sled::Tree) -> BTreeMap<String, String> {
        tree.iter()
            .filter_map(Result::ok)
            .filter(|(k, _)| k.as_ref() != APPLIED_KEY)
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(&k).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect()
    }
}

impl StateMachine for KvMachine {
    fn apply(&mut self, index: u64, data: &[u8]) -> CommandResponse {
        let text = String::from_utf8_lossy(data);
        let mut batch = sled::Batch::default();
        let error = match text.split_once('=') {
            Some((k, v)) => {
                batch.insert(k.as_bytes(), v.as_bytes());
                None
            }
            None => Some(format!("not a key=value command: {text}")),
        };
        batch.insert(APPLIED_KEY, &index.to_be_bytes());
        self.tree.apply_batch(batch).expect("kv write");
        CommandResponse {
            index,
            error,
            job_version: None,
        }
    }

    fn applied_index(&self) -> u64 {
        self.tree
            .get(APPLIED_KEY)
            .expect("kv read")
            .and_then(|v| v.as_ref().try_into().ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0)
    }

    fn snapshot(&self) -> Vec<u8> {
        serde_json::to_vec(&KvMachine::read_all(&self.tree)).expect("encode snapshot")
    }

    fn restore(&mut self, index: u64, data: &[u8]) -> Result<(), String> {
        let all: BTreeMap<String, String> =
            serde_json::from_slice(data).map_err(|e| e.to_string())?;
        self.tree.clear().map_err(|e| e.to_string())?;
        for (k, v) in all {
            self.tree
                .insert(k.as_bytes(), v.as_bytes())
                .map_err(|e| e.to_string())?;
        }
        self.tree
            .insert(APPLIED_KEY, &index.to_be_bytes())
            .map_err(|e| e.to_string())?;
        self.restores.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

struct Node {
    handle: RaftHandle,
    kv: sled::Tree,
    restores: Arc<AtomicU64>,
}

struct Cluster {
    net: MemoryNetwork,
    dirs: HashMap<u64, tempfile::TempDir>,
    nodes: HashMap<u64, Node>,
    snapshot_every: u64,
}

const DEADLINE: Duration = Duration::from_secs(20);

fn config(id: u64, snapshot_every: u64) -> RaftConfig {
    RaftConfig {
        tick: Duration::from_millis(20),
        election_ticks: 10,
        heartbeat_ticks: 2,
        snapshot_every,
        keep_after_snapshot: 5,
        request_timeout: Duration::from_secs(3),
        snapshot_timeout: Duration::from_secs(2),
        ..RaftConfig::new(id)
    }
}

/// Polls `cond` every 10 ms until it holds, failing the test at the deadline.
async fn eventually(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_max_level(tracing::Level::WARN)
        .try_init();
}

impl Cluster {
    fn new(snapshot_every: u64) -> Cluster {
        init_tracing();
        Cluster {
            net: MemoryNetwork::new(),
            dirs: HashMap::new(),
            nodes: HashMap::new(),
            snapshot_every,
        }
    }

    /// Starts three founding voters.
    fn start3(snapshot_every: u64) -> Cluster {
        let mut c = Cluster::new(snapshot_every);
        for id in 1..=3 {
            c.start(id, Some(&[1, 2, 3]));
        }
        c
    }

    /// Starts node `id` from its directory (a new one when it has none),
    /// bootstrapping `voters` when its storage is fresh and they are given.
    fn start(&mut self, id: u64, voters: Option<&[u64]>) -> RaftHandle {
        let dir = self
            .dirs
            .entry(id)
            .or_insert_with(|| tempfile::tempdir().expect("temp dir"));
        let db = sled::open(dir.path()).expect("open sled");
        let mut storage = SledStorage::open(&db).expect("open storage");
        if let Some(voters) = voters
            && !storage.is_initialized()
        {
            storage.initialize(voters).expect("bootstrap");
        }
        let restores = Arc::new(AtomicU64::new(0));
        let sm = KvMachine::open(&db, restores.clone());
        let kv = sm.tree.clone();
        let handle = spawn(
            config(id, self.snapshot_every),
            storage,
            Box::new(sm),
            self.net.transport(id),
        )
        .expect("spawn");
        self.net.attach(id, handle.clone());
        self.nodes.insert(
            id,
            Node {
                handle: handle.clone(),
                kv,
                restores,
            },
        );
        handle
    }

    /// Stops node `id` as a crash would look to the others.
    async fn stop(&mut self, id: u64) {
        self.net.detach(id);
        if let Some(node) = self.nodes.remove(&id) {
            node.handle.shutdown().await;
        }
    }

    fn handle(&self, id: u64) -> &RaftHandle {
        &self.nodes[&id].handle
    }

    /// The leader every running node agrees on.
    async fn leader(&self) -> u64 {
        let mut found = 0;
        eventually("an agreed leader", DEADLINE, || {
            let statuses: Vec<_> = self.nodes.values().map(|n| n.handle.status()).collect();
            let leaders: Vec<_> = statuses
                .iter()
                .filter(|s| s.role == Role::Leader)
                .map(|s| s.id)
                .collect();
            match leaders.as_slice() {
                [l] if statuses.iter().all(|s| s.leader_id == Some(*l)) => {
                    found = *l;
                    true
                }
                _ => false,
            }
        })
        .await;
        found
    }

    /// Writes through `via`, following NotLeader hints and retrying while
    /// there is no leader, until acknowledged.
    async fn put(&self, via: u64, key: &str, value: &str) -> CommandResponse {
        let data = format!("{key}={value}").into_bytes();
        let deadline = Instant::now() + DEADLINE;
        let mut target = via;
        loop {
            assert!(Instant::now() < deadline, "write {key} never acknowledged");
            let result = match self.nodes.get(&target) {
                Some(n) => n.handle.propose(data.clone()).await,
                None => Err(RaftError::NotLeader { leader: None }),
            };
            match result {
                Ok(resp) => return resp,
                Err(RaftError::NotLeader { leader: Some(l) }) if self.nodes.contains_key(&l) => {
                    target = l;
                }
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    target = *self.nodes.keys().next().expect("a running node");
                    for (id, n) in &self.nodes {
                        if n.handle.status().role == Role::Leader {
                            target = *id;
                        }
                    }
                }
            }
        }
    }

    fn get(&self, id: u64, key: &str) -> Option<String> {
        self.nodes[&id]
            .kv
            .get(key.as_bytes())
            .expect("kv read")
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    fn all(&self, id: u64) -> BTreeMap<String, String> {
        KvMachine::read_all(&self.nodes[&id].kv)
    }

    /// Waits until node `id` holds exactly `want`.
    async fn converges(&self, id: u64, want: &BTreeMap<String, String>) {
        eventually(&format!("node {id} to hold every write"), DEADLINE, || {
            &self.all(id) == want
        })
        .await;
    }

    async fn shutdown_all(&mut self) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            self.stop(id).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_elect_a_leader_and_accept_writes_through_any_node() {
    let mut c = Cluster::start3(0);
    let leader = c.leader().await;
    let follower = (1..=3).find(|id| *id != leader).expect("a follower");

    // A follower refuses and names the leader.
    match c.handle(follower).propose(b"a=0".to_vec()).await {
        Err(RaftError::NotLeader { leader: named }) => assert_eq!(named, Some(leader)),
        other => panic!("follower accepted a proposal: {other:?}"),
    }

    let mut want = BTreeMap::new();
    for (i, via) in [1, 2, 3, 1, 2, 3].into_iter().enumerate() {
        let key = format!("k{i}");
        let resp = c.put(via, &key, &format!("v{i}")).await;
        assert!(resp.index > 0);
        assert_eq!(resp.error, None);
        want.insert(key, format!("v{i}"));
    }
    // Answers carry what the state machine said, not just an index.
    let refused = c
        .handle(leader)
        .propose(b"no-equals-sign".to_vec())
        .await
        .expect("committed");
    assert!(refused.error.is_some());

    for id in 1..=3 {
        // After a read barrier, a node's state holds every acknowledged write.
        let index = c.handle(id).read_index().await.expect("read index");
        assert!(c.handle(id).status().applied_index >= index);
        assert_eq!(c.all(id), want, "node {id}");
    }
    let status = c.handle(leader).status();
    assert_eq!(status.voters, vec![1, 2, 3]);
    assert_eq!(status.role, Role::Leader);
    assert!(c.handle(follower).status().last_contact.is_some());
    c.shutdown_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_takes_over_and_keeps_every_acknowledged_write() {
    let mut c = Cluster::start3(0);
    let leader = c.leader().await;
    let mut want = BTreeMap::new();
    for i in 0..20 {
        c.put(leader, &format!("k{i}"), "before").await;
        want.insert(format!("k{i}"), "before".to_string());
    }
    let old_term = c.handle(leader).status().term;

    c.stop(leader).await;
    let stopped_at = Instant::now();
    let new_leader = c.leader().await;
    assert_ne!(new_leader, leader);
    assert!(
        stopped_at.elapsed() < Duration::from_secs(5),
        "no new leader within 5 s"
    );
    assert!(c.handle(new_leader).status().term > old_term);

    for i in 20..30 {
        c.put(new_leader, &format!("k{i}"), "after").await;
        want.insert(format!("k{i}"), "after".to_string());
    }
    for id in c.nodes.keys().copied().collect::<Vec<_>>() {
        c.converges(id, &want).await;
    }
    c.shutdown_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_cluster_resumes_from_its_directories() {
    let mut c = Cluster::start3(0);
    let leader = c.leader().await;
    let mut want = BTreeMap::new();
    for i in 0..15 {
        c.put(leader, &format!("k{i}"), &format!("v{i}")).await;
        want.insert(format!("k{i}"), format!("v{i}"));
    }
    for id in 1..=3 {
        c.converges(id, &want).await;
    }
    let applied: Vec<u64> = (1..=3)
        .map(|id| c.handle(id).status().applied_index)
        .collect();
    c.shutdown_all().await;

    for id in 1..=3 {
        // Already initialized: the voters are not needed again.
        c.start(id, None);
        assert_eq!(c.get(id, "k14").as_deref(), Some("v14"));
    }
    for (id, before) in (1..=3).zip(applied) {
        eventually("the applied index to be back", DEADLINE, || {
            c.handle(id).status().applied_index >= before
        })
        .await;
    }
    let leader = c.leader().await;
    c.put(leader, "after-restart", "yes").await;
    want.insert("after-restart".into(), "yes".into());
    for id in 1..=3 {
        c.converges(id, &want).await;
        assert_eq!(c.nodes[&id].restores.load(Ordering::SeqCst), 0);
    }
    c.shutdown_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_server_rejoins_and_catches_up_through_a_snapshot() {
    let mut c = Cluster::start3(10);
    let leader = c.leader().await;
    let gone = (1..=3).find(|id| *id != leader).expect("a follower");
    let mut want = BTreeMap::new();
    for i in 0..40 {
        c.put(leader, &format!("k{i}"), "v").await;
        want.insert(format!("k{i}"), "v".to_string());
    }

    // The server loses its disk: stop it, wipe it, replace it with a fresh
    // one under a new ID.
    c.stop(gone).await;
    c.dirs.remove(&gone);
    c.handle(leader)
        .remove_voter(gone)
        .await
        .expect("remove voter");
    assert!(!c.handle(leader).status().voters.contains(&gone));
    let fresh = 4;
    c.start(fresh, None);
    c.handle(leader)
        .add_voter(fresh, "mem://4".into())
        .await
        .expect("add voter");
    assert_eq!(
        c.net.peers_of(leader).get(&fresh).map(String::as_str),
        Some("mem://4")
    );

    for i in 40..45 {
        c.put(leader, &format!("k{i}"), "v").await;
        want.insert(format!("k{i}"), "v".to_string());
    }
    c.converges(fresh, &want).await;
    assert!(
        c.nodes[&fresh].restores.load(Ordering::SeqCst) >= 1,
        "the new server caught up from the log instead of a snapshot"
    );
    let voters = c.handle(fresh).status().voters;
    assert!(voters.contains(&fresh) && !voters.contains(&gone));
    c.shutdown_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minority_cannot_commit_and_catches_up_after_healing() {
    let mut c = Cluster::start3(0);
    let old = c.leader().await;
    let mut want = BTreeMap::new();
    c.put(old, "k0", "v").await;
    want.insert("k0".to_string(), "v".to_string());

    // Cut the leader off: it is now a minority of one.
    c.net.isolate(old);
    let refused = c.handle(old).propose(b"minority=1".to_vec()).await;
    assert!(
        matches!(
            refused,
            Err(RaftError::ProposalDropped | RaftError::Timeout | RaftError::NotLeader { .. })
        ),
        "a minority acknowledged a write: {refused:?}"
    );

    // The majority elects a leader of its own and goes on.
    let majority: Vec<u64> = (1..=3).filter(|id| *id != old).collect();
    let mut new_leader = None;
    eventually("a majority leader", DEADLINE, || {
        new_leader = majority
            .iter()
            .copied()
            .find(|id| c.handle(*id).status().role == Role::Leader);
        new_leader.is_some()
    })
    .await;
    let new_leader = new_leader.expect("found above");
    for i in 1..10 {
        c.put(new_leader, &format!("k{i}"), "v").await;
        want.insert(format!("k{i}"), "v".to_string());
    }
    // The isolated node stepped down (check quorum) and has none of it.
    eventually("the isolated leader to step down", DEADLINE, || {
        c.handle(old).status().role != Role::Leader
    })
    .await;
    assert_eq!(c.get(old, "k9"), None);

    c.net.heal();
    for id in 1..=3 {
        c.converges(id, &want).await;
    }
    assert_eq!(c.get(old, "minority"), None);
    c.shutdown_all().await;
}

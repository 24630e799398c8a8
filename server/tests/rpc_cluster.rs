//! Three (then four) Raft nodes with real sled storage and the real FSM,
//! talking only over gRPC on loopback: they elect a leader, commit writes
//! proposed on the leader and forwarded from followers, and a new server
//! joins over gRPC and catches up through a chunked snapshot.

mod rpc_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use raft::eraftpb::Message;
use rpc_support::{DEADLINE, eventually, run};
use sched_core::model::Variable;
use sched_server::fsm::{Command, CommandResponse, Fsm, ServerEntry};
use sched_server::raft::{RaftConfig, RaftError, RaftHandle, Role, SledStorage, Transport, spawn};
use sched_server::rpc::{
    ClientConfig, GrpcTransport, HandlerError, JoinReply, PeerClient, PeerHandler, PeerStatus,
    RpcError, ServeConfig, SnapshotOutcome, TransportConfig, serve_with,
};
use sched_server::state::StateReader;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The peer side of one server: Raft traffic to its node, forwards and joins
/// through its node, answers from its node's status and its state. The
/// server assembly does the same over the whole agent.
struct RaftPeer {
    me: ServerEntry,
    handle: RaftHandle,
    reader: StateReader,
}

fn refusal(err: RaftError) -> HandlerError {
    match err {
        RaftError::NotLeader { leader } => HandlerError::NotLeader { leader },
        RaftError::Timeout => HandlerError::Timeout,
        other => HandlerError::Unavailable(other.to_string()),
    }
}

#[tonic::async_trait]
impl PeerHandler for RaftPeer {
    async fn raft_messages(&self, msgs: Vec<Message>) -> Result<(), HandlerError> {
        for msg in msgs {
            self.handle.step(msg).await.map_err(refusal)?;
        }
        Ok(())
    }

    async fn forward(&self, command: Command) -> Result<CommandResponse, HandlerError> {
        self.handle.propose(command.encode()).await.map_err(refusal)
    }

    async fn join(&self, server: ServerEntry) -> Result<JoinReply, HandlerError> {
        self.handle
            .add_voter(server.raft_id, server.rpc_addr.clone())
            .await
            .map_err(refusal)?;
        self.handle
            .propose(Command::ServerUpsert { server }.encode())
            .await
            .map_err(refusal)?;
        Ok(JoinReply {
            leader_id: self.me.raft_id,
            servers: self.reader.snapshot().servers(),
        })
    }

    async fn status(&self) -> Result<PeerStatus, HandlerError> {
        let status = self.handle.status();
        Ok(PeerStatus {
            server: self.me.clone(),
            leader_id: status.leader_id,
            term: status.term,
        })
    }
}

struct Server {
    entry: ServerEntry,
    handle: RaftHandle,
    reader: StateReader,
    transport: Arc<GrpcTransport>,
    stop: Option<oneshot::Sender<()>>,
    listener: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

fn raft_config(id: u64, snapshot_every: u64) -> RaftConfig {
    RaftConfig {
        tick: Duration::from_millis(20),
        election_ticks: 10,
        heartbeat_ticks: 2,
        snapshot_every,
        keep_after_snapshot: 2,
        request_timeout: Duration::from_secs(5),
        snapshot_timeout: Duration::from_secs(10),
        ..RaftConfig::new(id)
    }
}

impl Server {
    /// Starts server `id` on a fresh directory and port; `peers` are the
    /// founding voters and their addresses (empty for a server that joins).
    async fn start(
        id: u64,
        listener: TcpListener,
        peers: &BTreeMap<u64, String>,
        snapshot_every: u64,
    ) -> Server {
        let addr = listener.local_addr().expect("local addr").to_string();
        let dir = tempfile::tempdir().expect("temp dir");
        let db = sled::open(dir.path()).expect("open sled");
        let mut storage = SledStorage::open(&db).expect("open raft storage");
        if !peers.is_empty() {
            let voters: Vec<u64> = peers.keys().copied().collect();
            storage.initialize(&voters).expect("bootstrap");
        }
        let (fsm, reader) = Fsm::open(&db).expect("open state");
        let transport = Arc::new(GrpcTransport::new(
            tokio::runtime::Handle::current(),
            TransportConfig {
                // Small chunks: a catch-up snapshot takes several.
                snapshot_chunk_bytes: 16 * 1024,
                backoff_min: Duration::from_millis(10),
                backoff_max: Duration::from_millis(200),
                ..TransportConfig::default()
            },
        ));
        for (peer, peer_addr) in peers {
            if *peer != id {
                transport.add_peer(*peer, peer_addr);
            }
        }
        let handle = spawn(
            raft_config(id, snapshot_every),
            storage,
            Box::new(fsm),
            transport.clone(),
        )
        .expect("spawn raft");
        let entry = ServerEntry {
            raft_id: id,
            name: format!("server-{id}"),
            rpc_addr: addr,
            http_addr: String::new(),
        };
        let peer = Arc::new(RaftPeer {
            me: entry.clone(),
            handle: handle.clone(),
            reader: reader.clone(),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let listener = tokio::spawn(async move {
            let result = serve_with(listener, peer, ServeConfig::default(), async {
                let _ = stopped.await;
            })
            .await;
            assert!(result.is_ok(), "listener failed: {result:?}");
        });
        Server {
            entry,
            handle,
            reader,
            transport,
            stop: Some(stop),
            listener,
            _dir: dir,
        }
    }

    async fn shutdown(mut self) {
        self.handle.shutdown().await;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(DEADLINE, &mut self.listener)
            .await
            .expect("listener stops")
            .expect("listener task");
    }
}

async fn bind() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.expect("bind")
}

async fn start_cluster(snapshot_every: u64) -> Vec<Server> {
    let listeners = vec![bind().await, bind().await, bind().await];
    let peers: BTreeMap<u64, String> = listeners
        .iter()
        .zip(1u64..)
        .map(|(l, id)| (id, l.local_addr().expect("addr").to_string()))
        .collect();
    let mut servers = Vec::new();
    for (listener, id) in listeners.into_iter().zip(1u64..) {
        servers.push(Server::start(id, listener, &peers, snapshot_every).await);
    }
    servers
}

/// The leader every server agrees on.
async fn agreed_leader(servers: &[Server]) -> u64 {
    let mut found = 0;
    eventually("an agreed leader", || {
        let statuses: Vec<_> = servers.iter().map(|s| s.handle.status()).collect();
        let leaders: Vec<u64> = statuses
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

fn variable(i: usize, payload: usize) -> Command {
    Command::VariableUpsert {
        variable: Variable {
            namespace: "default".into(),
            path: format!("app/{i}"),
            items: BTreeMap::from([("value".to_string(), "v".repeat(payload))]),
            ..Variable::default()
        },
        cas: None,
        now: 1,
    }
}

/// Forwards `command` the way a follower would: to whichever server `start`
/// names, following NotLeader hints, until it is applied.
async fn forward(client: &PeerClient, servers: &[Server], start: u64, command: &Command) {
    let addr_of = |id: u64| {
        servers
            .iter()
            .find(|s| s.entry.raft_id == id)
            .map(|s| s.entry.rpc_addr.clone())
    };
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut target = start;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "forward never applied"
        );
        let addr = addr_of(target).expect("known server");
        match client.forward(&addr, command).await {
            Ok(resp) => {
                assert_eq!(resp.error, None);
                assert!(resp.index > 0);
                return;
            }
            Err(RpcError::NotLeader {
                leader: Some(leader),
                ..
            }) => target = leader,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

fn holds(reader: &StateReader, count: usize) -> bool {
    let state = reader.snapshot();
    (0..count).all(|i| state.variable("default", &format!("app/{i}")).is_some())
}

#[test]
fn three_servers_over_grpc_elect_a_leader_and_commit_writes() {
    run(async {
        let servers = start_cluster(0).await;
        let leader = agreed_leader(&servers).await;
        let follower = (1..=3).find(|id| *id != leader).expect("a follower");
        let leader_handle = servers[(leader - 1) as usize].handle.clone();

        for i in 0..20 {
            let resp = leader_handle
                .propose(variable(i, 16).encode())
                .await
                .expect("commit on the leader");
            assert_eq!(resp.error, None);
        }
        // Writes that reach a follower are forwarded to the leader.
        let client = PeerClient::new(ClientConfig::default());
        for i in 20..30 {
            forward(&client, &servers, follower, &variable(i, 16)).await;
        }
        // What the state machine refuses comes back through the forward.
        let leader_addr = servers[(leader - 1) as usize].entry.rpc_addr.clone();
        let conflict = Command::VariableUpsert {
            variable: Variable {
                namespace: "default".into(),
                path: "app/0".into(),
                ..Variable::default()
            },
            cas: Some(999_999),
            now: 2,
        };
        let resp = client
            .forward(&leader_addr, &conflict)
            .await
            .expect("forward to the leader");
        assert!(resp.index > 0);
        assert!(resp.error.is_some(), "a stale compare-and-set is refused");
        for server in &servers {
            eventually("every server to apply every write", || {
                holds(&server.reader, 30)
            })
            .await;
        }
        // Status over gRPC names the same leader from every server.
        for server in &servers {
            let status = client.status(&server.entry.rpc_addr).await.expect("status");
            assert_eq!(status.server, server.entry);
            assert_eq!(status.leader_id, Some(leader));
        }
        for server in servers {
            server.shutdown().await;
        }
    });
}

#[test]
fn a_server_joins_over_grpc_and_catches_up_through_a_chunked_snapshot() {
    run(async {
        let servers = start_cluster(10).await;
        let leader = agreed_leader(&servers).await;
        let leader_entry = servers[(leader - 1) as usize].entry.clone();
        let leader_handle = servers[(leader - 1) as usize].handle.clone();
        // Every founding server records its addresses in the state.
        for server in &servers {
            leader_handle
                .propose(
                    Command::ServerUpsert {
                        server: server.entry.clone(),
                    }
                    .encode(),
                )
                .await
                .expect("record a server");
        }
        // 40 writes of 4 KiB: the log is compacted behind snapshots of
        // ~160 KiB, which travel in 16 KiB chunks.
        for i in 0..40 {
            leader_handle
                .propose(variable(i, 4096).encode())
                .await
                .expect("commit on the leader");
        }

        let snapshots = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&snapshots);
        servers[(leader - 1) as usize]
            .transport
            .set_snapshot_reporter(Arc::new(move |peer, outcome| {
                seen.lock().expect("reports lock").push((peer, outcome));
            }));
        let newcomer = Server::start(4, bind().await, &BTreeMap::new(), 10).await;
        let client = PeerClient::new(ClientConfig::default());
        let reply = client
            .join(&leader_entry.rpc_addr, newcomer.entry.clone())
            .await
            .expect("join");
        assert_eq!(reply.leader_id, leader);
        assert!(reply.servers.contains(&newcomer.entry));
        for server in &reply.servers {
            if server.raft_id != 4 {
                newcomer
                    .transport
                    .add_peer(server.raft_id, &server.rpc_addr);
            }
        }
        eventually("the new server to catch up", || holds(&newcomer.reader, 40)).await;
        eventually("the new server to follow the leader", || {
            newcomer.handle.status().leader_id == Some(leader)
        })
        .await;
        let mut voters = servers[(leader - 1) as usize].handle.status().voters;
        voters.sort_unstable();
        assert_eq!(voters, vec![1, 2, 3, 4]);
        // It caught up from a snapshot (the log behind it was compacted),
        // which went over the chunked stream.
        eventually("the snapshot transfer to be reported", || {
            snapshots
                .lock()
                .expect("reports lock")
                .contains(&(4, SnapshotOutcome::Delivered))
        })
        .await;
        // And it takes part in later writes.
        leader_handle
            .propose(variable(40, 16).encode())
            .await
            .expect("commit with four voters");
        eventually("the new server to apply a later write", || {
            holds(&newcomer.reader, 41)
        })
        .await;

        newcomer.shutdown().await;
        for server in servers {
            server.shutdown().await;
        }
    });
}

//! One server, assembled: the sled database, the FSM, the Raft node, the
//! peer gRPC listener and transport, the scheduling machinery and the leader's
//! duties, started in one constructor and stopped together.
//!
//! Owns how the parts are wired and in which order they start (the state
//! before Raft, the peer listener before bootstrap so other servers can find
//! this one, Raft before anything that writes) and the write path every
//! component shares ([`ServerHandle::apply`], which forwards to the leader). It does
//! not implement any part itself.

mod backend;
mod bootstrap;
mod leader;
mod node;
mod peer;
mod writer;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::fsm::{Command, CommandResponse, Fsm, ServerEntry};
use crate::heartbeat::{HeartbeatConfig, Heartbeats};
use crate::raft::{RaftConfig, RaftHandle, RaftStatus, SledStorage};
use crate::rpc::{ClientConfig, GrpcTransport, PeerClient, TransportConfig};
use crate::scheduling::broker::Clock;
use crate::scheduling::raft_cluster::RaftCluster;
use crate::scheduling::{Scheduling, SchedulingConfig};
use crate::state::StateReader;

pub use backend::HttpBackend;
pub use writer::ApplyError;

/// Everything a server needs to know to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Name shown by `server members` (the agent's `name`).
    pub name: String,
    /// Region, for `/v1/regions` and the members list.
    pub region: String,
    /// Datacenter of the agent.
    pub datacenter: String,
    /// Where the server keeps its Raft log and state (`<data_dir>/server`).
    pub data_dir: PathBuf,
    /// The gRPC address other servers dial (defaults to the listener's).
    pub advertise_rpc: Option<String>,
    /// The HTTP address shown to others (defaults to the listener's).
    pub advertise_http: Option<String>,
    /// How many servers must be known before the cluster bootstraps.
    pub bootstrap_expect: usize,
    /// gRPC addresses of servers to find or join.
    pub join: Vec<String>,
    /// Time between rounds of trying the join addresses.
    pub retry_interval: Duration,
    /// Raft tuning; its `id` is replaced by the server's persisted ID.
    pub raft: RaftConfig,
    /// The broker, workers and plan queue.
    pub scheduling: SchedulingConfig,
    /// Node heartbeat pacing.
    pub heartbeat: HeartbeatConfig,
}

impl ServerConfig {
    /// Defaults for a server keeping its data in `data_dir`: a one-server
    /// cluster that bootstraps itself.
    pub fn new(data_dir: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            name: "server".into(),
            region: "global".into(),
            datacenter: "dc1".into(),
            data_dir: data_dir.into(),
            advertise_rpc: None,
            advertise_http: None,
            bootstrap_expect: 1,
            join: Vec::new(),
            retry_interval: Duration::from_millis(500),
            raft: RaftConfig::new(1),
            scheduling: SchedulingConfig::default(),
            heartbeat: HeartbeatConfig::default(),
        }
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The data directory could not be created or opened.
    #[error("data dir {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The database failed to open (in use by another server, corrupt).
    #[error("opening the server database in {path}: {source}")]
    Database {
        /// The database directory.
        path: PathBuf,
        /// The cause.
        source: sled::Error,
    },
    /// The state could not be loaded.
    #[error("loading the state: {0}")]
    State(#[from] crate::state::StateError),
    /// The Raft node could not start.
    #[error("starting raft: {0}")]
    Raft(#[from] crate::raft::RaftError),
    /// A listener's address could not be read.
    #[error("listener: {0}")]
    Listener(std::io::Error),
    /// Shutdown was requested before the cluster formed.
    #[error("shut down before the cluster formed")]
    Interrupted,
}

/// The parts every component reaches through the server.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) me: ServerEntry,
    pub(crate) raft: RaftHandle,
    pub(crate) reader: StateReader,
    pub(crate) transport: Arc<GrpcTransport>,
    pub(crate) peers: PeerClient,
    pub(crate) heartbeats: Mutex<Heartbeats>,
    pub(crate) leader: watch::Receiver<bool>,
}

/// A running server. Dropping it does not stop it: call
/// [`Server::shutdown`].
#[derive(Debug)]
pub struct Server {
    shared: Arc<Shared>,
    scheduling: Option<Scheduling>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    rpc_addr: SocketAddr,
    db: sled::Db,
}

impl Server {
    /// Starts a server: opens (or creates) its data, listens for peers on
    /// `rpc`, forms or joins the cluster, and starts the Raft node, the
    /// scheduling machinery and the leader's duties. `http_addr` is only
    /// advertised (the HTTP API is served by the agent over
    /// [`Server::handle`]).
    ///
    /// Returns once the Raft node runs; the cluster may still be electing.
    pub async fn start(
        config: ServerConfig,
        rpc: TcpListener,
        http_addr: SocketAddr,
    ) -> Result<Server, ServerError> {
        let dir = config.data_dir.join("server");
        std::fs::create_dir_all(&dir).map_err(|source| ServerError::DataDir {
            path: dir.clone(),
            source,
        })?;
        let db = sled::Config::new()
            .path(&dir)
            .open()
            .map_err(|source| ServerError::Database {
                path: dir.clone(),
                source,
            })?;
        let raft_id = bootstrap::raft_id(&db).map_err(|source| ServerError::Database {
            path: dir.clone(),
            source,
        })?;
        let rpc_addr = rpc.local_addr().map_err(ServerError::Listener)?;
        let me = ServerEntry {
            raft_id,
            name: config.name.clone(),
            rpc_addr: config
                .advertise_rpc
                .clone()
                .unwrap_or_else(|| rpc_addr.to_string()),
            http_addr: config
                .advertise_http
                .clone()
                .unwrap_or_else(|| http_addr.to_string()),
        };
        tracing::info!(raft_id, name = %me.name, rpc = %me.rpc_addr, "starting server");

        // Stage 1: the state, loaded from sled before Raft replays anything.
        let (fsm, reader) = Fsm::open(&db)?;
        // Stage 2: the transport, told where every recorded server is.
        let transport = Arc::new(GrpcTransport::new(
            tokio::runtime::Handle::current(),
            TransportConfig::default(),
        ));
        for (id, addr) in bootstrap::saved_peers(&db) {
            if id != raft_id {
                crate::raft::Transport::add_peer(&*transport, id, &addr);
            }
        }
        for s in reader.snapshot().servers() {
            if s.raft_id != raft_id {
                crate::raft::Transport::add_peer(&*transport, s.raft_id, &s.rpc_addr);
            }
        }
        // Stage 3: the peer listener, so others can find this server while
        // it gathers for bootstrap.
        let (shutdown, shutdown_rx) = watch::channel(false);
        let handler = Arc::new(peer::Handler::new(me.clone()));
        let nodes = Arc::new(node::Handler::default());
        let mut tasks = Vec::new();
        {
            let mut limits = crate::rpc::ServeConfig::default();
            // A node's long poll may last this long.
            limits.request_timeout = limits
                .request_timeout
                .max(crate::rpc::node::MAX_POLL_WAIT * 2);
            let max_message = limits.max_message_bytes;
            let routes = crate::rpc::peer_routes(handler.clone(), limits.clone())
                .add_service(crate::rpc::node::node_routes(nodes.clone(), max_message));
            let mut stop = shutdown_rx.clone();
            tasks.push(tokio::spawn(async move {
                let stopped = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                if let Err(err) = crate::rpc::serve_routes(rpc, routes, &limits, stopped).await {
                    tracing::error!(error = %err, "gRPC listener failed");
                }
            }));
        }
        let peers = PeerClient::new(ClientConfig::default());
        // Stage 4: form or join the cluster when the storage is fresh.
        let mut storage = SledStorage::open(&db)?;
        if !storage.is_initialized() {
            let mut stop = shutdown_rx.clone();
            let formed = bootstrap::form(&db, &config, &me, &peers, &transport, &mut storage);
            tokio::select! {
                r = formed => r?,
                _ = stop.wait_for(|s| *s) => return Err(ServerError::Interrupted),
            }
        }
        // Stage 5: the Raft node, applying to the FSM.
        let mut raft_config = config.raft.clone();
        raft_config.id = raft_id;
        let raft = crate::raft::spawn(
            raft_config,
            storage,
            Box::new(fsm),
            transport.clone() as Arc<dyn crate::raft::Transport>,
        )?;
        handler.attach(raft.clone(), reader.clone());
        // Stage 6: whether this server leads, as the scheduling machinery
        // and the leader's duties need it.
        let (leader_tx, leader_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            config: config.clone(),
            me,
            raft,
            reader,
            transport,
            peers,
            heartbeats: Mutex::new(Heartbeats::new(
                config.heartbeat.clone(),
                u64::from(raft_id as u32),
            )),
            leader: leader_rx.clone(),
        });
        tasks.push(tokio::spawn(leader::watch_leadership(
            shared.clone(),
            leader_tx,
            shutdown_rx.clone(),
        )));
        tasks.push(tokio::spawn(leader::sync_peers(
            shared.clone(),
            shutdown_rx.clone(),
        )));
        tasks.push(tokio::spawn(leader::expire_heartbeats(
            shared.clone(),
            shutdown_rx.clone(),
        )));
        // Stage 7: the broker, workers and plan applier.
        let cluster = RaftCluster::new(
            shared.raft.clone(),
            shared.reader.clone(),
            Clock::new(leader::unix_nanos),
        );
        let scheduling = Scheduling::start(
            Arc::new(cluster),
            config.scheduling.clone(),
            leader_rx,
            shutdown_rx,
        );
        nodes.attach(ServerHandle {
            shared: shared.clone(),
        });
        Ok(Server {
            shared,
            scheduling: Some(scheduling),
            shutdown,
            tasks,
            rpc_addr,
            db,
        })
    }

    /// A cheap handle for the HTTP API and the client RPCs.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: self.shared.clone(),
        }
    }

    /// The address the peer listener is bound to.
    pub fn rpc_addr(&self) -> SocketAddr {
        self.rpc_addr
    }

    /// Stops every task, then the Raft node (flushing its storage) and the
    /// database.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(s) = self.scheduling.take() {
            s.join(Duration::from_secs(5)).await;
        }
        for t in self.tasks.drain(..) {
            let abort = t.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        self.shared.raft.shutdown().await;
        if let Err(err) = self.db.flush_async().await {
            tracing::warn!(error = %err, "flushing the server database");
        }
    }
}

/// What the HTTP API and the client RPCs use of a server.
#[derive(Debug, Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
}

impl ServerHandle {
    /// Proposes a command through Raft, forwarded to the leader when this
    /// server is not it, and answers once it is applied.
    pub async fn apply(&self, cmd: Command) -> Result<CommandResponse, ApplyError> {
        writer::apply(&self.shared, cmd).await
    }

    /// The state readers follow.
    pub fn state(&self) -> StateReader {
        self.shared.reader.clone()
    }

    /// A linearizable read barrier: returns once this server's state
    /// reflects every write acknowledged before the call.
    pub async fn consistent_index(&self) -> Result<u64, ApplyError> {
        writer::read_barrier(&self.shared).await
    }

    /// Raft's view of the cluster.
    pub fn raft_status(&self) -> RaftStatus {
        self.shared.raft.status()
    }

    /// This server's entry in the address book.
    pub fn me(&self) -> &ServerEntry {
        &self.shared.me
    }

    /// The server's settings.
    pub fn config(&self) -> &ServerConfig {
        &self.shared.config
    }

    /// Whether this server leads now.
    pub fn is_leader(&self) -> bool {
        *self.shared.leader.borrow()
    }

    /// The leader's entry in the address book, when one is known.
    pub fn leader(&self) -> Option<ServerEntry> {
        let id = self.shared.raft.status().leader_id?;
        if id == self.shared.me.raft_id {
            return Some(self.shared.me.clone());
        }
        self.shared
            .reader
            .snapshot()
            .servers()
            .into_iter()
            .find(|s| s.raft_id == id)
    }

    /// Records a node's heartbeat on the leader and answers with its TTL.
    pub fn node_heartbeat(&self, node: &sched_core::model::NodeId) -> Duration {
        let mut hb = self
            .shared
            .heartbeats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        hb.beat(node, std::time::Instant::now())
    }

    /// Raft's handle, for operator commands (peers, transfer).
    pub fn raft(&self) -> &RaftHandle {
        &self.shared.raft
    }
}

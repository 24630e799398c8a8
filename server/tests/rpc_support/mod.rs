//! What the rpc black-box tests share: a runtime, a polling wait with a
//! deadline, Raft message builders, and a `PeerHandler` that records what
//! arrives so tests can check it against what was sent. It does not stand in
//! for a Raft node in any shipped code.
#![allow(dead_code)]

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use raft::eraftpb::{Entry, Message, MessageType, Snapshot};
use sched_server::fsm::{Command, CommandResponse, ServerEntry};
use sched_server::rpc::{
    HandlerError, JoinReply, PeerHandler, PeerStatus, ServeConfig, ServeError, serve_with,
};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

/// How long any wait in these tests may take before it counts as a failure.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Runs a test body on a multi-threaded runtime.
pub fn run<F: Future<Output = ()>>(body: F) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("test runtime");
    rt.block_on(body);
}

/// Polls `cond` until it holds, failing the test after [`DEADLINE`].
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A server entry for Raft ID `id`.
pub fn entry(id: u64, rpc_addr: &str) -> ServerEntry {
    ServerEntry {
        raft_id: id,
        name: format!("server-{id}"),
        rpc_addr: rpc_addr.to_owned(),
        http_addr: format!("127.0.0.1:{}", 14_000 + id),
    }
}

/// A MsgAppend from `from` to `to` carrying one entry at `index` whose data
/// names both, so a test can tell messages apart.
pub fn append(from: u64, to: u64, index: u64) -> Message {
    let mut e = Entry {
        index,
        term: 1,
        ..Entry::default()
    };
    e.set_data(Bytes::from(format!("{from}->{to}#{index}")));
    let mut m = Message::default();
    m.set_msg_type(MessageType::MsgAppend);
    m.from = from;
    m.to = to;
    m.term = 1;
    m.index = index.saturating_sub(1);
    m.log_term = 1;
    m.commit = index;
    m.set_entries(vec![e].into());
    m
}

/// A MsgSnapshot from `from` to `to` whose data is `len` bytes of a pattern.
pub fn snapshot(from: u64, to: u64, len: usize) -> Message {
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let mut s = Snapshot::default();
    s.set_data(Bytes::from(data));
    s.mut_metadata().index = 100;
    s.mut_metadata().term = 2;
    s.mut_metadata().mut_conf_state().voters = vec![1, 2, 3];
    let mut m = Message::default();
    m.set_msg_type(MessageType::MsgSnapshot);
    m.from = from;
    m.to = to;
    m.term = 2;
    m.set_snapshot(s);
    m
}

/// A handler that records everything that reaches it. `gate`, when set,
/// holds each Raft delivery until the test adds a permit, to stand for a
/// peer that stops reading.
pub struct Recorder {
    /// Who this server says it is.
    pub me: ServerEntry,
    /// The leader it reports; it answers forwards itself only when that is
    /// itself.
    pub leader: Option<u64>,
    /// Raft messages, in arrival order.
    pub raft: Mutex<Vec<Message>>,
    /// Forwarded commands.
    pub forwarded: Mutex<Vec<Command>>,
    /// Servers that asked to join.
    pub joined: Mutex<Vec<ServerEntry>>,
    /// Held Raft deliveries wait for a permit here.
    pub gate: Option<Semaphore>,
}

impl Recorder {
    /// A recorder for server `id` that knows `leader`.
    pub fn new(id: u64, leader: Option<u64>) -> Self {
        Recorder {
            me: entry(id, ""),
            leader,
            raft: Mutex::new(Vec::new()),
            forwarded: Mutex::new(Vec::new()),
            joined: Mutex::new(Vec::new()),
            gate: None,
        }
    }

    /// How many Raft messages arrived.
    pub fn raft_count(&self) -> usize {
        self.raft.lock().expect("recorder lock").len()
    }

    /// A copy of the Raft messages that arrived.
    pub fn raft_messages(&self) -> Vec<Message> {
        self.raft.lock().expect("recorder lock").clone()
    }
}

#[tonic::async_trait]
impl PeerHandler for Recorder {
    async fn raft_messages(&self, msgs: Vec<Message>) -> Result<(), HandlerError> {
        if let Some(gate) = &self.gate {
            let permit = gate
                .acquire()
                .await
                .map_err(|_| HandlerError::Unavailable("closed".into()))?;
            permit.forget();
        }
        self.raft.lock().expect("recorder lock").extend(msgs);
        Ok(())
    }

    async fn forward(&self, command: Command) -> Result<CommandResponse, HandlerError> {
        if self.leader != Some(self.me.raft_id) {
            return Err(HandlerError::NotLeader {
                leader: self.leader,
            });
        }
        let mut forwarded = self.forwarded.lock().expect("recorder lock");
        forwarded.push(command);
        Ok(CommandResponse {
            index: forwarded.len() as u64,
            error: None,
            job_version: None,
        })
    }

    async fn join(&self, server: ServerEntry) -> Result<JoinReply, HandlerError> {
        let mut joined = self.joined.lock().expect("recorder lock");
        joined.push(server);
        let mut servers = vec![self.me.clone()];
        servers.extend(joined.iter().cloned());
        Ok(JoinReply {
            leader_id: self.me.raft_id,
            servers,
        })
    }

    async fn status(&self) -> Result<PeerStatus, HandlerError> {
        Ok(PeerStatus {
            server: self.me.clone(),
            leader_id: self.leader,
            term: 4,
        })
    }
}

/// A `serve_with` instance on a loopback port.
pub struct TestServer {
    /// `host:port` it listens on.
    pub addr: String,
    /// What reached it.
    pub recorder: Arc<Recorder>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl TestServer {
    /// Starts one on a free port.
    pub async fn start(recorder: Recorder, config: ServeConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::start_on(listener, recorder, config)
    }

    /// Starts one on `listener`; the recorder learns its address.
    pub fn start_on(listener: TcpListener, mut recorder: Recorder, config: ServeConfig) -> Self {
        let addr = listener.local_addr().expect("local addr").to_string();
        recorder.me.rpc_addr = addr.clone();
        let recorder = Arc::new(recorder);
        let (tx, rx) = oneshot::channel::<()>();
        let handler: Arc<dyn PeerHandler> = recorder.clone();
        let task = tokio::spawn(serve_with(listener, handler, config, async {
            let _ = rx.await;
        }));
        TestServer {
            addr,
            recorder,
            shutdown: Some(tx),
            task,
        }
    }

    /// Stops it and checks it stopped cleanly.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(gate) = &self.recorder.gate {
            // Let held deliveries finish so the graceful shutdown can.
            gate.close();
        }
        let result = tokio::time::timeout(DEADLINE, &mut self.task)
            .await
            .expect("server stops within the deadline")
            .expect("server task does not panic");
        assert!(result.is_ok(), "server stopped with {result:?}");
    }
}

/// A loopback address nothing listens on (bound and released at once).
pub async fn free_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("local addr").to_string()
}

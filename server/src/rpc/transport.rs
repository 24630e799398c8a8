//! Raft's [`Transport`] over gRPC: one bounded queue and one task per peer,
//! messages batched per RPC, snapshots streamed in chunks, lazy connection
//! with backoff. The Ready loop never waits on the network: a full queue or
//! an unreachable peer drops messages, and Raft sends them again.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use protobuf::Message as _;
use raft::eraftpb::{Message, MessageType};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic::transport::Channel;
use tonic::{Code, Request};

use crate::raft::Transport;

use super::client::endpoint;
use super::proto::RaftBatch;
use super::proto::peer_client::PeerClient as RawClient;
use super::snapshot::split;

/// Queue, batch and retry settings of a [`GrpcTransport`].
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Messages queued per peer before new ones are dropped.
    pub queue_len: usize,
    /// Most messages sent in one RPC.
    pub max_batch_messages: usize,
    /// Bytes after which a batch is closed (one larger message still goes
    /// alone).
    pub max_batch_bytes: usize,
    /// Size of the chunks a snapshot is streamed in.
    pub snapshot_chunk_bytes: usize,
    /// How long establishing a connection may take.
    pub connect_timeout: Duration,
    /// Deadline of one batch RPC.
    pub request_timeout: Duration,
    /// Deadline of one whole snapshot transfer.
    pub snapshot_timeout: Duration,
    /// First wait before dialling an unreachable peer again.
    pub backoff_min: Duration,
    /// Longest wait between dials.
    pub backoff_max: Duration,
    /// Largest single gRPC message sent (must not exceed the receiver's
    /// `ServeConfig::max_message_bytes`).
    pub max_message_bytes: usize,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            queue_len: 4096,
            max_batch_messages: 512,
            max_batch_bytes: 4 * 1024 * 1024,
            snapshot_chunk_bytes: 1024 * 1024,
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            snapshot_timeout: Duration::from_secs(300),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            max_message_bytes: 64 * 1024 * 1024,
        }
    }
}

/// How sending a snapshot to a peer ended; Raft must be told
/// (`RawNode::report_snapshot`) so it stops waiting on that peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotOutcome {
    /// The peer received the whole snapshot and accepted it.
    Delivered,
    /// It did not arrive; Raft should send another.
    Failed,
}

/// Called with the peer's Raft ID after each snapshot transfer.
pub type SnapshotReporter = Arc<dyn Fn(u64, SnapshotOutcome) + Send + Sync>;

/// Raft's transport over gRPC. See the module docs.
pub struct GrpcTransport {
    runtime: Handle,
    config: Arc<TransportConfig>,
    peers: Mutex<HashMap<u64, PeerQueue>>,
    shared: Arc<Shared>,
}

struct PeerQueue {
    addr: String,
    tx: mpsc::Sender<Message>,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct Shared {
    dropped: AtomicU64,
    reporter: OnceLock<SnapshotReporter>,
}

impl fmt::Debug for GrpcTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let peers: Vec<(u64, String)> = self
            .lock_peers()
            .iter()
            .map(|(id, q)| (*id, q.addr.clone()))
            .collect();
        f.debug_struct("GrpcTransport")
            .field("peers", &peers)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl GrpcTransport {
    /// A transport with no peers yet; the per-peer tasks run on `runtime`.
    pub fn new(runtime: Handle, config: TransportConfig) -> Self {
        GrpcTransport {
            runtime,
            config: Arc::new(config),
            peers: Mutex::new(HashMap::new()),
            shared: Arc::new(Shared::default()),
        }
    }

    /// Sets who is told how snapshot transfers ended. Only the first call
    /// counts (the Raft node is the one listener).
    pub fn set_snapshot_reporter(&self, reporter: SnapshotReporter) {
        if self.shared.reporter.set(reporter).is_err() {
            tracing::warn!("snapshot reporter already set; keeping the first");
        }
    }

    /// Messages dropped so far (full queue, unknown or unreachable peer, a
    /// failed RPC). Raft recovers from drops; a steadily growing count means
    /// a peer is down or too slow.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// The peers and their addresses.
    pub fn peers(&self) -> Vec<(u64, String)> {
        let mut peers: Vec<_> = self
            .lock_peers()
            .iter()
            .map(|(id, q)| (*id, q.addr.clone()))
            .collect();
        peers.sort();
        peers
    }

    fn lock_peers(&self) -> std::sync::MutexGuard<'_, HashMap<u64, PeerQueue>> {
        self.peers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Transport for GrpcTransport {
    fn send(&self, msgs: Vec<Message>) {
        let peers = self.lock_peers();
        for msg in msgs {
            let to = msg.to;
            let Some(queue) = peers.get(&to) else {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(to, msg_type = ?msg.get_msg_type(), "no address for raft peer; dropped");
                continue;
            };
            if let Err(err) = queue.tx.try_send(msg) {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                if let mpsc::error::TrySendError::Full(msg) = err {
                    tracing::debug!(to, msg_type = ?msg.get_msg_type(), "raft peer queue full; dropped");
                    if msg.get_msg_type() == MessageType::MsgSnapshot {
                        self.shared.report(to, SnapshotOutcome::Failed);
                    }
                }
            }
        }
    }

    fn add_peer(&self, id: u64, addr: &str) {
        let mut peers = self.lock_peers();
        if peers.get(&id).is_some_and(|q| q.addr == addr) {
            return;
        }
        let (tx, rx) = mpsc::channel(self.config.queue_len.max(1));
        let worker = PeerWorker {
            id,
            addr: addr.to_owned(),
            config: Arc::clone(&self.config),
            shared: Arc::clone(&self.shared),
            client: None,
            retry_at: None,
            backoff: self.config.backoff_min,
        };
        let task = self.runtime.spawn(worker.run(rx));
        tracing::info!(peer = id, addr, "raft peer added");
        if let Some(old) = peers.insert(
            id,
            PeerQueue {
                addr: addr.to_owned(),
                tx,
                task,
            },
        ) {
            old.task.abort();
        }
    }

    fn remove_peer(&self, id: u64) {
        if let Some(old) = self.lock_peers().remove(&id) {
            old.task.abort();
            tracing::info!(peer = id, addr = %old.addr, "raft peer removed");
        }
    }
}

impl Drop for GrpcTransport {
    fn drop(&mut self) {
        for (_, queue) in self.lock_peers().drain() {
            queue.task.abort();
        }
    }
}

impl Shared {
    fn report(&self, peer: u64, outcome: SnapshotOutcome) {
        if let Some(reporter) = self.reporter.get() {
            reporter(peer, outcome);
        }
    }
}

/// The task that owns one peer's queue and connection.
struct PeerWorker {
    id: u64,
    addr: String,
    config: Arc<TransportConfig>,
    shared: Arc<Shared>,
    client: Option<RawClient<Channel>>,
    retry_at: Option<Instant>,
    backoff: Duration,
}

fn is_snapshot(msg: &Message) -> bool {
    msg.get_msg_type() == MessageType::MsgSnapshot
}

impl PeerWorker {
    async fn run(mut self, mut rx: mpsc::Receiver<Message>) {
        // A snapshot taken off the queue while filling a batch waits here so
        // it goes after that batch, keeping the peer's order.
        let mut held: Option<Message> = None;
        loop {
            let first = match held.take() {
                Some(msg) => msg,
                None => match rx.recv().await {
                    Some(msg) => msg,
                    None => return,
                },
            };
            if is_snapshot(&first) {
                self.send_snapshot(first).await;
                continue;
            }
            let mut batch = Vec::new();
            let mut bytes = 0usize;
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg.write_to_bytes() {
                    Ok(encoded) => {
                        bytes += encoded.len();
                        batch.push(Bytes::from(encoded));
                    }
                    Err(err) => {
                        self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(peer = self.id, error = %err, "raft message does not encode; dropped");
                    }
                }
                if batch.len() >= self.config.max_batch_messages
                    || bytes >= self.config.max_batch_bytes
                {
                    break;
                }
                match rx.try_recv() {
                    Ok(msg) if is_snapshot(&msg) => held = Some(msg),
                    Ok(msg) => next = Some(msg),
                    Err(_) => {}
                }
            }
            if !batch.is_empty() {
                self.send_batch(batch).await;
            }
        }
    }

    async fn send_batch(&mut self, messages: Vec<Bytes>) {
        let count = messages.len() as u64;
        let Some(mut client) = self.connected().await else {
            self.shared.dropped.fetch_add(count, Ordering::Relaxed);
            return;
        };
        let timeout = self.config.request_timeout;
        let mut request = Request::new(RaftBatch { messages });
        request.set_timeout(timeout);
        match tokio::time::timeout(timeout, client.raft(request)).await {
            Ok(Ok(_)) => {}
            Ok(Err(status)) => {
                self.shared.dropped.fetch_add(count, Ordering::Relaxed);
                self.failed(&status);
            }
            Err(_) => {
                self.shared.dropped.fetch_add(count, Ordering::Relaxed);
                tracing::debug!(peer = self.id, addr = %self.addr, "raft batch timed out");
                self.disconnect();
            }
        }
    }

    async fn send_snapshot(&mut self, msg: Message) {
        let outcome = self.stream_snapshot(&msg).await;
        if outcome == SnapshotOutcome::Failed {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
        self.shared.report(self.id, outcome);
    }

    async fn stream_snapshot(&mut self, msg: &Message) -> SnapshotOutcome {
        let encoded = match msg.write_to_bytes() {
            Ok(encoded) => Bytes::from(encoded),
            Err(err) => {
                tracing::warn!(peer = self.id, error = %err, "snapshot does not encode");
                return SnapshotOutcome::Failed;
            }
        };
        let Some(mut client) = self.connected().await else {
            return SnapshotOutcome::Failed;
        };
        let total = encoded.len();
        let chunks = split(encoded, self.config.snapshot_chunk_bytes);
        let count = chunks.len();
        let timeout = self.config.snapshot_timeout;
        let mut request = Request::new(tokio_stream::iter(chunks));
        request.set_timeout(timeout);
        match tokio::time::timeout(timeout, client.snapshot(request)).await {
            Ok(Ok(_)) => {
                tracing::info!(
                    peer = self.id,
                    bytes = total,
                    chunks = count,
                    "snapshot sent"
                );
                SnapshotOutcome::Delivered
            }
            Ok(Err(status)) => {
                self.failed(&status);
                SnapshotOutcome::Failed
            }
            Err(_) => {
                tracing::warn!(peer = self.id, addr = %self.addr, "snapshot transfer timed out");
                self.disconnect();
                SnapshotOutcome::Failed
            }
        }
    }

    /// The connection, dialling if the backoff allows; `None` drops the
    /// messages at hand.
    async fn connected(&mut self) -> Option<RawClient<Channel>> {
        if let Some(client) = &self.client {
            return Some(client.clone());
        }
        if self.retry_at.is_some_and(|at| Instant::now() < at) {
            return None;
        }
        let endpoint = match endpoint(&self.addr, self.config.connect_timeout) {
            Ok(endpoint) => endpoint,
            Err(err) => {
                tracing::warn!(peer = self.id, error = %err, "bad raft peer address");
                self.back_off();
                return None;
            }
        };
        match tokio::time::timeout(self.config.connect_timeout, endpoint.connect()).await {
            Ok(Ok(channel)) => {
                tracing::debug!(peer = self.id, addr = %self.addr, "connected to raft peer");
                self.backoff = self.config.backoff_min;
                self.retry_at = None;
                let client = RawClient::new(channel)
                    .max_encoding_message_size(self.config.max_message_bytes)
                    .max_decoding_message_size(self.config.max_message_bytes);
                self.client = Some(client.clone());
                Some(client)
            }
            Ok(Err(err)) => {
                tracing::debug!(peer = self.id, addr = %self.addr, error = %err, "cannot reach raft peer");
                self.back_off();
                None
            }
            Err(_) => {
                tracing::debug!(peer = self.id, addr = %self.addr, "connecting to raft peer timed out");
                self.back_off();
                None
            }
        }
    }

    fn failed(&mut self, status: &tonic::Status) {
        match status.code() {
            Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded => {
                tracing::debug!(peer = self.id, addr = %self.addr, code = ?status.code(), message = status.message(), "raft RPC failed; reconnecting");
                self.disconnect();
            }
            code => {
                // The peer is up but refused the messages: redialling would
                // not help, Raft's retries may.
                tracing::warn!(peer = self.id, addr = %self.addr, ?code, message = status.message(), "raft peer refused messages");
            }
        }
    }

    fn disconnect(&mut self) {
        self.client = None;
        self.back_off();
    }

    fn back_off(&mut self) {
        self.retry_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(self.config.backoff_max);
    }
}

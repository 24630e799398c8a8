//! `rpc`: the peer gRPC layer alone on loopback, without Raft or storage.
//!
//! One listener whose handler only counts what arrives, and a
//! `GrpcTransport` and `PeerClient` in the same process:
//! - `raft_msgs_per_sec`: 200,000 MsgAppends (one 256-byte entry each) sent
//!   as fast as `send` takes them, until all arrived;
//! - `raft_delivery_p50_us`/`p99_us`: one message at a time, from `send` to
//!   the handler seeing it (2,000 samples);
//! - `snapshot_mb_per_sec`: a 64 MiB MsgSnapshot streamed in 1 MiB chunks
//!   and reassembled (best of 3);
//! - `forward_p50_us`/`forward_p99_us`: sequential `Forward` round trips of
//!   a small command (2,000 samples).
//!
//! What Raft adds on top (fsync, apply) is the `raft` benchmark's business.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use raft::eraftpb::{Entry, Message, MessageType, Snapshot};
use sched_server::fsm::{Command, CommandResponse, ServerEntry};
use sched_server::raft::Transport;
use sched_server::rpc::{
    ClientConfig, GrpcTransport, HandlerError, JoinReply, PeerClient, PeerHandler, PeerStatus,
    TransportConfig, serve,
};
use tokio::sync::{oneshot, watch};

use crate::figure;

const BULK: u64 = 200_000;
const SAMPLES: usize = 2_000;
const SNAPSHOT_BYTES: usize = 64 * 1024 * 1024;
const WAIT: Duration = Duration::from_secs(120);

/// Counts Raft messages and their bytes of entry data; answers forwards at
/// once.
struct Counter {
    seen: watch::Sender<u64>,
}

#[tonic::async_trait]
impl PeerHandler for Counter {
    async fn raft_messages(&self, msgs: Vec<Message>) -> Result<(), HandlerError> {
        let n = msgs.len() as u64;
        self.seen.send_modify(|c| *c += n);
        Ok(())
    }

    async fn forward(&self, _command: Command) -> Result<CommandResponse, HandlerError> {
        Ok(CommandResponse::default())
    }

    async fn join(&self, _server: ServerEntry) -> Result<JoinReply, HandlerError> {
        Err(HandlerError::Invalid(
            "the benchmark takes no members".into(),
        ))
    }

    async fn status(&self) -> Result<PeerStatus, HandlerError> {
        Ok(PeerStatus::default())
    }
}

fn append(index: u64) -> Message {
    let mut entry = Entry {
        index,
        term: 1,
        ..Entry::default()
    };
    entry.set_data(Bytes::from(vec![b'x'; 256]));
    let mut m = Message::default();
    m.set_msg_type(MessageType::MsgAppend);
    m.from = 1;
    m.to = 2;
    m.term = 1;
    m.index = index.saturating_sub(1);
    m.commit = index;
    m.set_entries(vec![entry].into());
    m
}

fn snapshot() -> Message {
    let mut s = Snapshot::default();
    s.set_data(Bytes::from(vec![7u8; SNAPSHOT_BYTES]));
    s.mut_metadata().index = 1;
    s.mut_metadata().term = 1;
    let mut m = Message::default();
    m.set_msg_type(MessageType::MsgSnapshot);
    m.from = 1;
    m.to = 2;
    m.term = 1;
    m.set_snapshot(s);
    m
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(0.0)
}

async fn wait_for(seen: &mut watch::Receiver<u64>, target: u64) -> anyhow::Result<()> {
    tokio::time::timeout(WAIT, seen.wait_for(|c| *c >= target))
        .await
        .context("messages did not arrive in time")?
        .context("listener stopped")?;
    Ok(())
}

/// Runs the benchmark and prints its figures.
pub fn run() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(measure())
}

async fn measure() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let (seen_tx, mut seen) = watch::channel(0u64);
    let handler: Arc<dyn PeerHandler> = Arc::new(Counter { seen: seen_tx });
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, handler, async {
        let _ = stop_rx.await;
    }));

    let transport = GrpcTransport::new(
        tokio::runtime::Handle::current(),
        TransportConfig {
            queue_len: BULK as usize,
            ..TransportConfig::default()
        },
    );
    transport.add_peer(2, &addr);

    // Warm the connection up.
    transport.send(vec![append(0)]);
    wait_for(&mut seen, 1).await?;

    let base = *seen.borrow();
    let start = Instant::now();
    for chunk in (1..=BULK).collect::<Vec<_>>().chunks(256) {
        transport.send(chunk.iter().map(|&i| append(i)).collect());
        tokio::task::yield_now().await;
    }
    let delivered = BULK - transport.dropped();
    wait_for(&mut seen, base + delivered).await?;
    let secs = start.elapsed().as_secs_f64();
    figure(
        "rpc",
        "raft_msgs_per_sec",
        delivered as f64 / secs,
        "msgs/s",
    );

    let mut lat = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES {
        let target = *seen.borrow() + 1;
        let start = Instant::now();
        transport.send(vec![append(BULK + 1 + i as u64)]);
        wait_for(&mut seen, target).await?;
        lat.push(start.elapsed().as_secs_f64() * 1e6);
    }
    lat.sort_by(f64::total_cmp);
    figure("rpc", "raft_delivery_p50_us", percentile(&lat, 0.50), "us");
    figure("rpc", "raft_delivery_p99_us", percentile(&lat, 0.99), "us");

    let snap = snapshot();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let target = *seen.borrow() + 1;
        let start = Instant::now();
        transport.send(vec![snap.clone()]);
        wait_for(&mut seen, target).await?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    figure(
        "rpc",
        "snapshot_mb_per_sec",
        SNAPSHOT_BYTES as f64 / (1024.0 * 1024.0) / best,
        "MiB/s",
    );

    let client = PeerClient::new(ClientConfig::default());
    let command = Command::Noop;
    client.forward(&addr, &command).await?;
    let mut lat = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let start = Instant::now();
        client.forward(&addr, &command).await?;
        lat.push(start.elapsed().as_secs_f64() * 1e6);
    }
    lat.sort_by(f64::total_cmp);
    figure("rpc", "forward_p50_us", percentile(&lat, 0.50), "us");
    figure("rpc", "forward_p99_us", percentile(&lat, 0.99), "us");

    drop(transport);
    let _ = stop_tx.send(());
    tokio::time::timeout(WAIT, server)
        .await
        .context("listener did not stop")??
        .context("listener failed")?;
    Ok(())
}

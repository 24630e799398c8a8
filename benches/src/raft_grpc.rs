//! `raft-grpc`: the `raft` benchmark's three-server figures with the servers
//! talking over gRPC on loopback (`GrpcTransport` and the peer listener)
//! instead of the in-process network; its figures are named
//! `raft.grpc3_*` so they sit beside `raft.cluster3_*`.
//!
//! 64 concurrent writers propose a `JobRegister` command (a service job
//! padded with metadata to about 2 KB, and its evaluation) back to back
//! through the leader for 4 s after a 0.5 s warm-up; real sled storage. A
//! write's latency runs from `propose` to its answer, which comes when the
//! leader has applied it. The state machine only decodes and counts
//! commands, so the figures are consensus plus transport.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use raft::eraftpb::Message;
use sched_server::fsm::{Command, CommandResponse, ServerEntry};
use sched_server::raft::{RaftConfig, RaftError, RaftHandle, SledStorage, Transport, spawn};
use sched_server::rpc::{
    GrpcTransport, HandlerError, JoinReply, PeerHandler, PeerStatus, TransportConfig, serve,
};
use tokio::sync::oneshot;

use crate::figure;
use crate::raft::{CommandCounter, MEASURE, drive_writers, elect, job_register, percentile};

const SERVERS: u64 = 3;

/// Hands peer traffic to the node; the benchmark needs nothing else.
struct NodePeer {
    handle: RaftHandle,
}

fn refusal(err: RaftError) -> HandlerError {
    match err {
        RaftError::NotLeader { leader } => HandlerError::NotLeader { leader },
        RaftError::Timeout => HandlerError::Timeout,
        other => HandlerError::Unavailable(other.to_string()),
    }
}

#[tonic::async_trait]
impl PeerHandler for NodePeer {
    async fn raft_messages(&self, msgs: Vec<Message>) -> Result<(), HandlerError> {
        for msg in msgs {
            self.handle.step(msg).await.map_err(refusal)?;
        }
        Ok(())
    }

    async fn forward(&self, command: Command) -> Result<CommandResponse, HandlerError> {
        self.handle.propose(command.encode()).await.map_err(refusal)
    }

    async fn join(&self, _server: ServerEntry) -> Result<JoinReply, HandlerError> {
        Err(HandlerError::Invalid(
            "the benchmark cluster takes no members".into(),
        ))
    }

    async fn status(&self) -> Result<PeerStatus, HandlerError> {
        let status = self.handle.status();
        Ok(PeerStatus {
            server: ServerEntry {
                raft_id: status.id,
                ..ServerEntry::default()
            },
            leader_id: status.leader_id,
            term: status.term,
        })
    }
}

/// Writes per second, p50 and p99 commit latency in ms.
async fn measure() -> anyhow::Result<(f64, f64, f64)> {
    let mut listeners = Vec::new();
    for _ in 0..SERVERS {
        listeners.push(tokio::net::TcpListener::bind("127.0.0.1:0").await?);
    }
    let addrs: Vec<String> = listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.to_string()))
        .collect::<Result<_, _>>()?;
    let voters: Vec<u64> = (1..=SERVERS).collect();
    let mut dirs = Vec::new();
    let mut handles = Vec::new();
    let mut stops = Vec::new();
    let mut listening = Vec::new();
    for (listener, id) in listeners.into_iter().zip(1u64..) {
        let dir = tempfile::tempdir()?;
        let db = sled::open(dir.path())?;
        let mut storage = SledStorage::open(&db)?;
        storage.initialize(&voters)?;
        let transport = Arc::new(GrpcTransport::new(
            tokio::runtime::Handle::current(),
            TransportConfig::default(),
        ));
        for (peer, addr) in (1u64..).zip(&addrs) {
            if peer != id {
                transport.add_peer(peer, addr);
            }
        }
        let sm = CommandCounter::new();
        let handle = spawn(RaftConfig::new(id), storage, Box::new(sm), transport)?;
        let peer: Arc<dyn PeerHandler> = Arc::new(NodePeer {
            handle: handle.clone(),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        listening.push(tokio::spawn(serve(listener, peer, async {
            let _ = stopped.await;
        })));
        stops.push(stop);
        handles.push(handle);
        dirs.push(dir);
    }

    let first = handles[0].clone();
    elect(&first).await?;
    let (all, failures) = drive_writers(&first, &job_register()).await?;
    for h in &handles {
        h.shutdown().await;
    }
    for stop in stops {
        let _ = stop.send(());
    }
    for l in listening {
        tokio::time::timeout(Duration::from_secs(10), l)
            .await
            .context("listener did not stop")??
            .context("listener failed")?;
    }
    if failures > 0 {
        bail!("{failures} writes failed over gRPC");
    }
    Ok((
        all.len() as f64 / MEASURE.as_secs_f64(),
        percentile(&all, 0.50),
        percentile(&all, 0.99),
    ))
}

/// Runs the benchmark and prints its figures.
pub fn run() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (rate, p50, p99) = runtime.block_on(measure())?;
    figure("raft", "grpc3_writes_per_sec", rate, "writes/s");
    figure("raft", "grpc3_commit_p50_ms", p50, "ms");
    figure("raft", "grpc3_commit_p99_ms", p99, "ms");
    Ok(())
}

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
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use raft::eraftpb::Message;
use sched_core::model::{EvalId, Evaluation};
use sched_scheduler::mock;
use sched_server::fsm::{Command, CommandResponse, ServerEntry};
use sched_server::raft::{
    RaftConfig, RaftError, RaftHandle, Role, SledStorage, StateMachine, Transport, spawn,
};
use sched_server::rpc::{
    GrpcTransport, HandlerError, JoinReply, PeerHandler, PeerStatus, TransportConfig, serve,
};
use tokio::sync::oneshot;

use crate::figure;

const WRITERS: usize = 64;
const WARMUP: Duration = Duration::from_millis(500);
const MEASURE: Duration = Duration::from_secs(4);
const SERVERS: u64 = 3;

/// Decodes every command and counts them.
struct CommandCounter {
    applied: u64,
    commands: u64,
}

impl StateMachine for CommandCounter {
    fn apply(&mut self, index: u64, data: &[u8]) -> CommandResponse {
        self.applied = index;
        let error = match Command::decode(data) {
            Ok(_) => {
                self.commands += 1;
                None
            }
            Err(e) => Some(e.to_string()),
        };
        CommandResponse {
            index,
            error,
            job_version: None,
        }
    }

    fn applied_index(&self) -> u64 {
        self.applied
    }

    fn snapshot(&self) -> Vec<u8> {
        self.commands.to_be_bytes().to_vec()
    }

    fn restore(&mut self, index: u64, data: &[u8]) -> Result<(), String> {
        let bytes: [u8; 8] = data
            .try_into()
            .map_err(|_| "a counter snapshot is 8 bytes".to_string())?;
        self.commands = u64::from_be_bytes(bytes);
        self.applied = index;
        Ok(())
    }
}

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

/// A job registration of about 2 KB, as the HTTP API would propose it.
fn job_register() -> Vec<u8> {
    let mut job = mock::service_job("bench-web", 3, 500, 256);
    job.meta = Some(
        (0..40)
            .map(|i| {
                (
                    format!("meta_key_{i:02}"),
                    format!("value-{i:02}-{}", "x".repeat(16)),
                )
            })
            .collect(),
    );
    let eval = Evaluation {
        id: EvalId::generate(),
        namespace: "default".into(),
        priority: 50,
        r#type: "service".into(),
        triggered_by: "job-register".into(),
        job_id: "bench-web".into(),
        ..Evaluation::default()
    };
    Command::JobRegister {
        job: Box::new(job),
        eval: Some(eval),
        submission: None,
        now: 1_764_460_800_000_000_000,
    }
    .encode()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
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
        let sm = CommandCounter {
            applied: 0,
            commands: 0,
        };
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
    first.campaign().await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut status = first.watch_status();
    while status.borrow().role != Role::Leader {
        if Instant::now() > deadline {
            bail!("no leader within 10 s");
        }
        tokio::time::timeout(Duration::from_millis(200), status.changed())
            .await
            .ok();
    }

    let payload = Arc::new(job_register());
    let start = Instant::now();
    let measure_from = start + WARMUP;
    let stop_at = measure_from + MEASURE;
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let leader = first.clone();
        let payload = payload.clone();
        writers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0u64;
            loop {
                let t0 = Instant::now();
                if t0 >= stop_at {
                    break;
                }
                match leader.propose(payload.to_vec()).await {
                    Ok(resp) if resp.error.is_none() => {
                        let done = Instant::now();
                        if t0 >= measure_from && done <= stop_at {
                            latencies.push((done - t0).as_secs_f64() * 1000.0);
                        }
                    }
                    _ => failures += 1,
                }
            }
            (latencies, failures)
        }));
    }
    let mut all = Vec::new();
    let mut failures = 0;
    for w in writers {
        let (l, f) = w.await.context("writer task")?;
        all.extend(l);
        failures += f;
    }
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
    all.sort_by(f64::total_cmp);
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

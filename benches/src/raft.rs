//! `raft`: how many writes per second the Raft layer commits, and how long
//! each waits, with real sled storage (one fsync per Ready batch).
//!
//! 64 concurrent writers each propose a `JobRegister` command (a service job
//! padded with metadata to about 2 KB, and its evaluation) back to back for
//! a few seconds, through the leader of a single server and of three servers
//! over the in-process network. A write's latency runs from `propose` to its
//! answer, which comes when the leader has applied it. The state machine
//! only decodes and counts commands, so the figures are the consensus
//! layer's own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sched_core::model::{EvalId, Evaluation};
use sched_scheduler::mock;
use sched_server::fsm::{Command, CommandResponse};
use sched_server::raft::{
    MemoryNetwork, RaftConfig, RaftHandle, Role, SledStorage, StateMachine, spawn,
};

use crate::figure;

const BENCH: &str = "raft";
const WRITERS: usize = 64;
const WARMUP: Duration = Duration::from_millis(500);
pub(crate) const MEASURE: Duration = Duration::from_secs(4);

/// Decodes every command and counts them: the cheapest state machine that
/// still touches each entry's bytes.
pub(crate) struct CommandCounter {
    applied: u64,
    commands: u64,
}

impl CommandCounter {
    /// A counter that has applied nothing.
    pub(crate) fn new() -> CommandCounter {
        CommandCounter {
            applied: 0,
            commands: 0,
        }
    }
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

/// A job registration of about 2 KB, as the HTTP API would propose it.
pub(crate) fn job_register() -> Vec<u8> {
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

/// Figures of one run.
struct Outcome {
    writes_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    payload: usize,
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Makes `first` campaign and waits (at most 10 s) until it leads.
pub(crate) async fn elect(first: &RaftHandle) -> anyhow::Result<()> {
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
    Ok(())
}

/// Runs `WRITERS` writers proposing `payload` back to back through `leader`
/// for the warm-up and the measured window; answers the sorted commit
/// latencies (ms) of the writes answered inside the window, and how many
/// writes failed.
pub(crate) async fn drive_writers(
    leader: &RaftHandle,
    payload: &[u8],
) -> anyhow::Result<(Vec<f64>, u64)> {
    let payload: Arc<[u8]> = Arc::from(payload);
    let start = Instant::now();
    let measure_from = start + WARMUP;
    let stop_at = measure_from + MEASURE;
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let leader = leader.clone();
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
                        // Only writes answered inside the window count.
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
    all.sort_by(f64::total_cmp);
    Ok((all, failures))
}

async fn measure(servers: u64) -> anyhow::Result<Outcome> {
    let net = MemoryNetwork::new();
    let voters: Vec<u64> = (1..=servers).collect();
    let mut dirs = Vec::new();
    let mut handles: Vec<RaftHandle> = Vec::new();
    for id in 1..=servers {
        let dir = tempfile::tempdir()?;
        let db = sled::open(dir.path())?;
        let mut storage = SledStorage::open(&db)?;
        storage.initialize(&voters)?;
        let sm = CommandCounter::new();
        let handle = spawn(
            RaftConfig::new(id),
            storage,
            Box::new(sm),
            net.transport(id),
        )?;
        net.attach(id, handle.clone());
        handles.push(handle);
        dirs.push(dir);
    }
    let first = handles[0].clone();
    elect(&first).await?;
    let payload = job_register();
    let (all, failures) = drive_writers(&first, &payload).await?;
    if failures > 0 {
        bail!("{failures} writes failed with {servers} server(s)");
    }
    for h in &handles {
        h.shutdown().await;
    }
    Ok(Outcome {
        writes_per_sec: all.len() as f64 / MEASURE.as_secs_f64(),
        p50_ms: percentile(&all, 0.50),
        p99_ms: percentile(&all, 0.99),
        payload: payload.len(),
    })
}

/// Runs the benchmark.
pub fn run() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    for (name, servers) in [("single", 1), ("cluster3", 3)] {
        let out = runtime.block_on(measure(servers))?;
        figure(
            BENCH,
            &format!("{name}_writes_per_sec"),
            out.writes_per_sec,
            "writes/s",
        );
        figure(BENCH, &format!("{name}_commit_p50_ms"), out.p50_ms, "ms");
        figure(BENCH, &format!("{name}_commit_p99_ms"), out.p99_ms, "ms");
        if servers == 1 {
            figure(BENCH, "payload_bytes", out.payload as f64, "bytes");
        }
    }
    Ok(())
}

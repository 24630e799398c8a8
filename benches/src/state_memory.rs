//! `state-memory`: what 100,000 allocations cost a server's state.
//!
//! Through the real `Fsm` on a sled db in a temporary directory: registers
//! 5,000 nodes and 1,000 jobs (each with its evaluation), then commits
//! 100,000 allocations as 1,000 plan results of 100 each, every allocation
//! carrying allocated CPU, memory, disk and a dynamic port, and a running
//! task state with two events. Reports the resident set (VmRSS from
//! `/proc/self/status`), its growth per allocation, commands applied per
//! second (node and job registrations and plan results together), and the
//! size and time of a Raft snapshot of the whole state.

use std::time::Instant;

use anyhow::Context;
use sched_core::model::{
    AllocId, AllocatedCpuResources, AllocatedMemoryResources, AllocatedPortMapping,
    AllocatedResources, AllocatedSharedResources, AllocatedTaskResources, Allocation, ClientStatus,
    EvalId, EvalStatus, Evaluation, Job, NodeStatus, SmallMap, TaskEvent, TaskState,
};
use sched_scheduler::mock;
use sched_server::fsm::{Command, Fsm};
use sched_server::raft::StateMachine;

use crate::figure;

const NODES: u128 = 5_000;
const JOBS: usize = 1_000;
const ALLOCS_PER_JOB: usize = 100;
/// sled's page cache, as a server would configure it: small, because the
/// state lives in memory and sled only has to hold what it writes.
const SLED_CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// VmRSS of this process in bytes.
fn rss_bytes() -> anyhow::Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .context("no VmRSS line")?;
    Ok(kb * 1024)
}

fn eval(n: usize, job_id: &str, status: EvalStatus) -> Evaluation {
    Evaluation {
        id: EvalId::from_u128(n as u128 + 1),
        namespace: "default".into(),
        job_id: job_id.into(),
        r#type: "service".into(),
        triggered_by: "job-register".into(),
        priority: 50,
        status,
        trace_id: format!("{:032x}", n),
        ..Evaluation::default()
    }
}

fn alloc(n: usize, job: &Job, job_index: usize, node: u128) -> Allocation {
    let job_id = job.id.clone().unwrap_or_default();
    let group = "web";
    let t0 = 1_764_500_000_000_000_000i64 + n as i64;
    let tasks = SmallMap::from([(
        "server".to_string(),
        AllocatedTaskResources {
            cpu: AllocatedCpuResources {
                cpu_shares: 250,
                reserved_cores: vec![],
            },
            memory: AllocatedMemoryResources {
                memory_mb: 256,
                memory_max_mb: 0,
            },
            networks: vec![],
        },
    )]);
    let states = SmallMap::from([(
        "server".to_string(),
        TaskState {
            state: "running".into(),
            started_at: Some("2026-11-30T12:00:00Z".into()),
            events: vec![
                TaskEvent {
                    r#type: "Received".into(),
                    time: t0,
                    display_message: "Task received by client".into(),
                    ..TaskEvent::default()
                },
                TaskEvent {
                    r#type: "Started".into(),
                    time: t0 + 1_000_000,
                    display_message: "Task started by client".into(),
                    ..TaskEvent::default()
                },
            ],
            ..TaskState::default()
        },
    )]);
    Allocation {
        id: AllocId::from_u128(0x000a_110c_0000_0000 + n as u128),
        namespace: "default".into(),
        eval_id: EvalId::from_u128(job_index as u128 + 1),
        name: format!("{job_id}.{group}[{}]", n % ALLOCS_PER_JOB),
        node_id: mock::node(node).id,
        node_name: format!("node-{node}"),
        job_id,
        job: None,
        task_group: group.into(),
        allocated_resources: AllocatedResources {
            tasks,
            shared: AllocatedSharedResources {
                disk_mb: 300,
                networks: vec![],
                ports: vec![AllocatedPortMapping {
                    label: "http".into(),
                    value: 20_000 + (n % 10_000) as i64,
                    to: 8080,
                    host_ip: "10.0.0.1".into(),
                }],
            },
        },
        client_status: ClientStatus::Running,
        client_description: "Tasks are running".into(),
        task_states: states,
        ..Allocation::default()
    }
}

/// Runs the benchmark.
pub fn run() -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("temp dir")?;
    let db = sled::Config::new()
        .path(dir.path())
        .cache_capacity(SLED_CACHE_BYTES)
        .open()
        .context("opening sled")?;
    let (mut fsm, reader) = Fsm::open(&db)?;
    let mut index = 0u64;
    let mut apply_secs = 0.0;
    let mut commands = 0u64;
    let mut apply = |fsm: &mut Fsm, cmd: &Command| -> anyhow::Result<()> {
        let bytes = cmd.encode();
        index += 1;
        let start = Instant::now();
        let r = fsm.apply(index, &bytes);
        apply_secs += start.elapsed().as_secs_f64();
        commands += 1;
        match r.error {
            Some(e) => anyhow::bail!("command at {index} refused: {e}"),
            None => Ok(()),
        }
    };

    for n in 1..=NODES {
        let mut node = mock::node(n);
        node.status = NodeStatus::Ready;
        apply(
            &mut fsm,
            &Command::NodeRegister {
                node: Box::new(node),
                evals: vec![],
                now: 1_764_500_000_000_000_000,
            },
        )?;
    }
    let jobs: Vec<Job> = (0..JOBS)
        .map(|i| mock::service_job(&format!("job-{i:04}"), ALLOCS_PER_JOB as i64, 250, 256))
        .collect();
    for (i, job) in jobs.iter().enumerate() {
        apply(
            &mut fsm,
            &Command::JobRegister {
                job: Box::new(job.clone()),
                eval: Some(eval(
                    i,
                    job.id.as_deref().unwrap_or_default(),
                    EvalStatus::Pending,
                )),
                submission: None,
                now: 1_764_500_000_000_000_000,
            },
        )?;
    }
    let rss_before = rss_bytes()?;
    let mut n = 0usize;
    for (i, job) in jobs.iter().enumerate() {
        let allocs = (0..ALLOCS_PER_JOB)
            .map(|k| {
                n += 1;
                // Spread each job over the nodes the way a bin-packer would.
                let node = ((i * ALLOCS_PER_JOB + k) as u128 % NODES) + 1;
                alloc(n, job, i, node)
            })
            .collect();
        apply(
            &mut fsm,
            &Command::ApplyPlanResult {
                job: Some(Box::new(job.clone())),
                allocs,
                stopped: vec![],
                preempted: vec![],
                deployment: None,
                deployment_updates: vec![],
                evals: vec![eval(
                    i,
                    job.id.as_deref().unwrap_or_default(),
                    EvalStatus::Complete,
                )],
                now: 1_764_500_001_000_000_000,
            },
        )?;
    }
    let rss_after = rss_bytes()?;
    let state = reader.snapshot();
    let allocs = state.allocs("").len();
    anyhow::ensure!(
        allocs == JOBS * ALLOCS_PER_JOB,
        "expected {} allocations, state has {allocs}",
        JOBS * ALLOCS_PER_JOB
    );

    let start = Instant::now();
    let snapshot = fsm.snapshot();
    let snapshot_ms = start.elapsed().as_secs_f64() * 1e3;

    figure("state-memory", "allocs", allocs as f64, "count");
    figure(
        "state-memory",
        "alloc_job_versions",
        state.alloc_job_versions() as f64,
        "count",
    );
    figure(
        "state-memory",
        "rss_mb",
        rss_after as f64 / 1_048_576.0,
        "MB",
    );
    figure(
        "state-memory",
        "bytes_per_alloc",
        rss_after.saturating_sub(rss_before) as f64 / allocs as f64,
        "bytes",
    );
    figure(
        "state-memory",
        "apply_per_sec",
        commands as f64 / apply_secs,
        "commands/s",
    );
    figure(
        "state-memory",
        "allocs_committed_per_sec",
        allocs as f64 / apply_secs,
        "allocs/s",
    );
    figure(
        "state-memory",
        "snapshot_mb",
        snapshot.len() as f64 / 1_048_576.0,
        "MB",
    );
    figure("state-memory", "snapshot_ms", snapshot_ms, "ms");
    Ok(())
}

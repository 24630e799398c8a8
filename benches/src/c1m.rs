//! `c1m`: a C1M-shaped run through the server's real scheduling machinery.
//!
//! One in-process server: a single-voter Raft node with its log on sled,
//! the FSM with its state in the same sled database, the eval broker,
//! blocked evals, two workers running the real scheduler and the plan
//! applier re-checking and committing every plan through Raft. 5,000 nodes register
//! (one command each, proposed concurrently), then 1,000 jobs of 1,000 tasks each (mixed CPU and
//! memory asks drawn from weighted shapes; every tenth job constrained to
//! the large node class) register at once. It reports placements, their
//! rate and the total time from the first job registration until every
//! evaluation is finished, the 99th percentile of a worker's time per
//! evaluation (dequeue to ack), the peak RSS, and checks that no node is
//! overcommitted. `SCHED_C1M_NODES`, `SCHED_C1M_JOBS` and `SCHED_C1M_COUNT`
//! scale it down for slow machines.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sched_core::model::{Allocation, Constraint, EvalId, EvalStatus, Evaluation, Job, Node};
use sched_scheduler::harness::node_fits;
use sched_scheduler::mock;
use sched_server::fsm::{Command, CommandResponse, Fsm};
use sched_server::raft::{MemoryNetwork, RaftConfig, RaftHandle, Role, SledStorage};
use sched_server::scheduling::broker::Clock;
use sched_server::scheduling::raft_cluster::RaftCluster;
use sched_server::scheduling::worker::WorkerConfig;
use sched_server::scheduling::{Cluster, ClusterError, Scheduling, SchedulingConfig};
use sched_server::state::StateSnapshot;
use tokio::sync::watch;

use crate::figure;

const SEED: u64 = 20_261_130;

/// Task shapes (cpu MHz, memory MB) and their weights.
const SHAPES: [(i64, i64, u32); 5] = [
    (20, 32, 30),
    (50, 64, 30),
    (100, 128, 25),
    (200, 256, 10),
    (50, 512, 5),
];

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn wall_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Peak resident set size of this process in MB (Linux), 0 elsewhere.
pub(crate) fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// A single in-process server: state, scheduling machinery, runtime.
pub(crate) struct InProcess {
    pub(crate) rt: tokio::runtime::Runtime,
    pub(crate) cluster: Arc<dyn Cluster>,
    pub(crate) scheduling: Option<Scheduling>,
    raft: RaftHandle,
    shutdown: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

impl InProcess {
    /// A single-voter server whose log and state live in a temp dir,
    /// elected, with `workers`.
    pub(crate) fn start(workers: usize) -> anyhow::Result<InProcess> {
        let dir = tempfile::tempdir().context("temp dir")?;
        let db = sled::open(dir.path().join("server")).context("opening sled")?;
        let (fsm, reader) =
            Fsm::open(&db).map_err(|e| anyhow::anyhow!("opening the state: {e}"))?;
        let mut storage =
            SledStorage::open(&db).map_err(|e| anyhow::anyhow!("raft storage: {e}"))?;
        storage
            .initialize(&[1])
            .map_err(|e| anyhow::anyhow!("bootstrapping raft: {e}"))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("runtime")?;
        let _guard = rt.enter();
        let net = MemoryNetwork::new();
        let raft =
            sched_server::raft::spawn(RaftConfig::new(1), storage, Box::new(fsm), net.transport(1))
                .map_err(|e| anyhow::anyhow!("starting raft: {e}"))?;
        net.attach(1, raft.clone());
        rt.block_on(raft.campaign())
            .map_err(|e| anyhow::anyhow!("campaign: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while raft.status().role != Role::Leader {
            if Instant::now() > deadline {
                anyhow::bail!("the single raft node was not elected");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let cluster = RaftCluster::new(raft.clone(), reader, Clock::new(wall_nanos));
        let leader = cluster.leadership();
        let cluster: Arc<dyn Cluster> = Arc::new(cluster);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let scheduling = Scheduling::start(
            cluster.clone(),
            SchedulingConfig {
                worker: WorkerConfig {
                    workers,
                    ..WorkerConfig::default()
                },
                ..SchedulingConfig::default()
            },
            leader,
            shutdown_rx,
        );
        drop(_guard);
        Ok(InProcess {
            rt,
            cluster,
            scheduling: Some(scheduling),
            raft,
            shutdown,
            _dir: dir,
        })
    }

    /// Proposes commands, up to `concurrency` at a time (Raft commits
    /// concurrent proposals together), failing on the first refusal. With
    /// `retry_timeouts` (for commands that may be applied twice, like node
    /// registrations) a proposal that timed out is proposed again, a few
    /// times at most.
    pub(crate) fn apply_all(
        &self,
        cmds: impl IntoIterator<Item = Command>,
        concurrency: usize,
        retry_timeouts: bool,
    ) -> anyhow::Result<()> {
        let attempts = if retry_timeouts { 4 } else { 1 };
        self.rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for cmd in cmds {
                while set.len() >= concurrency.max(1) {
                    if let Some(r) = set.join_next().await {
                        check(r.context("proposal task")?)?;
                    }
                }
                let c = self.cluster.clone();
                set.spawn(async move {
                    let mut left = attempts;
                    loop {
                        left -= 1;
                        match c.apply(cmd.clone()).await {
                            Err(ClusterError::Timeout) if left > 0 => continue,
                            other => return other,
                        }
                    }
                });
            }
            while let Some(r) = set.join_next().await {
                check(r.context("proposal task")?)?;
            }
            Ok(())
        })
    }

    pub(crate) fn apply(&self, cmd: &Command) -> anyhow::Result<u64> {
        let resp = self.rt.block_on(self.cluster.apply(cmd.clone()));
        check(resp)
    }

    pub(crate) fn register_nodes(
        &self,
        nodes: impl IntoIterator<Item = Node>,
    ) -> anyhow::Result<()> {
        self.apply_all(
            nodes.into_iter().map(|node| Command::NodeRegister {
                node: Box::new(node),
                evals: Vec::new(),
                now: wall_nanos(),
            }),
            64,
            true,
        )
    }

    pub(crate) fn register_jobs(&self, jobs: impl IntoIterator<Item = Job>) -> anyhow::Result<()> {
        self.apply_all(jobs.into_iter().map(job_register), 64, false)
    }

    pub(crate) fn register_job(&self, job: Job) -> anyhow::Result<u64> {
        self.apply(&job_register(job))
    }

    pub(crate) fn state(&self) -> StateSnapshot {
        self.cluster.state().snapshot()
    }

    /// Waits until no eval is pending or held by the broker, at most
    /// `limit`.
    pub(crate) fn wait_idle(&self, limit: Duration) -> anyhow::Result<()> {
        let sched = self.scheduling.as_ref().context("scheduling stopped")?;
        let deadline = Instant::now() + limit;
        let reader = self.cluster.state();
        loop {
            let stats = sched.broker.stats();
            let busy = stats.ready + stats.unacked + stats.pending + stats.delayed;
            if busy == 0
                && !reader
                    .snapshot()
                    .evals("")
                    .iter()
                    .any(|e| e.status == EvalStatus::Pending)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                anyhow::bail!("not idle after {limit:?}: {stats:?}");
            }
            let index = reader.snapshot().index();
            self.rt.block_on(async {
                let _ = reader
                    .wait_for_index(index + 1, Duration::from_millis(200))
                    .await;
            });
        }
    }

    /// Nodes whose live allocations do not fit them.
    pub(crate) fn overcommitted_nodes(&self) -> usize {
        let s = self.state();
        s.nodes("")
            .iter()
            .filter(|n| {
                let allocs = s.allocs_by_node(&n.id);
                let live: Vec<&Allocation> = allocs
                    .iter()
                    .map(|a| a.as_ref())
                    .filter(|a| !a.is_terminal())
                    .collect();
                node_fits(n, &live).is_err()
            })
            .count()
    }

    /// Live allocations in the state.
    pub(crate) fn live_allocs(&self) -> usize {
        self.state()
            .allocs("")
            .iter()
            .filter(|a| !a.is_terminal())
            .count()
    }

    /// The 99th percentile of the workers' recent eval durations.
    pub(crate) fn eval_p99(&self) -> Duration {
        let mut d = self
            .scheduling
            .as_ref()
            .map(|s| s.workers.view().recent)
            .unwrap_or_default();
        if d.is_empty() {
            return Duration::ZERO;
        }
        d.sort_unstable();
        d[((d.len() * 99).div_ceil(100))
            .saturating_sub(1)
            .min(d.len() - 1)]
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(s) = self.scheduling.take() {
            self.rt.block_on(s.join(Duration::from_secs(10)));
        }
        self.rt.block_on(self.raft.shutdown());
    }
}

fn check(resp: Result<CommandResponse, ClusterError>) -> anyhow::Result<u64> {
    let resp = resp.map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(e) = resp.error {
        anyhow::bail!("command refused: {e}");
    }
    Ok(resp.index)
}

/// The command `job run` proposes: the job and its first evaluation.
fn job_register(mut job: Job) -> Command {
    job.canonicalize();
    let now = wall_nanos();
    let eval = Evaluation {
        id: EvalId::generate(),
        namespace: job.namespace.clone().unwrap_or_default(),
        priority: job.priority.unwrap_or(50),
        r#type: job.r#type.clone().unwrap_or_default(),
        triggered_by: "job-register".to_owned(),
        job_id: job.id.clone().unwrap_or_default(),
        status: EvalStatus::Pending,
        create_time: now,
        modify_time: now,
        ..Default::default()
    };
    Command::JobRegister {
        job: Box::new(job),
        eval: Some(eval),
        submission: None,
        now,
    }
}

fn draw(rng: &mut fastrand::Rng) -> (i64, i64) {
    let total: u32 = SHAPES.iter().map(|s| s.2).sum();
    let mut pick = rng.u32(0..total);
    for (cpu, mem, w) in SHAPES {
        if pick < w {
            return (cpu, mem);
        }
        pick -= w;
    }
    (SHAPES[0].0, SHAPES[0].1)
}

/// Node `n`: every fifth is of the large class.
fn node(n: usize) -> Node {
    let large = n.is_multiple_of(5);
    let mut node = if large {
        mock::node_sized(n as u128, 32_000, 65_536)
    } else {
        mock::node_sized(n as u128, 24_000, 49_152)
    };
    if large {
        node.node_class = "large".to_owned();
        node.computed_class = "v1:large".to_owned();
    }
    node
}

fn job(j: usize, count: usize, rng: &mut fastrand::Rng) -> Job {
    let (cpu, mem) = draw(rng);
    let mut job = mock::service_job(&format!("c1m-{j}"), count as i64, cpu, mem);
    if j.is_multiple_of(10) {
        job.constraints = Some(vec![Constraint {
            l_target: Some("${node.class}".to_owned()),
            r_target: Some("large".to_owned()),
            operand: Some("=".to_owned()),
        }]);
    }
    job
}

/// Runs the benchmark.
pub fn run() -> anyhow::Result<()> {
    let nodes = env_or("SCHED_C1M_NODES", 5_000);
    let jobs = env_or("SCHED_C1M_JOBS", 1_000);
    let count = env_or("SCHED_C1M_COUNT", 1_000);
    let server = InProcess::start(2)?;
    server.register_nodes((1..=nodes).map(node))?;
    let mut rng = fastrand::Rng::with_seed(SEED);
    let all: Vec<Job> = (1..=jobs).map(|j| job(j, count, &mut rng)).collect();
    let start = Instant::now();
    server.register_jobs(all)?;
    server.wait_idle(Duration::from_secs(3_600))?;
    let total = start.elapsed().as_secs_f64();
    let placements = server.live_allocs();
    figure("c1m", "nodes", nodes as f64, "nodes");
    figure("c1m", "asked", (jobs * count) as f64, "tasks");
    figure("c1m", "placements", placements as f64, "allocs");
    figure(
        "c1m",
        "placements_per_sec",
        placements as f64 / total,
        "allocs/s",
    );
    figure("c1m", "total_s", total, "s");
    figure(
        "c1m",
        "eval_p99_ms",
        server.eval_p99().as_secs_f64() * 1e3,
        "ms",
    );
    figure("c1m", "peak_rss_mb", peak_rss_mb(), "MB");
    figure(
        "c1m",
        "overcommitted_nodes",
        server.overcommitted_nodes() as f64,
        "count",
    );
    Ok(())
}

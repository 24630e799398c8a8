//! `client-idle`: what a client costs while its tasks just run.
//!
//! A real `Client` (driver host, raw_exec component, alloc and task runners,
//! local state) runs 100 allocations of one `sleep` task each, served by
//! servers kept in memory in this process. Once every task runs, it reports
//! the client process's resident memory (`rss_mb`) and its CPU use over
//! ~10 s from `/proc/self/stat` (`cpu_percent`, of one core; the `sleep`
//! processes are not counted). Goal: under 50 MB and under 1% of a core.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::future::BoxFuture;
use sched_client::driver_host::{DriverHost, HostConfig};
use sched_client::{
    AllocUpdate, Client, ClientConfig, ConnError, HeartbeatResponse, RegisterResponse, ServerConn,
};
use sched_core::model::{
    AllocId, Allocation, DesiredStatus, EvalId, Job, Node, NodeId, RestartPolicy, Task, TaskGroup,
};
use tokio::sync::watch;

use crate::figure;

const BENCH: &str = "client-idle";
const TASKS: usize = 100;
const WINDOW: Duration = Duration::from_secs(10);

/// Servers kept in memory: they hand the client its allocations and take
/// its reports; only the client is measured.
struct InMemoryServers {
    allocs: Mutex<BTreeMap<AllocId, Allocation>>,
    index: watch::Sender<u64>,
    running: Mutex<BTreeMap<AllocId, bool>>,
}

impl InMemoryServers {
    fn put(&self, a: Allocation) {
        if let Ok(mut m) = self.allocs.lock() {
            m.insert(a.id.clone(), a);
        }
        self.index.send_modify(|i| *i += 1);
    }
}

impl ServerConn for InMemoryServers {
    fn register(&self, _node: Node) -> BoxFuture<'_, Result<RegisterResponse, ConnError>> {
        Box::pin(async {
            Ok(RegisterResponse {
                heartbeat_ttl: Duration::from_secs(10),
            })
        })
    }

    fn heartbeat(&self, _node_id: &NodeId) -> BoxFuture<'_, Result<HeartbeatResponse, ConnError>> {
        Box::pin(async {
            Ok(HeartbeatResponse {
                heartbeat_ttl: Duration::from_secs(10),
            })
        })
    }

    fn allocations(
        &self,
        node_id: &NodeId,
        index: u64,
        wait: Duration,
    ) -> BoxFuture<'_, Result<(Vec<Allocation>, u64), ConnError>> {
        let node_id = node_id.clone();
        Box::pin(async move {
            let mut rx = self.index.subscribe();
            let _ = tokio::time::timeout(wait, rx.wait_for(|i| *i > index)).await;
            let now = *self.index.borrow();
            let allocs = self
                .allocs
                .lock()
                .map(|m| {
                    m.values()
                        .filter(|a| a.node_id == node_id)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            Ok((allocs, now))
        })
    }

    fn update_allocs(&self, updates: Vec<AllocUpdate>) -> BoxFuture<'_, Result<(), ConnError>> {
        Box::pin(async move {
            if let Ok(mut r) = self.running.lock() {
                for u in updates {
                    let up = u.task_states.values().all(|s| s.state == "running");
                    r.insert(u.alloc_id, up);
                }
            }
            Ok(())
        })
    }
}

fn sleeper(node: &NodeId, job: &Arc<Job>, n: usize) -> Allocation {
    Allocation {
        id: AllocId::generate(),
        namespace: "default".into(),
        eval_id: EvalId::generate(),
        name: format!("idle.sleepers[{n}]"),
        node_id: node.clone(),
        job_id: "idle".into(),
        job: Some(Arc::clone(job)),
        task_group: "sleepers".into(),
        ..Allocation::default()
    }
}

fn idle_job() -> Job {
    let task = Task {
        name: Some("sleep".into()),
        driver: Some("raw_exec".into()),
        config: Some(
            [
                ("command".to_string(), serde_json::json!("/bin/sleep")),
                ("args".to_string(), serde_json::json!(["3600"])),
            ]
            .into_iter()
            .collect(),
        ),
        ..Task::default()
    };
    Job {
        id: Some("idle".into()),
        r#type: Some("service".into()),
        task_groups: Some(vec![TaskGroup {
            name: Some("sleepers".into()),
            tasks: Some(vec![task]),
            restart_policy: Some(RestartPolicy {
                attempts: Some(0),
                ..RestartPolicy::default()
            }),
            ..TaskGroup::default()
        }]),
        ..Job::default()
    }
}

/// (resident bytes, CPU seconds used) of this process.
fn self_usage() -> anyhow::Result<(u64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("VmRSS in /proc/self/status")?;
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let after = stat.rsplit_once(')').context("/proc/self/stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15; `after` starts at field 3.
    let ticks: u64 = fields
        .get(11..13)
        .context("utime and stime")?
        .iter()
        .map(|f| f.parse::<u64>().unwrap_or(0))
        .sum();
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    Ok((rss_kb * 1024, ticks as f64 / hz))
}

/// Runs the benchmark.
pub fn run() -> anyhow::Result<()> {
    let scratch = tempfile::Builder::new()
        .prefix("sched-bench-client-idle")
        .tempdir()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(measure(scratch.path()))
}

async fn measure(dir: &std::path::Path) -> anyhow::Result<()> {
    let host = DriverHost::new(HostConfig {
        cache_dir: dir.join("cache"),
        ..HostConfig::default()
    })?;
    let servers = Arc::new(InMemoryServers {
        allocs: Mutex::new(BTreeMap::new()),
        index: watch::channel(1).0,
        running: Mutex::new(BTreeMap::new()),
    });
    let config = ClientConfig::new(dir.join("state"), dir.join("alloc"));
    let (_stop_tx, stop_rx) = watch::channel(false);
    let conn: Arc<dyn ServerConn> = Arc::clone(&servers) as Arc<dyn ServerConn>;
    let client = Client::start(config, conn, host, stop_rx).await?;
    let node = client.node_id();
    let job = Arc::new(idle_job());
    let allocs: Vec<Allocation> = (0..TASKS).map(|n| sleeper(&node, &job, n)).collect();
    for a in &allocs {
        servers.put(a.clone());
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let up = servers
            .running
            .lock()
            .map(|r| r.values().filter(|v| **v).count())
            .unwrap_or(0);
        if up == TASKS {
            break;
        }
        if Instant::now() > deadline {
            bail!("only {up} of {TASKS} tasks ran within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let start-up work (sled flushes, first stats) settle.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, cpu0) = self_usage()?;
    let t0 = Instant::now();
    tokio::time::sleep(WINDOW).await;
    let (rss, cpu1) = self_usage()?;
    let wall = t0.elapsed().as_secs_f64();
    figure(BENCH, "rss_mb", rss as f64 / (1024.0 * 1024.0), "MB");
    figure(BENCH, "cpu_percent", 100.0 * (cpu1 - cpu0) / wall, "%");

    // Stop every allocation so no sleeper outlives the benchmark.
    for mut a in allocs {
        a.desired_status = DesiredStatus::Stop;
        servers.put(a);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.allocs().iter().any(|(_, v)| !v.done) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    client.shutdown().await;
    Ok(())
}

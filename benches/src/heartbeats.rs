//! `heartbeats`: what 1,000 nodes heartbeating cost one real server.
//!
//! A `sched_server::server::Server` (Raft on sled, the node gRPC service,
//! the heartbeat timers) runs on its own runtime; 1,000 simulated nodes,
//! each with its own `NodeClient` (so its own connection, as real nodes),
//! register and then heartbeat at half the TTL the server hands them, on a
//! second runtime. The heartbeat pacing is set so they beat often
//! (`max_per_second` 250, so a TTL of 4 s at 1,000 nodes). Over a 15 s
//! window it reports the server's CPU use in percent of one core — the
//! process's CPU time minus the simulated nodes' threads, read from
//! `/proc/self/task/*/stat` — the heartbeat rate, and the heartbeat call
//! latency p50/p99 as the nodes see it. Goal: under 10% of one core.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sched_server::rpc::node::NodeClient;
use sched_server::server::{Server, ServerConfig};
use tokio::sync::Mutex;

use crate::figure;

const BENCH: &str = "heartbeats";
/// Simulated nodes.
const NODES: usize = 1_000;
/// Heartbeats the server aims for per second across all nodes.
const MAX_PER_SECOND: f64 = 250.0;
/// Time after registration before measuring, so every node beats steadily.
const WARMUP: Duration = Duration::from_secs(5);
/// The measured window.
const WINDOW: Duration = Duration::from_secs(15);
/// Thread name of the simulated nodes' runtime (at most 15 bytes, the
/// kernel's limit for `comm`).
const NODE_THREADS: &str = "hb-nodes";

/// CPU seconds used by this process's threads: (all, the simulated nodes').
fn cpu_seconds() -> anyhow::Result<(f64, f64)> {
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let ticks = |stat: &str| -> u64 {
        stat.rsplit_once(')')
            .map(|(_, after)| {
                after
                    .split_whitespace()
                    .skip(11)
                    .take(2)
                    .map(|f| f.parse::<u64>().unwrap_or(0))
                    .sum()
            })
            .unwrap_or(0)
    };
    let all = ticks(&std::fs::read_to_string("/proc/self/stat").context("/proc/self/stat")?);
    let mut nodes = 0;
    for t in std::fs::read_dir("/proc/self/task")?.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() == NODE_THREADS {
            nodes += ticks(&std::fs::read_to_string(t.path().join("stat")).unwrap_or_default());
        }
    }
    Ok((all as f64 / hz, nodes as f64 / hz))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// One simulated node: registers (retrying until the server has a leader),
/// then heartbeats at half its TTL until `until`, recording latencies taken
/// after `measure_from`.
async fn node_loop(
    n: usize,
    client: NodeClient,
    measure_from: Instant,
    until: Instant,
    lat: Arc<Mutex<Vec<Duration>>>,
) -> anyhow::Result<()> {
    let node = sched_scheduler::mock::node(n as u128 + 1);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut ttl = loop {
        match client.register(&node).await {
            Ok(r) => break r.heartbeat_ttl,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(anyhow::anyhow!("node {n} could not register: {e}")),
        }
    };
    // Spread the first beats over the TTL, as nodes started at different times.
    tokio::time::sleep(ttl.mul_f64(fastrand::f64() / 2.0)).await;
    let mut mine = Vec::new();
    while Instant::now() < until {
        let start = Instant::now();
        let r = client.heartbeat(&node.id).await;
        let took = start.elapsed();
        if let Ok(r) = r {
            ttl = r.heartbeat_ttl;
            if start >= measure_from {
                mine.push(took);
            }
        }
        tokio::time::sleep((ttl / 2).saturating_sub(took)).await;
    }
    lat.lock().await.extend(mine);
    Ok(())
}

/// Runs the benchmark.
pub fn run() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("hb-server")
        .enable_all()
        .build()?;
    let nodes_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(NODE_THREADS)
        .enable_all()
        .build()?;
    let mut config = ServerConfig::new(dir.path());
    config.heartbeat.min_ttl = Duration::from_secs(1);
    config.heartbeat.max_per_second = MAX_PER_SECOND;
    let server = server_rt.block_on(async {
        let rpc = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let http: std::net::SocketAddr = "127.0.0.1:0".parse()?;
        anyhow::Ok(Server::start(config, rpc, http).await?)
    })?;
    let addr = server.rpc_addr().to_string();

    let registered_by = Instant::now() + Duration::from_secs(30);
    let measure_from = registered_by + WARMUP;
    let until = measure_from + WINDOW;
    let lat = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..NODES)
        .map(|n| {
            let client = NodeClient::new(vec![addr.clone()]);
            nodes_rt.spawn(node_loop(n, client, measure_from, until, Arc::clone(&lat)))
        })
        .collect();
    // Measure the window once it starts.
    std::thread::sleep(measure_from.saturating_duration_since(Instant::now()));
    let (all0, nodes0) = cpu_seconds()?;
    let t0 = Instant::now();
    std::thread::sleep(until.saturating_duration_since(Instant::now()));
    let (all1, nodes1) = cpu_seconds()?;
    let wall = t0.elapsed().as_secs_f64();
    for t in tasks {
        nodes_rt.block_on(t)??;
    }
    let mut lat = nodes_rt.block_on(async { std::mem::take(&mut *lat.lock().await) });
    lat.sort();
    let server_cpu = ((all1 - all0) - (nodes1 - nodes0)).max(0.0);
    figure(BENCH, "nodes", NODES as f64, "nodes");
    figure(
        BENCH,
        "heartbeats_per_second",
        lat.len() as f64 / wall,
        "/s",
    );
    figure(BENCH, "server_cpu_percent", 100.0 * server_cpu / wall, "%");
    figure(BENCH, "latency_p50", percentile(&lat, 0.5), "ms");
    figure(BENCH, "latency_p99", percentile(&lat, 0.99), "ms");
    server_rt.block_on(server.shutdown());
    Ok(())
}

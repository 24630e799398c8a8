//! `system-100k`: one system job placed on 100,000 nodes through the
//! server's real scheduling machinery (a single-voter Raft node and the FSM
//! on sled, broker, a worker running the system scheduler, the plan
//! applier). Nodes are fingerprint-only
//! (registered, never running anything). It reports the time to register the
//! nodes and the time from registering the job until an allocation is on
//! every node. `SCHED_SYSTEM_NODES` scales it down.

use std::time::{Duration, Instant};

use sched_scheduler::mock;

use crate::c1m::{InProcess, peak_rss_mb};
use crate::figure;

/// Runs the benchmark.
pub fn run() -> anyhow::Result<()> {
    let nodes = std::env::var("SCHED_SYSTEM_NODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000usize);
    let server = InProcess::start(2)?;
    let start = Instant::now();
    server.register_nodes((1..=nodes).map(|n| mock::node(n as u128)))?;
    let registered = start.elapsed().as_secs_f64();
    let start = Instant::now();
    server.register_job(mock::job_of_type("everywhere", "system", 1, 50, 64))?;
    server.wait_idle(Duration::from_secs(3_600))?;
    let placed_in = start.elapsed().as_secs_f64();
    let placements = server.live_allocs();
    figure("system-100k", "nodes", nodes as f64, "nodes");
    figure("system-100k", "register_nodes_s", registered, "s");
    figure("system-100k", "placements", placements as f64, "allocs");
    figure("system-100k", "place_on_every_node_s", placed_in, "s");
    figure("system-100k", "peak_rss_mb", peak_rss_mb(), "MB");
    figure(
        "system-100k",
        "overcommitted_nodes",
        server.overcommitted_nodes() as f64,
        "count",
    );
    Ok(())
}

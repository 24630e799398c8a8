//! `packing`: bin-packing efficiency and speed of the real scheduler.
//!
//! 5,000 nodes of 4,000 MHz and 8,192 MB; tasks drawn (seeded) from
//! weighted shapes are placed one by one, each as its own job and
//! evaluation, through the scheduler and the in-memory plan applier
//! (`Harness`), until the cluster is at 30%, 50% and 70% load (of its
//! scarcer resource). At each load it reports nodes used divided by the
//! lower bound (the larger of total CPU over node CPU and total memory over
//! node memory), for sched's candidate selection (capacity index) and, in
//! the same run, Nomad's (BestFit v3 over `max(2, ceil(log2 N))` shuffled
//! feasible nodes), plus placements per second.

use std::collections::HashSet;
use std::time::Instant;

use sched_scheduler::harness::Harness;
use sched_scheduler::{CandidateSelection, SchedulerConfig, State, mock};

use crate::figure;

const NODES: u128 = 5_000;
const NODE_CPU: i64 = 4_000;
const NODE_MEM: i64 = 8_192;
const SEED: u64 = 20_261_130;
const LOADS: [f64; 3] = [0.30, 0.50, 0.70];

/// Task shapes (cpu MHz, memory MB) and their weights.
const SHAPES: [(i64, i64, u32); 6] = [
    (100, 128, 30),
    (250, 256, 30),
    (500, 512, 20),
    (1000, 1024, 10),
    (250, 2048, 5),
    (2000, 1024, 5),
];

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

/// Figures for one method: (load, ratio, nodes used, lower bound) per
/// level, placements/s, failures.
struct Outcome {
    ratios: Vec<(f64, f64, usize, f64)>,
    rate: f64,
    failed: usize,
}

fn run_method(candidates: CandidateSelection) -> anyhow::Result<Outcome> {
    let mut h = Harness::new();
    for i in 1..=NODES {
        h.upsert_node(mock::node_sized(i, NODE_CPU, NODE_MEM));
    }
    let config = SchedulerConfig {
        candidates,
        now_nanos: Some(0),
        ..SchedulerConfig::default()
    };
    let mut rng = fastrand::Rng::with_seed(SEED);
    let (cluster_cpu, cluster_mem) = (
        (NODES as i64 * NODE_CPU) as f64,
        (NODES as i64 * NODE_MEM) as f64,
    );
    let (mut cpu, mut mem) = (0i64, 0i64);
    let mut ratios = Vec::new();
    let mut failed = 0;
    let mut placements = 0usize;
    let mut elapsed = 0.0;
    let mut task = 0u64;
    for load in LOADS {
        while (cpu as f64 / cluster_cpu).max(mem as f64 / cluster_mem) < load {
            let (c, m) = draw(&mut rng);
            task += 1;
            let job = mock::service_job(&format!("t{task}"), 1, c, m);
            let start = Instant::now();
            h.register_and_run(job, &config)
                .map_err(|e| anyhow::anyhow!("placing task {task}: {e}"))?;
            elapsed += start.elapsed().as_secs_f64();
            if h.allocs_by_job("default", &format!("t{task}")).is_empty() {
                failed += 1;
            } else {
                placements += 1;
                cpu += c;
                mem += m;
            }
        }
        let used: HashSet<_> = h
            .all_allocs()
            .into_iter()
            .filter(|a| !a.is_terminal())
            .map(|a| a.node_id.clone())
            .collect();
        let bound = (cpu as f64 / NODE_CPU as f64)
            .max(mem as f64 / NODE_MEM as f64)
            .ceil();
        ratios.push((load, used.len() as f64 / bound, used.len(), bound));
    }
    h.check_no_overcommit().map_err(|e| anyhow::anyhow!(e))?;
    Ok(Outcome {
        ratios,
        rate: placements as f64 / elapsed,
        failed,
    })
}

/// Runs the benchmark.
pub fn run() -> anyhow::Result<()> {
    for (name, method) in [
        ("sched", CandidateSelection::CapacityIndex),
        ("nomad", CandidateSelection::NomadLimit),
    ] {
        let out = run_method(method)?;
        for (load, ratio, used, bound) in &out.ratios {
            let pct = load * 100.0;
            figure(
                "packing",
                &format!("{name}.nodes_over_bound_at_{pct:.0}pct"),
                *ratio,
                "ratio",
            );
            figure(
                "packing",
                &format!("{name}.nodes_used_at_{pct:.0}pct"),
                *used as f64,
                "nodes",
            );
            figure(
                "packing",
                &format!("{name}.lower_bound_at_{pct:.0}pct"),
                *bound,
                "nodes",
            );
        }
        figure(
            "packing",
            &format!("{name}.placements_per_sec"),
            out.rate,
            "placements/s",
        );
        figure(
            "packing",
            &format!("{name}.failed_placements"),
            out.failed as f64,
            "tasks",
        );
    }
    Ok(())
}

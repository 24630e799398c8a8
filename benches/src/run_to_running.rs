//! `run-to-running`: from `sched run -detach JOB` being invoked to the
//! task's process starting, on a dev agent (the real binary). The task is a
//! one-task raw_exec batch job, `sh -c 'date +%s%N > FILE'`, so the task
//! itself records when it started; the benchmark records when it spawned
//! the CLI, both on the wall clock. A second figure is the time until the
//! server reports the allocation `complete` (that includes the client's
//! exit poll and its status update through Raft).
//!
//! `SCHED_BENCH_RUNS` sets the number of jobs run one after another
//! (default 200). The binary is found as in `agent-start`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

use crate::agent_start::{DevAgent, sched_bin};
use crate::figure;

const BENCH: &str = "run-to-running";
/// The longest one run may take before the benchmark gives up.
const RUN_LIMIT: Duration = Duration::from_secs(60);

fn now_ns() -> anyhow::Result<i128> {
    Ok(i128::try_from(
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos(),
    )?)
}

/// A batch job whose task writes its start time (ns) into `marker`.
fn job_file(dir: &Path, i: usize, marker: &Path) -> anyhow::Result<std::path::PathBuf> {
    let path = dir.join(format!("r2r-{i}.nomad.hcl"));
    let hcl = format!(
        r#"job "r2r-{i}" {{
  datacenters = ["*"]
  type        = "batch"
  group "g" {{
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", "date +%s%N > {marker}"]
      }}
      resources {{
        cpu    = 20
        memory = 16
      }}
    }}
  }}
}}
"#,
        marker = marker.display()
    );
    std::fs::write(&path, hcl)?;
    Ok(path)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs the jobs one after another and prints the figures.
pub fn run() -> anyhow::Result<()> {
    let runs: usize = std::env::var("SCHED_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
        .max(1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let agent = DevAgent::spawn()?;
    rt.block_on(agent.ready(&http))?;
    let bin = sched_bin()?;
    let work = tempfile::tempdir()?;
    let mut to_start = Vec::with_capacity(runs);
    let mut to_complete = Vec::with_capacity(runs);
    for i in 0..runs {
        let marker = work.path().join(format!("started-{i}"));
        let file = job_file(work.path(), i, &marker)?;
        let t0 = now_ns()?;
        let clock = Instant::now();
        let status = Command::new(&bin)
            .args(["run", "-detach"])
            .arg(&file)
            .env("SCHED_ADDR", &agent.addr)
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("sched run -detach failed: {status}");
        }
        let url = format!("{}/v1/job/r2r-{i}/allocations", agent.addr);
        let mut started = None;
        let done = loop {
            if started.is_none()
                && let Ok(text) = std::fs::read_to_string(&marker)
                && let Ok(ns) = text.trim().parse::<i128>()
            {
                started = Some(ns);
            }
            let complete = rt.block_on(async {
                let r = http.get(&url).send().await.ok()?;
                let v: serde_json::Value = r.json().await.ok()?;
                v.as_array()?
                    .iter()
                    .any(|a| a["ClientStatus"] == "complete")
                    .then_some(())
            });
            if complete.is_some() && started.is_some() {
                break clock.elapsed();
            }
            if clock.elapsed() > RUN_LIMIT {
                bail!("run {i} did not complete within {RUN_LIMIT:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let started = started.context("the task wrote its start time")?;
        to_start.push((started - t0) as f64 / 1e6);
        to_complete.push(done.as_secs_f64() * 1000.0);
    }
    to_start.sort_by(f64::total_cmp);
    to_complete.sort_by(f64::total_cmp);
    figure(BENCH, "runs", runs as f64, "count");
    figure(BENCH, "to_task_start_p50", pct(&to_start, 0.5), "ms");
    figure(BENCH, "to_task_start_p99", pct(&to_start, 0.99), "ms");
    figure(BENCH, "to_alloc_complete_p50", pct(&to_complete, 0.5), "ms");
    figure(
        BENCH,
        "to_alloc_complete_p99",
        pct(&to_complete, 0.99),
        "ms",
    );
    Ok(())
}

//! `run-to-running`: from `sched run -detach JOB` being invoked to the
//! task's process starting, on a dev agent (the real binary), for raw_exec
//! and for exec (real isolation). Each run is a one-task batch job whose
//! task records the moment it started (`date +%s%N` into its task dir,
//! read back through `/v1/client/fs/cat`, so the exec sandbox needs no
//! host path) and then sleeps a second; the benchmark records when it
//! spawned the CLI, both on the wall clock. A second figure per driver is
//! the time until the server reports the allocation `running` (the
//! client's status update through Raft included).
//!
//! `SCHED_BENCH_RUNS` sets the number of jobs per driver run one after
//! another (default 200). The binary is found as in `agent-start`.

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

/// A one-task batch job for `driver` whose task writes its start time (ns)
/// into its task dir and sleeps a second.
fn job_file(dir: &Path, driver: &str, i: usize) -> anyhow::Result<std::path::PathBuf> {
    let path = dir.join(format!("r2r-{driver}-{i}.nomad.hcl"));
    let hcl = format!(
        r#"job "r2r-{driver}-{i}" {{
  datacenters = ["*"]
  type        = "batch"
  group "g" {{
    task "t" {{
      driver = "{driver}"
      config {{
        command = "/bin/sh"
        args    = ["-c", "date +%s%N > \"$NOMAD_TASK_DIR/started\"; sleep 1"]
      }}
      resources {{
        cpu    = 20
        memory = 16
      }}
    }}
  }}
}}
"#
    );
    std::fs::write(&path, hcl)?;
    Ok(path)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// What one driver's runs measured, in milliseconds.
struct Timings {
    to_start: Vec<f64>,
    to_running: Vec<f64>,
}

/// Runs the jobs one after another for each driver and prints the figures.
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
    figure(BENCH, "runs", runs as f64, "count");
    for driver in ["raw_exec", "exec"] {
        let mut t = Timings {
            to_start: Vec::with_capacity(runs),
            to_running: Vec::with_capacity(runs),
        };
        for i in 0..runs {
            let file = job_file(work.path(), driver, i)?;
            one_run(&rt, &http, &agent.addr, &bin, &file, driver, i, &mut t)?;
        }
        for (what, times) in [
            ("to_task_start", &mut t.to_start),
            ("to_alloc_running", &mut t.to_running),
        ] {
            times.sort_by(f64::total_cmp);
            for (name, p) in [("p50", 0.5), ("p99", 0.99)] {
                figure(
                    BENCH,
                    &format!("{driver}.{what}_{name}"),
                    pct(times, p),
                    "ms",
                );
            }
        }
    }
    Ok(())
}

/// Submits one job and waits until the server shows its allocation running
/// (or already complete) and the task's start time can be read.
#[allow(clippy::too_many_arguments)]
fn one_run(
    rt: &tokio::runtime::Runtime,
    http: &reqwest::Client,
    addr: &str,
    bin: &Path,
    file: &Path,
    driver: &str,
    i: usize,
    t: &mut Timings,
) -> anyhow::Result<()> {
    let t0 = now_ns()?;
    let clock = Instant::now();
    let status = Command::new(bin)
        .args(["run", "-detach"])
        .arg(file)
        .env("SCHED_ADDR", addr)
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("sched run -detach failed: {status}");
    }
    let url = format!("{addr}/v1/job/r2r-{driver}-{i}/allocations");
    let mut running = None;
    let mut alloc_id = None;
    let started = loop {
        if running.is_none() {
            let seen = rt.block_on(async {
                let r = http.get(&url).send().await.ok()?;
                let v: serde_json::Value = r.json().await.ok()?;
                v.as_array()?
                    .iter()
                    .find(|a| a["ClientStatus"] == "running" || a["ClientStatus"] == "complete")
                    .and_then(|a| a["ID"].as_str().map(str::to_owned))
            });
            if let Some(id) = seen {
                running = Some(clock.elapsed());
                alloc_id = Some(id);
            }
        }
        if let Some(id) = &alloc_id {
            let cat = format!("{addr}/v1/client/fs/cat/{id}?path=t/local/started");
            let ns = rt.block_on(async {
                let r = http.get(&cat).send().await.ok()?;
                if !r.status().is_success() {
                    return None;
                }
                r.text().await.ok()?.trim().parse::<i128>().ok()
            });
            if let Some(ns) = ns {
                break ns;
            }
        }
        if clock.elapsed() > RUN_LIMIT {
            bail!("{driver} run {i} did not start within {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let running = running.context("the allocation was seen running")?;
    t.to_start.push((started - t0) as f64 / 1e6);
    t.to_running.push(running.as_secs_f64() * 1000.0);
    Ok(())
}

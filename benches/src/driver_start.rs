//! `driver-start`: what running drivers as WebAssembly components costs.
//!
//! - `start_direct` vs `start_wasm`: p50/p99 of 1,000 starts of `/bin/true`
//!   with `std::process::Command` and through the raw_exec component's
//!   `start-task` (each task is waited for outside the timed part);
//! - `load_cold` / `load_cached`: loading the raw_exec component by compiling
//!   it, and from the on-disk cache;
//! - `call_info`: instantiating a fresh store and calling `info()`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sched_client::driver_host::{
    CacheOutcome, DriverGrant, DriverHandle, DriverHost, HostConfig, Resources, TaskConfig,
};

use crate::figure;

const BENCH: &str = "driver-start";
const STARTS: usize = 1000;

/// Runs the benchmark.
pub fn run() -> anyhow::Result<()> {
    let scratch =
        std::env::temp_dir().join(format!("sched-bench-driver-start-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    let result = measure(&scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn measure(scratch: &Path) -> anyhow::Result<()> {
    let component =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../drivers/components/raw_exec.wasm");
    let bytes = std::fs::read(&component)
        .with_context(|| format!("reading the raw_exec component {}", component.display()))?;
    let config = |cache: &str| HostConfig {
        cache_dir: scratch.join(cache),
        builtins: false,
        grants: DriverGrant::builtin("raw_exec").into_iter().collect(),
        ..HostConfig::default()
    };

    // Component load: compiled, then from the cache in a new host.
    let cold =
        DriverHost::new(config("cache"))?.load_component("raw_exec", &bytes, "raw_exec.wasm")?;
    if cold.outcome != CacheOutcome::Compiled {
        bail!("the first load was not a compile");
    }
    figure(BENCH, "load_cold", ms(cold.elapsed), "ms");
    let host = DriverHost::new(config("cache"))?;
    let cached = host.load_component("raw_exec", &bytes, "raw_exec.wasm")?;
    if cached.outcome != CacheOutcome::Cached {
        bail!("the second load was not from the cache");
    }
    figure(BENCH, "load_cached", ms(cached.elapsed), "ms");
    let raw_exec = host.driver("raw_exec")?;

    // Instantiate + call.
    let mut calls = Vec::with_capacity(STARTS);
    for _ in 0..STARTS {
        let t = Instant::now();
        raw_exec.info()?;
        calls.push(t.elapsed());
    }
    figure(BENCH, "call_info_p50", ms(pct(&mut calls, 50.0)), "ms");
    figure(BENCH, "call_info_p99", ms(pct(&mut calls, 99.0)), "ms");

    // Starts: direct.
    let mut direct = Vec::with_capacity(STARTS);
    for _ in 0..STARTS {
        let t = Instant::now();
        let mut child = Command::new("/bin/true").spawn()?;
        direct.push(t.elapsed());
        child.wait()?;
    }
    let task_dir = scratch.join("task");
    std::fs::create_dir_all(&task_dir)?;
    // Starts: the same spawn a native driver does (clean environment, task
    // dir, own process group, output appended to the task's log files), so
    // the difference to the WASM path is what the WASM path adds.
    let mut native = Vec::with_capacity(STARTS);
    for i in 0..STARTS {
        let cfg = task(&task_dir, i);
        let t = Instant::now();
        let mut child = native_spawn(&cfg)?;
        native.push(t.elapsed());
        child.wait()?;
    }
    // Starts: through the host.
    let mut wasm = Vec::with_capacity(STARTS);
    for i in 0..STARTS {
        let cfg = task(&task_dir, i);
        let t = Instant::now();
        let handle = raw_exec.start_task(&cfg)?;
        wasm.push(t.elapsed());
        finish(&raw_exec, &handle)?;
    }
    let (d50, d99) = (pct(&mut direct, 50.0), pct(&mut direct, 99.0));
    let (n50, n99) = (pct(&mut native, 50.0), pct(&mut native, 99.0));
    let (w50, w99) = (pct(&mut wasm, 50.0), pct(&mut wasm, 99.0));
    figure(BENCH, "start_direct_p50", ms(d50), "ms");
    figure(BENCH, "start_direct_p99", ms(d99), "ms");
    figure(BENCH, "start_native_p50", ms(n50), "ms");
    figure(BENCH, "start_native_p99", ms(n99), "ms");
    figure(BENCH, "start_wasm_p50", ms(w50), "ms");
    figure(BENCH, "start_wasm_p99", ms(w99), "ms");
    figure(
        BENCH,
        "start_overhead_vs_direct_p50",
        ms(w50.saturating_sub(d50)),
        "ms",
    );
    figure(
        BENCH,
        "start_overhead_vs_native_p50",
        ms(w50.saturating_sub(n50)),
        "ms",
    );
    Ok(())
}

/// What a driver written in Rust inside the client would do to start the task.
fn native_spawn(cfg: &TaskConfig) -> anyhow::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    let append = |p: &str| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
    };
    Ok(Command::new("/bin/true")
        .env_clear()
        .envs(cfg.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&cfg.task_dir)
        .process_group(0)
        .stdout(append(&cfg.stdout_path)?)
        .stderr(append(&cfg.stderr_path)?)
        .spawn()?)
}

fn finish(d: &DriverHandle, h: &sched_client::driver_host::TaskHandle) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while d.wait_task(h, Duration::from_millis(100))?.is_none() {
        if Instant::now() > deadline {
            bail!("/bin/true did not exit");
        }
    }
    d.destroy_task(h, true)?;
    Ok(())
}

fn task(dir: &Path, i: usize) -> TaskConfig {
    let alloc_id = format!("00000000-0000-4000-8000-{i:012}");
    TaskConfig {
        id: format!("{alloc_id}/true"),
        name: "true".into(),
        alloc_id,
        job_id: "bench".into(),
        group_name: "bench".into(),
        driver_config: serde_json::json!({"command": "/bin/true"}).to_string(),
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        user: None,
        task_dir: dir.display().to_string(),
        alloc_dir: dir.display().to_string(),
        stdout_path: dir.join("stdout").display().to_string(),
        stderr_path: dir.join("stderr").display().to_string(),
        resources: Resources {
            cpu_mhz: 100,
            cores: 0,
            memory_mb: 16,
            memory_max_mb: 0,
        },
        ports: vec![],
        network_mode: "host".into(),
        hostname: "bench".into(),
        trace_id: String::new(),
    }
}

/// The `p`th percentile (nearest rank).
fn pct(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

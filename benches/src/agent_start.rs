//! `agent-start`: how long a dev agent (`sched agent -dev`, the real binary)
//! takes from being started to being ready — a leader is known and the
//! agent's own client node is registered and `ready` — and how much memory
//! it holds once idle (`idle_rss_mb`, after a settling window).
//!
//! Each start gets a fresh data directory, so every start also loads (and
//! compiles) the WASM drivers: this is the cold start a user sees.
//! `SCHED_BENCH_AGENT_STARTS` sets the number of starts (default 3). The
//! binary is `target/<profile>/sched` beside this one (build it with
//! `cargo build --release -p sched-cli`) or `SCHED_BIN`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::figure;

const BENCH: &str = "agent-start";
/// The longest a start may take before the benchmark gives up.
const READY_LIMIT: Duration = Duration::from_secs(300);
/// How long the agent idles before its memory is read.
const SETTLE: Duration = Duration::from_secs(10);

/// The `sched` binary to start.
pub fn sched_bin() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("SCHED_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .context("the benchmark binary has a directory")?;
    let bin = dir.join("sched");
    if !bin.exists() {
        bail!(
            "no sched binary at {}: build it with `cargo build --release -p sched-cli` or set SCHED_BIN",
            bin.display()
        );
    }
    Ok(bin)
}

/// A free loopback port (released before the agent binds it).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A dev agent child process in its own temporary directory; killed on drop.
#[derive(Debug)]
pub struct DevAgent {
    child: Child,
    /// Its TMPDIR, removed on drop.
    pub dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`.
    pub addr: String,
    /// When it was spawned.
    pub started: Instant,
}

impl DevAgent {
    /// Spawns `sched agent -dev` on free ports.
    pub fn spawn() -> anyhow::Result<DevAgent> {
        let dir = tempfile::tempdir()?;
        let (http, rpc) = (free_port()?, free_port()?);
        let started = Instant::now();
        let child = Command::new(sched_bin()?)
            .args(["agent", "-dev", "-http-port", &http.to_string()])
            .args(["-rpc-port", &rpc.to_string()])
            .env("TMPDIR", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting sched agent -dev")?;
        Ok(DevAgent {
            child,
            dir,
            addr: format!("http://127.0.0.1:{http}"),
            started,
        })
    }

    /// The agent's process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until a leader is known and a node is ready; returns how long
    /// that took from the spawn.
    pub async fn ready(&self, http: &reqwest::Client) -> anyhow::Result<Duration> {
        let deadline = self.started + READY_LIMIT;
        loop {
            if self.is_ready(http).await {
                return Ok(self.started.elapsed());
            }
            if Instant::now() > deadline {
                bail!("the dev agent was not ready within {READY_LIMIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn is_ready(&self, http: &reqwest::Client) -> bool {
        let get = |path: &str| {
            let url = format!("{}{path}", self.addr);
            async move {
                let r = http.get(url).send().await.ok()?;
                r.json::<serde_json::Value>().await.ok()
            }
        };
        let leader = get("/v1/status/leader").await;
        if leader
            .as_ref()
            .and_then(|l| l.as_str())
            .is_none_or(str::is_empty)
        {
            return false;
        }
        let Some(nodes) = get("/v1/nodes").await else {
            return false;
        };
        nodes
            .as_array()
            .into_iter()
            .flatten()
            .any(|n| n["Status"] == "ready")
    }
}

impl Drop for DevAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of a process, in MB, from `/proc/PID/status`.
fn rss_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("VmRSS in /proc/PID/status")?;
    Ok(kb / 1024.0)
}

/// Starts dev agents one after another and prints the figures.
pub fn run() -> anyhow::Result<()> {
    let starts: usize = std::env::var("SCHED_BENCH_AGENT_STARTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let mut ready = Vec::with_capacity(starts);
    let mut rss = 0.0;
    for i in 0..starts {
        let agent = DevAgent::spawn()?;
        ready.push(rt.block_on(agent.ready(&http))?.as_secs_f64() * 1000.0);
        if i + 1 == starts {
            std::thread::sleep(SETTLE);
            rss = rss_mb(agent.pid())?;
        }
    }
    ready.sort_by(f64::total_cmp);
    figure(BENCH, "starts", starts as f64, "count");
    figure(BENCH, "ready_p50", ready[ready.len() / 2], "ms");
    figure(BENCH, "ready_max", ready[ready.len() - 1], "ms");
    figure(BENCH, "idle_rss_mb", rss, "MB");
    Ok(())
}

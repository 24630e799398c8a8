//! A dev agent started from the real `sched` binary on free loopback ports,
//! in its own temporary directory, killed and cleaned up on drop; and the
//! CLI run against it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long an agent gets to elect itself and register its node (debug
/// builds compile the WASM drivers on first start).
pub const START: Duration = Duration::from_secs(180);

/// A running `sched agent -dev`.
pub struct Agent {
    child: Child,
    /// Its temporary directory (TMPDIR of the agent).
    pub dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`, for SCHED_ADDR.
    pub addr: String,
}

/// A free loopback port (released before the agent binds it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Output bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The repository root (commands run there, as the README's do).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The repository's `jobspecs/` directory.
pub fn jobspecs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../jobspecs")
}

/// Runs `sched ARGS` against `addr`.
pub fn sched_at(addr: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sched"))
        .args(args)
        .env("SCHED_ADDR", addr)
        .env_remove("NOMAD_ADDR")
        .current_dir(repo())
        .stdin(Stdio::null())
        .output()
        .expect("sched runs")
}

/// Polls `f` until it returns `Some` or `limit` passes.
pub fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

impl Agent {
    /// Starts a dev agent and waits until a node is ready.
    pub fn start() -> Agent {
        let dir = tempfile::tempdir().expect("temp dir");
        let (http, rpc) = (free_port(), free_port());
        let log = std::fs::File::create(dir.path().join("agent.log")).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_sched"))
            .args([
                "agent",
                "-dev",
                "-http-port",
                &http.to_string(),
                "-rpc-port",
                &rpc.to_string(),
            ])
            .env("TMPDIR", dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("sched agent runs");
        let agent = Agent {
            child,
            dir,
            addr: format!("http://127.0.0.1:{http}"),
        };
        wait_for(START, "a ready node", || {
            let out = agent.sched(&["node", "status"]);
            text(&out.stdout).contains(" ready").then_some(())
        });
        agent
    }

    /// Runs `sched ARGS` against this agent.
    pub fn sched(&self, args: &[&str]) -> Output {
        sched_at(&self.addr, args)
    }

    /// Runs `sched ARGS`, asserts exit code `code`, returns stdout.
    pub fn expect(&self, code: i32, args: &[&str]) -> String {
        let out = self.sched(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "sched {args:?}\nstdout:\n{}\nstderr:\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// The client status of `job`'s allocations, from `job allocs`.
    pub fn alloc_statuses(&self, job: &str) -> Vec<String> {
        let v: serde_json::Value =
            serde_json::from_str(&self.expect(0, &["job", "allocs", "-json", job]))
                .expect("allocs JSON");
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.get("ClientStatus")?.as_str().map(str::to_owned))
            .collect()
    }

    /// Waits until every allocation of `job` (at least one) has `status`.
    pub fn wait_allocs(&self, job: &str, status: &str) {
        wait_for(Duration::from_secs(120), &format!("{job} {status}"), || {
            let s = self.alloc_statuses(job);
            (!s.is_empty() && s.iter().all(|x| x == status)).then_some(())
        });
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether some process's command line contains `marker`.
pub fn process_with(marker: &str) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .map(|c| text(&c).contains(marker))
            .unwrap_or(false)
    })
}

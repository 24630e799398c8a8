//! What the client black-box tests share: agents run from the binary on
//! free loopback ports and temp dirs (killed when dropped), plain HTTP/1.0
//! calls, jobs turned into JSON by `sched job run -output`, and polling a
//! condition with a deadline.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (released before the agent binds it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running `sched agent`, SIGKILLed when dropped.
pub struct Agent {
    pub child: Child,
    pub http: u16,
    pub rpc: u16,
    pub log: PathBuf,
}

impl Agent {
    /// Starts `sched agent ARGS -bind 127.0.0.1 -http-port H -rpc-port R`,
    /// its output in `log`.
    pub fn start(args: &[&str], http: u16, rpc: u16, log: &Path) -> Agent {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("agent log");
        let child = Command::new(env!("CARGO_BIN_EXE_sched"))
            .arg("agent")
            .args(args)
            .args(["-bind", "127.0.0.1"])
            .args(["-http-port", &http.to_string()])
            .args(["-rpc-port", &rpc.to_string()])
            .stdout(Stdio::from(out.try_clone().expect("log fd")))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("sched runs");
        Agent {
            child,
            http,
            rpc,
            log: log.to_path_buf(),
        }
    }

    /// The agent's output so far, for failure messages.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILLs the agent and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERMs the agent and waits (up to 30 s) for it to exit.
    pub fn terminate(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One HTTP/1.0 request; the status and body, if anything answers.
pub fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// `GET path` answered 200, as JSON.
pub fn get_json(port: u16, path: &str) -> Option<serde_json::Value> {
    match http(port, "GET", path, "")? {
        (200, body) => serde_json::from_str(&body).ok(),
        _ => None,
    }
}

/// Polls `f` every 100 ms until it gives a value or `within` passes.
pub fn wait_for<T>(within: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `sched ARGS`.
pub fn sched(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sched"))
        .args(args)
        .output()
        .expect("sched runs")
}

/// Registers the job in `hcl` through `PUT /v1/jobs`, with the JSON `sched
/// job run -output` gives.
pub fn register(port: u16, dir: &Path, name: &str, hcl: &str) {
    let file = dir.join(format!("{name}.nomad.hcl"));
    std::fs::write(&file, hcl).unwrap();
    let out = sched(&["job", "run", "-output", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = String::from_utf8(out.stdout).unwrap();
    let (status, body) = http(port, "PUT", "/v1/jobs", &json).expect("the API answers");
    assert_eq!(status, 200, "{body}");
}

/// A raw_exec job of one task running `script` under `/bin/sh -c`.
pub fn sh_job(name: &str, kind: &str, count: u32, script: &str) -> String {
    let script = serde_json::to_string(script).unwrap();
    format!(
        r#"job "{name}" {{
  datacenters = ["*"]
  type        = "{kind}"
  group "g" {{
    count = {count}
    restart {{
      attempts = 0
      mode     = "fail"
    }}
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", {script}]
      }}
      resources {{
        cpu    = 20
        memory = 16
      }}
    }}
  }}
}}
"#
    )
}

/// The job's allocations as the API lists them.
pub fn allocs(port: u16, job: &str) -> Vec<serde_json::Value> {
    get_json(port, &format!("/v1/job/{job}/allocations"))
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

/// A field of an API object as a string.
pub fn s(v: &serde_json::Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_string()
}

/// A server agent (`-server -bootstrap-expect 1`) with `extra_hcl` in its
/// config file, waited on until it has a leader.
pub fn server(dir: &Path, extra_hcl: &str) -> Agent {
    let data = dir.join("server");
    let cfg = dir.join("server.hcl");
    std::fs::write(&cfg, extra_hcl).unwrap();
    let a = Agent::start(
        &[
            "-server",
            "-bootstrap-expect",
            "1",
            "-data-dir",
            data.to_str().unwrap(),
            "-config",
            cfg.to_str().unwrap(),
        ],
        free_port(),
        free_port(),
        &dir.join("server.log"),
    );
    wait_for(Duration::from_secs(60), "a leader", || {
        let (st, body) = http(a.http, "GET", "/v1/status/leader", "")?;
        (st == 200 && body.contains(':')).then_some(())
    });
    a
}

/// A client-only agent named `name` talking to `server`, on data dir
/// `dir/name` (kept across restarts) and HTTP port `http`.
pub fn client(dir: &Path, name: &str, server: &Agent, http: u16) -> Agent {
    let data = dir.join(name);
    Agent::start(
        &[
            "-client",
            "-node",
            name,
            "-servers",
            &format!("127.0.0.1:{}", server.rpc),
            "-data-dir",
            data.to_str().unwrap(),
        ],
        http,
        free_port(),
        &dir.join(format!("{name}.log")),
    )
}

/// Waits until the server lists `n` ready nodes.
pub fn wait_nodes_ready(server: &Agent, n: usize) {
    wait_for(Duration::from_secs(90), "nodes ready", || {
        let nodes = get_json(server.http, "/v1/nodes")?;
        let ready = nodes
            .as_array()?
            .iter()
            .filter(|n| n["Status"] == "ready")
            .count();
        (ready >= n).then_some(())
    });
}

/// Kills, when dropped, every task that wrote its pid to `pid` in its
/// alloc dir under `root/<client>/alloc/<alloc>/alloc/`: raw_exec tasks
/// outlive their client agents by design, so a test must end them itself.
pub struct TaskSweeper {
    pub root: PathBuf,
}

impl Drop for TaskSweeper {
    fn drop(&mut self) {
        let Ok(clients) = std::fs::read_dir(&self.root) else {
            return;
        };
        for c in clients.flatten() {
            let Ok(allocs) = std::fs::read_dir(c.path().join("alloc")) else {
                continue;
            };
            for a in allocs.flatten() {
                let pid = std::fs::read_to_string(a.path().join("alloc/pid"))
                    .ok()
                    .and_then(|p| p.trim().parse::<i32>().ok());
                if let Some(pid) = pid {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
    }
}

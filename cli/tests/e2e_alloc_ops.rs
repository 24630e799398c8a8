//! `sched alloc signal | restart | exec | status -stats` on a real dev
//! agent, through the binary as a user runs them: the signal reaches the
//! task, a restart starts a new process in place, exec runs in the task's
//! environment and exits with the command's code, and every bad input is
//! refused with one line and a non-zero exit.

mod e2e_support;

use std::path::Path;
use std::time::Duration;

use e2e_support::{Agent, text, wait_for};

/// A raw_exec service whose shell records its pid on each start and a line
/// on each SIGUSR1, in files under `dir`.
fn trap_job(dir: &Path) -> String {
    let pids = dir.join("pids");
    let got = dir.join("usr1");
    let path = dir.join("ops.nomad.hcl");
    let script = format!(
        "echo $$ >> {pids}; trap 'echo usr1 >> {got}' USR1; while :; do sleep 0.2; done",
        pids = pids.display(),
        got = got.display(),
    );
    let hcl = format!(
        r#"job "ops" {{
  datacenters = ["*"]
  group "g" {{
    task "main" {{
      driver = "raw_exec"
      env {{
        OPS_MARK = "from-the-task"
      }}
      config {{
        command = "/bin/sh"
        args    = ["-c", "{script}"]
      }}
      kill_timeout = "2s"
      resources {{
        cpu    = 50
        memory = 32
      }}
    }}
  }}
}}
"#,
        script = script.replace('"', "\\\""),
    );
    std::fs::write(&path, hcl).expect("write job");
    path.to_string_lossy().into_owned()
}

/// The pids the task recorded, in start order.
fn pids(dir: &Path) -> Vec<u32> {
    std::fs::read_to_string(dir.join("pids"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Whether `pid` is a live (not zombie) process.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

/// Runs `sched ARGS`, asserts it fails with exit code 1 and one line on
/// stderr containing `want`, and no panic.
fn refused(agent: &Agent, args: &[&str], want: &str) {
    let out = agent.sched(args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "sched {args:?}: {err}");
    assert!(!err.contains("panicked"), "sched {args:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "sched {args:?}: {err}");
    assert!(err.contains(want), "sched {args:?}: want {want:?} in {err}");
}

#[test]
fn signal_restart_and_exec_reach_the_running_task() {
    let agent = Agent::start();
    let work = tempfile::tempdir().expect("temp dir");
    let dir = work.path();
    agent.expect(0, &["run", &trap_job(dir)]);
    agent.wait_allocs("ops", "running");
    let allocs: serde_json::Value =
        serde_json::from_str(&agent.expect(0, &["job", "allocs", "-json", "ops"]))
            .expect("allocs JSON");
    let alloc = allocs[0]["ID"].as_str().expect("an alloc ID").to_string();
    let short = &alloc[..8];
    let first = wait_for(Duration::from_secs(30), "the task's first pid", || {
        pids(dir).first().copied()
    });

    // The signal reaches the task's trap, and the task records it.
    agent.expect(0, &["alloc", "signal", "-s", "SIGUSR1", short]);
    wait_for(Duration::from_secs(30), "the trap to run", || {
        dir.join("usr1").exists().then_some(())
    });
    agent.expect(
        0,
        &["alloc", "signal", "-s", "USR1", "-task", "main", short],
    );
    // Task events reach the servers in the client's next batch of updates.
    wait_for(Duration::from_secs(30), "the Signaling event", || {
        let status = agent.expect(0, &["alloc", "status", short]);
        (status.contains("Signaling") && status.contains("Task being sent signal SIGUSR1"))
            .then_some(())
    });
    assert!(alive(first), "a trapped signal leaves the task running");

    // A restart in place: a new process, the old one gone, the event shown.
    agent.expect(0, &["alloc", "restart", short]);
    let second = wait_for(Duration::from_secs(60), "a second start", || {
        pids(dir).get(1).copied()
    });
    assert_ne!(first, second);
    wait_for(Duration::from_secs(30), "the first process to go", || {
        (!alive(first)).then_some(())
    });
    assert!(alive(second));
    wait_for(
        Duration::from_secs(30),
        "the Restart Signaled event",
        || {
            let status = agent.expect(0, &["alloc", "status", short]);
            (status.contains("Restart Signaled")
                && status.contains("User requested restart")
                && status.contains("Total Restarts = 1"))
            .then_some(())
        },
    );
    agent.wait_allocs("ops", "running");
    agent.expect(0, &["alloc", "restart", "-task", "main", short]);
    wait_for(Duration::from_secs(60), "a third start", || {
        (pids(dir).len() >= 3).then_some(())
    });

    // Exec: the command's output and exit code, in the task's environment.
    let out = agent.sched(&[
        "alloc",
        "exec",
        short,
        "/bin/sh",
        "-c",
        "echo out-$OPS_MARK; echo err-line >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out-from-the-task\n");
    assert_eq!(text(&out.stderr), "err-line\n");
    let out = agent.expect(
        0,
        &[
            "alloc", "exec", "-i=false", "-t=false", "-task", "main", short, "echo", "-n", "ok",
        ],
    );
    assert_eq!(out, "ok");

    // Usage from the node.
    wait_for(Duration::from_secs(30), "usage to be sampled", || {
        let s = agent.expect(0, &["alloc", "status", "-stats", short]);
        (s.contains("Task Resources:") && s.contains("Memory RSS")).then_some(())
    });

    // Bad input: one line each, exit 1, nothing changed.
    refused(
        &agent,
        &["alloc", "signal", "-s", "SIGNOPE", short],
        "SIGNOPE",
    );
    refused(
        &agent,
        &["alloc", "signal", "-task", "nope", short],
        "no task \"nope\"",
    );
    refused(
        &agent,
        &["alloc", "restart", "-task", "nope", short],
        "no task \"nope\"",
    );
    refused(
        &agent,
        &["alloc", "exec", "-task", "nope", short, "true"],
        "no task \"nope\"",
    );
    refused(&agent, &["alloc", "signal", "ffffffff"], "no allocation");
    refused(&agent, &["alloc", "restart", "ffffffff"], "no allocation");
    refused(
        &agent,
        &["alloc", "exec", "ffffffff", "true"],
        "no allocation",
    );
    refused(
        &agent,
        &["alloc", "exec", short, "/no/such/binary"],
        "/no/such/binary",
    );
    refused(
        &agent,
        &["alloc", "exec", "-i", short, "true"],
        "interactive exec",
    );
    refused(
        &agent,
        &["alloc", "exec", "-t", short, "true"],
        "streaming driver",
    );
    refused(
        &agent,
        &["alloc", "restart", "-all-tasks", "-task", "main", short],
        "-all-tasks",
    );
    assert_eq!(pids(dir).len(), 3, "no bad request restarted the task");

    // A stopped allocation takes no operation.
    agent.expect(0, &["job", "stop", "ops"]);
    agent.wait_allocs("ops", "complete");
    refused(
        &agent,
        &["alloc", "signal", "-s", "USR1", short],
        "terminal",
    );
    refused(&agent, &["alloc", "restart", short], "terminal");
    refused(&agent, &["alloc", "exec", short, "true"], "terminal");
    let st = agent.expect(0, &["alloc", "status", "-stats", short]);
    assert!(st.contains("complete"), "{st}");
}

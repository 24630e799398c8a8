//! The conformance suite for the built-in `exec` driver: real processes in
//! namespaces, a chroot of the task dir and cgroups, through the
//! `isolated-process` capability. Needs root; skipped loudly without it.
#![allow(clippy::unwrap_used)]

mod conformance;

use conformance::Suite;
use sched_client::driver_host::DriverGrant;

fn suite(_test: &str) -> Option<Suite> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED: the exec driver conformance suite needs root (namespaces, cgroups)");
        return None;
    }
    Some(Suite {
        driver: "exec",
        component: None,
        grant: DriverGrant::builtin("exec").unwrap(),
        long_running: || serde_json::json!({"command": "/bin/sleep", "args": ["300"]}),
        exits_with: |code| serde_json::json!({"command": "/bin/sh", "args": ["-c", format!("exit {code}")]}),
        real_processes: true,
        wait_blocks: true,
        ended_by: conformance::killed_by,
        exec: Some((
            vec![
                "/bin/sh".into(),
                "-c".into(),
                "echo hello from $SCHED_TASK_NAME".into(),
            ],
            "hello from exec",
        )),
    })
}

conformance_tests_where_available!(suite);

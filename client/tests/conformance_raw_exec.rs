//! The conformance suite for the built-in `raw_exec` driver: real processes
//! through the `process` capability.
#![allow(clippy::unwrap_used)]

mod conformance;

use conformance::Suite;
use sched_client::driver_host::DriverGrant;

fn suite() -> Suite {
    Suite {
        driver: "raw_exec",
        component: None,
        grant: DriverGrant::builtin("raw_exec").unwrap(),
        long_running: || serde_json::json!({"command": "sleep", "args": ["300"]}),
        exits_with: |code| serde_json::json!({"command": "/bin/sh", "args": ["-c", format!("exit {code}")]}),
        real_processes: true,
        wait_blocks: true,
        ended_by: conformance::killed_by,
        exec: Some((
            vec![
                "sh".into(),
                "-c".into(),
                "echo hello from $SCHED_TASK_NAME".into(),
            ],
            "hello from exec",
        )),
    }
}

conformance_tests!(suite);

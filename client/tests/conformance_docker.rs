//! The conformance suite for the built-in `docker` driver against the real
//! Docker Engine, with the locally built `sched-busybox:latest` image (no
//! image can be pulled here). Skipped loudly where no engine runs.
#![allow(clippy::unwrap_used)]

mod conformance;
#[allow(dead_code)]
#[path = "support/docker_image.rs"]
mod docker_image;

use conformance::Suite;
use docker_image::busybox_image;
use sched_client::driver_host::DriverGrant;

fn suite(test: &str) -> Option<Suite> {
    busybox_image(test)?;
    Some(Suite {
        driver: "docker",
        component: None,
        grant: DriverGrant::builtin("docker").unwrap(),
        // The container's pid 1 must handle the signals the suite sends.
        long_running: || {
            serde_json::json!({"image": "sched-busybox:latest", "command": "sh",
                "args": ["-c", "trap 'exit 138' USR1; trap 'exit 143' TERM; while true; do sleep 1; done"]})
        },
        exits_with: |code| serde_json::json!({"image": "sched-busybox:latest", "command": "sh", "args": ["-c", format!("exit {code}")]}),
        real_processes: true,
        wait_blocks: false,
        ended_by: |exit, signal| exit.exit_code == 128 + signal,
        exec: Some((
            vec![
                "sh".into(),
                "-c".into(),
                "echo hello from $SCHED_TASK_NAME".into(),
            ],
            "hello from exec",
        )),
    })
}

conformance_tests_where_available!(suite);

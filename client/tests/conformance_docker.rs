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

macro_rules! cases {
    ($($name:ident => $case:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                if let Some(s) = suite(stringify!($name)) {
                    conformance::$case(&s);
                }
            }
        )*
    };
}

cases! {
    info_and_fingerprint => info_and_fingerprint,
    start_and_wait_for_exit_codes => start_and_wait,
    stop_with_timeout_and_signal => stop_with_signal,
    signal_task => signal_task,
    destroy => destroy,
    inspect_and_stats => inspect_and_stats,
    recover_after_host_restart => recover,
    exec_in_task => exec,
    errors_are_reported_not_thrown => errors,
}

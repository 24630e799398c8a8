//! The conformance suite for the `mock` driver (a driver without
//! capabilities that answers from its handle and the host's clock).
#![allow(clippy::unwrap_used)]

mod conformance;

use conformance::Suite;
use sched_client::driver_host::DriverGrant;

fn suite() -> Suite {
    Suite {
        driver: "mock",
        component: Some(conformance::workspace().join("drivers/components/mock.wasm")),
        grant: DriverGrant::none("mock"),
        long_running: || serde_json::json!({"run_for": "1h"}),
        exits_with: |code| serde_json::json!({"exit_code": code}),
        real_processes: false,
        wait_blocks: true,
        ended_by: conformance::killed_by,
        exec: Some((vec!["true".into()], "")),
    }
}

conformance_tests!(suite);

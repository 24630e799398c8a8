//! `hog` (test only): `start-task` allocates (and touches) memory without
//! bound. The host's per-call memory limit must stop it with a trap, without
//! exhausting the client.

use sched_driver_sdk::{
    Driver, DriverError, DriverInfo, ExitResult, TaskConfig, TaskHandle, TaskStatus,
};

include!("../../common.rs");

/// The hog driver.
#[derive(Debug)]
pub struct Hog;

/// One allocation step: 1 MiB.
const CHUNK: usize = 1 << 20;

impl Driver for Hog {
    fn info() -> DriverInfo {
        test_info("hog")
    }

    fn start_task(_task: TaskConfig) -> Result<TaskHandle, DriverError> {
        let mut held: Vec<Vec<u8>> = Vec::new();
        loop {
            held.push(std::hint::black_box(vec![0xa5; CHUNK]));
            std::hint::black_box(&held);
        }
    }

    fn wait_task(_h: TaskHandle, _timeout_ms: u32) -> Result<Option<ExitResult>, DriverError> {
        Ok(None)
    }

    fn stop_task(
        _h: TaskHandle,
        _timeout_ms: u32,
        _signal: Option<String>,
    ) -> Result<(), DriverError> {
        Ok(())
    }

    fn inspect_task(h: TaskHandle) -> Result<TaskStatus, DriverError> {
        Ok(test_status(&h))
    }
}

sched_driver_sdk::export_driver!(Hog);

//! `looper` (test only): `start-task` never returns. The host must cut the
//! call off at its epoch deadline and report the start as failed, without
//! hanging the client.

use sched_driver_sdk::{
    Driver, DriverError, DriverInfo, ExitResult, TaskConfig, TaskHandle, TaskStatus,
};

include!("../../common.rs");

/// The looper driver.
#[derive(Debug)]
pub struct Looper;

impl Driver for Looper {
    fn info() -> DriverInfo {
        test_info("looper")
    }

    fn start_task(_task: TaskConfig) -> Result<TaskHandle, DriverError> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
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

sched_driver_sdk::export_driver!(Looper);

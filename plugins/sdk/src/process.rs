//! The `process` capability: plain child processes (what raw_exec uses).
//!
//! Every call fails with [`DriverError::CapabilityDenied`] when the operator
//! did not grant `process` to the driver.

use crate::bindings::sched::driver::process as raw;
use crate::error::from_host;
use crate::{DriverError, ExecOutput, ExitResult, TaskUsage};

pub use raw::SpawnSpec;

/// Starts a process in its own process group; returns its pid.
pub fn spawn(spec: &SpawnSpec) -> Result<u32, DriverError> {
    raw::spawn(spec).map_err(|e| from_host("process.spawn", e))
}

/// Waits up to `timeout_ms` for `pid` to exit; `None` if it still runs.
pub fn wait(pid: u32, timeout_ms: u32) -> Result<Option<ExitResult>, DriverError> {
    raw::wait(pid, timeout_ms).map_err(|e| from_host("process.wait", e))
}

/// Sends a signal (by name, e.g. "SIGTERM") to the process group of `pid`.
pub fn signal(pid: u32, signal: &str) -> Result<(), DriverError> {
    raw::signal(pid, signal).map_err(|e| from_host("process.signal", e))
}

/// Kills the whole process tree of `pid`.
pub fn kill_tree(pid: u32) -> Result<(), DriverError> {
    raw::kill_tree(pid).map_err(|e| from_host("process.kill-tree", e))
}

/// Usage of `pid` and its children.
pub fn usage(pid: u32) -> Result<TaskUsage, DriverError> {
    raw::usage(pid).map_err(|e| from_host("process.usage", e))
}

/// Whether `pid` still is the process started at `started_at` (Unix ns).
pub fn is_alive(pid: u32, started_at: u64) -> bool {
    raw::is_alive(pid, started_at)
}

/// Runs a command to completion (at most `timeout_ms`) and returns its output.
pub fn run(spec: &SpawnSpec, timeout_ms: u32) -> Result<ExecOutput, DriverError> {
    raw::run(spec, timeout_ms).map_err(|e| from_host("process.run", e))
}

//! The `isolated-process` capability: processes in fresh namespaces, a
//! chroot and cgroup limits (what exec uses). The host does the privileged
//! work; the driver only describes the sandbox with a [`SandboxSpec`].
//!
//! Every call fails with [`DriverError::CapabilityDenied`] when the operator
//! did not grant `isolated-process` to the driver.

use crate::bindings::sched::driver::isolated_process as raw;
use crate::error::from_host;
use crate::process::SpawnSpec;
use crate::{DriverError, ExecOutput, ExitResult, TaskUsage};

pub use raw::{BindMount, SandboxSpec};

/// Starts the process inside the sandbox; returns its pid (host namespace).
pub fn spawn(spec: &SpawnSpec, sandbox: &SandboxSpec) -> Result<u32, DriverError> {
    raw::spawn(spec, sandbox).map_err(|e| from_host("isolated-process.spawn", e))
}

/// Waits up to `timeout_ms` for `pid` to exit; `None` if it still runs.
pub fn wait(pid: u32, timeout_ms: u32) -> Result<Option<ExitResult>, DriverError> {
    raw::wait(pid, timeout_ms).map_err(|e| from_host("isolated-process.wait", e))
}

/// Sends a signal (by name) to the sandboxed process.
pub fn signal(pid: u32, signal: &str) -> Result<(), DriverError> {
    raw::signal(pid, signal).map_err(|e| from_host("isolated-process.signal", e))
}

/// Kills every process in the sandbox and removes its cgroup.
pub fn kill_tree(pid: u32) -> Result<(), DriverError> {
    raw::kill_tree(pid).map_err(|e| from_host("isolated-process.kill-tree", e))
}

/// Usage of the sandbox (its cgroup).
pub fn usage(pid: u32) -> Result<TaskUsage, DriverError> {
    raw::usage(pid).map_err(|e| from_host("isolated-process.usage", e))
}

/// Whether `pid` still is the process started at `started_at` (Unix ns).
pub fn is_alive(pid: u32, started_at: u64) -> bool {
    raw::is_alive(pid, started_at)
}

/// Runs `argv` inside the running sandbox of `pid`.
pub fn exec(
    pid: u32,
    argv: &[String],
    env: &[(String, String)],
    timeout_ms: u32,
) -> Result<ExecOutput, DriverError> {
    raw::exec(pid, argv, env, timeout_ms).map_err(|e| from_host("isolated-process.exec", e))
}

//! The [`Driver`] trait and the adapter that exports it through the
//! wit-bindgen bindings.

use std::marker::PhantomData;

use crate::bindings::exports::sched::driver::driver::Guest;
use crate::{
    DriverError, DriverFingerprint, DriverInfo, ExecOutput, ExitResult, Health, TaskConfig,
    TaskHandle, TaskStatus, TaskUsage,
};

/// A task driver. Each method answers one call of the WIT `driver`
/// interface; export an implementation with [`export_driver!`](crate::export_driver).
///
/// A driver keeps no state between calls: the host may give every call a
/// fresh instance. What a task needs later goes into its [`TaskHandle`]
/// (see [`handle`](crate::handle)), which the client persists and passes back.
///
/// Calls must be short: waits take a timeout and return `None` when it
/// passes; the client polls.
pub trait Driver {
    /// Name, version and capabilities.
    fn info() -> DriverInfo;

    /// JSON schema of the task `config` block. Default: any object.
    fn config_schema() -> String {
        r#"{"type":"object"}"#.to_string()
    }

    /// Whether the driver works on this node. Default: healthy, no attributes.
    fn fingerprint() -> DriverFingerprint {
        DriverFingerprint::healthy("ready", Vec::new())
    }

    /// Starts a task and returns the handle the client persists.
    fn start_task(config: TaskConfig) -> Result<TaskHandle, DriverError>;

    /// Waits up to `timeout_ms` for the task to exit; `None` while it runs.
    fn wait_task(handle: TaskHandle, timeout_ms: u32) -> Result<Option<ExitResult>, DriverError>;

    /// Sends `signal` (default SIGTERM), waits up to `timeout_ms`, then kills.
    fn stop_task(
        handle: TaskHandle,
        timeout_ms: u32,
        signal: Option<String>,
    ) -> Result<(), DriverError>;

    /// Frees what the task held. Default: nothing to free.
    fn destroy_task(handle: TaskHandle, force: bool) -> Result<(), DriverError> {
        let _ = (handle, force);
        Ok(())
    }

    /// What the task is doing.
    fn inspect_task(handle: TaskHandle) -> Result<TaskStatus, DriverError>;

    /// Sends a signal to the task. Default: unsupported.
    fn signal_task(handle: TaskHandle, signal: String) -> Result<(), DriverError> {
        let _ = (handle, signal);
        Err(DriverError::unsupported("this driver cannot signal tasks"))
    }

    /// Runs a command in the task's context. Default: unsupported.
    fn exec_task(
        handle: TaskHandle,
        argv: Vec<String>,
        timeout_ms: u32,
    ) -> Result<ExecOutput, DriverError> {
        let _ = (handle, argv, timeout_ms);
        Err(DriverError::unsupported("this driver cannot exec in tasks"))
    }

    /// Resource usage of the task. Default: unsupported.
    fn task_stats(handle: TaskHandle) -> Result<TaskUsage, DriverError> {
        let _ = handle;
        Err(DriverError::unsupported("this driver reports no usage"))
    }

    /// Re-attaches after a client restart; `not-found` if the task is gone.
    /// Default: unsupported (the client then treats the task as lost).
    fn recover_task(handle: TaskHandle) -> Result<(), DriverError> {
        let _ = handle;
        Err(DriverError::unsupported("this driver cannot recover tasks"))
    }
}

/// Adapts a [`Driver`] to the generated export trait. Used by
/// [`export_driver!`](crate::export_driver); not meant to be named directly.
#[derive(Debug)]
pub struct DriverExport<D>(PhantomData<D>);

impl<D: Driver> Guest for DriverExport<D> {
    fn info() -> DriverInfo {
        D::info()
    }
    fn config_schema() -> String {
        D::config_schema()
    }
    fn fingerprint() -> DriverFingerprint {
        D::fingerprint()
    }
    fn start_task(config: TaskConfig) -> Result<TaskHandle, DriverError> {
        D::start_task(config)
    }
    fn wait_task(handle: TaskHandle, timeout_ms: u32) -> Result<Option<ExitResult>, DriverError> {
        D::wait_task(handle, timeout_ms)
    }
    fn stop_task(
        handle: TaskHandle,
        timeout_ms: u32,
        signal: Option<String>,
    ) -> Result<(), DriverError> {
        D::stop_task(handle, timeout_ms, signal)
    }
    fn destroy_task(handle: TaskHandle, force: bool) -> Result<(), DriverError> {
        D::destroy_task(handle, force)
    }
    fn inspect_task(handle: TaskHandle) -> Result<TaskStatus, DriverError> {
        D::inspect_task(handle)
    }
    fn signal_task(handle: TaskHandle, signal: String) -> Result<(), DriverError> {
        D::signal_task(handle, signal)
    }
    fn exec_task(
        handle: TaskHandle,
        argv: Vec<String>,
        timeout_ms: u32,
    ) -> Result<ExecOutput, DriverError> {
        D::exec_task(handle, argv, timeout_ms)
    }
    fn task_stats(handle: TaskHandle) -> Result<TaskUsage, DriverError> {
        D::task_stats(handle)
    }
    fn recover_task(handle: TaskHandle) -> Result<(), DriverError> {
        D::recover_task(handle)
    }
}

impl DriverFingerprint {
    /// A usable driver with its node attributes.
    pub fn healthy(description: impl Into<String>, attributes: Vec<(String, String)>) -> Self {
        DriverFingerprint {
            health: Health::Healthy,
            description: description.into(),
            attributes,
        }
    }

    /// A driver that cannot work on this node (its dependency is absent).
    pub fn undetected(description: impl Into<String>) -> Self {
        DriverFingerprint {
            health: Health::Undetected,
            description: description.into(),
            attributes: Vec::new(),
        }
    }

    /// A driver whose dependency is present but not working.
    pub fn unhealthy(description: impl Into<String>) -> Self {
        DriverFingerprint {
            health: Health::Unhealthy,
            description: description.into(),
            attributes: Vec::new(),
        }
    }
}

impl ExitResult {
    /// A normal exit with `code`.
    pub fn code(code: i32) -> Self {
        ExitResult {
            exit_code: code,
            signal: 0,
            oom_killed: false,
        }
    }
}

impl TaskUsage {
    /// No usage at `timestamp` (Unix nanoseconds).
    pub fn zero(timestamp: u64) -> Self {
        TaskUsage {
            timestamp,
            cpu_total_ns: 0,
            memory_rss: 0,
            memory_usage: 0,
            pids: 0,
        }
    }
}

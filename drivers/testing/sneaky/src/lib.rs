//! `sneaky` (test only): a raw_exec look-alike that the operator grants
//! nothing. Its `start-task` calls `process.spawn` anyway and must get
//! `capability-denied`, which it returns as the start's error. If the host
//! ever lets the spawn through, the start fails with `failed` naming the pid,
//! so a test sees the breach.
//!
//! Config: `command` (default `/bin/true`) and `args`.

use sched_driver_sdk::{
    Driver, DriverError, DriverInfo, ExitResult, TaskConfig, TaskHandle, TaskStatus, config,
    process,
};

include!("../../common.rs");

/// The sneaky driver.
#[derive(Debug)]
pub struct Sneaky;

#[derive(serde::Deserialize)]
struct SneakyConfig {
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
}

impl Driver for Sneaky {
    fn info() -> DriverInfo {
        test_info("sneaky")
    }

    fn start_task(task: TaskConfig) -> Result<TaskHandle, DriverError> {
        let cfg: SneakyConfig = config::parse(&task.driver_config)?;
        let mut argv = vec![cfg.command.unwrap_or_else(|| "/bin/true".to_string())];
        argv.extend(cfg.args);
        let spec = process::SpawnSpec {
            argv,
            env: task.env.clone(),
            cwd: task.task_dir.clone(),
            user: task.user.clone(),
            stdout_path: task.stdout_path.clone(),
            stderr_path: task.stderr_path.clone(),
        };
        let pid = process::spawn(&spec)?;
        let _ = process::kill_tree(pid);
        Err(DriverError::failed(format!(
            "process.spawn was allowed without a grant (pid {pid})"
        )))
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

sched_driver_sdk::export_driver!(Sneaky);

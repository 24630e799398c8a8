//! `raw_exec`: runs a task's command as a plain child process, without
//! isolation, through the `process` capability (the only one it uses).
//!
//! Config: `command` (required; absolute, or relative to the task dir, or a
//! name looked up in the task's PATH) and `args`. The process runs in the
//! task dir with the task's environment and user, its output appended to the
//! task's stdout/stderr files. The handle keeps the pid and the start time
//! (for `recover-task`), and the cwd, environment and user (for
//! `exec-task`).

use serde::{Deserialize, Serialize};

use sched_driver_sdk::{
    Driver, DriverCapabilities, DriverError, DriverFingerprint, DriverInfo, ExecOutput, ExitResult,
    FsIsolation, TaskConfig, TaskHandle, TaskState, TaskStatus, TaskUsage, clock, config, handle,
    process,
};

/// The driver's name, as jobs write it.
pub const NAME: &str = "raw_exec";
/// Version of the handle state format.
pub const STATE_VERSION: u32 = 1;
/// How long `stop-task` waits for the process after killing it.
const REAP_MS: u32 = 1_000;

/// The task's `config` block.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawExecConfig {
    /// The program to run.
    pub command: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
}

impl RawExecConfig {
    /// Parses and checks the task's `config` block.
    pub fn parse(driver_config: &str) -> Result<Self, DriverError> {
        let cfg: RawExecConfig = config::parse(driver_config)?;
        config::require_non_empty("command", &cfg.command)?;
        Ok(cfg)
    }
}

/// What the handle carries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RawExecState {
    /// The process (and process group) id.
    pub pid: u32,
    /// Unix nanoseconds just before the spawn, for `process.is-alive`.
    pub started_at: u64,
    /// The task dir, the cwd of `exec-task` commands.
    pub cwd: String,
    /// The task's environment, for `exec-task` commands.
    pub env: Vec<(String, String)>,
    /// The user the task runs as.
    pub user: Option<String>,
}

/// The spawn request for `task` with `cfg`.
pub fn spawn_spec(cfg: &RawExecConfig, task: &TaskConfig) -> process::SpawnSpec {
    let mut argv = Vec::with_capacity(cfg.args.len() + 1);
    argv.push(cfg.command.clone());
    argv.extend(cfg.args.iter().cloned());
    process::SpawnSpec {
        argv,
        env: task.env.clone(),
        cwd: task.task_dir.clone(),
        user: task.user.clone(),
        stdout_path: task.stdout_path.clone(),
        stderr_path: task.stderr_path.clone(),
    }
}

/// The request for a command run by `exec-task`. Its output is captured
/// (returned in `exec-output`), so it names no log files.
pub fn exec_spec(state: &RawExecState, argv: Vec<String>) -> process::SpawnSpec {
    process::SpawnSpec {
        argv,
        env: state.env.clone(),
        cwd: state.cwd.clone(),
        user: state.user.clone(),
        stdout_path: String::new(),
        stderr_path: String::new(),
    }
}

/// Whether the task has exited, waiting up to `timeout_ms`. A pid that is
/// not the host's child (after a client restart) cannot be waited for, so
/// its liveness is polled on the clock instead.
fn wait_exit(state: &RawExecState, timeout_ms: u32) -> Result<bool, DriverError> {
    match process::wait(state.pid, timeout_ms) {
        Ok(exit) => Ok(exit.is_some()),
        Err(DriverError::CapabilityDenied(m)) => Err(DriverError::CapabilityDenied(m)),
        Err(_) => {
            let deadline = clock::now().saturating_add(u64::from(timeout_ms) * 1_000_000);
            loop {
                if !process::is_alive(state.pid, state.started_at) {
                    return Ok(true);
                }
                if clock::now() >= deadline {
                    return Ok(false);
                }
                std::hint::spin_loop();
            }
        }
    }
}

fn state_of(h: &TaskHandle) -> Result<RawExecState, DriverError> {
    handle::decode(h, NAME, STATE_VERSION)
}

/// The raw_exec driver.
#[derive(Debug)]
pub struct RawExec;

impl Driver for RawExec {
    fn info() -> DriverInfo {
        DriverInfo {
            name: NAME.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            capabilities: DriverCapabilities {
                send_signals: true,
                exec: true,
                fs_isolation: FsIsolation::None,
                network_modes: vec!["host".into()],
            },
        }
    }

    fn config_schema() -> String {
        include_str!("schema.json").to_string()
    }

    fn fingerprint() -> DriverFingerprint {
        // A read-only probe: an ungranted capability answers capability-denied.
        match process::usage(0) {
            Err(DriverError::CapabilityDenied(_)) => {
                DriverFingerprint::undetected("the process capability is not granted")
            }
            _ => DriverFingerprint::healthy("raw_exec", Vec::new()),
        }
    }

    fn start_task(task: TaskConfig) -> Result<TaskHandle, DriverError> {
        let cfg = RawExecConfig::parse(&task.driver_config)?;
        let spec = spawn_spec(&cfg, &task);
        let started_at = clock::now();
        let pid = process::spawn(&spec)?;
        let state = RawExecState {
            pid,
            started_at,
            cwd: spec.cwd,
            env: spec.env,
            user: spec.user,
        };
        handle::encode(&task.id, NAME, STATE_VERSION, &state)
    }

    fn wait_task(h: TaskHandle, timeout_ms: u32) -> Result<Option<ExitResult>, DriverError> {
        let state = state_of(&h)?;
        process::wait(state.pid, timeout_ms)
    }

    fn stop_task(
        h: TaskHandle,
        timeout_ms: u32,
        signal: Option<String>,
    ) -> Result<(), DriverError> {
        let state = state_of(&h)?;
        if wait_exit(&state, 0)? {
            return Ok(());
        }
        let signal = signal
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "SIGTERM".to_string());
        if let Err(e) = process::signal(state.pid, &signal) {
            // It may have exited between the two calls.
            return if wait_exit(&state, 0)? {
                Ok(())
            } else {
                Err(e)
            };
        }
        if !wait_exit(&state, timeout_ms)? {
            process::kill_tree(state.pid)?;
            let _ = process::wait(state.pid, REAP_MS);
        }
        Ok(())
    }

    fn destroy_task(h: TaskHandle, force: bool) -> Result<(), DriverError> {
        let state = state_of(&h)?;
        if process::is_alive(state.pid, state.started_at) {
            if !force {
                return Err(DriverError::failed(format!(
                    "task {} is still running (pid {}); stop it or destroy with force",
                    h.id, state.pid
                )));
            }
            process::kill_tree(state.pid)?;
            let _ = process::wait(state.pid, REAP_MS);
        }
        Ok(())
    }

    fn inspect_task(h: TaskHandle) -> Result<TaskStatus, DriverError> {
        let state = state_of(&h)?;
        let (task_state, exit) = match process::wait(state.pid, 0) {
            Ok(Some(exit)) => (TaskState::Exited, Some(exit)),
            Ok(None) => (TaskState::Running, None),
            // Not the host's child (e.g. after a client restart).
            Err(_) if process::is_alive(state.pid, state.started_at) => (TaskState::Running, None),
            Err(_) => (TaskState::Unknown, None),
        };
        Ok(TaskStatus {
            id: h.id.clone(),
            state: task_state,
            started_at: state.started_at,
            // The exit time is not kept; the time of this answer bounds it.
            completed_at: if task_state == TaskState::Running {
                0
            } else {
                clock::now()
            },
            exit,
            attributes: vec![("pid".to_string(), state.pid.to_string())],
        })
    }

    fn signal_task(h: TaskHandle, signal: String) -> Result<(), DriverError> {
        let state = state_of(&h)?;
        process::signal(state.pid, &signal)
    }

    fn exec_task(
        h: TaskHandle,
        argv: Vec<String>,
        timeout_ms: u32,
    ) -> Result<ExecOutput, DriverError> {
        let state = state_of(&h)?;
        if argv.first().is_none_or(|a| a.is_empty()) {
            return Err(DriverError::invalid_config("argv", "no command given"));
        }
        process::run(&exec_spec(&state, argv), timeout_ms)
    }

    fn task_stats(h: TaskHandle) -> Result<TaskUsage, DriverError> {
        let state = state_of(&h)?;
        process::usage(state.pid)
    }

    fn recover_task(h: TaskHandle) -> Result<(), DriverError> {
        let state = state_of(&h)?;
        if process::is_alive(state.pid, state.started_at) {
            Ok(())
        } else {
            Err(DriverError::not_found(format!(
                "task {}: pid {} is gone",
                h.id, state.pid
            )))
        }
    }
}

sched_driver_sdk::export_driver!(RawExec);

#[cfg(test)]
mod tests {
    use super::*;
    use sched_driver_sdk::Resources;

    fn task(driver_config: &str) -> TaskConfig {
        TaskConfig {
            id: "a1/web".into(),
            name: "web".into(),
            alloc_id: "a1".into(),
            job_id: "j".into(),
            group_name: "g".into(),
            driver_config: driver_config.into(),
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            user: Some("nobody".into()),
            task_dir: "/data/alloc/a1/web".into(),
            alloc_dir: "/data/alloc/a1/alloc".into(),
            stdout_path: "/data/alloc/a1/alloc/logs/web.stdout.0".into(),
            stderr_path: "/data/alloc/a1/alloc/logs/web.stderr.0".into(),
            resources: Resources {
                cpu_mhz: 100,
                cores: 0,
                memory_mb: 64,
                memory_max_mb: 0,
            },
            ports: Vec::new(),
            network_mode: "host".into(),
            hostname: "web-1".into(),
            trace_id: "t".into(),
        }
    }

    #[test]
    fn config_needs_a_command() {
        let e = RawExecConfig::parse("{}").unwrap_err();
        assert_eq!(
            e,
            DriverError::InvalidConfig("command: missing field".into())
        );
        let e = RawExecConfig::parse(r#"{"command":" "}"#).unwrap_err();
        assert!(e.message().starts_with("command:"));
        let e = RawExecConfig::parse(r#"{"command":"x","args":"-v"}"#).unwrap_err();
        assert!(e.message().starts_with("args:"), "{e:?}");
    }

    #[test]
    fn builds_the_spawn_spec() {
        let t = task(r#"{"command":"/bin/sleep","args":["10"]}"#);
        let cfg = RawExecConfig::parse(&t.driver_config).unwrap();
        let spec = spawn_spec(&cfg, &t);
        assert_eq!(spec.argv, vec!["/bin/sleep".to_string(), "10".to_string()]);
        assert_eq!(spec.cwd, t.task_dir);
        assert_eq!(spec.user.as_deref(), Some("nobody"));
        assert_eq!(spec.stdout_path, t.stdout_path);
        assert_eq!(spec.env, t.env);
    }

    #[test]
    fn handle_state_round_trips() {
        let state = RawExecState {
            pid: 4242,
            started_at: 1_700_000_000_000_000_000,
            cwd: "/t".into(),
            env: vec![("A".into(), "b".into())],
            user: None,
        };
        let h = handle::encode("a1/web", NAME, STATE_VERSION, &state).unwrap();
        assert_eq!(h.version, STATE_VERSION);
        assert_eq!(state_of(&h).unwrap(), state);
        let spec = exec_spec(&state, vec!["ls".into()]);
        assert_eq!(spec.cwd, "/t");
        assert!(spec.stdout_path.is_empty());
    }
}

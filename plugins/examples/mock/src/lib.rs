//! `mock`: a task driver for tests, written only against the sched driver SDK.
//!
//! A mock task runs nothing. It exists on the host's clock: `start-task`
//! records the start time and the configured run time in the handle, and
//! `wait-task` / `inspect-task` answer from `clock.now`, so the task has
//! exited once `now >= started_at + run_for`. The driver needs no
//! capability, which makes it the test suites' driver wherever speed matters.
//!
//! Config (all optional):
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `run_for` | duration (`"10s"`, `"250ms"`) | how long the task runs (default 0: exits at once) |
//! | `exit_code` | int | exit code when it ends (default 0) |
//! | `exit_signal` | int | signal it reports when it ends (default 0) |
//! | `start_error` | string | `start-task` fails with this message |
//! | `start_block_for` | duration | `start-task` takes this long before answering |
//! | `kill_after` | duration | how long the task takes to stop after the stop signal |
//! | `stdout_string` / `stderr_string` | string | written once to the task's stdout / stderr |
//!
//! Limits of a driver without capabilities:
//! - output strings are written by a `/bin/sh printf` through the `process`
//!   capability, and only when the operator granted it; otherwise they are
//!   skipped (logged at debug level);
//! - blocking (`start_block_for`, `kill_after`) spins on the clock, so it is
//!   bounded by the host's per-call deadline;
//! - the driver keeps no state between calls: `stop-task` returns once the
//!   task would have stopped, but `wait-task` keeps answering from the clock.
//!   The client treats a successful `stop-task` as the task's end;
//! - `wait-task` never blocks: it answers at once and the client polls.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use sched_driver_sdk::{
    Driver, DriverCapabilities, DriverError, DriverFingerprint, DriverInfo, ExecOutput, ExitResult,
    FsIsolation, TaskConfig, TaskHandle, TaskState, TaskStatus, TaskUsage, clock, config, duration,
    handle, log, process,
};

/// The driver's name, as jobs write it.
pub const NAME: &str = "mock";
/// Version of the handle state format.
pub const STATE_VERSION: u32 = 1;

/// The task's `config` block.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MockConfig {
    /// How long the task runs.
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    pub run_for: Option<Duration>,
    /// Exit code when it ends.
    #[serde(default)]
    pub exit_code: i32,
    /// Signal reported when it ends.
    #[serde(default)]
    pub exit_signal: i32,
    /// `start-task` fails with this message.
    #[serde(default)]
    pub start_error: Option<String>,
    /// `start-task` takes this long.
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    pub start_block_for: Option<Duration>,
    /// How long the task takes to stop after the stop signal.
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    pub kill_after: Option<Duration>,
    /// Written once to the task's stdout (needs the `process` capability).
    #[serde(default)]
    pub stdout_string: Option<String>,
    /// Written once to the task's stderr (needs the `process` capability).
    #[serde(default)]
    pub stderr_string: Option<String>,
}

/// What the handle carries: everything `wait-task` needs to answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MockState {
    /// Unix nanoseconds at start.
    pub started_at: u64,
    /// Run time in nanoseconds.
    pub run_for_ns: u64,
    /// Exit code when it ends.
    pub exit_code: i32,
    /// Signal reported when it ends.
    pub exit_signal: i32,
    /// Stop time after the stop signal, in nanoseconds.
    pub kill_after_ns: u64,
}

impl MockState {
    /// The state of a task started at `now` with `cfg`.
    pub fn new(cfg: &MockConfig, now: u64) -> Self {
        MockState {
            started_at: now,
            run_for_ns: cfg.run_for.map_or(0, duration::to_nanos_u64),
            exit_code: cfg.exit_code,
            exit_signal: cfg.exit_signal,
            kill_after_ns: cfg.kill_after.map_or(0, duration::to_nanos_u64),
        }
    }

    /// Unix nanoseconds at which the task ends.
    pub fn ends_at(&self) -> u64 {
        self.started_at.saturating_add(self.run_for_ns)
    }

    /// How the task ended, if it has by `now`.
    pub fn exit_at(&self, now: u64) -> Option<ExitResult> {
        (now >= self.ends_at()).then_some(ExitResult {
            exit_code: self.exit_code,
            signal: self.exit_signal,
            oom_killed: false,
        })
    }

    /// The task's status at `now`.
    pub fn status_at(&self, id: &str, now: u64) -> TaskStatus {
        let exit = self.exit_at(now);
        TaskStatus {
            id: id.to_string(),
            state: if exit.is_some() {
                TaskState::Exited
            } else {
                TaskState::Running
            },
            started_at: self.started_at,
            completed_at: if exit.is_some() { self.ends_at() } else { 0 },
            exit,
            attributes: vec![("run_for_ns".to_string(), self.run_for_ns.to_string())],
        }
    }
}

/// Busy-waits on the host's clock (a sandbox cannot sleep).
fn spin_for(d: Duration) {
    let until = clock::now().saturating_add(duration::to_nanos_u64(d));
    while clock::now() < until {
        std::hint::spin_loop();
    }
}

/// Writes the output strings through `process`, when it was granted.
fn write_output(cfg: &MockConfig, task: &TaskConfig) {
    if cfg.stdout_string.is_none() && cfg.stderr_string.is_none() {
        return;
    }
    let spec = process::SpawnSpec {
        argv: vec![
            "/bin/sh".to_string(),
            "-c".to_string(),
            r#"printf '%s' "$MOCK_STDOUT"; printf '%s' "$MOCK_STDERR" >&2"#.to_string(),
        ],
        env: vec![
            (
                "MOCK_STDOUT".to_string(),
                cfg.stdout_string.clone().unwrap_or_default(),
            ),
            (
                "MOCK_STDERR".to_string(),
                cfg.stderr_string.clone().unwrap_or_default(),
            ),
        ],
        cwd: task.task_dir.clone(),
        user: None,
        stdout_path: task.stdout_path.clone(),
        stderr_path: task.stderr_path.clone(),
    };
    match process::spawn(&spec) {
        Ok(pid) => {
            let _ = process::wait(pid, 1_000);
        }
        Err(e) => log::debug(
            "mock: output skipped",
            &[("task", &task.id), ("reason", e.message())],
        ),
    }
}

fn state_of(h: &TaskHandle) -> Result<MockState, DriverError> {
    handle::decode(h, NAME, STATE_VERSION)
}

/// The mock driver.
#[derive(Debug)]
pub struct Mock;

impl Driver for Mock {
    fn info() -> DriverInfo {
        DriverInfo {
            name: NAME.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            capabilities: DriverCapabilities {
                send_signals: true,
                exec: true,
                fs_isolation: FsIsolation::None,
                network_modes: vec!["host".into(), "bridge".into(), "none".into()],
            },
        }
    }

    fn config_schema() -> String {
        include_str!("schema.json").to_string()
    }

    fn fingerprint() -> DriverFingerprint {
        DriverFingerprint::healthy(
            "mock driver",
            vec![("version".to_string(), env!("CARGO_PKG_VERSION").to_string())],
        )
    }

    fn start_task(task: TaskConfig) -> Result<TaskHandle, DriverError> {
        let cfg: MockConfig = config::parse(&task.driver_config)?;
        if let Some(d) = cfg.start_block_for {
            spin_for(d);
        }
        if let Some(msg) = &cfg.start_error {
            return Err(DriverError::failed(msg.clone()));
        }
        let state = MockState::new(&cfg, clock::now());
        write_output(&cfg, &task);
        handle::encode(&task.id, NAME, STATE_VERSION, &state)
    }

    fn wait_task(h: TaskHandle, _timeout_ms: u32) -> Result<Option<ExitResult>, DriverError> {
        Ok(state_of(&h)?.exit_at(clock::now()))
    }

    fn stop_task(
        h: TaskHandle,
        timeout_ms: u32,
        _signal: Option<String>,
    ) -> Result<(), DriverError> {
        let state = state_of(&h)?;
        if state.exit_at(clock::now()).is_none() && state.kill_after_ns > 0 {
            let graceful = Duration::from_nanos(state.kill_after_ns);
            spin_for(graceful.min(Duration::from_millis(u64::from(timeout_ms))));
        }
        Ok(())
    }

    fn inspect_task(h: TaskHandle) -> Result<TaskStatus, DriverError> {
        Ok(state_of(&h)?.status_at(&h.id, clock::now()))
    }

    fn signal_task(h: TaskHandle, _signal: String) -> Result<(), DriverError> {
        state_of(&h).map(|_| ())
    }

    fn exec_task(
        h: TaskHandle,
        _argv: Vec<String>,
        _timeout_ms: u32,
    ) -> Result<ExecOutput, DriverError> {
        state_of(&h)?;
        Ok(ExecOutput {
            stdout: Vec::new(),
            stderr: Vec::new(),
            exit: ExitResult::code(0),
        })
    }

    fn task_stats(h: TaskHandle) -> Result<TaskUsage, DriverError> {
        let state = state_of(&h)?;
        let now = clock::now();
        let mut usage = TaskUsage::zero(now);
        if state.exit_at(now).is_none() {
            usage.pids = 1;
        }
        Ok(usage)
    }

    fn recover_task(h: TaskHandle) -> Result<(), DriverError> {
        state_of(&h).map(|_| ())
    }
}

sched_driver_sdk::export_driver!(Mock);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_config() {
        let cfg: MockConfig = config::parse(
            r#"{"run_for":"250ms","exit_code":3,"exit_signal":9,"kill_after":"1s","stdout_string":"hi"}"#,
        )
        .unwrap();
        assert_eq!(cfg.run_for, Some(Duration::from_millis(250)));
        assert_eq!(cfg.exit_code, 3);
        assert_eq!(cfg.kill_after, Some(Duration::from_secs(1)));
        assert_eq!(
            config::parse::<MockConfig>("").unwrap(),
            MockConfig::default()
        );
        let err = config::parse::<MockConfig>(r#"{"run_for":"soon"}"#).unwrap_err();
        assert!(err.message().starts_with("run_for:"), "{err:?}");
        let err = config::parse::<MockConfig>(r#"{"exit_code":"x"}"#).unwrap_err();
        assert!(err.message().starts_with("exit_code:"), "{err:?}");
    }

    #[test]
    fn answers_from_the_clock() {
        let cfg: MockConfig = config::parse(r#"{"run_for":"10s","exit_code":2}"#).unwrap();
        let s = MockState::new(&cfg, 1_000);
        assert_eq!(s.exit_at(1_000), None);
        assert_eq!(s.status_at("a/t", 5_000).state, TaskState::Running);
        let end = 1_000 + 10_000_000_000;
        assert_eq!(s.exit_at(end), Some(ExitResult::code(2)));
        let st = s.status_at("a/t", end + 1);
        assert_eq!(st.state, TaskState::Exited);
        assert_eq!(st.completed_at, end);
    }

    #[test]
    fn handle_round_trips() {
        let s = MockState::new(&MockConfig::default(), 42);
        let h = handle::encode("a/t", NAME, STATE_VERSION, &s).unwrap();
        assert_eq!(state_of(&h).unwrap(), s);
        let schema: serde_json::Value = serde_json::from_str(&Mock::config_schema()).unwrap();
        assert!(schema["properties"]["run_for"].is_object());
    }
}

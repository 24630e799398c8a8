//! `exec`: runs a task's command isolated, through the `isolated-process`
//! capability (the only one it uses). The driver describes the sandbox as
//! Nomad's exec driver builds it; the host does the privileged work.
//!
//! - root: the task dir, so its `local/`, `secrets/` and `tmp/` appear as
//!   `/local`, `/secrets` and `/tmp`;
//! - read-only binds of the system directories ([`SYSTEM_DIRS`]; the host
//!   skips those that do not exist on the node) and the alloc dir at `/alloc`
//!   read-write;
//! - hostname from the task config, a new network namespace when the
//!   group's network mode is `bridge` or `none`, cgroup limits from the
//!   task's resources, and Nomad's default capability allow-list
//!   ([`KEEP_CAPABILITIES`]).
//!
//! Config: `command` (required) and `args`. The command is a path as seen
//! inside the sandbox: an absolute path, a path relative to the task dir
//! (`local/run.sh` becomes `/local/run.sh`), or a bare name found in PATH.
//! The process starts in `/`. Environment values that point into the task
//! or alloc dir on the host (`NOMAD_TASK_DIR`, `NOMAD_ALLOC_DIR`, ...) are
//! rewritten to their paths inside the sandbox. Log files are host paths,
//! opened by the host.

use serde::{Deserialize, Serialize};

use sched_driver_sdk::isolated::{BindMount, SandboxSpec};
use sched_driver_sdk::{
    Driver, DriverCapabilities, DriverError, DriverFingerprint, DriverInfo, ExecOutput, ExitResult,
    FsIsolation, TaskConfig, TaskHandle, TaskState, TaskStatus, TaskUsage, clock, config, handle,
    isolated, process,
};

/// The driver's name, as jobs write it.
pub const NAME: &str = "exec";
/// Version of the handle state format.
pub const STATE_VERSION: u32 = 1;
/// How long `stop-task` waits for the sandbox after killing it.
const REAP_MS: u32 = 1_000;

/// Host directories bound read-only into the sandbox at the same path.
pub const SYSTEM_DIRS: &[&str] = &[
    "/bin",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/run/resolvconf",
    "/sbin",
    "/usr",
];

/// Linux capabilities the task keeps (Nomad's exec default allow-list).
pub const KEEP_CAPABILITIES: &[&str] = &[
    "CAP_AUDIT_WRITE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// Where the alloc dir appears inside the sandbox.
pub const SANDBOX_ALLOC_DIR: &str = "/alloc";

/// The task's `config` block.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExecConfig {
    /// The program to run, as seen inside the sandbox.
    pub command: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
}

impl ExecConfig {
    /// Parses and checks the task's `config` block.
    pub fn parse(driver_config: &str) -> Result<Self, DriverError> {
        let cfg: ExecConfig = config::parse(driver_config)?;
        config::require_non_empty("command", &cfg.command)?;
        Ok(cfg)
    }
}

/// What the handle carries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExecState {
    /// The sandbox's init process id (host pid namespace).
    pub pid: u32,
    /// Unix nanoseconds just before the spawn, for `is-alive`.
    pub started_at: u64,
    /// The environment inside the sandbox, for `exec-task` commands.
    pub env: Vec<(String, String)>,
}

/// The command as the sandbox sees it: relative paths are taken from the
/// task dir, which is the sandbox's root.
pub fn sandbox_command(command: &str) -> String {
    if command.contains('/') && !command.starts_with('/') {
        format!("/{}", command.trim_start_matches("./"))
    } else {
        command.to_string()
    }
}

/// Rewrites a host path inside the task or alloc dir to its sandbox path.
fn sandbox_path(value: &str, task_dir: &str, alloc_dir: &str) -> Option<String> {
    fn under<'a>(value: &'a str, dir: &str) -> Option<&'a str> {
        let dir = dir.trim_end_matches('/');
        if dir.is_empty() {
            return None;
        }
        let rest = value.strip_prefix(dir)?;
        (rest.is_empty() || rest.starts_with('/')).then_some(rest)
    }
    // The alloc dir may sit inside the task's parent; test it first.
    if let Some(rest) = under(value, alloc_dir) {
        return Some(format!("{SANDBOX_ALLOC_DIR}{rest}"));
    }
    under(value, task_dir).map(|rest| {
        if rest.is_empty() {
            "/".to_string()
        } else {
            rest.to_string()
        }
    })
}

/// The task's environment as seen inside the sandbox: `*_DIR` variables of
/// Nomad and sched that point into the task or alloc dir are rewritten.
pub fn sandbox_env(task: &TaskConfig) -> Vec<(String, String)> {
    task.env
        .iter()
        .map(|(k, v)| {
            let ours = (k.starts_with("NOMAD_") || k.starts_with("SCHED_")) && k.ends_with("_DIR");
            match ours
                .then(|| sandbox_path(v, &task.task_dir, &task.alloc_dir))
                .flatten()
            {
                Some(p) => (k.clone(), p),
                None => (k.clone(), v.clone()),
            }
        })
        .collect()
}

/// The sandbox for `task`.
pub fn sandbox_spec(task: &TaskConfig) -> SandboxSpec {
    let mut mounts: Vec<BindMount> = SYSTEM_DIRS
        .iter()
        .map(|d| BindMount {
            host_path: (*d).to_string(),
            sandbox_path: (*d).to_string(),
            read_only: true,
        })
        .collect();
    mounts.push(BindMount {
        host_path: task.alloc_dir.clone(),
        sandbox_path: SANDBOX_ALLOC_DIR.to_string(),
        read_only: false,
    });
    SandboxSpec {
        root: task.task_dir.clone(),
        mounts,
        hostname: task.hostname.clone(),
        isolate_network: matches!(task.network_mode.as_str(), "bridge" | "none"),
        resources: task.resources,
        keep_capabilities: KEEP_CAPABILITIES.iter().map(|c| (*c).to_string()).collect(),
    }
}

/// The process to start inside the sandbox.
pub fn spawn_spec(cfg: &ExecConfig, task: &TaskConfig) -> process::SpawnSpec {
    let mut argv = Vec::with_capacity(cfg.args.len() + 1);
    argv.push(sandbox_command(&cfg.command));
    argv.extend(cfg.args.iter().cloned());
    process::SpawnSpec {
        argv,
        env: sandbox_env(task),
        cwd: "/".to_string(),
        user: task.user.clone(),
        stdout_path: task.stdout_path.clone(),
        stderr_path: task.stderr_path.clone(),
    }
}

/// Whether the task has exited, waiting up to `timeout_ms`. A pid that is
/// not the host's child (after a client restart) cannot be waited for, so
/// its liveness is polled on the clock instead.
fn wait_exit(state: &ExecState, timeout_ms: u32) -> Result<bool, DriverError> {
    match isolated::wait(state.pid, timeout_ms) {
        Ok(exit) => Ok(exit.is_some()),
        Err(DriverError::CapabilityDenied(m)) => Err(DriverError::CapabilityDenied(m)),
        Err(_) => {
            let deadline = clock::now().saturating_add(u64::from(timeout_ms) * 1_000_000);
            loop {
                if !isolated::is_alive(state.pid, state.started_at) {
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

fn state_of(h: &TaskHandle) -> Result<ExecState, DriverError> {
    handle::decode(h, NAME, STATE_VERSION)
}

/// The exec driver.
#[derive(Debug)]
pub struct Exec;

impl Driver for Exec {
    fn info() -> DriverInfo {
        DriverInfo {
            name: NAME.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            capabilities: DriverCapabilities {
                send_signals: true,
                exec: true,
                fs_isolation: FsIsolation::Chroot,
                network_modes: vec!["host".into(), "bridge".into(), "none".into()],
            },
        }
    }

    fn config_schema() -> String {
        include_str!("schema.json").to_string()
    }

    fn fingerprint() -> DriverFingerprint {
        // A read-only probe: an ungranted capability answers capability-denied.
        match isolated::usage(0) {
            Err(DriverError::CapabilityDenied(_)) => {
                DriverFingerprint::undetected("the isolated-process capability is not granted")
            }
            _ => DriverFingerprint::healthy("exec", Vec::new()),
        }
    }

    fn start_task(task: TaskConfig) -> Result<TaskHandle, DriverError> {
        let cfg = ExecConfig::parse(&task.driver_config)?;
        let spec = spawn_spec(&cfg, &task);
        let sandbox = sandbox_spec(&task);
        let started_at = clock::now();
        let pid = isolated::spawn(&spec, &sandbox)?;
        handle::encode(
            &task.id,
            NAME,
            STATE_VERSION,
            &ExecState {
                pid,
                started_at,
                env: spec.env,
            },
        )
    }

    fn wait_task(h: TaskHandle, timeout_ms: u32) -> Result<Option<ExitResult>, DriverError> {
        let state = state_of(&h)?;
        isolated::wait(state.pid, timeout_ms)
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
        if let Err(e) = isolated::signal(state.pid, &signal) {
            // It may have exited between the two calls.
            return if wait_exit(&state, 0)? {
                Ok(())
            } else {
                Err(e)
            };
        }
        if !wait_exit(&state, timeout_ms)? {
            isolated::kill_tree(state.pid)?;
            let _ = isolated::wait(state.pid, REAP_MS);
        }
        Ok(())
    }

    fn destroy_task(h: TaskHandle, force: bool) -> Result<(), DriverError> {
        let state = state_of(&h)?;
        if isolated::is_alive(state.pid, state.started_at) && !force {
            return Err(DriverError::failed(format!(
                "task {} is still running (pid {}); stop it or destroy with force",
                h.id, state.pid
            )));
        }
        // Also removes the sandbox's cgroup when the task is already gone.
        let result = isolated::kill_tree(state.pid);
        let _ = isolated::wait(state.pid, REAP_MS);
        match result {
            Err(DriverError::CapabilityDenied(m)) => Err(DriverError::CapabilityDenied(m)),
            _ => Ok(()),
        }
    }

    fn inspect_task(h: TaskHandle) -> Result<TaskStatus, DriverError> {
        let state = state_of(&h)?;
        let (task_state, exit) = match isolated::wait(state.pid, 0) {
            Ok(Some(exit)) => (TaskState::Exited, Some(exit)),
            Ok(None) => (TaskState::Running, None),
            Err(_) if isolated::is_alive(state.pid, state.started_at) => (TaskState::Running, None),
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
        isolated::signal(state.pid, &signal)
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
        isolated::exec(state.pid, &argv, &state.env, timeout_ms)
    }

    fn task_stats(h: TaskHandle) -> Result<TaskUsage, DriverError> {
        let state = state_of(&h)?;
        isolated::usage(state.pid)
    }

    fn recover_task(h: TaskHandle) -> Result<(), DriverError> {
        let state = state_of(&h)?;
        if isolated::is_alive(state.pid, state.started_at) {
            Ok(())
        } else {
            Err(DriverError::not_found(format!(
                "task {}: pid {} is gone",
                h.id, state.pid
            )))
        }
    }
}

sched_driver_sdk::export_driver!(Exec);

#[cfg(test)]
mod tests {
    use super::*;
    use sched_driver_sdk::Resources;

    fn task(network_mode: &str) -> TaskConfig {
        TaskConfig {
            id: "a1/web".into(),
            name: "web".into(),
            alloc_id: "a1".into(),
            job_id: "j".into(),
            group_name: "g".into(),
            driver_config: r#"{"command":"local/run.sh","args":["-x"]}"#.into(),
            env: vec![
                ("NOMAD_TASK_DIR".into(), "/data/a1/web/local".into()),
                ("NOMAD_SECRETS_DIR".into(), "/data/a1/web/secrets".into()),
                ("NOMAD_ALLOC_DIR".into(), "/data/a1/alloc".into()),
                ("NOMAD_ALLOC_DIRX".into(), "/data/a1/alloc".into()),
                ("HOME_DIR".into(), "/data/a1/web".into()),
                ("SCHED_OTHER_DIR".into(), "/data/a1/webby".into()),
            ],
            user: Some("nobody".into()),
            task_dir: "/data/a1/web".into(),
            alloc_dir: "/data/a1/alloc".into(),
            stdout_path: "/data/a1/alloc/logs/web.stdout.0".into(),
            stderr_path: "/data/a1/alloc/logs/web.stderr.0".into(),
            resources: Resources {
                cpu_mhz: 500,
                cores: 0,
                memory_mb: 256,
                memory_max_mb: 512,
            },
            ports: Vec::new(),
            network_mode: network_mode.into(),
            hostname: "web-1".into(),
            trace_id: "t".into(),
        }
    }

    #[test]
    fn builds_the_sandbox() {
        let t = task("bridge");
        let s = sandbox_spec(&t);
        assert_eq!(s.root, t.task_dir);
        assert_eq!(s.hostname, "web-1");
        assert!(s.isolate_network);
        assert!(sandbox_spec(&task("none")).isolate_network);
        assert!(!sandbox_spec(&task("host")).isolate_network);
        assert_eq!(s.resources.memory_max_mb, 512);
        assert!(
            s.mounts
                .iter()
                .any(|m| m.host_path == "/usr" && m.read_only)
        );
        let alloc = s
            .mounts
            .iter()
            .find(|m| m.sandbox_path == "/alloc")
            .unwrap();
        assert_eq!(alloc.host_path, t.alloc_dir);
        assert!(!alloc.read_only);
        assert_eq!(s.keep_capabilities.len(), 13);
        assert!(s.keep_capabilities.contains(&"CAP_SYS_CHROOT".to_string()));
    }

    #[test]
    fn builds_the_process_as_the_sandbox_sees_it() {
        let t = task("host");
        let cfg = ExecConfig::parse(&t.driver_config).unwrap();
        let spec = spawn_spec(&cfg, &t);
        assert_eq!(
            spec.argv,
            vec!["/local/run.sh".to_string(), "-x".to_string()]
        );
        assert_eq!(spec.cwd, "/");
        let env: std::collections::HashMap<_, _> = spec.env.into_iter().collect();
        assert_eq!(env["NOMAD_TASK_DIR"], "/local");
        assert_eq!(env["NOMAD_SECRETS_DIR"], "/secrets");
        assert_eq!(env["NOMAD_ALLOC_DIR"], "/alloc");
        assert_eq!(env["NOMAD_ALLOC_DIRX"], "/data/a1/alloc");
        assert_eq!(env["HOME_DIR"], "/data/a1/web");
        assert_eq!(env["SCHED_OTHER_DIR"], "/data/a1/webby");
        assert_eq!(sandbox_command("/bin/sleep"), "/bin/sleep");
        assert_eq!(sandbox_command("sleep"), "sleep");
        assert_eq!(sandbox_command("./local/x"), "/local/x");
    }

    #[test]
    fn config_and_state() {
        assert!(
            ExecConfig::parse(r#"{"args":[]}"#)
                .unwrap_err()
                .message()
                .starts_with("command:")
        );
        let s = ExecState {
            pid: 9,
            started_at: 1,
            env: vec![],
        };
        let h = handle::encode("a1/web", NAME, STATE_VERSION, &s).unwrap();
        assert_eq!(state_of(&h).unwrap(), s);
        assert!(matches!(
            handle::decode::<ExecState>(&h, "raw_exec", STATE_VERSION),
            Err(DriverError::NotFound(_))
        ));
    }
}

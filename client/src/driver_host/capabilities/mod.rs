//! The capabilities the host grants drivers, and the grants themselves.
//!
//! Every WIT import of the `task-driver` world is backed by one trait here
//! with one implementation per capability:
//!
//! | WIT interface      | trait                       | implementation                     |
//! |--------------------|-----------------------------|------------------------------------|
//! | `process`          | [`ProcessProvider`]         | [`process::HostProcesses`]         |
//! | `isolated-process` | [`IsolatedProcessProvider`] | [`isolated_process::IsolatedProcesses`] |
//! | `docker`           | [`DockerProvider`]          | [`docker::DockerCapability`]       |
//! | `log`              | [`LogProvider`]             | [`log::TracingLog`]                |
//! | `clock`            | [`ClockProvider`]           | [`clock::SystemClock`]             |
//!
//! A [`CapabilitySet`] holds one implementation of each (isolated-process and
//! Docker are optional until a client provides them); a [`DriverGrant`] says
//! which of them one driver may use. The grant is checked by the host before
//! any implementation runs (in the host's `imports` module), so
//! implementations only see calls from drivers that were granted them, each
//! with a [`CallContext`] naming the driver and the task's trace id.
//!
//! The isolated-process and Docker services are plain Rust with their own
//! types; each plugs in with an adapter implementing its provider trait
//! (converting the WIT types re-exported here), passed to
//! [`CapabilitySet::with_isolated_process`] / [`CapabilitySet::with_docker`].
//!
//! Deny by default: a driver without a grant can use nothing but the clock;
//! an ungranted `process`, `isolated-process` or `docker` call returns
//! `capability-denied: driver X was not granted the C capability`, and an
//! ungranted `log` call is dropped.
//!
//! This module does not parse the agent config (it accepts [`DriverGrant`]
//! values) and does not know about wasmtime.

pub mod clock;
pub mod docker;
pub(crate) mod exit_record;
pub mod isolated_process;
pub mod log;
pub mod process;
pub(crate) mod supervisor;

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

pub use super::bindings::sched::driver::docker::Response as DockerResponse;
pub use super::bindings::sched::driver::isolated_process::{BindMount, SandboxSpec};
pub use super::bindings::sched::driver::log::Level as LogLevel;
pub use super::bindings::sched::driver::process::SpawnSpec;
use super::bindings::sched::driver::types::{ExecOutput, ExitResult, Pairs, TaskUsage};

/// A capability the operator can grant a driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// `process`: plain child processes.
    Process,
    /// `isolated-process`: processes in namespaces, a chroot and cgroups.
    IsolatedProcess,
    /// `docker`: the Docker Engine API.
    Docker,
    /// `log`: structured logs into the client's tracing.
    Log,
}

impl Capability {
    /// Every grantable capability.
    pub const ALL: [Capability; 4] = [
        Capability::Process,
        Capability::IsolatedProcess,
        Capability::Docker,
        Capability::Log,
    ];

    /// The name used in the WIT and in the agent config.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Process => "process",
            Capability::IsolatedProcess => "isolated-process",
            Capability::Docker => "docker",
            Capability::Log => "log",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A capability name that is not one of [`Capability::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown capability {0:?} (known: process, isolated-process, docker, log)")]
pub struct UnknownCapability(pub String);

impl FromStr for Capability {
    type Err = UnknownCapability;

    /// Accepts the WIT names and their snake_case spellings.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "process" => Ok(Capability::Process),
            "isolated-process" => Ok(Capability::IsolatedProcess),
            "docker" => Ok(Capability::Docker),
            "log" => Ok(Capability::Log),
            _ => Err(UnknownCapability(s.to_string())),
        }
    }
}

/// What one driver may use, from the agent config's
/// `plugin "NAME" { config { ... } capabilities = ["process", ...] }`.
#[derive(Debug, Clone, PartialEq)]
pub struct DriverGrant {
    /// The driver's name (the plugin file's stem, e.g. `raw_exec`).
    pub name: String,
    /// The capabilities it may use.
    pub capabilities: BTreeSet<Capability>,
    /// The plugin's `config` block as JSON, passed to capability
    /// implementations (e.g. Docker's allowed settings).
    pub config: serde_json::Value,
}

impl DriverGrant {
    /// A grant of `capabilities` with an empty config.
    pub fn new(
        name: impl Into<String>,
        capabilities: impl IntoIterator<Item = Capability>,
    ) -> Self {
        DriverGrant {
            name: name.into(),
            capabilities: capabilities.into_iter().collect(),
            config: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    /// No capabilities: what a driver the config does not mention gets.
    pub fn none(name: impl Into<String>) -> Self {
        DriverGrant::new(name, [])
    }

    /// What a built-in driver needs, for configs that do not say otherwise:
    /// raw_exec gets `process`, exec `isolated-process`, docker `docker`, all
    /// of them `log`. `None` for any other name.
    pub fn builtin(name: &str) -> Option<Self> {
        let cap = match name {
            "raw_exec" => Capability::Process,
            "exec" => Capability::IsolatedProcess,
            "docker" => Capability::Docker,
            _ => return None,
        };
        Some(DriverGrant::new(name, [cap, Capability::Log]))
    }

    /// Whether the grant includes `cap`.
    pub fn allows(&self, cap: Capability) -> bool {
        self.capabilities.contains(&cap)
    }
}

/// Who is calling a capability: passed to every implementation.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'a> {
    /// The driver's name.
    pub driver: &'a str,
    /// The driver call in progress (e.g. `start-task`).
    pub call: &'static str,
    /// The trace id of the task the call is about, when known.
    pub trace_id: Option<&'a str>,
    /// The driver's plugin config.
    pub config: &'a serde_json::Value,
}

/// `process`: plain child processes in their own process group.
pub trait ProcessProvider: Send + Sync + fmt::Debug {
    /// Starts a process; returns its pid.
    fn spawn(&self, cx: &CallContext<'_>, spec: SpawnSpec) -> Result<u32, String>;
    /// Waits up to `timeout_ms` (capped by the implementation) for it to exit.
    fn wait(
        &self,
        cx: &CallContext<'_>,
        pid: u32,
        timeout_ms: u32,
    ) -> Result<Option<ExitResult>, String>;
    /// Sends a signal, by name, to its process group.
    fn signal(&self, cx: &CallContext<'_>, pid: u32, signal: &str) -> Result<(), String>;
    /// Kills its whole process tree.
    fn kill_tree(&self, cx: &CallContext<'_>, pid: u32) -> Result<(), String>;
    /// Its usage and its children's.
    fn usage(&self, cx: &CallContext<'_>, pid: u32) -> Result<TaskUsage, String>;
    /// Whether `pid` is still the process started at `started_at` (unix ns).
    fn is_alive(&self, cx: &CallContext<'_>, pid: u32, started_at: u64) -> bool;
    /// Whether a process this driver spawned or adopted still runs, if the
    /// implementation can tell cheaply (`None`: ask the driver). The host
    /// answers a driver's `wait-task` with it while the task runs, so that
    /// an idle task costs no driver call.
    fn running(&self, _cx: &CallContext<'_>, _pid: u32) -> Option<bool> {
        None
    }
    /// Runs a command to completion within `timeout_ms`, capturing its output.
    fn run(
        &self,
        cx: &CallContext<'_>,
        spec: SpawnSpec,
        timeout_ms: u32,
    ) -> Result<ExecOutput, String>;
}

/// `isolated-process`: processes in fresh namespaces with a chroot and cgroup
/// limits. The host does the privileged work.
pub trait IsolatedProcessProvider: Send + Sync + fmt::Debug {
    /// Starts the process in its sandbox; returns its pid in the host's pid
    /// namespace.
    fn spawn(
        &self,
        cx: &CallContext<'_>,
        spec: SpawnSpec,
        sandbox: SandboxSpec,
    ) -> Result<u32, String>;
    /// Waits up to `timeout_ms` (capped by the implementation) for it to exit.
    fn wait(
        &self,
        cx: &CallContext<'_>,
        pid: u32,
        timeout_ms: u32,
    ) -> Result<Option<ExitResult>, String>;
    /// Sends a signal, by name.
    fn signal(&self, cx: &CallContext<'_>, pid: u32, signal: &str) -> Result<(), String>;
    /// Kills every process in the sandbox and removes its cgroup.
    fn kill_tree(&self, cx: &CallContext<'_>, pid: u32) -> Result<(), String>;
    /// The sandbox's usage.
    fn usage(&self, cx: &CallContext<'_>, pid: u32) -> Result<TaskUsage, String>;
    /// Whether `pid` is still the process started at `started_at` (unix ns).
    fn is_alive(&self, cx: &CallContext<'_>, pid: u32, started_at: u64) -> bool;
    /// Runs a command inside the running sandbox of `pid`.
    fn exec(
        &self,
        cx: &CallContext<'_>,
        pid: u32,
        argv: Vec<String>,
        env: Pairs,
        timeout_ms: u32,
    ) -> Result<ExecOutput, String>;
}

/// `docker`: the Docker Engine API on the node's socket.
pub trait DockerProvider: Send + Sync + fmt::Debug {
    /// One HTTP exchange with the engine (the implementation filters endpoints).
    fn request(
        &self,
        cx: &CallContext<'_>,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<DockerResponse, String>;
    /// Loads an image from a tar file; returns the loaded image's name.
    fn load_image(&self, cx: &CallContext<'_>, tar_path: &str) -> Result<String, String>;
    /// Copies a container's output into the task's log files in the background.
    fn follow_logs(
        &self,
        cx: &CallContext<'_>,
        container_id: &str,
        stdout_path: &str,
        stderr_path: &str,
    ) -> Result<(), String>;
}

/// `log`: the driver's structured logs.
pub trait LogProvider: Send + Sync + fmt::Debug {
    /// Records one line.
    fn log(
        &self,
        cx: &CallContext<'_>,
        level: LogLevel,
        message: &str,
        fields: &[(String, String)],
    );
}

/// `clock`: the time. Every driver has it (reading the time reveals nothing).
pub trait ClockProvider: Send + Sync + fmt::Debug {
    /// Unix time in nanoseconds.
    fn now(&self) -> u64;
}

/// One implementation of every capability, shared by all drivers of a host.
#[derive(Debug, Clone)]
pub struct CapabilitySet {
    /// `process`.
    pub process: Arc<dyn ProcessProvider>,
    /// `isolated-process`, when this client provides it.
    pub isolated_process: Option<Arc<dyn IsolatedProcessProvider>>,
    /// `docker`, when this client provides it.
    pub docker: Option<Arc<dyn DockerProvider>>,
    /// `log`.
    pub log: Arc<dyn LogProvider>,
    /// `clock`.
    pub clock: Arc<dyn ClockProvider>,
}

impl Default for CapabilitySet {
    /// Host processes, tracing logs and the system clock; no isolation or
    /// Docker until they are plugged in.
    fn default() -> Self {
        CapabilitySet {
            process: Arc::new(process::HostProcesses::new()),
            isolated_process: None,
            docker: None,
            log: Arc::new(log::TracingLog),
            clock: Arc::new(clock::SystemClock),
        }
    }
}

impl CapabilitySet {
    /// Plugs in the `isolated-process` implementation.
    pub fn with_isolated_process(mut self, imp: Arc<dyn IsolatedProcessProvider>) -> Self {
        self.isolated_process = Some(imp);
        self
    }

    /// Plugs in the `docker` implementation.
    pub fn with_docker(mut self, imp: Arc<dyn DockerProvider>) -> Self {
        self.docker = Some(imp);
        self
    }

    /// Everything this client provides: host processes, isolated processes
    /// (in the cgroups found on this node) and the Docker Engine at
    /// `docker.socket` (whose calls fail as unavailable while no engine runs
    /// there, so the docker driver fingerprints as undetected).
    pub fn all(docker: docker::DockerConfig) -> Self {
        let set = CapabilitySet::default()
            .with_isolated_process(Arc::new(isolated_process::IsolatedProcesses::new()));
        match docker::DockerCapability::new(docker) {
            Ok(d) => set.with_docker(Arc::new(d)),
            Err(e) => {
                tracing::warn!(error = %e, "the docker capability could not be set up");
                set
            }
        }
    }
}

/// The message a driver gets for a capability it was not granted.
pub(crate) fn denied_message(driver: &str, cap: Capability) -> String {
    format!("capability-denied: driver {driver} was not granted the {cap} capability")
}

/// The message a driver gets for a capability this client does not provide.
pub(crate) fn unavailable_message(driver: &str, cap: Capability) -> String {
    format!(
        "capability-denied: driver {driver} was granted the {cap} capability, but this client does not provide it"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_names_round_trip() {
        for c in Capability::ALL {
            assert_eq!(c.name().parse::<Capability>(), Ok(c));
        }
        assert_eq!(
            "isolated_process".parse::<Capability>(),
            Ok(Capability::IsolatedProcess)
        );
        assert!("network".parse::<Capability>().is_err());
    }

    #[test]
    fn grants_deny_by_default() {
        let g = DriverGrant::none("third_party");
        assert!(Capability::ALL.iter().all(|c| !g.allows(*c)));
        let raw = DriverGrant::builtin("raw_exec").unwrap();
        assert!(raw.allows(Capability::Process) && !raw.allows(Capability::Docker));
        assert!(DriverGrant::builtin("mystery").is_none());
    }
}

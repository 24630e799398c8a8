//! The data of one driver call's store, and the host side of every WIT
//! import: the generated host traits, implemented by checking the driver's
//! grant and then calling the capability's implementation.
//!
//! This is the one place grants are enforced. It also keeps the call's time
//! accounting (time in host functions does not count against the guest's
//! budget) and remembers a refused capability so the host can explain a
//! failure it caused. It owns no capability logic ([`super::capabilities`])
//! and does not create stores ([`super::DriverHost`]).

use std::sync::Arc;
use std::time::Instant;

use super::bindings::sched::driver::types::{ExecOutput, ExitResult, Pairs, TaskUsage};
use super::bindings::sched::driver::{clock, docker, isolated_process, log, process, types};
use super::capabilities::{
    CallContext, Capability, CapabilitySet, DriverGrant, SandboxSpec, SpawnSpec, denied_message,
    unavailable_message,
};
use super::limits::{CallClock, LimitHit, SandboxLimiter};

/// What a store holds for one driver call.
#[derive(Debug)]
pub(crate) struct StoreState {
    /// The driver's name.
    pub(crate) driver: Arc<str>,
    /// The call in progress.
    pub(crate) call: &'static str,
    /// What the driver may use.
    pub(crate) grant: Arc<DriverGrant>,
    /// The host's capability implementations.
    pub(crate) caps: Arc<CapabilitySet>,
    /// The trace id of the task the call is about.
    pub(crate) trace_id: Option<String>,
    /// Memory and table limits.
    pub(crate) limiter: SandboxLimiter,
    /// Guest and wall time of the call.
    pub(crate) clock: CallClock,
    /// The first capability the driver asked for and was refused.
    pub(crate) denied: Option<Capability>,
    /// The time limit that stopped the call, if one did.
    pub(crate) stopped: Option<LimitHit>,
    /// Processes (of the `process` capability) spawned or adopted during
    /// the call: the host follows a task whose start made exactly one.
    pub(crate) followed: Vec<u32>,
}

impl StoreState {
    /// Runs a host function: builds the call context, and counts the time
    /// spent as host time.
    fn host<R>(&mut self, f: impl FnOnce(&CapabilitySet, &CallContext<'_>) -> R) -> R {
        let started = Instant::now();
        let caps = Arc::clone(&self.caps);
        let grant = Arc::clone(&self.grant);
        let r = {
            let cx = CallContext {
                driver: &self.driver,
                call: self.call,
                trace_id: self.trace_id.as_deref(),
                config: &grant.config,
            };
            f(&caps, &cx)
        };
        self.clock.add_host_time(started.elapsed());
        r
    }

    /// Whether the driver may use `cap`; records and logs a refusal.
    fn granted(&mut self, cap: Capability) -> Result<(), String> {
        if self.grant.allows(cap) {
            return Ok(());
        }
        if self.denied.is_none() {
            tracing::warn!(
                driver = %self.driver,
                call = self.call,
                capability = cap.name(),
                trace_id = self.trace_id.as_deref().unwrap_or(""),
                "driver asked for a capability it was not granted"
            );
            self.denied = Some(cap);
        }
        Err(denied_message(&self.driver, cap))
    }

    /// Runs `f` with the process capability if granted.
    fn process<R>(
        &mut self,
        f: impl FnOnce(&dyn super::capabilities::ProcessProvider, &CallContext<'_>) -> Result<R, String>,
    ) -> Result<R, String> {
        self.granted(Capability::Process)?;
        self.host(|caps, cx| f(caps.process.as_ref(), cx))
    }

    /// Runs `f` with the isolated-process capability if granted and provided.
    fn isolated<R>(
        &mut self,
        f: impl FnOnce(
            &dyn super::capabilities::IsolatedProcessProvider,
            &CallContext<'_>,
        ) -> Result<R, String>,
    ) -> Result<R, String> {
        self.granted(Capability::IsolatedProcess)?;
        let driver = Arc::clone(&self.driver);
        self.host(|caps, cx| match caps.isolated_process.as_deref() {
            Some(imp) => f(imp, cx),
            None => Err(unavailable_message(&driver, Capability::IsolatedProcess)),
        })
    }

    /// Runs `f` with the docker capability if granted and provided.
    fn docker<R>(
        &mut self,
        f: impl FnOnce(&dyn super::capabilities::DockerProvider, &CallContext<'_>) -> Result<R, String>,
    ) -> Result<R, String> {
        self.granted(Capability::Docker)?;
        let driver = Arc::clone(&self.driver);
        self.host(|caps, cx| match caps.docker.as_deref() {
            Some(imp) => f(imp, cx),
            None => Err(unavailable_message(&driver, Capability::Docker)),
        })
    }
}

impl types::Host for StoreState {}

impl process::Host for StoreState {
    fn spawn(&mut self, spec: SpawnSpec) -> Result<u32, String> {
        let pid = self.process(|p, cx| p.spawn(cx, spec))?;
        self.followed.push(pid);
        Ok(pid)
    }

    fn wait(&mut self, pid: u32, timeout_ms: u32) -> Result<Option<ExitResult>, String> {
        self.process(|p, cx| p.wait(cx, pid, timeout_ms))
    }

    fn signal(&mut self, pid: u32, signal: String) -> Result<(), String> {
        self.process(|p, cx| p.signal(cx, pid, &signal))
    }

    fn kill_tree(&mut self, pid: u32) -> Result<(), String> {
        self.process(|p, cx| p.kill_tree(cx, pid))
    }

    fn usage(&mut self, pid: u32) -> Result<TaskUsage, String> {
        self.process(|p, cx| p.usage(cx, pid))
    }

    fn is_alive(&mut self, pid: u32, started_at: u64) -> bool {
        let alive = self
            .process(|p, cx| Ok(p.is_alive(cx, pid, started_at)))
            .unwrap_or(false);
        if alive && self.call == "recover-task" {
            self.followed.push(pid);
        }
        alive
    }

    fn run(&mut self, spec: SpawnSpec, timeout_ms: u32) -> Result<ExecOutput, String> {
        self.process(|p, cx| p.run(cx, spec, timeout_ms))
    }
}

impl isolated_process::Host for StoreState {
    fn spawn(&mut self, spec: SpawnSpec, sandbox: SandboxSpec) -> Result<u32, String> {
        self.isolated(|p, cx| p.spawn(cx, spec, sandbox))
    }

    fn wait(&mut self, pid: u32, timeout_ms: u32) -> Result<Option<ExitResult>, String> {
        self.isolated(|p, cx| p.wait(cx, pid, timeout_ms))
    }

    fn signal(&mut self, pid: u32, signal: String) -> Result<(), String> {
        self.isolated(|p, cx| p.signal(cx, pid, &signal))
    }

    fn kill_tree(&mut self, pid: u32) -> Result<(), String> {
        self.isolated(|p, cx| p.kill_tree(cx, pid))
    }

    fn usage(&mut self, pid: u32) -> Result<TaskUsage, String> {
        self.isolated(|p, cx| p.usage(cx, pid))
    }

    fn is_alive(&mut self, pid: u32, started_at: u64) -> bool {
        self.isolated(|p, cx| Ok(p.is_alive(cx, pid, started_at)))
            .unwrap_or(false)
    }

    fn exec(
        &mut self,
        pid: u32,
        argv: Vec<String>,
        env: Pairs,
        timeout_ms: u32,
    ) -> Result<ExecOutput, String> {
        self.isolated(|p, cx| p.exec(cx, pid, argv, env, timeout_ms))
    }
}

impl docker::Host for StoreState {
    fn request(
        &mut self,
        method: String,
        path: String,
        body: Option<Vec<u8>>,
    ) -> Result<docker::Response, String> {
        self.docker(|d, cx| d.request(cx, &method, &path, body))
    }

    fn load_image(&mut self, tar_path: String) -> Result<String, String> {
        self.docker(|d, cx| d.load_image(cx, &tar_path))
    }

    fn follow_logs(
        &mut self,
        container_id: String,
        stdout_path: String,
        stderr_path: String,
    ) -> Result<(), String> {
        self.docker(|d, cx| d.follow_logs(cx, &container_id, &stdout_path, &stderr_path))
    }
}

impl log::Host for StoreState {
    fn log(&mut self, level: log::Level, message: String, fields: Vec<(String, String)>) {
        if !self.grant.allows(Capability::Log) {
            // Dropped: an ungranted driver does not write into the client's logs.
            return;
        }
        self.host(|caps, cx| caps.log.log(cx, level, &message, &fields));
    }
}

impl clock::Host for StoreState {
    fn now(&mut self) -> u64 {
        self.host(|caps, _| caps.clock.now())
    }
}

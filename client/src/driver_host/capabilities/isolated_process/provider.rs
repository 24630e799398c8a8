//! The `isolated-process` import served by [`IsolatedProcesses`]: converts
//! between the WIT binding types and the service's own.
//!
//! It also drops read-only mounts whose host path does not exist on this node:
//! a driver lists the system directories a task may need (`/lib32`,
//! `/run/resolvconf`, ...) without knowing the node, and a directory the node
//! lacks cannot be needed by a task on it. Read-write mounts are the driver's
//! own (alloc dir) and must exist, so they are passed on and checked.

use std::path::Path;

use super::{
    BindMount, ExecOutput, ExitResult, IsolatedProcesses, IsolationError, Resources, SandboxSpec,
    SpawnSpec, Usage,
};
use crate::driver_host::bindings::sched::driver::types as wit;
use crate::driver_host::capabilities::{
    CallContext, IsolatedProcessProvider, SandboxSpec as WitSandbox, SpawnSpec as WitSpawn,
};

impl IsolatedProcessProvider for IsolatedProcesses {
    fn spawn(
        &self,
        cx: &CallContext<'_>,
        spec: WitSpawn,
        sandbox: WitSandbox,
    ) -> Result<u32, String> {
        let sandbox = sandbox_spec(sandbox);
        tracing::debug!(driver = cx.driver, trace_id = cx.trace_id, root = %sandbox.root, "spawning isolated task");
        IsolatedProcesses::spawn(self, &spawn_spec(spec), &sandbox).map_err(|e| e.to_string())
    }

    fn wait(
        &self,
        _: &CallContext<'_>,
        pid: u32,
        timeout_ms: u32,
    ) -> Result<Option<wit::ExitResult>, String> {
        match IsolatedProcesses::wait(self, pid, timeout_ms) {
            Ok(r) => Ok(r.map(exit_result)),
            // A sandbox this client did not start (it re-attached after a
            // restart) ended: its status cannot be had, as with a plain
            // process that is not our child. Exit code -1 says "unknown".
            Err(IsolationError::NotFound(_)) => Ok(Some(wit::ExitResult {
                exit_code: -1,
                signal: 0,
                oom_killed: false,
            })),
            Err(e) => Err(e.to_string()),
        }
    }

    fn signal(&self, _: &CallContext<'_>, pid: u32, signal: &str) -> Result<(), String> {
        IsolatedProcesses::signal(self, pid, signal).map_err(|e| e.to_string())
    }

    fn kill_tree(&self, _: &CallContext<'_>, pid: u32) -> Result<(), String> {
        IsolatedProcesses::kill_tree(self, pid).map_err(|e| e.to_string())
    }

    fn usage(&self, _: &CallContext<'_>, pid: u32) -> Result<wit::TaskUsage, String> {
        IsolatedProcesses::usage(self, pid)
            .map(usage)
            .map_err(|e| e.to_string())
    }

    fn is_alive(&self, _: &CallContext<'_>, pid: u32, started_at: u64) -> bool {
        IsolatedProcesses::is_alive(self, pid, started_at)
    }

    fn exec(
        &self,
        _: &CallContext<'_>,
        pid: u32,
        argv: Vec<String>,
        env: wit::Pairs,
        timeout_ms: u32,
    ) -> Result<wit::ExecOutput, String> {
        IsolatedProcesses::exec(self, pid, &argv, &env, timeout_ms)
            .map(exec_output)
            .map_err(|e| e.to_string())
    }
}

fn spawn_spec(s: WitSpawn) -> SpawnSpec {
    SpawnSpec {
        argv: s.argv,
        env: s.env,
        cwd: s.cwd,
        user: s.user,
        stdout_path: s.stdout_path,
        stderr_path: s.stderr_path,
    }
}

fn sandbox_spec(s: WitSandbox) -> SandboxSpec {
    SandboxSpec {
        root: s.root,
        mounts: s
            .mounts
            .into_iter()
            .filter(|m| !m.read_only || Path::new(&m.host_path).exists())
            .map(|m| BindMount {
                host_path: m.host_path,
                sandbox_path: m.sandbox_path,
                read_only: m.read_only,
            })
            .collect(),
        hostname: s.hostname,
        isolate_network: s.isolate_network,
        resources: Resources {
            cpu_mhz: s.resources.cpu_mhz,
            cores: s.resources.cores,
            memory_mb: s.resources.memory_mb,
            memory_max_mb: s.resources.memory_max_mb,
        },
        keep_capabilities: s.keep_capabilities,
    }
}

fn exit_result(e: ExitResult) -> wit::ExitResult {
    wit::ExitResult {
        exit_code: e.exit_code,
        signal: e.signal,
        oom_killed: e.oom_killed,
    }
}

fn usage(u: Usage) -> wit::TaskUsage {
    wit::TaskUsage {
        timestamp: u.timestamp,
        cpu_total_ns: u.cpu_total_ns,
        memory_rss: u.memory_rss,
        memory_usage: u.memory_usage,
        pids: u.pids,
    }
}

fn exec_output(o: ExecOutput) -> wit::ExecOutput {
    wit::ExecOutput {
        stdout: o.stdout,
        stderr: o.stderr,
        exit: exit_result(o.exit),
    }
}

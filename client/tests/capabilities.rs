//! Capabilities as the drivers see them: logs reach the client's tracing
//! with the driver's name and the task's trace id, a capability the client
//! does not provide is denied even when granted, and a plugged-in
//! implementation is what the driver's imports call.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use sched_client::driver_host::capabilities::{
    CallContext, IsolatedProcessProvider, SandboxSpec, SpawnSpec,
};
use sched_client::driver_host::{
    Capability, CapabilitySet, DriverError, DriverGrant, DriverHost, ExecOutput, ExitResult,
    HostConfig, Pairs, Resources, TaskConfig, TaskUsage,
};

fn scratch(label: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("sched-caps-{}-{label}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn task(driver_config: serde_json::Value, dir: &std::path::Path) -> TaskConfig {
    TaskConfig {
        id: "alloc-1/web".into(),
        name: "web".into(),
        alloc_id: "alloc-1".into(),
        job_id: "job".into(),
        group_name: "group".into(),
        driver_config: driver_config.to_string(),
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        user: None,
        task_dir: dir.display().to_string(),
        alloc_dir: dir.display().to_string(),
        stdout_path: dir.join("stdout").display().to_string(),
        stderr_path: dir.join("stderr").display().to_string(),
        resources: Resources {
            cpu_mhz: 100,
            cores: 0,
            memory_mb: 64,
            memory_max_mb: 0,
        },
        ports: vec![],
        network_mode: "host".into(),
        hostname: "web".into(),
        trace_id: "trace-4f2a".into(),
    }
}

/// A writer into a shared buffer, for capturing tracing output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn driver_logs_carry_the_driver_and_the_trace_id_and_need_the_grant() {
    let dir = scratch("log");
    let run = |grants: Vec<DriverGrant>| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let host = DriverHost::new(HostConfig {
                cache_dir: support::shared_cache(),
                builtins: false,
                grants,
                ..HostConfig::default()
            })
            .unwrap();
            host.load_file(&support::workspace().join("drivers/components/mock.wasm"))
                .unwrap();
            // Without the process capability, mock logs that it skipped its output.
            let cfg = task(serde_json::json!({"stdout_string": "hi"}), &dir);
            host.driver("mock").unwrap().start_task(&cfg).unwrap();
        });
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    };
    let granted = run(vec![DriverGrant::new("mock", [Capability::Log])]);
    let line = granted
        .lines()
        .find(|l| l.contains("mock: output skipped"))
        .unwrap_or_else(|| panic!("no driver log line in:\n{granted}"));
    assert!(
        line.contains("driver=\"mock\"") || line.contains("driver=mock"),
        "{line}"
    );
    assert!(
        line.contains("trace_id=\"trace-4f2a\"") || line.contains("trace_id=trace-4f2a"),
        "{line}"
    );
    assert!(
        line.contains("call=\"start-task\"") || line.contains("call=start-task"),
        "{line}"
    );
    assert!(line.contains("capability-denied"), "{line}");
    let ungranted = run(vec![]);
    assert!(!ungranted.contains("mock: output skipped"), "{ungranted}");
}

#[test]
fn a_granted_capability_the_client_lacks_is_denied() {
    let dir = scratch("lacking");
    let host = DriverHost::new(HostConfig {
        cache_dir: support::shared_cache(),
        builtins: true,
        ..HostConfig::default()
    })
    .unwrap();
    let exec = host.driver("exec").unwrap();
    assert!(exec.grant().allows(Capability::IsolatedProcess));
    let err = exec
        .start_task(&task(serde_json::json!({"command": "/bin/true"}), &dir))
        .unwrap_err();
    match err {
        DriverError::CapabilityDenied { driver, message } => {
            assert_eq!(driver, "exec");
            assert!(
                message.contains("this client does not provide it"),
                "{message}"
            );
        }
        other => panic!("expected CapabilityDenied, got {other:?}"),
    }
}

/// An isolated-process stand-in that records what it was asked.
#[derive(Debug, Default)]
struct FakeIsolation {
    spawned: Mutex<Vec<(String, Vec<String>, String)>>,
}

impl IsolatedProcessProvider for FakeIsolation {
    fn spawn(
        &self,
        cx: &CallContext<'_>,
        spec: SpawnSpec,
        sandbox: SandboxSpec,
    ) -> Result<u32, String> {
        self.spawned
            .lock()
            .unwrap()
            .push((cx.driver.to_string(), spec.argv, sandbox.hostname));
        Ok(4242)
    }
    fn wait(&self, _: &CallContext<'_>, _: u32, _: u32) -> Result<Option<ExitResult>, String> {
        Ok(None)
    }
    fn signal(&self, _: &CallContext<'_>, _: u32, _: &str) -> Result<(), String> {
        Ok(())
    }
    fn kill_tree(&self, _: &CallContext<'_>, _: u32) -> Result<(), String> {
        Ok(())
    }
    fn usage(&self, _: &CallContext<'_>, _: u32) -> Result<TaskUsage, String> {
        Err("not measured".into())
    }
    fn is_alive(&self, _: &CallContext<'_>, _: u32, _: u64) -> bool {
        true
    }
    fn exec(
        &self,
        _: &CallContext<'_>,
        _: u32,
        _: Vec<String>,
        _: Pairs,
        _: u32,
    ) -> Result<ExecOutput, String> {
        Err("no".into())
    }
}

#[test]
fn a_plugged_in_capability_serves_the_driver() {
    let dir = scratch("plugged");
    let fake = Arc::new(FakeIsolation::default());
    let host = DriverHost::new(HostConfig {
        cache_dir: support::shared_cache(),
        builtins: true,
        capabilities: CapabilitySet::default().with_isolated_process(fake.clone()),
        ..HostConfig::default()
    })
    .unwrap();
    let exec = host.driver("exec").unwrap();
    let handle = exec
        .start_task(&task(
            serde_json::json!({"command": "/bin/sleep", "args": ["1"]}),
            &dir,
        ))
        .unwrap();
    assert_eq!(handle.driver, "exec");
    let spawned = fake.spawned.lock().unwrap().clone();
    assert_eq!(spawned.len(), 1);
    assert_eq!(spawned[0].0, "exec");
    assert_eq!(spawned[0].1[0], "/bin/sleep");
    assert_eq!(spawned[0].2, "web");
    // raw_exec was not granted isolation: same fake, refused before it.
    let raw = host.driver("raw_exec").unwrap();
    assert!(!raw.grant().allows(Capability::IsolatedProcess));
}

/// An isolated-process stand-in with a bug.
#[derive(Debug)]
struct Buggy;

impl IsolatedProcessProvider for Buggy {
    fn spawn(&self, _: &CallContext<'_>, _: SpawnSpec, _: SandboxSpec) -> Result<u32, String> {
        panic!("bug in the isolation service")
    }
    fn wait(&self, _: &CallContext<'_>, _: u32, _: u32) -> Result<Option<ExitResult>, String> {
        Ok(None)
    }
    fn signal(&self, _: &CallContext<'_>, _: u32, _: &str) -> Result<(), String> {
        Ok(())
    }
    fn kill_tree(&self, _: &CallContext<'_>, _: u32) -> Result<(), String> {
        Ok(())
    }
    fn usage(&self, _: &CallContext<'_>, _: u32) -> Result<TaskUsage, String> {
        Err("no".into())
    }
    fn is_alive(&self, _: &CallContext<'_>, _: u32, _: u64) -> bool {
        false
    }
    fn exec(
        &self,
        _: &CallContext<'_>,
        _: u32,
        _: Vec<String>,
        _: Pairs,
        _: u32,
    ) -> Result<ExecOutput, String> {
        Err("no".into())
    }
}

#[test]
fn a_panicking_capability_fails_the_call_not_the_caller() {
    let dir = scratch("buggy");
    let host = DriverHost::new(HostConfig {
        cache_dir: support::shared_cache(),
        builtins: true,
        capabilities: CapabilitySet::default().with_isolated_process(Arc::new(Buggy)),
        ..HostConfig::default()
    })
    .unwrap();
    let exec = host.driver("exec").unwrap();
    let err = exec
        .start_task(&task(serde_json::json!({"command": "/bin/true"}), &dir))
        .unwrap_err();
    assert!(
        matches!(&err, DriverError::Trap { call: "start-task", message, .. } if message.contains("bug in the isolation service")),
        "{err:?}"
    );
    assert_eq!(exec.info().unwrap().name, "exec");
}

/// An isolated-process stand-in whose `is-alive` takes its time.
#[derive(Debug)]
struct Slow;

impl IsolatedProcessProvider for Slow {
    fn spawn(&self, _: &CallContext<'_>, _: SpawnSpec, _: SandboxSpec) -> Result<u32, String> {
        Err("no".into())
    }
    fn wait(&self, _: &CallContext<'_>, _: u32, _: u32) -> Result<Option<ExitResult>, String> {
        Ok(None)
    }
    fn signal(&self, _: &CallContext<'_>, _: u32, _: &str) -> Result<(), String> {
        Ok(())
    }
    fn kill_tree(&self, _: &CallContext<'_>, _: u32) -> Result<(), String> {
        Ok(())
    }
    fn usage(&self, _: &CallContext<'_>, _: u32) -> Result<TaskUsage, String> {
        Err("no".into())
    }
    fn is_alive(&self, _: &CallContext<'_>, _: u32, _: u64) -> bool {
        std::thread::sleep(std::time::Duration::from_millis(50));
        true
    }
    fn exec(
        &self,
        _: &CallContext<'_>,
        _: u32,
        _: Vec<String>,
        _: Pairs,
        _: u32,
    ) -> Result<ExecOutput, String> {
        Err("no".into())
    }
}

#[test]
fn host_time_does_not_count_against_the_budget_but_the_wall_clock_bounds_it() {
    use sched_client::driver_host::Limits;
    use std::time::{Duration, Instant};
    let host = DriverHost::new(HostConfig {
        cache_dir: support::shared_cache(),
        builtins: false,
        grants: vec![DriverGrant::new("waiter", [Capability::IsolatedProcess])],
        capabilities: CapabilitySet::default().with_isolated_process(Arc::new(Slow)),
        limits: Limits {
            call_budget: Duration::from_millis(300),
            call_wall_allowance: Duration::from_millis(700),
            ..Limits::default()
        },
        ..HostConfig::default()
    })
    .unwrap();
    // `info` asks is-alive over and over: little guest time, much host time.
    let waiter = support::component(&[(
        "info",
        "(loop $again (drop (call {isolated-process.is-alive} (i32.const 7) (i64.const 0))) (br $again)) unreachable",
    )]);
    host.load_component("waiter", &waiter, "waiter.wasm")
        .unwrap();
    let t = Instant::now();
    let err = host.driver("waiter").unwrap().info().unwrap_err();
    let took = t.elapsed();
    assert!(
        matches!(&err, DriverError::Trap { message, .. } if message.contains("wall-clock allowance")),
        "{err:?}"
    );
    // Past the 300 ms guest budget, stopped at the 1 s wall-clock limit.
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

//! The driver conformance suite: the behaviour every task driver owes the
//! client, run against one driver through the WebAssembly host.
//!
//! A driver's test file describes the driver in a [`Suite`] (how to load it,
//! what it is granted, the task configs that make it run for a long time,
//! exit with a code, and what an exec looks like) and invokes
//! [`conformance_tests!`], which expands to one `#[test]` per case.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sched_client::driver_host::capabilities::CapabilitySet;
use sched_client::driver_host::capabilities::docker::DockerConfig;
use sched_client::driver_host::{
    DriverError, DriverGrant, DriverHandle, DriverHost, ExitResult, HostConfig, Resources,
    TaskConfig, TaskHandle, TaskState,
};

/// How to run one driver through the suite.
pub struct Suite {
    /// The name the driver is registered under.
    pub driver: &'static str,
    /// The component file to load; `None` for a built-in.
    pub component: Option<PathBuf>,
    /// What the driver is granted.
    pub grant: DriverGrant,
    /// The driver config of a task that runs until it is stopped.
    pub long_running: fn() -> serde_json::Value,
    /// The driver config of a task that exits at once with the given code.
    pub exits_with: fn(i32) -> serde_json::Value,
    /// Whether tasks are real processes: then stopping or an unhandled
    /// signal ends them, an unknown signal name is refused, stats count
    /// processes and memory, and a task that ended cannot be recovered.
    /// (A driver without such state, like `mock`, answers from its handle.)
    pub real_processes: bool,
    /// A command to exec in a running task and what its stdout contains;
    /// `None` if the driver does not support exec.
    pub exec: Option<(Vec<String>, &'static str)>,
    /// Whether `wait-task` blocks for its timeout while the task runs (the
    /// contract says "up to": a driver that can only poll, like docker,
    /// answers at once and the client sleeps between polls).
    pub wait_blocks: bool,
    /// Whether an exit reports that signal `n` ended the task: a plain
    /// process is killed by it; Docker reports a death by signal as exit code
    /// 128 + n (and a container's pid 1 ignores signals it does not handle,
    /// so docker's long-running task traps them and exits that way).
    pub ended_by: fn(&ExitResult, i32) -> bool,
}

/// The signal killed the process.
pub fn killed_by(exit: &ExitResult, signal: i32) -> bool {
    exit.signal == signal
}

/// Expands to one test per conformance case for the suite `$suite()`.
#[macro_export]
macro_rules! conformance_tests {
    ($suite:path) => {
        #[test]
        fn info_and_fingerprint() {
            conformance::info_and_fingerprint(&$suite());
        }
        #[test]
        fn start_and_wait_for_exit_codes() {
            conformance::start_and_wait(&$suite());
        }
        #[test]
        fn stop_with_timeout_and_signal() {
            conformance::stop_with_signal(&$suite());
        }
        #[test]
        fn signal_task() {
            conformance::signal_task(&$suite());
        }
        #[test]
        fn destroy() {
            conformance::destroy(&$suite());
        }
        #[test]
        fn inspect_and_stats() {
            conformance::inspect_and_stats(&$suite());
        }
        #[test]
        fn recover_after_host_restart() {
            conformance::recover(&$suite());
        }
        #[test]
        fn exec_in_task() {
            conformance::exec(&$suite());
        }
        #[test]
        fn errors_are_reported_not_thrown() {
            conformance::errors(&$suite());
        }
    };
}

/// Like [`conformance_tests!`] for a driver that needs something the machine
/// may lack (root, a Docker Engine): `$suite(test_name)` returns `None`, after
/// saying loudly why, to skip the case.
#[macro_export]
macro_rules! conformance_tests_where_available {
    ($suite:path) => {
        $crate::conformance_tests_where_available!(@cases $suite,
            info_and_fingerprint => info_and_fingerprint,
            start_and_wait_for_exit_codes => start_and_wait,
            stop_with_timeout_and_signal => stop_with_signal,
            signal_task => signal_task,
            destroy => destroy,
            inspect_and_stats => inspect_and_stats,
            recover_after_host_restart => recover,
            exec_in_task => exec,
            errors_are_reported_not_thrown => errors
        );
    };
    (@cases $suite:path, $($name:ident => $case:ident),*) => {
        $(
            #[test]
            fn $name() {
                if let Some(s) = $suite(stringify!($name)) {
                    conformance::$case(&s);
                }
            }
        )*
    };
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh directory under the target dir for one test.
pub fn scratch(label: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "sched-conformance-{}-{label}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A host with the suite's driver loaded. Every test shares one cache, so
/// a driver is compiled once per test run (`_cache` is for tests of their own
/// cache).
pub fn host(suite: &Suite, _cache: &Path) -> DriverHost {
    let host = DriverHost::new(HostConfig {
        cache_dir: std::env::temp_dir().join("sched-test-driver-cache"),
        plugin_dir: None,
        grants: vec![suite.grant.clone()],
        builtins: suite.component.is_none(),
        capabilities: CapabilitySet::all(DockerConfig::default()),
        ..HostConfig::default()
    })
    .unwrap();
    if let Some(path) = &suite.component {
        host.load_file(path).unwrap();
    }
    host
}

/// A task config for `driver_config`, with its directories under `dir`.
pub fn task(suite: &Suite, dir: &Path, name: &str, driver_config: serde_json::Value) -> TaskConfig {
    let task_dir = dir.join(name);
    let alloc_dir = dir.join("alloc");
    std::fs::create_dir_all(&task_dir).unwrap();
    std::fs::create_dir_all(&alloc_dir).unwrap();
    let alloc_id = "7b0a2b4e-0000-4000-8000-000000000001".to_string();
    TaskConfig {
        id: format!("{alloc_id}/{name}"),
        name: name.to_string(),
        alloc_id,
        job_id: "conformance".into(),
        group_name: "group".into(),
        driver_config: driver_config.to_string(),
        env: vec![
            ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
            ("SCHED_TASK_NAME".into(), name.to_string()),
        ],
        user: None,
        task_dir: task_dir.display().to_string(),
        alloc_dir: alloc_dir.display().to_string(),
        stdout_path: task_dir.join("stdout.log").display().to_string(),
        stderr_path: task_dir.join("stderr.log").display().to_string(),
        resources: Resources {
            cpu_mhz: 100,
            cores: 0,
            memory_mb: 64,
            memory_max_mb: 0,
        },
        ports: vec![],
        network_mode: "host".into(),
        hostname: name.to_string(),
        trace_id: format!("trace-{}-{name}", suite.driver),
    }
}

/// Polls `wait-task` until the task exits or `within` passes.
pub fn wait_exit(d: &DriverHandle, h: &TaskHandle, within: Duration) -> Option<ExitResult> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(exit) = d.wait_task(h, Duration::from_millis(200)).unwrap() {
            return Some(exit);
        }
    }
    None
}

pub fn info_and_fingerprint(s: &Suite) {
    let dir = scratch("info");
    let host = host(s, &dir.join("cache"));
    let d = host.driver(s.driver).unwrap();
    let info = d.info().unwrap();
    assert!(
        !info.name.is_empty() && !info.version.is_empty(),
        "{info:?}"
    );
    let fp = d.fingerprint().unwrap();
    assert_eq!(
        fp.health,
        sched_client::driver_host::Health::Healthy,
        "{fp:?}"
    );
    let schema = d.config_schema().unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(&schema).is_ok(),
        "schema is not JSON: {schema}"
    );
}

pub fn start_and_wait(s: &Suite) {
    let dir = scratch("wait");
    let host = host(s, &dir.join("cache"));
    let d = host.driver(s.driver).unwrap();
    for code in [0, 3] {
        let h = d
            .start_task(&task(s, &dir, &format!("exit{code}"), (s.exits_with)(code)))
            .unwrap();
        assert_eq!(h.driver, s.driver, "the handle names its driver");
        let exit = wait_exit(&d, &h, Duration::from_secs(10)).expect("the task exits");
        assert_eq!(exit.exit_code, code, "{exit:?}");
        // Waiting again gives the same answer.
        assert_eq!(d.wait_task(&h, Duration::ZERO).unwrap(), Some(exit));
        let status = d.inspect_task(&h).unwrap();
        assert_eq!(status.state, TaskState::Exited, "{status:?}");
        assert_eq!(status.exit, Some(exit));
        d.destroy_task(&h, false).unwrap();
    }
}

pub fn stop_with_signal(s: &Suite) {
    let dir = scratch("stop");
    let host = host(s, &dir.join("cache"));
    let d = host.driver(s.driver).unwrap();
    let h = d
        .start_task(&task(s, &dir, "stop", (s.long_running)()))
        .unwrap();
    let t = Instant::now();
    assert_eq!(
        d.wait_task(&h, Duration::from_millis(100)).unwrap(),
        None,
        "still running"
    );
    if s.real_processes && s.wait_blocks {
        assert!(
            t.elapsed() >= Duration::from_millis(90),
            "wait-task waits for its timeout"
        );
    }
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "wait-task returns after its timeout"
    );
    d.stop_task(&h, Duration::from_secs(2), Some("SIGTERM"))
        .unwrap();
    if s.real_processes {
        let exit = wait_exit(&d, &h, Duration::from_secs(10)).expect("stopped");
        assert!(
            (s.ended_by)(&exit, 15) || (s.ended_by)(&exit, 9),
            "{exit:?}"
        );
        assert_eq!(d.inspect_task(&h).unwrap().state, TaskState::Exited);
    }
    // Stopping a stopped task is fine.
    d.stop_task(&h, Duration::from_millis(100), None).unwrap();
    d.destroy_task(&h, true).unwrap();
}

pub fn signal_task(s: &Suite) {
    let dir = scratch("signal");
    let host = host(s, &dir.join("cache"));
    let d = host.driver(s.driver).unwrap();
    let h = d
        .start_task(&task(s, &dir, "signal", (s.long_running)()))
        .unwrap();
    d.signal_task(&h, "SIGUSR1").unwrap();
    if s.real_processes {
        let exit = wait_exit(&d, &h, Duration::from_secs(10))
            .expect("SIGUSR1 ends a process that does not handle it");
        assert!((s.ended_by)(&exit, 10), "{exit:?}");
        assert!(d.signal_task(&h, "SIGNOTASIGNAL").is_err());
    }
    d.stop_task(&h, Duration::from_millis(500), None).unwrap();
    d.destroy_task(&h, true).unwrap();
}

pub fn destroy(s: &Suite) {
    let dir = scratch("destroy");
    let host = host(s, &dir.join("cache"));
    let d = host.driver(s.driver).unwrap();
    let h = d
        .start_task(&task(s, &dir, "destroy", (s.long_running)()))
        .unwrap();
    // Force destroys a running task.
    d.destroy_task(&h, true).unwrap();
    if s.real_processes {
        match d.wait_task(&h, Duration::from_millis(500)) {
            Ok(Some(_)) | Err(DriverError::NotFound { .. }) => {}
            other => panic!("a destroyed task is gone, got {other:?}"),
        }
    }
}

pub fn inspect_and_stats(s: &Suite) {
    let dir = scratch("inspect");
    let host = host(s, &dir.join("cache"));
    let d = host.driver(s.driver).unwrap();
    let h = d
        .start_task(&task(s, &dir, "inspect", (s.long_running)()))
        .unwrap();
    let status = d.inspect_task(&h).unwrap();
    assert_eq!(status.state, TaskState::Running, "{status:?}");
    assert!(
        status.started_at > 0 && status.completed_at == 0 && status.exit.is_none(),
        "{status:?}"
    );
    let usage = d.task_stats(&h).unwrap();
    assert!(usage.timestamp > 0, "{usage:?}");
    assert!(usage.pids >= 1, "{usage:?}");
    if s.real_processes {
        assert!(usage.memory_rss > 0, "{usage:?}");
        d.stop_task(&h, Duration::from_secs(2), None).unwrap();
        wait_exit(&d, &h, Duration::from_secs(10)).expect("stopped");
        let status = d.inspect_task(&h).unwrap();
        assert_eq!(status.state, TaskState::Exited, "{status:?}");
        assert!(status.completed_at >= status.started_at, "{status:?}");
    }
    d.destroy_task(&h, true).unwrap();
}

pub fn recover(s: &Suite) {
    let dir = scratch("recover");
    let cache = dir.join("cache");
    let (running, finished) = {
        let host = host(s, &cache);
        let d = host.driver(s.driver).unwrap();
        let running = d
            .start_task(&task(s, &dir, "recover", (s.long_running)()))
            .unwrap();
        let finished = d
            .start_task(&task(s, &dir, "done", (s.exits_with)(0)))
            .unwrap();
        wait_exit(&d, &finished, Duration::from_secs(10)).expect("exits");
        (running, finished)
        // The host (and every trace of the tasks in it) goes here.
    };
    let host = host(s, &cache);
    let d = host.driver(s.driver).unwrap();
    d.recover_task(&running).unwrap();
    assert_eq!(d.inspect_task(&running).unwrap().state, TaskState::Running);
    assert_eq!(
        d.wait_task(&running, Duration::from_millis(50)).unwrap(),
        None
    );
    d.stop_task(&running, Duration::from_secs(2), None).unwrap();
    if s.real_processes {
        wait_exit(&d, &running, Duration::from_secs(10)).expect("a recovered task can be stopped");
    }
    d.destroy_task(&running, true).unwrap();
    if s.real_processes {
        // A task that ended while the host was gone is either gone (a plain
        // process leaves nothing to ask) or still reports how it ended (a
        // container stays until it is destroyed).
        match d.recover_task(&finished) {
            Err(DriverError::NotFound { .. }) => {}
            Ok(()) => {
                let exit = wait_exit(&d, &finished, Duration::from_secs(10))
                    .expect("a recovered task that ended reports its exit");
                assert_eq!(exit.exit_code, 0, "{exit:?}");
                d.destroy_task(&finished, true).unwrap();
            }
            other => panic!("recovering a task that ended: {other:?}"),
        }
    }
}

pub fn exec(s: &Suite) {
    let dir = scratch("exec");
    let host = host(s, &dir.join("cache"));
    let d = host.driver(s.driver).unwrap();
    let h = d
        .start_task(&task(s, &dir, "exec", (s.long_running)()))
        .unwrap();
    match &s.exec {
        Some((argv, expect)) => {
            let out = d.exec_task(&h, argv, Duration::from_secs(5)).unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(stdout.contains(expect), "{stdout:?} lacks {expect:?}");
            assert_eq!(out.exit.exit_code, 0, "{out:?}");
        }
        None => {
            let err = d
                .exec_task(&h, &["true".to_string()], Duration::from_secs(1))
                .unwrap_err();
            assert!(matches!(err, DriverError::Unsupported { .. }), "{err}");
        }
    }
    d.stop_task(&h, Duration::from_secs(2), None).unwrap();
    d.destroy_task(&h, true).unwrap();
}

pub fn errors(s: &Suite) {
    let dir = scratch("errors");
    let host = host(s, &dir.join("cache"));
    let d = host.driver(s.driver).unwrap();
    let err = d
        .start_task(&task(
            s,
            &dir,
            "bad",
            serde_json::json!({"no such field": []}),
        ))
        .unwrap_err();
    assert!(matches!(err, DriverError::InvalidConfig { .. }), "{err}");
    let bogus = TaskHandle {
        id: "nobody/nothing".into(),
        driver: s.driver.into(),
        version: 1,
        state: b"not a state".to_vec(),
    };
    assert!(d.inspect_task(&bogus).is_err());
    assert!(matches!(
        host.driver("no-such-driver"),
        Err(DriverError::NotLoaded { .. })
    ));
}

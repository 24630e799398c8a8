//! The sandbox holds whatever a driver does: a loop is interrupted at its
//! time budget, a memory hog stops at the store's limit, an ungranted
//! capability is refused, a component that does not match the world is not
//! loaded, and the host serves the next call right after each of these.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use sched_client::driver_host::{
    CacheOutcome, Capability, DriverError, DriverGrant, DriverHost, HostConfig, Limits,
};

fn scratch(label: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("sched-sandbox-{}-{label}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A host without built-ins; `_label` names the test in failures.
fn host(_label: &str, grants: Vec<DriverGrant>, limits: Limits) -> DriverHost {
    DriverHost::new(HostConfig {
        cache_dir: support::shared_cache(),
        plugin_dir: None,
        grants,
        builtins: false,
        limits,
        ..HostConfig::default()
    })
    .unwrap()
}

#[test]
fn a_looping_driver_is_interrupted_and_the_host_carries_on() {
    let host = host("looper", vec![], Limits::default());
    let looper = support::component(&[("info", support::LOOP), ("fingerprint", support::ZEROES)]);
    host.load_component("looper", &looper, "looper.wasm")
        .unwrap();
    let d = host.driver("looper").unwrap();
    let t = Instant::now();
    let err = d.info().unwrap_err();
    let took = t.elapsed();
    assert!(
        matches!(err, DriverError::TimeBudget { call: "info", .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "driver looper exceeded its time budget in info (2s of guest execution)"
    );
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(4),
        "{took:?}"
    );
    // The next call is served at once, by the same driver.
    let t = Instant::now();
    d.fingerprint().unwrap();
    assert!(t.elapsed() < Duration::from_millis(500));
}

#[test]
fn concurrent_calls_each_get_their_own_budget() {
    let host = host(
        "looper-many",
        vec![],
        Limits {
            call_budget: Duration::from_millis(300),
            ..Limits::default()
        },
    );
    let looper = support::component(&[("info", support::LOOP), ("config-schema", support::ZEROES)]);
    host.load_component("looper", &looper, "looper.wasm")
        .unwrap();
    let d = host.driver("looper").unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let d = d.clone();
            std::thread::spawn(move || d.info().unwrap_err())
        })
        .collect();
    let schema = d.config_schema().unwrap();
    assert_eq!(schema, "");
    for t in threads {
        assert!(matches!(t.join().unwrap(), DriverError::TimeBudget { .. }));
    }
}

#[test]
fn a_memory_hog_stops_at_the_store_limit() {
    let host = host("hog", vec![], Limits::default());
    let hog = support::component(&[("info", support::HOG), ("fingerprint", support::ZEROES)]);
    host.load_component("hog", &hog, "hog.wasm").unwrap();
    let d = host.driver("hog").unwrap();
    let err = d.info().unwrap_err();
    assert!(
        matches!(err, DriverError::MemoryLimit { call: "info", .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("the limit is 67108864 bytes"),
        "{err}"
    );
    d.fingerprint().unwrap();
}

#[test]
fn an_ungranted_capability_is_denied() {
    let host = host("sneaky", vec![], Limits::default());
    let sneaky = support::component(&[("info", support::SNEAKY)]);
    host.load_component("sneaky", &sneaky, "sneaky.wasm")
        .unwrap();
    let err = host.driver("sneaky").unwrap().info().unwrap_err();
    match &err {
        DriverError::Denied {
            driver,
            capability,
            call,
            ..
        } => {
            assert_eq!(
                (driver.as_str(), capability.as_str(), *call),
                ("sneaky", "process", "info")
            );
        }
        other => panic!("expected Denied, got {other:?}"),
    }
    // Granted, the same call gets through to the capability (and then
    // traps on its own `unreachable`).
    let granted = host_with_grant();
    granted
        .load_component("sneaky", &sneaky, "sneaky.wasm")
        .unwrap();
    let err = granted.driver("sneaky").unwrap().info().unwrap_err();
    assert!(matches!(err, DriverError::Trap { .. }), "{err:?}");
}

fn host_with_grant() -> DriverHost {
    host(
        "sneaky-granted",
        vec![DriverGrant::new("sneaky", [Capability::Process])],
        Limits::default(),
    )
}

#[test]
fn components_that_do_not_match_the_world_are_refused_by_name() {
    let dir = scratch("mismatch");
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::write(
        plugins.join("empty.wasm"),
        wat::parse_str("(component)").unwrap(),
    )
    .unwrap();
    std::fs::write(
        plugins.join("wasi.wasm"),
        wat::parse_str(r#"(component (import "wasi:cli/environment@0.2.0" (instance (export "get-environment" (func)))))"#).unwrap(),
    )
    .unwrap();
    std::fs::write(
        plugins.join("core.wasm"),
        wat::parse_str("(module)").unwrap(),
    )
    .unwrap();
    std::fs::write(
        plugins.join("good.wasm"),
        support::component(&[("info", support::ZEROES)]),
    )
    .unwrap();
    std::fs::write(plugins.join("notes.txt"), "not a plugin").unwrap();
    let host = DriverHost::new(HostConfig {
        cache_dir: dir.join("cache"),
        plugin_dir: Some(plugins.clone()),
        builtins: false,
        ..HostConfig::default()
    })
    .unwrap();
    assert_eq!(host.drivers(), vec!["good".to_string()]);
    host.driver("good").unwrap().info().unwrap();
    let failures = host.load_failures().join("\n");
    assert!(
        failures.contains("empty.wasm") && failures.contains("sched:driver/driver@0.1.0"),
        "{failures}"
    );
    assert!(
        failures.contains("wasi.wasm") && failures.contains("wasi:cli/environment@0.2.0"),
        "{failures}"
    );
    assert!(failures.contains("core.wasm"), "{failures}");
    assert!(!failures.contains("notes.txt"), "{failures}");
}

#[test]
fn compiled_components_are_cached_on_disk() {
    let dir = scratch("cache");
    let bytes = support::component(&[("info", support::ZEROES)]);
    let config = || HostConfig {
        cache_dir: dir.join("cache"),
        builtins: false,
        ..HostConfig::default()
    };
    let first = DriverHost::new(config()).unwrap();
    assert_eq!(
        first.load_component("d", &bytes, "d.wasm").unwrap().outcome,
        CacheOutcome::Compiled
    );
    drop(first);
    let second = DriverHost::new(config()).unwrap();
    assert_eq!(
        second
            .load_component("d", &bytes, "d.wasm")
            .unwrap()
            .outcome,
        CacheOutcome::Cached
    );
    second.driver("d").unwrap().info().unwrap();
    let files: Vec<_> = std::fs::read_dir(dir.join("cache"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    // A damaged cache file is dropped and the component compiled again.
    // (Replaced, not rewritten in place: the loaded component maps it.)
    std::fs::remove_file(&files[0]).unwrap();
    std::fs::write(&files[0], b"garbage").unwrap();
    assert_eq!(
        second
            .load_component("d", &bytes, "d.wasm")
            .unwrap()
            .outcome,
        CacheOutcome::Compiled
    );
    second.driver("d").unwrap().info().unwrap();
}

#[test]
fn an_unloaded_driver_is_an_error() {
    let host = host("none", vec![], Limits::default());
    assert!(matches!(
        host.driver("raw_exec"),
        Err(DriverError::NotLoaded { .. })
    ));
}

// The test plugins built from Rust with the guest SDK (drivers/testing).

fn guest_plugin_host(label: &str, plugin: &str) -> DriverHost {
    let host = host(label, vec![], Limits::default());
    let path = support::workspace().join(format!("drivers/components/{plugin}.wasm"));
    host.load_file(&path).unwrap();
    host.load_file(&support::workspace().join("drivers/components/mock.wasm"))
        .unwrap();
    host
}

fn some_task() -> sched_client::driver_host::TaskConfig {
    sched_client::driver_host::TaskConfig {
        id: "alloc/task".into(),
        name: "task".into(),
        alloc_id: "alloc".into(),
        job_id: "job".into(),
        group_name: "group".into(),
        driver_config: "{}".into(),
        env: vec![],
        user: None,
        task_dir: "/tmp".into(),
        alloc_dir: "/tmp".into(),
        stdout_path: String::new(),
        stderr_path: String::new(),
        resources: sched_client::driver_host::Resources {
            cpu_mhz: 100,
            cores: 0,
            memory_mb: 64,
            memory_max_mb: 0,
        },
        ports: vec![],
        network_mode: "host".into(),
        hostname: "task".into(),
        trace_id: "trace".into(),
    }
}

#[test]
fn the_looper_plugin_is_cut_off_and_the_next_call_is_served() {
    let host = guest_plugin_host("guest-looper", "looper");
    let t = Instant::now();
    let err = host
        .driver("looper")
        .unwrap()
        .start_task(&some_task())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "driver looper exceeded its time budget in start-task (2s of guest execution)"
    );
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    let t = Instant::now();
    assert_eq!(host.driver("mock").unwrap().info().unwrap().name, "mock");
    assert_eq!(
        host.driver("looper").unwrap().info().unwrap().name,
        "looper"
    );
    assert!(t.elapsed() < Duration::from_millis(500));
}

#[test]
fn the_hog_plugin_hits_the_memory_limit() {
    let host = guest_plugin_host("guest-hog", "hog");
    let err = host
        .driver("hog")
        .unwrap()
        .start_task(&some_task())
        .unwrap_err();
    assert!(
        matches!(
            err,
            DriverError::MemoryLimit {
                call: "start-task",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(host.driver("hog").unwrap().info().unwrap().name, "hog");
}

#[test]
fn the_sneaky_plugin_gets_capability_denied() {
    let host = guest_plugin_host("guest-sneaky", "sneaky");
    let err = host
        .driver("sneaky")
        .unwrap()
        .start_task(&some_task())
        .unwrap_err();
    match &err {
        DriverError::CapabilityDenied { driver, message } => {
            assert_eq!(driver, "sneaky");
            assert!(
                message.contains("driver sneaky was not granted the process capability"),
                "{message}"
            );
        }
        other => panic!("expected CapabilityDenied, got {other:?}"),
    }
}

#[test]
fn a_plugin_named_like_a_built_in_gets_no_built_in_grant() {
    let host = host("impostor", vec![], Limits::default());
    let impostor = support::component(&[("info", support::ZEROES)]);
    host.load_component("raw_exec", &impostor, "plugins/raw_exec.wasm")
        .unwrap();
    assert!(
        host.driver("raw_exec")
            .unwrap()
            .grant()
            .capabilities
            .is_empty()
    );
}

#[test]
fn the_cache_forgets_components_unused_for_a_month() {
    let dir = scratch("prune");
    let cache = dir.join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let old = cache.join("0000-old.cwasm");
    let recent = cache.join("0000-recent.cwasm");
    for p in [&old, &recent] {
        std::fs::write(p, b"x").unwrap();
    }
    let month_ago = std::time::SystemTime::now() - Duration::from_secs(31 * 24 * 3600);
    std::fs::File::options()
        .append(true)
        .open(&old)
        .unwrap()
        .set_modified(month_ago)
        .unwrap();
    DriverHost::new(HostConfig {
        cache_dir: cache,
        builtins: false,
        ..HostConfig::default()
    })
    .unwrap();
    assert!(!old.exists() && recent.exists());
}

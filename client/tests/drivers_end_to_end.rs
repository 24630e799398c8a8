//! The built-in exec and docker drivers end to end, through the WASM host:
//! what they promise beyond the conformance suite. exec: real isolation (its
//! own pid namespace, a root of the task dir with read-only system dirs, the
//! alloc's hostname, the OOM killer at the memory limit). docker: ports
//! reachable on the host, logs in the task's files, nothing left behind.
#![allow(clippy::unwrap_used)]

mod conformance;
#[allow(dead_code)]
#[path = "support/docker_image.rs"]
mod docker_image;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use conformance::{Suite, host, scratch, task, wait_exit};
use sched_client::driver_host::{DriverGrant, PortMapping};

fn suite(driver: &'static str) -> Suite {
    Suite {
        driver,
        component: None,
        grant: DriverGrant::builtin(driver).unwrap(),
        long_running: || serde_json::Value::Null,
        exits_with: |_| serde_json::Value::Null,
        real_processes: true,
        exec: None,
        wait_blocks: true,
        ended_by: conformance::killed_by,
    }
}

/// Polls until `f` gives a value or `within` passes.
fn eventually<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn exec_tasks_are_isolated() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED: exec isolation needs root (namespaces, cgroups)");
        return;
    }
    let s = suite("exec");
    let dir = scratch("isolation");
    let host = host(&s, &dir.join("cache"));
    let d = host.driver("exec").unwrap();
    let script = "echo pids=$(ls /proc | grep -c '^[0-9]'); echo host=$(hostname); \
                  echo root=$(ls -A /root 2>/dev/null | wc -l); \
                  (echo x > /usr/probe) 2>/dev/null && echo usr=writable || echo usr=readonly; \
                  (echo x > /local-probe) 2>/dev/null && echo own=writable || echo own=readonly";
    let mut cfg = task(
        &s,
        &dir,
        "probe",
        serde_json::json!({"command": "/bin/sh", "args": ["-c", script]}),
    );
    cfg.hostname = "web-0".into();
    let h = d.start_task(&cfg).unwrap();
    let exit = wait_exit(&d, &h, Duration::from_secs(20)).expect("the probe exits");
    assert_eq!(exit.exit_code, 0, "{exit:?}");
    let out = std::fs::read_to_string(&cfg.stdout_path).unwrap();
    // sched's init, the shell, and the commands of the pipeline it runs.
    let pids: u32 = out
        .lines()
        .find_map(|l| l.strip_prefix("pids="))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pids <= 5, "only the task's processes are visible: {out}");
    assert!(out.contains("host=web-0"), "{out}");
    assert!(
        out.contains("root=0"),
        "the host's /root is not visible: {out}"
    );
    assert!(out.contains("usr=readonly"), "{out}");
    assert!(out.contains("own=writable"), "{out}");
    assert!(!std::path::Path::new("/usr/probe").exists());
    d.destroy_task(&h, true).unwrap();

    // Over its memory limit: the OOM killer ends it, and the exit says so.
    let mut cfg = task(
        &s,
        &dir,
        "hog",
        serde_json::json!({"command": "/bin/sh", "args": ["-c", "head -c 300000000 /dev/zero | tail"]}),
    );
    cfg.resources.memory_mb = 32;
    let h = d.start_task(&cfg).unwrap();
    let exit = wait_exit(&d, &h, Duration::from_secs(60)).expect("the hog ends");
    assert!(exit.oom_killed, "{exit:?}");
    d.destroy_task(&h, true).unwrap();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
        .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    body.contains("200").then_some(body)
}

#[test]
fn docker_ports_logs_and_cleanup() {
    if docker_image::busybox_image("docker_ports_logs_and_cleanup").is_none() {
        return;
    }
    let s = suite("docker");
    let dir = scratch("docker-e2e");
    let host = host(&s, &dir.join("cache"));
    let d = host.driver("docker").unwrap();

    let port = free_port();
    let mut cfg = task(
        &s,
        &dir,
        "web",
        serde_json::json!({
            "image": docker_image::IMAGE, "command": "httpd", "args": ["-f", "-p", "8080", "-h", "/www"], "ports": ["http"],
        }),
    );
    cfg.ports = vec![PortMapping {
        label: "http".into(),
        host_ip: "127.0.0.1".into(),
        host_port: port,
        task_port: 8080,
    }];
    let web = d.start_task(&cfg).unwrap();
    let body = eventually(Duration::from_secs(20), || http_get(port))
        .expect("the port is reachable on the host");
    assert!(body.contains("hello from sched-busybox"), "{body}");

    let cfg = task(
        &s,
        &dir,
        "talker",
        serde_json::json!({
            "image": docker_image::IMAGE, "command": "sh", "args": ["-c", "echo to-stdout; echo to-stderr >&2"],
        }),
    );
    let talker = d.start_task(&cfg).unwrap();
    let exit = wait_exit(&d, &talker, Duration::from_secs(20)).expect("exits");
    assert_eq!(exit.exit_code, 0);
    let logs = eventually(Duration::from_secs(10), || {
        let out = std::fs::read_to_string(&cfg.stdout_path).ok()?;
        let err = std::fs::read_to_string(&cfg.stderr_path).ok()?;
        (out.contains("to-stdout") && err.contains("to-stderr")).then_some((out, err))
    });
    let (out, err) = logs.expect("the container's output reaches the task's log files");
    assert!(
        !out.contains("to-stderr") && !err.contains("to-stdout"),
        "streams kept apart: {out:?} {err:?}"
    );

    for h in [&web, &talker] {
        d.stop_task(h, Duration::from_secs(2), None).unwrap();
        d.destroy_task(h, true).unwrap();
    }
    let alloc = &cfg.alloc_id;
    let left = docker_image::docker(&["ps", "-a", "--format", "{{.Names}}"]).unwrap();
    let names = String::from_utf8_lossy(&left.stdout);
    assert!(
        !names.lines().any(|n| n.ends_with(alloc.as_str())),
        "containers left behind: {names}"
    );
}

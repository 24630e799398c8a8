//! A real `Client` running raw_exec tasks: the environment, lifecycle
//! order, restart policy, and bad input (missing artifacts, wrong checksums,
//! missing binaries) ending as failed tasks with clear events.
#![allow(clippy::unwrap_used)]

mod client_support;

use std::io::{Read, Write};
use std::time::Duration;

use client_support::*;
use sched_core::model::{
    AllocatedPortMapping, AllocatedSharedResources, Artifact, ClientStatus, TaskLifecycle,
};

const LONG: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_env_has_the_documented_variables() {
    let dir = tempdir();
    let servers = InMemoryServers::new();
    let host = driver_host();
    let (client, _stop) = start(dir.path(), &servers, &host).await;
    let mut task = sh_task("dump", "env > \"$NOMAD_ALLOC_DIR/data/env.txt\"");
    task.env = Some(
        [(
            "GREETING".to_string(),
            "hi-${NOMAD_ALLOC_INDEX}".to_string(),
        )]
        .into_iter()
        .collect(),
    );
    let mut a = alloc(&client.node_id(), "batch", vec![task], None);
    a.allocated_resources.shared = AllocatedSharedResources {
        ports: vec![AllocatedPortMapping {
            label: "http".into(),
            value: 23456,
            to: 0,
            host_ip: "127.0.0.1".into(),
        }],
        ..AllocatedSharedResources::default()
    };
    let id = a.id.clone();
    let eval = a.eval_id.to_string();
    servers.put_alloc(a);
    eventually(LONG, || {
        (servers.latest(&id)?.client_status == ClientStatus::Complete).then_some(())
    })
    .await
    .expect("the task completes and the servers hear of it");

    let env =
        std::fs::read_to_string(alloc_dir(dir.path(), &id).join("alloc/data/env.txt")).unwrap();
    let vars: std::collections::BTreeMap<&str, &str> =
        env.lines().filter_map(|l| l.split_once('=')).collect();
    let ad = alloc_dir(dir.path(), &id);
    let expect = [
        ("NOMAD_ALLOC_ID", id.to_string()),
        ("NOMAD_SHORT_ALLOC_ID", id.short().to_string()),
        ("NOMAD_ALLOC_NAME", "job1.grp[2]".to_string()),
        ("NOMAD_ALLOC_INDEX", "2".to_string()),
        ("NOMAD_JOB_ID", "job1".to_string()),
        ("NOMAD_JOB_NAME", "job1".to_string()),
        ("NOMAD_GROUP_NAME", "grp".to_string()),
        ("NOMAD_TASK_NAME", "dump".to_string()),
        ("NOMAD_NAMESPACE", "default".to_string()),
        ("NOMAD_REGION", "global".to_string()),
        ("NOMAD_DC", "dc1".to_string()),
        ("NOMAD_ALLOC_DIR", ad.join("alloc").display().to_string()),
        (
            "NOMAD_TASK_DIR",
            ad.join("dump/local").display().to_string(),
        ),
        (
            "NOMAD_SECRETS_DIR",
            ad.join("dump/secrets").display().to_string(),
        ),
        ("NOMAD_PORT_http", "23456".to_string()),
        ("NOMAD_IP_http", "127.0.0.1".to_string()),
        ("NOMAD_ADDR_http", "127.0.0.1:23456".to_string()),
        ("NOMAD_META_owner", "team-a".to_string()),
        ("NOMAD_META_OWNER", "team-a".to_string()),
        ("SCHED_ALLOC_ID", id.to_string()),
        ("SCHED_TRACE_ID", eval),
        ("GREETING", "hi-2".to_string()),
    ];
    for (k, v) in expect {
        assert_eq!(vars.get(k).copied(), Some(v.as_str()), "{k} in\n{env}");
    }
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_hooks_run_in_order() {
    let dir = tempdir();
    let servers = InMemoryServers::new();
    let host = driver_host();
    let (client, _stop) = start(dir.path(), &servers, &host).await;
    let log = "\"$NOMAD_ALLOC_DIR/data/order\"";
    let with_hook = |mut t: sched_core::model::Task, hook: &str| {
        t.lifecycle = Some(TaskLifecycle {
            hook: Some(hook.into()),
            sidecar: Some(false),
        });
        t
    };
    let tasks = vec![
        with_hook(
            sh_task("setup", &format!("sleep 0.5; echo prestart-done >> {log}")),
            "prestart",
        ),
        sh_task(
            "main",
            &format!("echo main-start >> {log}; sleep 0.5; echo main-end >> {log}"),
        ),
        with_hook(
            sh_task("cleanup", &format!("echo poststop >> {log}")),
            "poststop",
        ),
    ];
    let a = alloc(&client.node_id(), "batch", tasks, None);
    let id = a.id.clone();
    servers.put_alloc(a);
    let done = eventually(LONG, || {
        let v = client.alloc(&id)?;
        (v.update.client_status == ClientStatus::Complete).then_some(v)
    })
    .await
    .expect("the allocation completes");
    let order =
        std::fs::read_to_string(alloc_dir(dir.path(), &id).join("alloc/data/order")).unwrap();
    assert_eq!(
        order.lines().collect::<Vec<_>>(),
        vec!["prestart-done", "main-start", "main-end", "poststop"]
    );
    for t in ["setup", "main", "cleanup"] {
        let s = &done.update.task_states[t];
        assert_eq!(s.state, "dead");
        assert!(!s.failed, "{t}: {:?}", event_types(s));
        assert_eq!(event_types(s)[0], "Received");
        assert!(event_types(s).contains(&"Started".to_string()));
    }
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_policy_fail_mode_ends_failed() {
    let dir = tempdir();
    let servers = InMemoryServers::new();
    let host = driver_host();
    let (client, _stop) = start(dir.path(), &servers, &host).await;
    let policy = restart(
        2,
        Duration::from_secs(600),
        Duration::from_millis(10),
        "fail",
    );
    let a = alloc(
        &client.node_id(),
        "service",
        vec![sh_task("flaky", "exit 3")],
        Some(policy),
    );
    let id = a.id.clone();
    servers.put_alloc(a);
    let s = eventually(LONG, || {
        let s = task_state(&client, &id, "flaky")?;
        (s.state == "dead").then_some(s)
    })
    .await
    .expect("the task ends");
    assert!(s.failed);
    assert_eq!(s.restarts, 2);
    let types = event_types(&s);
    assert_eq!(
        types.iter().filter(|t| *t == "Started").count(),
        3,
        "{types:?}"
    );
    assert_eq!(
        types.iter().filter(|t| *t == "Terminated").count(),
        3,
        "{types:?}"
    );
    assert_eq!(
        types.iter().filter(|t| *t == "Restarting").count(),
        2,
        "{types:?}"
    );
    let last = s.events.last().unwrap();
    assert_eq!(last.r#type, "Not Restarting");
    assert!(last.fails_task);
    assert_eq!(
        last.restart_reason,
        "Exceeded allowed attempts 2 in interval 10m0s and mode is \"fail\""
    );
    let term = s.events.iter().find(|e| e.r#type == "Terminated").unwrap();
    assert_eq!(term.exit_code, 3);
    let reported = eventually(LONG, || {
        let u = servers.latest(&id)?;
        (u.client_status == ClientStatus::Failed).then_some(u)
    })
    .await;
    assert!(reported.is_some(), "the servers hear the allocation failed");
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_policy_delay_mode_waits_for_the_interval() {
    let dir = tempdir();
    let servers = InMemoryServers::new();
    let host = driver_host();
    let (client, _stop) = start(dir.path(), &servers, &host).await;
    let policy = restart(
        1,
        Duration::from_secs(3),
        Duration::from_millis(10),
        "delay",
    );
    let a = alloc(
        &client.node_id(),
        "service",
        vec![sh_task("flaky", "exit 1")],
        Some(policy),
    );
    let id = a.id.clone();
    servers.put_alloc(a);
    // Two runs use the attempt; the third start waits for the interval.
    let s = eventually(LONG, || {
        let s = task_state(&client, &id, "flaky")?;
        (s.events.iter().filter(|e| e.r#type == "Started").count() >= 3).then_some(s)
    })
    .await
    .expect("the task starts a third time after the delay");
    let delayed = s
        .events
        .iter()
        .position(|e| e.restart_reason == "Exceeded allowed attempts, applying a delay")
        .expect("a delayed restart");
    let ev = &s.events[delayed];
    assert!(ev.start_delay > 1_000_000_000, "{ev:?}");
    let next_start = s.events[delayed..]
        .iter()
        .find(|e| e.r#type == "Started")
        .unwrap();
    assert!(
        next_start.time - ev.time >= ev.start_delay - 50_000_000,
        "the restart waited its delay: {} < {}",
        next_start.time - ev.time,
        ev.start_delay
    );
    assert!(!s.failed);
    servers.stop_alloc(&id);
    eventually(LONG, || {
        (task_state(&client, &id, "flaky")?.state == "dead").then_some(())
    })
    .await
    .expect("stopping the allocation ends the task");
    client.shutdown().await;
}

/// A one-shot HTTP server on 127.0.0.1: `/ok` answers `body`, anything
/// else 404. Serves up to `n` requests, then ends.
fn http_server(body: &'static [u8], n: usize) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in l.incoming().take(n) {
            let Ok(mut s) = stream else { continue };
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut buf = [0u8; 2048];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]);
            let resp = if req.starts_with("GET /ok ") {
                let mut r = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                r.extend_from_slice(body);
                r
            } else {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            };
            let _ = s.write_all(&resp);
        }
    });
    port
}

fn with_artifact(
    mut t: sched_core::model::Task,
    url: String,
    checksum: Option<&str>,
) -> sched_core::model::Task {
    t.artifacts = Some(vec![Artifact {
        getter_source: Some(url),
        getter_options: checksum.map(|c| {
            [("checksum".to_string(), serde_json::json!(c))]
                .into_iter()
                .collect()
        }),
        ..Artifact::default()
    }]);
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_the_task_with_a_clear_event() {
    let dir = tempdir();
    let servers = InMemoryServers::new();
    let host = driver_host();
    let (client, _stop) = start(dir.path(), &servers, &host).await;
    let port = http_server(b"payload", 4);
    let node = client.node_id();

    let cases = [
        (
            with_artifact(
                sh_task("t", "true"),
                format!("http://127.0.0.1:{port}/missing.tar.gz"),
                None,
            ),
            "Failed Artifact Download",
            "404",
        ),
        (
            with_artifact(
                sh_task("t", "true"),
                format!("http://127.0.0.1:{port}/ok"),
                Some("sha256:0000000000000000000000000000000000000000000000000000000000000000"),
            ),
            "Failed Artifact Download",
            "checksums did not match",
        ),
        (
            {
                let mut t = sh_task("t", "true");
                t.config = Some(
                    [(
                        "command".to_string(),
                        serde_json::json!("/nonexistent/bin/tool"),
                    )]
                    .into_iter()
                    .collect(),
                );
                t
            },
            "Driver Failure",
            "/nonexistent/bin/tool",
        ),
    ];
    let mut ids = Vec::new();
    for (task, _, _) in &cases {
        let a = alloc(&node, "batch", vec![task.clone()], None);
        ids.push(a.id.clone());
        servers.put_alloc(a);
    }
    for (id, (_, kind, needle)) in ids.iter().zip(cases.iter()) {
        let s = eventually(LONG, || {
            let s = task_state(&client, id, "t")?;
            (s.state == "dead").then_some(s)
        })
        .await
        .unwrap_or_else(|| panic!("{kind}: the task ends"));
        assert!(s.failed, "{kind}: {:?}", event_types(&s));
        let ev = s
            .events
            .iter()
            .find(|e| e.r#type == *kind)
            .unwrap_or_else(|| panic!("no {kind} event in {:?}", event_types(&s)));
        assert!(
            ev.display_message.contains(needle),
            "{kind}: {}",
            ev.display_message
        );
        assert!(!event_types(&s).contains(&"Started".to_string()));
        assert_eq!(s.events.last().unwrap().r#type, "Not Restarting");
    }
    // The client carries on: a good artifact still works.
    let good = with_artifact(
        sh_task("t", "test \"$(cat local/ok)\" = payload"),
        format!("http://127.0.0.1:{port}/ok"),
        Some("sha256:239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5"),
    );
    let a = alloc(&node, "batch", vec![good], None);
    let id = a.id.clone();
    servers.put_alloc(a);
    let s = eventually(LONG, || {
        let s = task_state(&client, &id, "t")?;
        (s.state == "dead").then_some(s)
    })
    .await
    .unwrap();
    assert!(!s.failed, "{:?}", s.events);
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_allocations_are_garbage_collected() {
    let dir = tempdir();
    let servers = InMemoryServers::new();
    let host = driver_host();
    let mut cfg = config(dir.path());
    cfg.gc_max_allocs = 1;
    // Only the count limit: this machine's disk may be past any usage threshold.
    cfg.gc_disk_usage_threshold = 100.0;
    cfg.gc_interval = Duration::from_millis(200);
    let (client, _stop) = start_with(cfg, &servers, &host).await;
    let node = client.node_id();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let a = alloc(&node, "batch", vec![sh_task("t", "echo done")], None);
        ids.push(a.id.clone());
        servers.put_alloc(a);
    }
    // Each completes, the servers record it, and the client keeps at most
    // one finished allocation (the newest) on disk.
    eventually(LONG, || {
        let left: Vec<_> = ids
            .iter()
            .filter(|id| alloc_dir(dir.path(), id).exists())
            .collect();
        let all_done = ids.iter().all(|id| {
            servers
                .latest(id)
                .is_some_and(|u| u.client_status == ClientStatus::Complete)
        });
        (all_done && left.len() == 1).then_some(())
    })
    .await
    .unwrap_or_else(|| {
        let views: Vec<_> = client
            .allocs()
            .into_iter()
            .map(|(id, v)| (id, v.done, v.update.client_status))
            .collect();
        let server: Vec<_> = ids
            .iter()
            .map(|id| servers.latest(id).map(|u| u.client_status))
            .collect();
        panic!(
            "finished allocations beyond the limit are removed: client {views:?} servers {server:?}"
        )
    });
    assert_eq!(client.allocs().len(), 1);
    assert!(
        alloc_dir(dir.path(), &ids[2]).exists(),
        "the newest is kept"
    );
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_leader_takes_the_group_down() {
    let dir = tempdir();
    let servers = InMemoryServers::new();
    let host = driver_host();
    let (client, _stop) = start(dir.path(), &servers, &host).await;
    let mut leader = sh_task("leader", "sleep 0.5");
    leader.leader = Some(true);
    let follower = sh_task("follower", "sleep 3600");
    let a = alloc(&client.node_id(), "batch", vec![leader, follower], None);
    let id = a.id.clone();
    servers.put_alloc(a);
    let v = eventually(LONG, || {
        let v = client.alloc(&id)?;
        v.done.then_some(v)
    })
    .await
    .expect("the allocation ends when its leader does");
    let f = &v.update.task_states["follower"];
    let types = event_types(f);
    assert!(types.contains(&"Leader Task Dead".to_string()), "{types:?}");
    assert_eq!(
        types.last().map(String::as_str),
        Some("Killed"),
        "{types:?}"
    );
    assert!(!f.failed);
    assert_eq!(v.update.client_status, ClientStatus::Complete);
    client.shutdown().await;
}

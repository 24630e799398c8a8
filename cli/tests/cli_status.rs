//! `sched status`, `sched server members` and `sched operator raft` against
//! the HTTP API served on a loopback port, and against nothing at all.
// Test helpers outside #[test] functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use sched_scheduler::mock;
use sched_server::fsm::Command as FsmCommand;
use sched_server::http::{HttpLimits, TestBackend, router, serve};

struct Agent {
    address: String,
    backend: std::sync::Arc<TestBackend>,
    _rt: tokio::runtime::Runtime,
}

fn agent() -> Agent {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let backend = TestBackend::new(1_700_000_000_000_000_000);
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(serve(
        listener,
        router(backend.clone(), HttpLimits::default()),
        std::future::pending(),
    ));
    Agent {
        address,
        backend,
        _rt: rt,
    }
}

fn sched(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sched"))
        .args(args)
        .env_remove("SCHED_ADDR")
        .env_remove("NOMAD_ADDR")
        .output()
        .expect("sched runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn no_agent_is_one_clear_line_and_exit_1() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    for args in [
        &["status", "-address", &addr][..],
        &["server", "members", "-address", &addr],
        &["operator", "raft", "list-peers", "-address", &addr],
    ] {
        let out = sched(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(&format!("no agent at {addr}")), "{err}");
        assert!(err.contains("sched agent -dev"), "{err}");
    }
}

#[test]
fn status_lists_jobs_and_finds_objects_by_prefix() {
    let a = agent();
    let out = sched(&["status", "-address", &a.address]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "No running jobs\n");

    let job = mock::service_job("web", 1, 100, 128);
    let node = mock::node(7);
    a.backend.apply_now(FsmCommand::JobRegister {
        job: Box::new(job),
        eval: None,
        submission: None,
        now: 0,
    });
    a.backend.apply_now(FsmCommand::NodeRegister {
        node: Box::new(node.clone()),
        evals: vec![],
        now: 0,
    });

    let out = sched(&["status", "-address", &a.address]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("ID   Type     Priority  Status   Submit Date\n"),
        "{stdout}"
    );
    assert!(stdout.contains("web  service  50"), "{stdout}");

    let out = sched(&["status", "-address", &a.address, "web"]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("ID          = web"), "{stdout}");
    assert!(stdout.contains("No allocations placed"), "{stdout}");

    let out = sched(&["status", "-address", &a.address, &node.id.as_str()[..8]]);
    assert!(
        text(&out.stdout).contains("Name        = node-7"),
        "{}",
        text(&out.stdout)
    );

    let out = sched(&["status", "-address", &a.address, "-json", "web"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ID"], "web");

    let out = sched(&["status", "-address", &a.address, "zzzz"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no job, allocation, evaluation or node matches"));
}

#[test]
fn server_members_and_raft_peers() {
    let a = agent();
    let out = sched(&["server", "members", "-address", &a.address]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("Name "), "{stdout}");
    assert!(stdout.contains("server-1.global  127.0.0.1"), "{stdout}");
    assert_eq!(stdout.lines().count(), 3);

    let out = sched(&["operator", "raft", "list-peers", "-address", &a.address]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("server-1  1   127.0.0.1:4647  leader    true"),
        "{stdout}"
    );

    let out = sched(&[
        "operator",
        "raft",
        "transfer-leadership",
        "-address",
        &a.address,
        "-peer-id",
        "2",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = sched(&[
        "operator",
        "raft",
        "remove-peer",
        "-address",
        &a.address,
        "-peer-address",
        "127.0.0.1:4647",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = sched(&[
        "operator",
        "raft",
        "list-peers",
        "-address",
        &a.address,
        "-json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Servers"].as_array().unwrap().len(), 1);
    let out = sched(&[
        "operator",
        "raft",
        "remove-peer",
        "-address",
        &a.address,
        "-peer-id",
        "9",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("404"), "{}", text(&out.stderr));
    let out = sched(&["operator", "raft", "remove-peer", "-address", &a.address]);
    assert_eq!(out.status.code(), Some(1));
}

//! `sched operator snapshot save | inspect | restore` against the HTTP API
//! served on a loopback port: a saved file restores the saved state, and a
//! damaged one is refused by both `inspect` and `restore`.
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

fn register(a: &Agent, id: &str) {
    let r = a.backend.apply_now(FsmCommand::JobRegister {
        job: Box::new(mock::service_job(id, 1, 100, 64)),
        eval: None,
        submission: None,
        now: 1,
    });
    assert_eq!(r.error, None);
}

#[test]
fn save_inspect_and_restore_a_snapshot() {
    let a = agent();
    let r = a.backend.apply_now(FsmCommand::NodeRegister {
        node: Box::new(mock::node(1)),
        evals: vec![],
        now: 1,
    });
    assert_eq!(r.error, None);
    register(&a, "web");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.snap");
    let path = file.to_str().unwrap();

    let out = sched(&["operator", "snapshot", "save", "-address", &a.address, path]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("State file written"));

    let out = sched(&["operator", "snapshot", "inspect", "-json", path]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["Jobs"], 1);
    assert_eq!(info["Nodes"], 1);
    assert_eq!(info["Index"], 2);

    register(&a, "later");
    let out = sched(&[
        "operator", "snapshot", "restore", "-address", &a.address, path,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = a.backend.snapshot();
    assert!(s.job("default", "web").is_some());
    assert!(s.job("default", "later").is_none());

    // One flipped byte: refused by both, and the state stays.
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&file, bytes).unwrap();
    let out = sched(&["operator", "snapshot", "inspect", path]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("checksum"),
        "{}",
        text(&out.stderr)
    );
    register(&a, "after");
    let out = sched(&[
        "operator", "snapshot", "restore", "-address", &a.address, path,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("400"), "{}", text(&out.stderr));
    assert!(a.backend.snapshot().job("default", "after").is_some());
}

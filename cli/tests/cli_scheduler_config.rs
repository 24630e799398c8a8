//! `sched operator scheduler get-config | set-config` against the HTTP API
//! served on a loopback port: flags change only what they name, bad flags
//! change nothing.
// Test helpers outside #[test] functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

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
fn get_and_set_the_scheduler_configuration() {
    let a = agent();
    let addr = format!("-address={}", a.address);
    let out = sched(&["operator", "scheduler", "get-config", &addr]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("Scheduler Algorithm"), "{shown}");
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("Preemption System Scheduler") && l.ends_with("true")),
        "{shown}"
    );

    let out = sched(&[
        "operator",
        "scheduler",
        "set-config",
        "-preempt-service-scheduler=true",
        "-scheduler-algorithm=spread",
        &addr,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("updated"));
    let c = a.backend.snapshot().scheduler_config();
    assert!(c.preemption_config.service_scheduler_enabled);
    assert!(c.preemption_config.system_scheduler_enabled, "kept");
    assert_eq!(
        c.scheduler_algorithm,
        sched_core::model::SchedulerAlgorithm::Spread
    );

    let out = sched(&["operator", "scheduler", "get-config", "-json", &addr]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["PreemptionConfig"]["ServiceSchedulerEnabled"], true);

    // Bad input: a clear error, nothing changed.
    for bad in [
        vec!["-preempt-service-scheduler=maybe"],
        vec!["-scheduler-algorithm=random"],
        vec![],
    ] {
        let mut args = vec!["operator", "scheduler", "set-config"];
        args.extend(bad.iter().copied());
        args.push(&addr);
        let out = sched(&args);
        assert!(!out.status.success(), "{bad:?}");
        assert!(!text(&out.stderr).is_empty(), "{bad:?}");
        assert_eq!(a.backend.snapshot().scheduler_config(), c, "{bad:?}");
    }
    // A stale check index is refused by the server.
    let stale = format!("-check-index={}", c.modify_index + 50);
    let out = sched(&[
        "operator",
        "scheduler",
        "set-config",
        "-preempt-batch-scheduler=true",
        &stale,
        &addr,
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("check index"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(a.backend.snapshot().scheduler_config(), c);
}

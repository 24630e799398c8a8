//! Bad input through the binary: one clear line, exit 1, no agent needed
//! and none contacted.

mod e2e_support;

use e2e_support::{free_port, sched_at, text};

/// An address where nothing listens.
fn closed() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

#[test]
fn a_broken_job_file_names_the_spot_and_contacts_no_agent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("broken.nomad.hcl");
    std::fs::write(
        &file,
        "job \"x\" {\n  group \"g\" {\n    count = \n  }\n}\n",
    )
    .expect("write");
    let f = file.to_str().expect("utf-8 path");
    let out = sched_at(&closed(), &["job", "run", f]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("broken.nomad.hcl:3:"), "{err}");
    // Had it tried the (closed) agent, it would say so instead.
    assert!(!err.contains("no agent"), "{err}");
    let out = sched_at(&closed(), &["job", "plan", f]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("broken.nomad.hcl:3:"));
}

#[test]
fn an_unreachable_agent_is_one_line_and_exit_1() {
    let addr = closed();
    for args in [
        &["job", "status"][..],
        &["job", "status", "web"],
        &["alloc", "status", "abc"],
        &["eval", "list"],
        &["node", "status"],
        &["job", "stop", "web"],
    ] {
        let out = sched_at(&addr, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains("no agent at"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

//! The example jobs on a real dev agent, driven through the `sched` binary
//! as a user would: run, watch, inspect, stop.

mod e2e_support;

#[path = "../../client/tests/support/docker_image.rs"]
#[allow(dead_code)]
mod docker_image;

use std::time::Duration;

use e2e_support::{Agent, jobspecs, process_with, text, wait_for};

fn spec(name: &str) -> String {
    jobspecs().join(name).to_string_lossy().into_owned()
}

/// A raw_exec service whose shell carries `marker` on its command line.
fn marker_job(dir: &std::path::Path, marker: &str) -> String {
    let path = dir.join("marker.nomad.hcl");
    let hcl = format!(
        r#"job "marker" {{
  datacenters = ["*"]
  group "m" {{
    task "m" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", "while :; do sleep 1; done", "{marker}"]
      }}
      resources {{
        cpu    = 50
        memory = 32
      }}
    }}
  }}
}}
"#
    );
    std::fs::write(&path, hcl).expect("write job");
    path.to_string_lossy().into_owned()
}

/// A batch job no Linux node can take.
fn windows_job(dir: &std::path::Path) -> String {
    let path = dir.join("windows.nomad.hcl");
    let hcl = r#"job "windows-only" {
  datacenters = ["*"]
  type        = "batch"
  constraint {
    attribute = "${attr.kernel.name}"
    value     = "windows"
  }
  group "w" {
    task "w" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
"#;
    std::fs::write(&path, hcl).expect("write job");
    path.to_string_lossy().into_owned()
}

#[test]
fn example_jobs_run_fail_stop_and_explain_themselves() {
    let agent = Agent::start();
    let work = tempfile::tempdir().expect("temp dir");

    // The quick-start batch job completes.
    let out = agent.expect(0, &["job", "run", &spec("hello-raw-exec.nomad.hcl")]);
    assert!(out.contains("Monitoring evaluation"), "{out}");
    assert!(
        out.contains("Evaluation triggered by job \"hello\""),
        "{out}"
    );
    assert!(out.contains("Allocation \""), "{out}");
    assert!(out.contains("finished with status \"complete\""), "{out}");
    agent.wait_allocs("hello", "complete");
    let status = agent.expect(0, &["job", "status", "hello"]);
    assert!(status.contains("complete"), "{status}");

    // A raw_exec service: `run` waits until both allocations run.
    let out = agent.expect(0, &["run", &spec("web-raw-exec.nomad.hcl")]);
    assert!(out.contains("All allocations are running"), "{out}");
    assert_eq!(agent.alloc_statuses("web"), ["running", "running"]);

    // batch-fail ends failed after its one restart, and says so.
    agent.expect(0, &["job", "run", &spec("batch-fail.nomad.hcl")]);
    agent.wait_allocs("batch-fail", "failed");
    let status = agent.expect(0, &["job", "status", "batch-fail"]);
    assert!(status.contains("failed"), "{status}");
    let alloc = agent.alloc_statuses("batch-fail");
    assert_eq!(alloc, ["failed"]);
    let allocs = agent.expect(0, &["job", "allocs", "batch-fail"]);
    let short = allocs
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .expect("an allocation row")
        .to_string();
    assert_eq!(short.len(), 8);
    let st = agent.expect(0, &["alloc", "status", &short]);
    assert!(st.contains("Exit Code: 3"), "{st}");
    assert!(st.contains("Total Restarts = 1"), "{st}");

    // An unsatisfiable constraint: run exits 2 and every view says why.
    let out = agent.expect(2, &["job", "run", &windows_job(work.path())]);
    assert!(out.contains("Failed to place all allocations"), "{out}");
    assert!(out.contains("Constraint"), "{out}");
    let status = agent.expect(0, &["job", "status", "windows-only"]);
    assert!(status.contains("Placement Failure"), "{status}");
    assert!(status.contains("${attr.kernel.name} = windows"), "{status}");
    let evals: serde_json::Value =
        serde_json::from_str(&agent.expect(0, &["eval", "list", "-json"])).expect("evals JSON");
    let failed_eval = evals
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["JobID"] == "windows-only" && e["TriggeredBy"] == "job-register")
        .and_then(|e| e["ID"].as_str())
        .expect("the register eval")
        .to_string();
    let st = agent.expect(0, &["eval", "status", &failed_eval[..8]]);
    assert!(st.contains("Failed Placements"), "{st}");
    assert!(st.contains("excluded by filter"), "{st}");

    // `job stop` stops the task: no process with the marker is left.
    let marker = format!("sched-e2e-marker-{}", std::process::id());
    agent.expect(0, &["run", &marker_job(work.path(), &marker)]);
    assert!(process_with(&marker), "the marker task runs");
    let out = agent.expect(0, &["job", "stop", "marker"]);
    assert!(out.contains("Monitoring evaluation"), "{out}");
    wait_for(Duration::from_secs(60), "the marker task to exit", || {
        (!process_with(&marker)).then_some(())
    });
    agent.wait_allocs("marker", "complete");

    // Inspect, history, plan against the submitted job.
    let inspect: serde_json::Value =
        serde_json::from_str(&agent.expect(0, &["job", "inspect", "web"])).expect("JSON");
    assert_eq!(inspect["Job"]["ID"], "web");
    let plan = agent.expect(0, &["job", "plan", &spec("web-raw-exec.nomad.hcl")]);
    assert!(plan.contains("sched job run -check-index"), "{plan}");
    let out = agent.sched(&[
        "job",
        "run",
        "-check-index",
        "1",
        &spec("web-raw-exec.nomad.hcl"),
    ]);
    assert_eq!(out.status.code(), Some(1), "a stale check index is refused");

    // Unknown and ambiguous IDs: one line, exit 1.
    let out = agent.sched(&["job", "status", "no-such-job"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        "error: no job with ID prefix \"no-such-job\""
    );
    // "hello" and "web" exist; both "windows-only" and "web" start with "w".
    let out = agent.sched(&["job", "status", "w"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("matches several jobs") && err.contains("web") && err.contains("windows-only"),
        "{err}"
    );

    // Scale, history with diffs, revert.
    agent.expect(0, &["job", "scale", "web", "1"]);
    wait_for(
        Duration::from_secs(60),
        "web at one running allocation",
        || {
            let s = agent.alloc_statuses("web");
            (s.iter().filter(|x| *x == "running").count() == 1).then_some(())
        },
    );
    let history = agent.expect(0, &["job", "history", "-p", "web"]);
    assert!(history.contains("Diff from version 0"), "{history}");
    assert!(history.contains("Count: 2 => 1"), "{history}");
    agent.expect(0, &["job", "revert", "web", "0"]);

    // A parameterized job registers without an evaluation; dispatch runs it.
    let payload = work.path().join("input.txt");
    std::fs::write(&payload, "rows\n").expect("payload");
    let out = agent.expect(0, &["run", &spec("dispatch-report.nomad.hcl")]);
    assert!(out.contains("Job registration successful"), "{out}");
    let out = agent.expect(
        0,
        &[
            "job",
            "dispatch",
            "-meta",
            "report_name=daily",
            "dispatch-report",
            payload.to_str().expect("utf-8 path"),
        ],
    );
    assert!(
        out.contains("Dispatched Job ID = dispatch-report/dispatch-"),
        "{out}"
    );
    let out = agent.sched(&["job", "dispatch", "-meta", "oops", "dispatch-report"]);
    assert_eq!(out.status.code(), Some(1));

    agent.expect(0, &["job", "stop", "web"]);
}

#[test]
fn exec_and_docker_services_reach_running() {
    let is_root = nix::unistd::Uid::effective().is_root();
    let docker = docker_image::engine_available("exec_and_docker_services_reach_running")
        && docker_image::busybox_image("exec_and_docker_services_reach_running").is_some();
    if !is_root && !docker {
        eprintln!("SKIPPED: exec needs root and there is no Docker Engine");
        return;
    }
    let agent = Agent::start();
    if is_root {
        let out = agent.expect(0, &["run", &spec("exec-isolated.nomad.hcl")]);
        assert!(out.contains("All allocations are running"), "{out}");
        agent.expect(0, &["job", "stop", "exec-isolated"]);
    } else {
        eprintln!("SKIPPED exec-isolated: the exec driver's isolation needs root");
    }
    if docker {
        let out = agent.expect(0, &["run", &spec("docker-web.nomad.hcl")]);
        assert!(out.contains("All allocations are running"), "{out}");
        agent.expect(0, &["job", "stop", "docker-web"]);
    }
}

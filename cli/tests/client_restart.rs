//! A client agent SIGKILLed while its tasks run, then started again on the
//! same data dir: running tasks are re-attached (not restarted), their logs
//! continue, and a task that exited meanwhile is reported with its real exit
//! code.

mod client_common;

use std::path::Path;
use std::time::Duration;

use client_common::*;

fn running_alloc(server: &Agent, job: &str) -> String {
    wait_for(Duration::from_secs(60), "a running allocation", || {
        allocs(server.http, job)
            .into_iter()
            .find(|a| s(a, "ClientStatus") == "running")
            .map(|a| s(&a, "ID"))
    })
}

fn pid_in(alloc_dir: &Path) -> u32 {
    wait_for(Duration::from_secs(30), "the pid file", || {
        std::fs::read_to_string(alloc_dir.join("pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    })
}

fn logs(server: &Agent, id: &str) -> String {
    let out = sched(&[
        "alloc",
        "logs",
        "-address",
        &format!("http://127.0.0.1:{}", server.http),
        id,
    ]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_killed_client_reattaches_to_its_tasks_and_reports_the_ones_that_ended() {
    let tmp = tempfile::tempdir().unwrap();
    let _sweeper = TaskSweeper {
        root: tmp.path().to_path_buf(),
    };
    let server = server(tmp.path(), "");
    let c1_http = free_port();
    let mut c1 = client(tmp.path(), "c1", &server, c1_http);
    wait_nodes_ready(&server, 1);

    register(
        server.http,
        tmp.path(),
        "long",
        &sh_job(
            "long",
            "service",
            1,
            "echo $$ > $NOMAD_ALLOC_DIR/pid; i=0; while true; do i=$((i+1)); echo line $i; sleep 0.2; done",
        ),
    );
    register(
        server.http,
        tmp.path(),
        "quitter",
        &sh_job(
            "quitter",
            "batch",
            1,
            "echo $$ > $NOMAD_ALLOC_DIR/pid; while [ ! -e $NOMAD_ALLOC_DIR/go ]; do sleep 0.1; done; exit 3",
        ),
    );
    let long = running_alloc(&server, "long");
    let quitter = running_alloc(&server, "quitter");
    let alloc_root = tmp.path().join("c1/alloc");
    let long_dir = alloc_root.join(&long).join("alloc");
    let quitter_dir = alloc_root.join(&quitter).join("alloc");
    let long_pid = pid_in(&long_dir);
    let quitter_pid = pid_in(&quitter_dir);
    wait_for(Duration::from_secs(30), "some log lines", || {
        logs(&server, &long).contains("line 3\n").then_some(())
    });

    c1.kill();
    // While no client runs: the quitter exits, the long task keeps going.
    std::fs::write(quitter_dir.join("go"), b"").unwrap();
    wait_for(Duration::from_secs(30), "the quitter to exit", || {
        let stat = std::fs::read_to_string(format!("/proc/{quitter_pid}/stat")).ok();
        // Gone, or a zombie nobody reaps yet.
        stat.is_none_or(|s| s.contains(") Z ")).then_some(())
    });
    let lines_before = logs(&server, &long).lines().count();

    let _c1 = client(tmp.path(), "c1", &server, c1_http);
    // The quitter's allocation ends, reported with what the client knows.
    let ended = wait_for(Duration::from_secs(60), "the quitter's end", || {
        allocs(server.http, "quitter").into_iter().find(|a| {
            s(a, "ID") == quitter && ["complete", "failed"].contains(&s(a, "ClientStatus").as_str())
        })
    });
    let alloc = get_json(server.http, &format!("/v1/allocation/{quitter}")).unwrap();
    let events = alloc["TaskStates"]["t"]["Events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // Its supervisor outlived the client and recorded the real exit code.
    assert!(
        events
            .iter()
            .any(|e| s(e, "Type") == "Terminated" && e["ExitCode"] == 3),
        "{events:#?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| s(e, "DisplayMessage").contains("exit code is unknown")),
        "{events:#?}"
    );
    assert_eq!(s(&ended, "ClientStatus"), "failed", "{events:#?}");

    // The long task was re-attached: same process, its log continues from
    // where it was (a restart would start again at "line 1").
    wait_for(Duration::from_secs(30), "the log to continue", || {
        (logs(&server, &long).lines().count() > lines_before + 5).then_some(())
    });
    assert_eq!(pid_in(&long_dir), long_pid);
    assert!(Path::new(&format!("/proc/{long_pid}")).exists());
    let text = logs(&server, &long);
    assert_eq!(text.matches("line 1\n").count(), 1, "restarted:\n{text}");
    assert_eq!(
        s(&allocs(server.http, "long")[0], "ClientStatus"),
        "running"
    );
    // The task outlives the client agents: stop it through the API.
    let (st, _) = http(server.http, "DELETE", "/v1/job/long?purge=true", "").unwrap();
    assert_eq!(st, 200);
    wait_for(Duration::from_secs(30), "the task to stop", || {
        (!Path::new(&format!("/proc/{long_pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{long_pid}/stat"))
                .is_ok_and(|s| s.contains(") Z ")))
        .then_some(())
    });
}

//! Two client agents and a job whose group allows disconnection
//! (`max_client_disconnect`): the client running it is frozen past its
//! heartbeat TTL, so its node is marked disconnected (not down), the
//! allocation turns unknown and a replacement runs on the other client.
//! Thawed within the window, the node is ready again and exactly one of the
//! pair keeps running — the original, as the default `best_score` keeps it
//! on equal nodes — while the replacement's task is stopped.

mod client_common;

use std::time::Duration;

use client_common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

fn signal(agent: &Agent, sig: Signal) {
    kill(Pid::from_raw(agent.child.id() as i32), sig).expect("signal the agent");
}

/// Resumes a frozen agent when dropped, so a failing test still lets it be
/// killed and its tasks swept.
struct Thaw<'a>(&'a Agent);

impl Drop for Thaw<'_> {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.0.child.id() as i32), Signal::SIGCONT);
    }
}

fn pid_in(root: &std::path::Path, client: &str, alloc: &str) -> u32 {
    let file = root
        .join(client)
        .join("alloc")
        .join(alloc)
        .join("alloc/pid");
    wait_for(Duration::from_secs(30), "the task's pid file", || {
        std::fs::read_to_string(&file).ok()?.trim().parse().ok()
    })
}

fn node_status(server: &Agent, node: &str) -> Option<String> {
    get_json(server.http, &format!("/v1/node/{node}")).map(|n| s(&n, "Status"))
}

#[test]
fn a_frozen_client_is_disconnected_replaced_and_reconciled_when_it_thaws() {
    let tmp = tempfile::tempdir().unwrap();
    let _sweeper = TaskSweeper {
        root: tmp.path().to_path_buf(),
    };
    let server = server(
        tmp.path(),
        "server {\n  min_heartbeat_ttl = \"1s\"\n  heartbeat_grace = \"1s\"\n}\n",
    );
    let agents = [
        client(tmp.path(), "c1", &server, free_port()),
        client(tmp.path(), "c2", &server, free_port()),
    ];
    wait_nodes_ready(&server, 2);

    let job = sh_job(
        "web",
        "service",
        1,
        "echo $$ > $NOMAD_ALLOC_DIR/pid; while true; do sleep 0.2; done",
    )
    .replace(
        "    count = 1\n",
        "    count = 1\n    max_client_disconnect = \"1m\"\n",
    );
    assert!(job.contains("max_client_disconnect"));
    register(server.http, tmp.path(), "web", &job);
    let first = wait_for(Duration::from_secs(60), "a running allocation", || {
        allocs(server.http, "web")
            .into_iter()
            .find(|a| s(a, "ClientStatus") == "running")
    });
    let (original, node) = (s(&first, "ID"), s(&first, "NodeID"));
    let name = s(
        &get_json(server.http, &format!("/v1/node/{node}")).unwrap(),
        "Name",
    );
    let (away, other) = if name == "c1" { (0, "c2") } else { (1, "c1") };
    let original_pid = pid_in(tmp.path(), &name, &original);

    // Freeze the client: no heartbeats, its task keeps running.
    signal(&agents[away], Signal::SIGSTOP);
    let thaw = Thaw(&agents[away]);
    wait_for(Duration::from_secs(60), "the node disconnected", || {
        (node_status(&server, &node)? == "disconnected").then_some(())
    });
    let replacement = wait_for(Duration::from_secs(60), "a running replacement", || {
        let all = allocs(server.http, "web");
        let o = all.iter().find(|a| s(a, "ID") == original)?;
        if s(o, "ClientStatus") != "unknown" || s(o, "DesiredStatus") != "run" {
            return None;
        }
        all.into_iter()
            .find(|a| s(a, "ID") != original && s(a, "ClientStatus") == "running")
    });
    let replacement_id = s(&replacement, "ID");
    assert_ne!(s(&replacement, "NodeID"), node);
    let detail = get_json(server.http, &format!("/v1/allocation/{replacement_id}")).unwrap();
    assert_eq!(s(&detail, "PreviousAllocation"), original, "{detail:#}");
    let replacement_pid = pid_in(tmp.path(), other, &replacement_id);
    assert!(
        alive(original_pid),
        "the original runs on while its client is frozen"
    );

    // Thaw it within the window: the node is ready, the original kept and
    // the replacement stopped.
    drop(thaw);
    wait_for(Duration::from_secs(60), "the node ready again", || {
        (node_status(&server, &node)? == "ready").then_some(())
    });
    wait_for(Duration::from_secs(60), "the pair reconciled", || {
        let all = allocs(server.http, "web");
        let by_id = |id: &str| all.iter().find(|a| s(a, "ID") == id).cloned();
        let (o, r) = (by_id(&original)?, by_id(&replacement_id)?);
        (s(&o, "ClientStatus") == "running"
            && s(&o, "DesiredStatus") == "run"
            && s(&r, "DesiredStatus") == "stop")
            .then_some(())
    });
    wait_for(
        Duration::from_secs(60),
        "the replacement's task to end",
        || (!alive(replacement_pid)).then_some(()),
    );
    assert!(alive(original_pid), "the original keeps running");
    let running = allocs(server.http, "web")
        .into_iter()
        .filter(|a| s(a, "ClientStatus") == "running" && s(a, "DesiredStatus") == "run")
        .count();
    assert_eq!(running, 1, "exactly one of the pair runs");
}

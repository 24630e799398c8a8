//! Two client agents: one away longer than its heartbeat TTL is marked
//! down and its allocations are replaced on the other; when it comes back,
//! its old allocations are stopped.

mod client_common;

use std::path::Path;
use std::time::Duration;

use client_common::*;

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

#[test]
fn a_node_away_past_its_ttl_is_replaced_and_its_old_allocs_stop_on_return() {
    let tmp = tempfile::tempdir().unwrap();
    let _sweeper = TaskSweeper {
        root: tmp.path().to_path_buf(),
    };
    let server = server(
        tmp.path(),
        "server {\n  min_heartbeat_ttl = \"1s\"\n  heartbeat_grace = \"1s\"\n}\n",
    );
    let ports = [free_port(), free_port()];
    let mut agents = [
        Some(client(tmp.path(), "c1", &server, ports[0])),
        Some(client(tmp.path(), "c2", &server, ports[1])),
    ];
    wait_nodes_ready(&server, 2);

    register(
        server.http,
        tmp.path(),
        "web",
        &sh_job(
            "web",
            "service",
            1,
            "echo $$ > $NOMAD_ALLOC_DIR/pid; while true; do sleep 0.2; done",
        ),
    );
    let first = wait_for(Duration::from_secs(60), "a running allocation", || {
        allocs(server.http, "web")
            .into_iter()
            .find(|a| s(a, "ClientStatus") == "running")
    });
    let (old_id, old_node) = (s(&first, "ID"), s(&first, "NodeID"));
    let node = get_json(server.http, &format!("/v1/node/{old_node}")).unwrap();
    let name = s(&node, "Name");
    let away = usize::from(name == "c2");
    let pid_file = tmp
        .path()
        .join(&name)
        .join("alloc")
        .join(&old_id)
        .join("alloc/pid");
    let old_pid: u32 = wait_for(Duration::from_secs(30), "the pid file", || {
        std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()
    });

    // The node's agent goes away; its task keeps running meanwhile.
    if let Some(mut a) = agents[away].take() {
        a.kill();
    }
    wait_for(Duration::from_secs(60), "the node marked down", || {
        let n = get_json(server.http, &format!("/v1/node/{old_node}"))?;
        (s(&n, "Status") == "down").then_some(())
    });
    let replacement = wait_for(Duration::from_secs(60), "a replacement", || {
        allocs(server.http, "web")
            .into_iter()
            .find(|a| s(a, "ID") != old_id && s(a, "ClientStatus") == "running")
    });
    assert_ne!(s(&replacement, "NodeID"), old_node);
    assert!(alive(old_pid), "the old task runs until its client returns");

    // The node returns: its old allocation is stopped there.
    agents[away] = Some(client(tmp.path(), &name, &server, ports[away]));
    wait_for(Duration::from_secs(60), "the old task to stop", || {
        (!alive(old_pid)).then_some(())
    });
    let old = get_json(server.http, &format!("/v1/allocation/{old_id}")).unwrap();
    assert_eq!(s(&old, "DesiredStatus"), "stop", "{old:#}");
    assert!(Path::new(&pid_file).exists());
    let still = allocs(server.http, "web")
        .into_iter()
        .filter(|a| s(a, "ClientStatus") == "running")
        .count();
    assert_eq!(still, 1, "one allocation runs: the replacement");
}

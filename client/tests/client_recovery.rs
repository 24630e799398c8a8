//! A client that stops without killing its tasks, and a new client on the
//! same state and alloc dirs: it re-attaches to the task still running (same
//! pid, no second start, its logs keep growing) and reports the task that
//! exited meanwhile with its exit code.
#![allow(clippy::unwrap_used)]

mod client_support;

use std::path::Path;
use std::time::Duration;

use client_support::*;
use sched_client::logs::{Origin, Stream};
use sched_core::model::{AllocId, ClientStatus};

const LONG: Duration = Duration::from_secs(30);

fn pids(dir: &Path, id: &AllocId, task: &str) -> Vec<i32> {
    std::fs::read_to_string(alloc_dir(dir, id).join(task).join("local/pids"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

/// Whether a pid runs (a zombie does not).
fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with(['R', 'S', 'D']))
        })
        .unwrap_or(false)
}

fn log_len(dir: &Path, id: &AllocId, task: &str) -> u64 {
    let logs = alloc_dir(dir, id).join("alloc/logs");
    sched_client::logs::indices(&logs, task, Stream::Stdout)
        .iter()
        .map(|n| {
            std::fs::metadata(logs.join(sched_client::logs::file_name(task, Stream::Stdout, *n)))
                .map_or(0, |m| m.len())
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_client_reattaches_and_reports_what_ended_meanwhile() {
    let dir = tempdir();
    let servers = InMemoryServers::new();
    let host = driver_host();
    let (client, _stop1) = start(dir.path(), &servers, &host).await;
    let node = client.node_id();

    let long = alloc(
        &node,
        "service",
        vec![sh_task(
            "ticker",
            "echo $$ >> local/pids; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done",
        )],
        None,
    );
    let short = alloc(
        &node,
        "batch",
        vec![sh_task("brief", "echo $$ >> local/pids; sleep 2; exit 7")],
        None,
    );
    let (long_id, short_id) = (long.id.clone(), short.id.clone());
    servers.put_alloc(long);
    servers.put_alloc(short);
    for (id, task) in [(&long_id, "ticker"), (&short_id, "brief")] {
        eventually(LONG, || {
            (task_state(&client, id, task)?.state == "running"
                && !pids(dir.path(), id, task).is_empty())
            .then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("{task} runs"));
    }
    let ticker_pid = pids(dir.path(), &long_id, "ticker")[0];
    let brief_pid = pids(dir.path(), &short_id, "brief")[0];

    // Stop the client; the tasks carry on without it.
    client.shutdown().await;
    assert!(
        running(ticker_pid),
        "the client's shutdown leaves tasks running"
    );
    eventually(LONG, || (!running(brief_pid)).then_some(()))
        .await
        .expect("the brief task exits while no client runs");
    let before = log_len(dir.path(), &long_id, "ticker");
    let updates_before = servers.updates.lock().unwrap().len();

    // A new client on the same directories.
    let (client, _stop2) = start(dir.path(), &servers, &host).await;
    assert_eq!(client.node_id(), node, "the node keeps its id");
    let brief = eventually(LONG, || {
        let u = servers.latest(&short_id)?;
        (u.client_status == ClientStatus::Failed).then_some(u)
    })
    .await
    .expect("the task that ended meanwhile is reported");
    let s = &brief.task_states["brief"];
    assert_eq!(s.state, "dead");
    let term = s.events.iter().rfind(|e| e.r#type == "Terminated").unwrap();
    assert_eq!(term.exit_code, 7, "{:?}", s.events);
    assert_eq!(s.events.iter().filter(|e| e.r#type == "Started").count(), 1);
    assert!(servers.updates.lock().unwrap().len() > updates_before);

    let grown = eventually(LONG, || {
        let s = task_state(&client, &long_id, "ticker")?;
        (s.state == "running" && log_len(dir.path(), &long_id, "ticker") > before + 20).then_some(s)
    })
    .await
    .expect("the ticker is still running and its log keeps growing");
    assert_eq!(
        grown
            .events
            .iter()
            .filter(|e| e.r#type == "Started")
            .count(),
        1,
        "not started twice"
    );
    assert_eq!(pids(dir.path(), &long_id, "ticker"), vec![ticker_pid]);
    assert!(running(ticker_pid));
    // Usage is sampled for running tasks and for the node.
    let usage = eventually(LONG, || {
        client.alloc(&long_id)?.usage.get("ticker").copied()
    })
    .await
    .expect("the ticker's usage is sampled");
    assert!(usage.pids >= 1 && usage.memory_rss > 0, "{usage:?}");
    assert!(client.stats().memory_total > 0);
    // The log reader follows across the restart.
    let reader = client.logs(&long_id, "ticker", Stream::Stdout).unwrap();
    let chunk = reader
        .read(reader.seek(Origin::Start, 0).unwrap(), 1 << 20)
        .unwrap();
    assert!(String::from_utf8_lossy(&chunk.data).starts_with("tick 0\n"));
    client.shutdown().await;

    // A client with a fresh driver host (nothing kept in memory) adopts the
    // running task from its stored handle alone.
    let fresh = driver_host();
    let (client, _stop3) = start(dir.path(), &servers, &fresh).await;
    let before = log_len(dir.path(), &long_id, "ticker");
    eventually(LONG, || {
        let s = task_state(&client, &long_id, "ticker")?;
        (s.state == "running" && log_len(dir.path(), &long_id, "ticker") > before + 20)
            .then_some(())
    })
    .await
    .expect("re-attached by a fresh host");
    assert_eq!(pids(dir.path(), &long_id, "ticker"), vec![ticker_pid]);

    // Clean up: stopping the allocation kills the task.
    servers.stop_alloc(&long_id);
    let s = eventually(LONG, || {
        let s = task_state(&client, &long_id, "ticker")?;
        (s.state == "dead").then_some(s)
    })
    .await
    .expect("stopping the allocation kills the task");
    assert!(!s.failed);
    assert!(
        s.events.iter().any(|e| e.r#type == "Killed"),
        "{:?}",
        event_types(&s)
    );
    eventually(LONG, || (!running(ticker_pid)).then_some(()))
        .await
        .expect("the process is gone");
    client.shutdown().await;
}

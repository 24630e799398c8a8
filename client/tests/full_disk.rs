//! A full alloc dir file system: the task that cannot be set up fails with
//! an event saying so, and the client carries on.
#![allow(clippy::unwrap_used)]

mod client_support;

use std::io::Write;
use std::time::Duration;

use client_support::*;
use sched_core::model::Artifact;

const LONG: Duration = Duration::from_secs(30);

/// Writes to `path` until the file system says it is full.
fn fill(path: &std::path::Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    for _ in 0..100_000 {
        match f.write_all(&chunk).and_then(|()| f.flush()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOSPC) => return,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    panic!("{} never filled up", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_the_task_with_a_clear_event_and_the_client_carries_on() {
    let dir = tempdir();
    let Some(fs) = Tmpfs::mount(
        &dir.path().join("alloc"),
        4 * 1024,
        "a_full_disk_fails_the_task_with_a_clear_event_and_the_client_carries_on",
    ) else {
        return;
    };
    let servers = InMemoryServers::new();
    let host = driver_host();
    let (client, _stop) = start(dir.path(), &servers, &host).await;
    let node = client.node_id();
    // An artifact from outside the full file system, copied into the task dir.
    let source = dir.path().join("payload.bin");
    std::fs::write(&source, vec![1u8; 1024 * 1024]).unwrap();
    let mut task = sh_task("t", "true");
    task.artifacts = Some(vec![Artifact {
        getter_source: Some(source.display().to_string()),
        ..Artifact::default()
    }]);
    fill(&fs.path.join("filler"));

    let a = alloc(&node, "batch", vec![task.clone()], None);
    let id = a.id.clone();
    servers.put_alloc(a);
    let s = eventually(LONG, || {
        let s = task_state(&client, &id, "t")?;
        (s.state == "dead").then_some(s)
    })
    .await
    .expect("the task ends");
    assert!(s.failed, "{:?}", s.events);
    assert!(
        s.events.iter().any(|e| e
            .display_message
            .to_lowercase()
            .contains("no space left on device")),
        "{:#?}",
        s.events
    );
    assert!(!event_types(&s).contains(&"Started".to_string()));

    // Space again: the client still runs allocations.
    std::fs::remove_file(fs.path.join("filler")).unwrap();
    let a = alloc(&node, "batch", vec![task], None);
    let id = a.id.clone();
    servers.put_alloc(a);
    let s = eventually(LONG, || {
        let s = task_state(&client, &id, "t")?;
        (s.state == "dead").then_some(s)
    })
    .await
    .expect("the second task ends");
    assert!(!s.failed, "{:#?}", s.events);
    client.shutdown().await;
}

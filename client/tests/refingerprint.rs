//! The client fingerprints again on its interval and tells the servers
//! what changed: here the free space of the alloc dir's file system.
#![allow(clippy::unwrap_used)]

mod client_support;

use std::time::Duration;

use client_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_disk_reaches_the_servers() {
    let dir = tempdir();
    let Some(fs) = Tmpfs::mount(
        &dir.path().join("alloc"),
        32 * 1024,
        "a_changed_disk_reaches_the_servers",
    ) else {
        return;
    };
    let servers = InMemoryServers::new();
    let host = driver_host();
    let mut cfg = config(dir.path());
    cfg.fingerprint_interval = Duration::from_millis(100);
    let (client, _stop) = start_with(cfg, &servers, &host).await;
    let first = servers.registrations.lock().unwrap()[0].clone();
    assert!(
        (30..=32).contains(&first.node_resources.disk.disk_mb),
        "{:?}",
        first.node_resources.disk
    );
    // Nothing changed: no registration beyond the first.
    let quiet = eventually(Duration::from_millis(600), || None::<()>).await;
    assert!(quiet.is_none());
    assert_eq!(servers.registrations.lock().unwrap().len(), 1);
    // Half the disk taken: the node is registered again with less.
    std::fs::write(fs.path.join("filler"), vec![7u8; 16 * 1024 * 1024]).unwrap();
    let updated = eventually(Duration::from_secs(30), || {
        servers
            .registrations
            .lock()
            .unwrap()
            .iter()
            .skip(1)
            .find(|n| n.node_resources.disk.disk_mb <= 16)
            .cloned()
    })
    .await
    .expect("the node registered again with the smaller disk");
    assert_eq!(updated.id, first.id);
    assert_eq!(
        client.node().node_resources.disk.disk_mb,
        updated.node_resources.disk.disk_mb
    );
    drop(client);
}

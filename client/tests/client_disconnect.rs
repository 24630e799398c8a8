//! A real `Client` cut off from its servers: allocations whose group sets
//! `disconnect.stop_on_client_after` (or `stop_after_client_disconnect`)
//! are stopped by the client itself once heartbeats have failed that long,
//! others run on; and an allocation the servers list as `unknown` after a
//! reconnect is reported again.
#![allow(clippy::unwrap_used)]

mod client_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use client_support::*;
use futures::future::BoxFuture;
use sched_client::{AllocUpdate, ConnError, HeartbeatResponse, RegisterResponse, ServerConn};
use sched_core::model::{Allocation, ClientStatus, DisconnectStrategy, Node, NodeId};

const LONG: Duration = Duration::from_secs(30);

/// The in-memory servers behind a link whose heartbeats can be cut.
struct Cuttable {
    servers: Arc<InMemoryServers>,
    cut: AtomicBool,
}

impl ServerConn for Cuttable {
    fn register(&self, node: Node) -> BoxFuture<'_, Result<RegisterResponse, ConnError>> {
        self.servers.register(node)
    }

    fn heartbeat(&self, node_id: &NodeId) -> BoxFuture<'_, Result<HeartbeatResponse, ConnError>> {
        if self.cut.load(Ordering::Relaxed) {
            return Box::pin(async { Err(ConnError::Unavailable("link cut".into())) });
        }
        self.servers.heartbeat(node_id)
    }

    fn allocations(
        &self,
        node_id: &NodeId,
        index: u64,
        wait: Duration,
    ) -> BoxFuture<'_, Result<(Vec<Allocation>, u64), ConnError>> {
        self.servers.allocations(node_id, index, wait)
    }

    fn update_allocs(&self, updates: Vec<AllocUpdate>) -> BoxFuture<'_, Result<(), ConnError>> {
        self.servers.update_allocs(updates)
    }
}

fn looping(node: &NodeId, stop_after: Option<i64>, old_field: bool) -> Allocation {
    let mut a = alloc(
        node,
        "service",
        vec![sh_task("t", "while true; do sleep 0.2; done")],
        None,
    );
    let mut job = (**a.job.as_ref().unwrap()).clone();
    let g = &mut job.task_groups.as_mut().unwrap()[0];
    let after = stop_after.map(sched_core::model::Duration::from_secs);
    if old_field {
        g.stop_after_client_disconnect = after;
    } else {
        g.disconnect = Some(DisconnectStrategy {
            stop_on_client_after: after,
            ..Default::default()
        });
    }
    a.job = Some(Arc::new(job));
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_out_of_touch_stops_what_asks_to_be_stopped() {
    let dir = tempdir();
    let servers = InMemoryServers::new();
    let link = Arc::new(Cuttable {
        servers: Arc::clone(&servers),
        cut: AtomicBool::new(false),
    });
    let host = driver_host();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let conn: Arc<dyn ServerConn> = Arc::clone(&link) as Arc<dyn ServerConn>;
    let client = sched_client::Client::start(config(dir.path()), conn, host, rx)
        .await
        .unwrap();
    let node = client.node_id();
    let stops = looping(&node, Some(1), false);
    let stops_old = looping(&node, Some(1), true);
    let stays = looping(&node, None, false);
    for a in [&stops, &stops_old, &stays] {
        servers.put_alloc(a.clone());
    }
    eventually(LONG, || {
        [&stops, &stops_old, &stays]
            .iter()
            .all(|a| {
                client
                    .alloc(&a.id)
                    .is_some_and(|v| v.update.client_status == ClientStatus::Running)
            })
            .then_some(())
    })
    .await
    .expect("all three run");

    link.cut.store(true, Ordering::Relaxed);
    eventually(LONG, || {
        [&stops, &stops_old]
            .iter()
            .all(|a| client.alloc(&a.id).is_some_and(|v| v.done))
            .then_some(())
    })
    .await
    .expect("the allocations with a stop window are stopped");
    let v = client.alloc(&stays.id).unwrap();
    assert!(!v.done, "an allocation without a stop window runs on");
    assert_eq!(v.update.client_status, ClientStatus::Running);
    client.shutdown().await;
    drop(tx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allocation_the_servers_list_as_unknown_is_reported_again() {
    let dir = tempdir();
    let servers = InMemoryServers::new();
    let host = driver_host();
    let (client, _stop) = start(dir.path(), &servers, &host).await;
    let node = client.node_id();
    let a = looping(&node, None, false);
    servers.put_alloc(a.clone());
    eventually(LONG, || {
        servers
            .latest(&a.id)
            .filter(|u| u.client_status == ClientStatus::Running)
    })
    .await
    .expect("running");
    let sent = servers.updates.lock().unwrap().len();
    // The servers marked it unknown while the node was away.
    let mut unknown = a.clone();
    unknown.client_status = ClientStatus::Unknown;
    servers.put_alloc(unknown);
    eventually(LONG, || {
        let updates = servers.updates.lock().unwrap();
        updates[sent..]
            .iter()
            .any(|u| u.alloc_id == a.id && u.client_status == ClientStatus::Running)
            .then_some(())
    })
    .await
    .expect("the client reports the allocation running again");
    client.shutdown().await;
}

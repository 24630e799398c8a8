//! The Raft transport over gRPC, end to end on loopback: ordering per peer,
//! chunked snapshots, and a caller that is never held up by a slow or dead
//! peer.

mod rpc_support;

use std::sync::{Arc, Mutex};

use raft::eraftpb::MessageType;
use rpc_support::{Recorder, TestServer, append, eventually, free_addr, run, snapshot};
use sched_server::raft::Transport;
use sched_server::rpc::{GrpcTransport, ServeConfig, SnapshotOutcome, TransportConfig};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

fn transport(config: TransportConfig) -> GrpcTransport {
    GrpcTransport::new(tokio::runtime::Handle::current(), config)
}

fn quick_retries() -> TransportConfig {
    TransportConfig {
        backoff_min: std::time::Duration::from_millis(10),
        backoff_max: std::time::Duration::from_millis(100),
        ..TransportConfig::default()
    }
}

#[test]
fn batches_arrive_intact_and_in_order_per_peer() {
    run(async {
        let b = TestServer::start(Recorder::new(2, None), ServeConfig::default()).await;
        let c = TestServer::start(Recorder::new(3, None), ServeConfig::default()).await;
        let t = transport(TransportConfig {
            queue_len: 10_000,
            max_batch_messages: 64,
            ..quick_retries()
        });
        t.add_peer(2, &b.addr);
        t.add_peer(3, &c.addr);

        let per_peer = 3000u64;
        let mut sent_b = Vec::new();
        let mut sent_c = Vec::new();
        for round in 0..(per_peer / 50) {
            // Interleave both peers in every call, as a Ready does.
            let mut msgs = Vec::new();
            for i in 1..=50 {
                let index = round * 50 + i;
                msgs.push(append(1, 2, index));
                msgs.push(append(1, 3, index));
            }
            sent_b.extend(msgs.iter().filter(|m| m.to == 2).cloned());
            sent_c.extend(msgs.iter().filter(|m| m.to == 3).cloned());
            t.send(msgs);
            tokio::task::yield_now().await;
        }

        eventually("every message to reach both peers", || {
            b.recorder.raft_count() == sent_b.len() && c.recorder.raft_count() == sent_c.len()
        })
        .await;
        assert_eq!(b.recorder.raft_messages(), sent_b);
        assert_eq!(c.recorder.raft_messages(), sent_c);
        assert_eq!(t.dropped(), 0);
        b.stop().await;
        c.stop().await;
    });
}

#[test]
fn a_large_snapshot_is_streamed_in_chunks_and_stepped_whole() {
    run(async {
        // 4 MiB per gRPC message: a 20 MB snapshot can only get through in
        // chunks.
        let serve = ServeConfig {
            max_message_bytes: 4 * 1024 * 1024,
            ..ServeConfig::default()
        };
        let b = TestServer::start(Recorder::new(2, None), serve).await;
        let t = transport(TransportConfig {
            snapshot_chunk_bytes: 1024 * 1024,
            ..quick_retries()
        });
        let reports = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&reports);
        t.set_snapshot_reporter(Arc::new(move |peer, outcome| {
            seen.lock().expect("reports lock").push((peer, outcome));
        }));
        t.add_peer(2, &b.addr);

        // A batch before and after: the snapshot keeps its place between them.
        let snap = snapshot(1, 2, 20 * 1024 * 1024);
        t.send(vec![append(1, 2, 1), snap.clone(), append(1, 2, 101)]);

        eventually("the snapshot and its neighbours to arrive", || {
            b.recorder.raft_count() == 3
        })
        .await;
        let got = b.recorder.raft_messages();
        assert_eq!(got[0], append(1, 2, 1));
        assert_eq!(got[1].get_msg_type(), MessageType::MsgSnapshot);
        assert_eq!(got[1], snap);
        assert_eq!(got[2], append(1, 2, 101));
        eventually("the transfer to be reported", || {
            !reports.lock().expect("reports lock").is_empty()
        })
        .await;
        assert_eq!(
            *reports.lock().expect("reports lock"),
            vec![(2, SnapshotOutcome::Delivered)]
        );
        b.stop().await;
    });
}

#[test]
fn a_snapshot_over_the_receivers_limit_is_refused_and_reported_failed() {
    run(async {
        let serve = ServeConfig {
            max_snapshot_bytes: 8 * 1024 * 1024,
            ..ServeConfig::default()
        };
        let b = TestServer::start(Recorder::new(2, None), serve).await;
        let t = transport(quick_retries());
        let reports = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&reports);
        t.set_snapshot_reporter(Arc::new(move |peer, outcome| {
            seen.lock().expect("reports lock").push((peer, outcome));
        }));
        t.add_peer(2, &b.addr);
        t.send(vec![snapshot(1, 2, 20 * 1024 * 1024)]);
        eventually("the transfer to be reported", || {
            !reports.lock().expect("reports lock").is_empty()
        })
        .await;
        assert_eq!(
            *reports.lock().expect("reports lock"),
            vec![(2, SnapshotOutcome::Failed)]
        );
        assert_eq!(b.recorder.raft_count(), 0);

        // The peer is still usable afterwards.
        t.send(vec![append(1, 2, 7)]);
        eventually("a message after the refusal", || {
            b.recorder.raft_count() == 1
        })
        .await;
        b.stop().await;
    });
}

#[test]
fn a_down_peer_never_blocks_send_and_delivery_resumes_when_it_is_back() {
    run(async {
        let addr = free_addr().await;
        let t = transport(TransportConfig {
            queue_len: 16,
            ..quick_retries()
        });
        t.add_peer(2, &addr);
        t.add_peer(9, "not a valid address at all");

        // Far more than the queue holds, while nothing listens: every call
        // returns and the surplus is dropped.
        for index in 1..=1000 {
            t.send(vec![append(1, 2, index), append(1, 9, index)]);
        }
        t.send(vec![append(1, 77, 1)]); // a peer nobody added
        eventually("drops to be counted", || t.dropped() >= 1000).await;

        let listener = TcpListener::bind(&addr)
            .await
            .expect("rebind the peer's port");
        let b = TestServer::start_on(listener, Recorder::new(2, None), ServeConfig::default());
        // Raft keeps sending (heartbeats, retries); so does this loop until
        // one gets through.
        let mut index = 1000;
        let deadline = tokio::time::Instant::now() + rpc_support::DEADLINE;
        while b.recorder.raft_count() == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "delivery never resumed"
            );
            index += 1;
            t.send(vec![append(1, 2, index)]);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // Whatever arrived is in the order it was sent.
        let got: Vec<u64> = b
            .recorder
            .raft_messages()
            .iter()
            .map(|m| m.commit)
            .collect();
        assert!(got.windows(2).all(|w| w[0] < w[1]), "out of order: {got:?}");
        b.stop().await;
    });
}

#[test]
fn a_peer_that_stops_reading_never_blocks_send() {
    run(async {
        let mut recorder = Recorder::new(2, None);
        recorder.gate = Some(Semaphore::new(0));
        let b = TestServer::start(recorder, ServeConfig::default()).await;
        let t = transport(TransportConfig {
            queue_len: 8,
            max_batch_messages: 4,
            ..quick_retries()
        });
        t.add_peer(2, &b.addr);
        for index in 1..=500 {
            t.send(vec![append(1, 2, index)]);
        }
        eventually("the full queue to drop", || t.dropped() > 0).await;

        // Once the peer reads again, what was queued arrives, in order.
        if let Some(gate) = &b.recorder.gate {
            gate.add_permits(1000);
        }
        eventually("queued messages to arrive", || b.recorder.raft_count() > 0).await;
        t.send(vec![append(1, 2, 501)]);
        eventually("a fresh message to arrive", || {
            b.recorder.raft_messages().last().map(|m| m.commit) == Some(501)
        })
        .await;
        let got: Vec<u64> = b
            .recorder
            .raft_messages()
            .iter()
            .map(|m| m.commit)
            .collect();
        assert!(got.windows(2).all(|w| w[0] < w[1]), "out of order: {got:?}");
        b.stop().await;
    });
}

#[test]
fn removed_and_readdressed_peers_follow_the_latest_address() {
    run(async {
        let b1 = TestServer::start(Recorder::new(2, None), ServeConfig::default()).await;
        let b2 = TestServer::start(Recorder::new(2, None), ServeConfig::default()).await;
        let t = transport(quick_retries());
        t.add_peer(2, &b1.addr);
        t.send(vec![append(1, 2, 1)]);
        eventually("the first address to get it", || {
            b1.recorder.raft_count() == 1
        })
        .await;

        t.add_peer(2, &b2.addr);
        assert_eq!(t.peers(), vec![(2, b2.addr.clone())]);
        t.send(vec![append(1, 2, 2)]);
        eventually("the new address to get it", || {
            b2.recorder.raft_count() == 1
        })
        .await;

        t.remove_peer(2);
        assert!(t.peers().is_empty());
        let before = t.dropped();
        t.send(vec![append(1, 2, 3)]);
        assert_eq!(t.dropped(), before + 1);
        assert_eq!(b1.recorder.raft_count(), 1);
        b1.stop().await;
        b2.stop().await;
    });
}

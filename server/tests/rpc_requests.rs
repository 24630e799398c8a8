//! Forward, Join and Status through `PeerClient`, and a listener that
//! answers hostile or malformed input with an error status and keeps
//! serving.

mod rpc_support;

use bytes::Bytes;
use protobuf::Message as _;
use rpc_support::{Recorder, TestServer, append, entry, free_addr, run};
use sched_server::fsm::{Command, CommandResponse};
use sched_server::rpc::proto::peer_client::PeerClient as RawClient;
use sched_server::rpc::proto::{ForwardRequest, JoinRequest, RaftBatch, SnapshotChunk};
use sched_server::rpc::{ClientConfig, PeerClient, PeerStatus, RpcError, ServeConfig};
use tokio::io::AsyncWriteExt;
use tonic::Code;

#[test]
fn forward_reaches_the_leader_and_followers_name_it() {
    run(async {
        let leader = TestServer::start(Recorder::new(1, Some(1)), ServeConfig::default()).await;
        let follower = TestServer::start(Recorder::new(2, Some(1)), ServeConfig::default()).await;
        let client = PeerClient::new(ClientConfig::default());

        let command = Command::VariableDelete {
            namespace: "default".into(),
            path: "nomad/jobs/web".into(),
            cas: Some(3),
        };
        let resp = client
            .forward(&leader.addr, &command)
            .await
            .expect("forward");
        assert_eq!(
            resp,
            CommandResponse {
                index: 1,
                error: None,
                job_version: None
            }
        );
        assert_eq!(
            *leader.recorder.forwarded.lock().expect("lock"),
            vec![command.clone()]
        );

        match client.forward(&follower.addr, &command).await {
            Err(RpcError::NotLeader { leader, .. }) => assert_eq!(leader, Some(1)),
            other => panic!("expected NotLeader, got {other:?}"),
        }
        assert!(follower.recorder.forwarded.lock().expect("lock").is_empty());
        leader.stop().await;
        follower.stop().await;
    });
}

#[test]
fn join_and_status_round_trip() {
    run(async {
        let member = TestServer::start(Recorder::new(1, Some(1)), ServeConfig::default()).await;
        let client = PeerClient::new(ClientConfig::default());

        let status = client.status(&member.addr).await.expect("status");
        assert_eq!(
            status,
            PeerStatus {
                server: member.recorder.me.clone(),
                leader_id: Some(1),
                term: 4,
            }
        );
        assert_eq!(client.discover_raft_id(&member.addr).await.expect("id"), 1);

        let newcomer = entry(7, "127.0.0.1:7777");
        let reply = client
            .join(&member.addr, newcomer.clone())
            .await
            .expect("join");
        assert_eq!(reply.leader_id, 1);
        assert_eq!(
            reply.servers,
            vec![member.recorder.me.clone(), newcomer.clone()]
        );
        assert_eq!(
            *member.recorder.joined.lock().expect("lock"),
            vec![newcomer]
        );

        // Raft ID 0 is raft-rs's "none": refused before the handler sees it.
        match client.join(&member.addr, entry(0, "127.0.0.1:1")).await {
            Err(RpcError::Rejected { code, .. }) => assert_eq!(code, Code::InvalidArgument),
            other => panic!("expected a rejection, got {other:?}"),
        }
        assert_eq!(member.recorder.joined.lock().expect("lock").len(), 1);
        member.stop().await;
    });
}

#[test]
fn unreachable_and_invalid_addresses_are_errors() {
    run(async {
        let client = PeerClient::new(ClientConfig::default());
        let down = free_addr().await;
        assert!(matches!(
            client.status(&down).await,
            Err(RpcError::Connect { .. })
        ));
        assert!(matches!(
            client.status("no such address").await,
            Err(RpcError::InvalidAddress { .. })
        ));
    });
}

#[test]
fn garbage_gets_an_error_status_and_the_server_keeps_serving() {
    run(async {
        let server = TestServer::start(
            Recorder::new(1, Some(1)),
            ServeConfig {
                max_snapshot_bytes: 1024,
                max_batch_messages: 8,
                ..ServeConfig::default()
            },
        )
        .await;
        let mut raw = RawClient::connect(format!("http://{}", server.addr))
            .await
            .expect("connect");

        let garbage = Bytes::from_static(b"\xff\xff\xff\xff\x0f not protobuf");
        let status = raw
            .raft(RaftBatch {
                messages: vec![garbage.clone()],
            })
            .await
            .expect_err("garbage raft message");
        assert_eq!(status.code(), Code::InvalidArgument);

        let too_many = (1..=9)
            .map(|i| Bytes::from(append(2, 1, i).write_to_bytes().expect("encode")))
            .collect();
        let status = raw
            .raft(RaftBatch { messages: too_many })
            .await
            .expect_err("over-long batch");
        assert_eq!(status.code(), Code::InvalidArgument);

        let status = raw
            .forward(ForwardRequest {
                command: Bytes::from_static(b"{\"NotACommand\": 1}"),
            })
            .await
            .expect_err("garbage command");
        assert_eq!(status.code(), Code::InvalidArgument);

        let status = raw
            .join(JoinRequest { server: None })
            .await
            .expect_err("join without a server");
        assert_eq!(status.code(), Code::InvalidArgument);

        // Snapshot streams: garbage content, an announced size over the
        // limit, chunks that skip bytes, and nothing at all.
        let streams = [
            vec![SnapshotChunk {
                total_len: garbage.len() as u64,
                offset: 0,
                data: garbage.clone(),
            }],
            vec![SnapshotChunk {
                total_len: u64::MAX,
                offset: 0,
                data: garbage.clone(),
            }],
            vec![
                SnapshotChunk {
                    total_len: 100,
                    offset: 0,
                    data: Bytes::from(vec![0u8; 10]),
                },
                SnapshotChunk {
                    total_len: 100,
                    offset: 50,
                    data: Bytes::from(vec![0u8; 10]),
                },
            ],
            Vec::new(),
        ];
        for chunks in streams {
            let status = raw
                .snapshot(tokio_stream::iter(chunks))
                .await
                .expect_err("bad snapshot stream");
            assert_eq!(status.code(), Code::InvalidArgument);
        }
        assert_eq!(server.recorder.raft_count(), 0);
        assert!(server.recorder.forwarded.lock().expect("lock").is_empty());

        // Bytes that are not even HTTP/2 on a fresh connection.
        let mut tcp = tokio::net::TcpStream::connect(&server.addr)
            .await
            .expect("tcp connect");
        tcp.write_all(b"GET / HTTP/1.0\r\n\r\n\x00\xff\xfe garbage")
            .await
            .expect("write garbage");
        drop(tcp);

        // Still serving, on the old connection and on new ones.
        raw.raft(RaftBatch {
            messages: vec![Bytes::from(
                append(2, 1, 1).write_to_bytes().expect("encode"),
            )],
        })
        .await
        .expect("a good batch after the garbage");
        assert_eq!(server.recorder.raft_count(), 1);
        let client = PeerClient::new(ClientConfig::default());
        client
            .status(&server.addr)
            .await
            .expect("status after garbage");
        server.stop().await;
    });
}

//! The answers of `Join` and `Status`, and their conversions to and from the
//! wire messages.

use crate::fsm::ServerEntry;

use super::proto;

/// A server's identity and its view of the leadership, as `Status` answers
/// it. Servers ask each other this while they gather for `bootstrap_expect`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerStatus {
    /// The answering server.
    pub server: ServerEntry,
    /// The leader it knows of.
    pub leader_id: Option<u64>,
    /// Its current Raft term.
    pub term: u64,
}

/// What a join answers: who added the server and every server the cluster
/// knows, so the new one can reach them all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JoinReply {
    /// The leader that added it.
    pub leader_id: u64,
    /// Every server, the new one included.
    pub servers: Vec<ServerEntry>,
}

impl From<proto::ServerInfo> for ServerEntry {
    fn from(info: proto::ServerInfo) -> Self {
        ServerEntry {
            raft_id: info.raft_id,
            name: info.name,
            rpc_addr: info.rpc_addr,
            http_addr: info.http_addr,
        }
    }
}

impl From<ServerEntry> for proto::ServerInfo {
    fn from(entry: ServerEntry) -> Self {
        proto::ServerInfo {
            raft_id: entry.raft_id,
            name: entry.name,
            rpc_addr: entry.rpc_addr,
            http_addr: entry.http_addr,
        }
    }
}

impl From<PeerStatus> for proto::StatusResponse {
    fn from(status: PeerStatus) -> Self {
        proto::StatusResponse {
            server: Some(status.server.into()),
            leader_id: status.leader_id.unwrap_or(0),
            term: status.term,
        }
    }
}

impl From<proto::StatusResponse> for PeerStatus {
    fn from(resp: proto::StatusResponse) -> Self {
        PeerStatus {
            server: resp.server.map(ServerEntry::from).unwrap_or_default(),
            // Raft IDs start at 1; 0 is raft-rs's "no leader".
            leader_id: (resp.leader_id != 0).then_some(resp.leader_id),
            term: resp.term,
        }
    }
}

impl From<JoinReply> for proto::JoinResponse {
    fn from(reply: JoinReply) -> Self {
        proto::JoinResponse {
            leader_id: reply.leader_id,
            servers: reply.servers.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<proto::JoinResponse> for JoinReply {
    fn from(resp: proto::JoinResponse) -> Self {
        JoinReply {
            leader_id: resp.leader_id,
            servers: resp.servers.into_iter().map(Into::into).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64) -> ServerEntry {
        ServerEntry {
            raft_id: id,
            name: format!("s{id}"),
            rpc_addr: format!("127.0.0.1:{}", 4000 + id),
            http_addr: format!("127.0.0.1:{}", 5000 + id),
        }
    }

    #[test]
    fn status_keeps_no_leader_apart_from_a_leader() {
        for leader_id in [None, Some(3)] {
            let status = PeerStatus {
                server: entry(1),
                leader_id,
                term: 7,
            };
            let back = PeerStatus::from(proto::StatusResponse::from(status.clone()));
            assert_eq!(back, status);
        }
    }

    #[test]
    fn join_reply_round_trips() {
        let reply = JoinReply {
            leader_id: 2,
            servers: vec![entry(1), entry(2), entry(3)],
        };
        assert_eq!(
            JoinReply::from(proto::JoinResponse::from(reply.clone())),
            reply
        );
    }
}

//! The HTTP API's [`Backend`] over a running server.

use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use crate::fsm::{Command, CommandResponse};
use crate::http::{AgentSelf, Backend, BackendError, Member, RaftInfo, RaftPeer};
use crate::raft::RaftError;
use crate::state::{StateSnapshot, Table};

use super::{ApplyError, ServerHandle, leader::unix_nanos};

/// Serves the HTTP API from a server: consistent reads through Raft's read
/// index, writes through the forwarding write path.
#[derive(Debug, Clone)]
pub struct HttpBackend {
    server: ServerHandle,
    /// Whether this agent also runs a client (for `/v1/agent/self`).
    client: bool,
    /// The address the HTTP API is served on.
    http_addr: String,
}

impl HttpBackend {
    /// The backend of an agent whose HTTP API listens on `http_addr`.
    pub fn new(server: ServerHandle, client: bool, http_addr: String) -> HttpBackend {
        HttpBackend {
            server,
            client,
            http_addr,
        }
    }
}

fn backend_error(err: ApplyError) -> BackendError {
    match err {
        ApplyError::NoLeader => BackendError::NoLeader,
        ApplyError::Timeout => BackendError::Timeout,
        ApplyError::Uncertain => BackendError::Unavailable(err.to_string()),
        ApplyError::Unavailable(m) => BackendError::Unavailable(m),
    }
}

fn raft_error(err: RaftError) -> BackendError {
    match err {
        RaftError::NotLeader { .. } => {
            BackendError::Rejected("this server is not the leader; ask the leader".into())
        }
        RaftError::Timeout => BackendError::Timeout,
        other => BackendError::Unavailable(other.to_string()),
    }
}

impl Backend for HttpBackend {
    fn read(&self, stale: bool) -> BoxFuture<'_, Result<StateSnapshot, BackendError>> {
        Box::pin(async move {
            let reader = self.server.state();
            if stale {
                return Ok(reader.snapshot());
            }
            let index = self
                .server
                .consistent_index()
                .await
                .map_err(backend_error)?;
            let snapshot = reader.wait_for_index(index, Duration::from_secs(10)).await;
            if snapshot.index() < index {
                return Err(BackendError::Timeout);
            }
            Ok(snapshot)
        })
    }

    fn block(
        &self,
        tables: &'static [Table],
        index: u64,
        wait: Duration,
    ) -> BoxFuture<'_, Result<StateSnapshot, BackendError>> {
        Box::pin(async move {
            Ok(self
                .server
                .state()
                .wait_for_change(tables, index, wait)
                .await)
        })
    }

    fn apply(&self, cmd: Command) -> BoxFuture<'_, Result<CommandResponse, BackendError>> {
        Box::pin(async move {
            let resp = self.server.apply(cmd).await.map_err(backend_error)?;
            // The response index is the leader's; wait until this server
            // has applied it too, so the caller reads its own write here.
            self.server
                .state()
                .wait_for_index(resp.index, Duration::from_secs(10))
                .await;
            Ok(resp)
        })
    }

    fn raft_info(&self) -> RaftInfo {
        let status = self.server.raft_status();
        let leader = self.server.leader();
        let servers = self.server.state().snapshot().servers();
        let me = self.server.me();
        let peers = status
            .voters
            .iter()
            .map(|id| (id, true))
            .chain(status.learners.iter().map(|id| (id, false)))
            .map(|(id, voter)| {
                let entry = if *id == me.raft_id {
                    Some(me.clone())
                } else {
                    servers.iter().find(|s| s.raft_id == *id).cloned()
                };
                RaftPeer {
                    id: *id,
                    name: entry.as_ref().map(|e| e.name.clone()).unwrap_or_default(),
                    address: entry.map(|e| e.rpc_addr).unwrap_or_default(),
                    leader: status.leader_id == Some(*id),
                    voter,
                }
            })
            .collect();
        RaftInfo {
            known_leader: status.leader_id.is_some(),
            leader_addr: leader.map(|l| l.rpc_addr).unwrap_or_default(),
            last_contact_ms: status.last_contact.map_or(0, |t| {
                u64::try_from(Instant::now().duration_since(t).as_millis()).unwrap_or(u64::MAX)
            }),
            peers,
            applied_index: status.applied_index,
            term: status.term,
        }
    }

    fn members(&self) -> Vec<Member> {
        let status = self.server.raft_status();
        let config = self.server.config();
        let me = self.server.me().clone();
        let mut servers = self.server.state().snapshot().servers();
        if !servers.iter().any(|s| s.raft_id == me.raft_id) {
            servers.push(me);
        }
        servers
            .into_iter()
            .map(|s| {
                let (addr, port) = match s.rpc_addr.rsplit_once(':') {
                    Some((host, port)) => (host.to_owned(), port.parse().unwrap_or(0)),
                    None => (s.rpc_addr.clone(), 0),
                };
                let member =
                    status.voters.contains(&s.raft_id) || status.learners.contains(&s.raft_id);
                Member {
                    name: s.name,
                    addr,
                    port,
                    status: if member { "alive" } else { "left" }.into(),
                    region: config.region.clone(),
                    datacenter: config.datacenter.clone(),
                    leader: status.leader_id == Some(s.raft_id),
                    version: env!("CARGO_PKG_VERSION").into(),
                    raft_id: s.raft_id,
                }
            })
            .collect()
    }

    fn agent_self(&self) -> AgentSelf {
        let config = self.server.config();
        AgentSelf {
            name: config.name.clone(),
            region: config.region.clone(),
            datacenter: config.datacenter.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            server: true,
            client: self.client,
            http_addr: self.http_addr.clone(),
            rpc_addr: self.server.me().rpc_addr.clone(),
        }
    }

    fn now(&self) -> i64 {
        unix_nanos()
    }

    fn remove_peer(&self, raft_id: u64) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            let status = self.server.raft_status();
            if !status.voters.contains(&raft_id) && !status.learners.contains(&raft_id) {
                return Err(BackendError::NotFound(format!(
                    "no raft peer with id {raft_id}"
                )));
            }
            self.server
                .raft()
                .remove_voter(raft_id)
                .await
                .map_err(raft_error)?;
            let resp = self
                .server
                .apply(Command::ServerRemove { raft_id })
                .await
                .map_err(backend_error)?;
            match resp.error {
                Some(e) => Err(BackendError::Rejected(e)),
                None => Ok(()),
            }
        })
    }

    fn transfer_leadership(&self, raft_id: Option<u64>) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            let status = self.server.raft_status();
            let me = self.server.me().raft_id;
            let target = match raft_id {
                Some(id) if status.voters.contains(&id) => id,
                Some(id) => {
                    return Err(BackendError::NotFound(format!(
                        "no voting raft peer with id {id}"
                    )));
                }
                None => status
                    .voters
                    .iter()
                    .copied()
                    .find(|id| *id != me)
                    .ok_or_else(|| {
                        BackendError::Rejected("there is no other server to lead".into())
                    })?,
            };
            self.server
                .raft()
                .transfer_leadership(target)
                .await
                .map_err(raft_error)
        })
    }
}

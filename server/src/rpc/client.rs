//! The request side of `Forward`, `Join` and `Status`, with deadlines and a
//! cache of connections per peer address.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};

use crate::fsm::{Command, CommandResponse, ServerEntry};

use super::proto::peer_client::PeerClient as RawClient;
use super::proto::{ForwardRequest, JoinRequest, StatusRequest};
use super::{JoinReply, PeerStatus, RpcError};

/// Deadlines and limits of a [`PeerClient`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// How long establishing a connection may take.
    pub connect_timeout: Duration,
    /// Deadline of `Status` (discovery polls it, so keep it short).
    pub status_timeout: Duration,
    /// Deadline of `Join` (the leader commits a conf change).
    pub join_timeout: Duration,
    /// Deadline of `Forward` (the leader commits and applies the command).
    pub forward_timeout: Duration,
    /// Largest answer accepted.
    pub max_message_bytes: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(2),
            status_timeout: Duration::from_secs(2),
            join_timeout: Duration::from_secs(15),
            forward_timeout: Duration::from_secs(15),
            max_message_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Calls `Forward`, `Join` and `Status` on other servers. Cheap to share:
/// connections are cached per address and reconnect by themselves.
#[derive(Debug, Default)]
pub struct PeerClient {
    config: ClientConfig,
    channels: Mutex<HashMap<String, Channel>>,
}

/// Builds the endpoint for a peer address (`host:port` or a URI).
pub(crate) fn endpoint(addr: &str, connect_timeout: Duration) -> Result<Endpoint, RpcError> {
    let uri = if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("http://{addr}")
    };
    let endpoint = Endpoint::from_shared(uri).map_err(|err| RpcError::InvalidAddress {
        addr: addr.to_owned(),
        message: err.to_string(),
    })?;
    Ok(endpoint
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(20)))
}

impl PeerClient {
    /// A client with `config`'s deadlines.
    pub fn new(config: ClientConfig) -> Self {
        PeerClient {
            config,
            channels: Mutex::new(HashMap::new()),
        }
    }

    /// Hands `command` to the server at `addr` (the leader) and returns what
    /// applying it answered. [`RpcError::NotLeader`] names the leader to
    /// retry at when the server knows it.
    pub async fn forward(
        &self,
        addr: &str,
        command: &Command,
    ) -> Result<CommandResponse, RpcError> {
        let timeout = self.config.forward_timeout;
        let req = ForwardRequest {
            command: command.encode().into(),
        };
        let resp = self
            .call(
                addr,
                timeout,
                |mut c, r| async move { c.forward(r).await },
                req,
            )
            .await?;
        Ok(CommandResponse {
            index: resp.index,
            error: resp.error,
            job_version: resp.job_version,
        })
    }

    /// Asks the server at `addr` to add `server` to the cluster.
    pub async fn join(&self, addr: &str, server: ServerEntry) -> Result<JoinReply, RpcError> {
        let timeout = self.config.join_timeout;
        let req = JoinRequest {
            server: Some(server.into()),
        };
        let resp = self
            .call(
                addr,
                timeout,
                |mut c, r| async move { c.join(r).await },
                req,
            )
            .await?;
        Ok(resp.into())
    }

    /// Asks the server at `addr` who it is and whom it follows.
    pub async fn status(&self, addr: &str) -> Result<PeerStatus, RpcError> {
        let timeout = self.config.status_timeout;
        let resp = self
            .call(
                addr,
                timeout,
                |mut c, r| async move { c.status(r).await },
                StatusRequest {},
            )
            .await?;
        if resp.server.as_ref().is_none_or(|s| s.raft_id == 0) {
            return Err(RpcError::BadResponse {
                addr: addr.to_owned(),
                message: "status without a raft id".into(),
            });
        }
        Ok(resp.into())
    }

    /// The Raft ID of the server at `addr`, for `bootstrap_expect`, where
    /// servers know each other's addresses but not their IDs.
    pub async fn discover_raft_id(&self, addr: &str) -> Result<u64, RpcError> {
        Ok(self.status(addr).await?.server.raft_id)
    }

    async fn call<Req, Resp, F, Fut>(
        &self,
        addr: &str,
        timeout: Duration,
        method: F,
        req: Req,
    ) -> Result<Resp, RpcError>
    where
        F: FnOnce(RawClient<Channel>, Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, Status>>,
    {
        let attempt = async {
            let channel = self.channel(addr).await?;
            let client = RawClient::new(channel)
                .max_decoding_message_size(self.config.max_message_bytes)
                .max_encoding_message_size(self.config.max_message_bytes);
            let mut request = Request::new(req);
            request.set_timeout(timeout);
            method(client, request).await.map_err(|status| {
                if status.code() == tonic::Code::Unavailable {
                    // The connection may be dead: dial afresh next time.
                    self.forget(addr);
                }
                RpcError::from_status(addr, &status, timeout)
            })
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(result) => result.map(tonic::Response::into_inner),
            Err(_) => Err(RpcError::Timeout {
                addr: addr.to_owned(),
                after: timeout,
            }),
        }
    }

    async fn channel(&self, addr: &str) -> Result<Channel, RpcError> {
        let cached = self
            .channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(addr)
            .cloned();
        if let Some(channel) = cached {
            return Ok(channel);
        }
        let channel = endpoint(addr, self.config.connect_timeout)?
            .connect()
            .await
            .map_err(|source| RpcError::Connect {
                addr: addr.to_owned(),
                source,
            })?;
        self.channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(addr.to_owned(), channel.clone());
        Ok(channel)
    }

    fn forget(&self, addr: &str) {
        self.channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(addr);
    }
}

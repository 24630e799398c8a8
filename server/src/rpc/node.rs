//! The client nodes' gRPC service: registration, heartbeats, the long poll
//! of a node's allocations and batched status reports.
//!
//! Owns the `Node` service's wire side ([`node_routes`]) and its calling side
//! ([`NodeClient`], which fails over across the server list and follows the
//! leader). What a request means is the [`NodeHandler`]'s business, which the
//! server assembly implements.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use sched_core::model::{Allocation, Node, NodeId};
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};

use crate::fsm::AllocClientUpdate;

use super::client::endpoint;

/// The code generated from `proto/node.proto`.
#[allow(missing_docs, clippy::all)]
pub mod node_proto {
    tonic::include_proto!("sched.node.v1");
}

use node_proto::node_client::NodeClient as RawClient;
use node_proto::node_server::{Node as NodeService, NodeServer};
use node_proto::{
    AllocationsRequest, AllocationsResponse, HeartbeatRequest, HeartbeatResponse, RegisterRequest,
    UpdateAllocsRequest, UpdateAllocsResponse,
};

/// The metadata key a leader-only refusal names the leader's gRPC address in.
const LEADER_ADDR_KEY: &str = "sched-leader-addr";

/// Longest long poll a node may ask for.
pub const MAX_POLL_WAIT: Duration = Duration::from_secs(300);

/// What a registration or heartbeat answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeReply {
    /// The next heartbeat is due within this.
    pub heartbeat_ttl: Duration,
    /// Raft index of the write the call made (0 when it made none).
    pub index: u64,
}

/// Why the server refused a node's request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// Registration and heartbeats go to the leader; retry there.
    #[error("not the leader (leader: {leader_addr:?})")]
    NotLeader {
        /// The leader's gRPC address, when known.
        leader_addr: Option<String>,
    },
    /// The servers do not know this node: register again.
    #[error("unknown node {0}")]
    UnknownNode(String),
    /// The request is malformed; retrying it unchanged cannot succeed.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The server cannot take it now; retry later.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl From<NodeError> for Status {
    fn from(err: NodeError) -> Status {
        match err {
            NodeError::NotLeader { leader_addr } => {
                let mut status = Status::failed_precondition("not the leader");
                if let Some(addr) = leader_addr
                    && let Ok(v) = MetadataValue::try_from(addr.as_str())
                {
                    status.metadata_mut().insert(LEADER_ADDR_KEY, v);
                }
                status
            }
            NodeError::UnknownNode(id) => Status::not_found(format!("unknown node {id}")),
            NodeError::Invalid(m) => Status::invalid_argument(m),
            NodeError::Unavailable(m) => Status::unavailable(m),
        }
    }
}

/// What a server does with its nodes' requests.
#[tonic::async_trait]
pub trait NodeHandler: Send + Sync + 'static {
    /// Registers or refreshes a node and starts its heartbeat clock.
    async fn register(&self, node: Node) -> Result<NodeReply, NodeError>;
    /// Records a heartbeat.
    async fn heartbeat(&self, node_id: NodeId) -> Result<NodeReply, NodeError>;
    /// The node's allocations once their index passes `min_index`, or after
    /// `wait`; with the index to poll from next.
    async fn allocations(
        &self,
        node_id: NodeId,
        min_index: u64,
        wait: Duration,
    ) -> Result<(Vec<Arc<Allocation>>, u64), NodeError>;
    /// Records a batch of status reports; answers the write's index.
    async fn update_allocs(&self, updates: Vec<AllocClientUpdate>) -> Result<u64, NodeError>;
}

/// The `Node` service over `handler`, as a service to add to the server's
/// gRPC routes.
pub fn node_routes(
    handler: Arc<dyn NodeHandler>,
    max_message_bytes: usize,
) -> NodeServer<NodeEndpoint> {
    NodeServer::new(NodeEndpoint { handler })
        .max_decoding_message_size(max_message_bytes)
        .max_encoding_message_size(max_message_bytes)
}

/// The tonic service behind [`node_routes`].
pub struct NodeEndpoint {
    handler: Arc<dyn NodeHandler>,
}

impl std::fmt::Debug for NodeEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeEndpoint").finish_non_exhaustive()
    }
}

fn ttl_reply(r: NodeReply) -> HeartbeatResponse {
    HeartbeatResponse {
        heartbeat_ttl_ms: u64::try_from(r.heartbeat_ttl.as_millis()).unwrap_or(u64::MAX),
        index: r.index,
    }
}

fn node_id(raw: String) -> Result<NodeId, Status> {
    if raw.is_empty() || raw.len() > 128 {
        return Err(Status::invalid_argument(
            "a node id of 1 to 128 characters is required",
        ));
    }
    Ok(NodeId(raw))
}

#[tonic::async_trait]
impl NodeService for NodeEndpoint {
    async fn register(
        &self,
        request: Request<RegisterRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        let node: Node = serde_json::from_slice(&request.into_inner().node_json)
            .map_err(|e| Status::invalid_argument(format!("malformed node: {e}")))?;
        if node.id.0.is_empty() {
            return Err(Status::invalid_argument("the node has no ID"));
        }
        let reply = self.handler.register(node).await?;
        Ok(Response::new(ttl_reply(reply)))
    }

    async fn heartbeat(
        &self,
        request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        let id = node_id(request.into_inner().node_id)?;
        let reply = self.handler.heartbeat(id).await?;
        Ok(Response::new(ttl_reply(reply)))
    }

    async fn allocations(
        &self,
        request: Request<AllocationsRequest>,
    ) -> Result<Response<AllocationsResponse>, Status> {
        let req = request.into_inner();
        let id = node_id(req.node_id)?;
        let wait = Duration::from_millis(req.wait_ms).min(MAX_POLL_WAIT);
        let (allocs, index) = self.handler.allocations(id, req.min_index, wait).await?;
        let mut out = Vec::with_capacity(allocs.len());
        for a in allocs {
            let bytes = serde_json::to_vec(&*a)
                .map_err(|e| Status::internal(format!("encoding an allocation: {e}")))?;
            out.push(Bytes::from(bytes));
        }
        Ok(Response::new(AllocationsResponse {
            allocs_json: out,
            index,
        }))
    }

    async fn update_allocs(
        &self,
        request: Request<UpdateAllocsRequest>,
    ) -> Result<Response<UpdateAllocsResponse>, Status> {
        let updates: Vec<AllocClientUpdate> =
            serde_json::from_slice(&request.into_inner().updates_json)
                .map_err(|e| Status::invalid_argument(format!("malformed updates: {e}")))?;
        let index = self.handler.update_allocs(updates).await?;
        Ok(Response::new(UpdateAllocsResponse { index }))
    }
}

/// Why a node's call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeCallError {
    /// No server answered.
    #[error("no server reachable ({tried}): {last}")]
    Unreachable {
        /// The addresses tried.
        tried: String,
        /// The last failure.
        last: String,
    },
    /// The servers do not know the node: register again.
    #[error("unknown node: {0}")]
    UnknownNode(String),
    /// The request was refused; retrying it unchanged will not help.
    #[error("refused: {0}")]
    Rejected(String),
}

/// A node's connection to the servers: tries the server it last reached,
/// follows leader redirects, and fails over across the list.
#[derive(Debug)]
pub struct NodeClient {
    servers: Vec<String>,
    /// The server to try first (the last that answered, or the leader).
    current: Mutex<String>,
    /// One lazily connected channel per server, reused across calls.
    channels: Mutex<HashMap<String, Channel>>,
    connect_timeout: Duration,
    call_timeout: Duration,
}

impl NodeClient {
    /// A client of the servers at `servers` (gRPC addresses).
    pub fn new(servers: Vec<String>) -> NodeClient {
        let first = servers.first().cloned().unwrap_or_default();
        NodeClient {
            servers,
            current: Mutex::new(first),
            channels: Mutex::new(HashMap::new()),
            connect_timeout: Duration::from_secs(2),
            call_timeout: Duration::from_secs(15),
        }
    }

    /// Registers `node`.
    pub async fn register(&self, node: &Node) -> Result<NodeReply, NodeCallError> {
        let json = serde_json::to_vec(node).map_err(|e| NodeCallError::Rejected(e.to_string()))?;
        let resp = self
            .call(self.call_timeout, |mut c| {
                let req = RegisterRequest {
                    node_json: json.clone().into(),
                };
                async move { c.register(req).await }
            })
            .await?;
        Ok(reply(resp))
    }

    /// Sends a heartbeat.
    pub async fn heartbeat(&self, node_id: &NodeId) -> Result<NodeReply, NodeCallError> {
        let id = node_id.0.clone();
        let resp = self
            .call(self.call_timeout, |mut c| {
                let req = HeartbeatRequest {
                    node_id: id.clone(),
                };
                async move { c.heartbeat(req).await }
            })
            .await?;
        Ok(reply(resp))
    }

    /// Long-polls the node's allocations.
    pub async fn allocations(
        &self,
        node_id: &NodeId,
        min_index: u64,
        wait: Duration,
    ) -> Result<(Vec<Allocation>, u64), NodeCallError> {
        let wait = wait.min(MAX_POLL_WAIT);
        let id = node_id.0.clone();
        let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        let resp = self
            .call(wait + self.call_timeout, |mut c| {
                let req = AllocationsRequest {
                    node_id: id.clone(),
                    min_index,
                    wait_ms,
                };
                async move { c.allocations(req).await }
            })
            .await?;
        let mut allocs = Vec::with_capacity(resp.allocs_json.len());
        for raw in &resp.allocs_json {
            let a: Allocation = serde_json::from_slice(raw).map_err(|e| {
                NodeCallError::Rejected(format!("malformed allocation from the server: {e}"))
            })?;
            allocs.push(a);
        }
        Ok((allocs, resp.index))
    }

    /// Reports allocation status.
    pub async fn update_allocs(&self, updates: &[AllocClientUpdate]) -> Result<u64, NodeCallError> {
        let json =
            serde_json::to_vec(updates).map_err(|e| NodeCallError::Rejected(e.to_string()))?;
        let resp = self
            .call(self.call_timeout, |mut c| {
                let req = UpdateAllocsRequest {
                    updates_json: json.clone().into(),
                };
                async move { c.update_allocs(req).await }
            })
            .await?;
        Ok(resp.index)
    }

    /// Calls `f` on the current server, then on the leader it names or on
    /// the next servers in the list: at most two rounds over the list.
    async fn call<T, F, Fut>(&self, timeout: Duration, f: F) -> Result<T, NodeCallError>
    where
        F: Fn(RawClient<Channel>) -> Fut,
        Fut: std::future::Future<Output = Result<Response<T>, Status>>,
    {
        let mut target = self.current();
        let mut last = String::from("no servers configured");
        let mut tried: Vec<String> = Vec::new();
        let attempts = (self.servers.len().max(1)) * 2;
        for _ in 0..attempts {
            if target.is_empty() {
                break;
            }
            tried.push(target.clone());
            let next = match self.channel(&target) {
                Ok(ch) => match tokio::time::timeout(timeout, f(RawClient::new(ch))).await {
                    Ok(Ok(resp)) => {
                        self.set_current(&target);
                        return Ok(resp.into_inner());
                    }
                    Ok(Err(status)) => match status.code() {
                        Code::FailedPrecondition => {
                            last = format!("{target}: {}", status.message());
                            status
                                .metadata()
                                .get(LEADER_ADDR_KEY)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned)
                        }
                        Code::NotFound => {
                            return Err(NodeCallError::UnknownNode(status.message().to_owned()));
                        }
                        Code::InvalidArgument => {
                            return Err(NodeCallError::Rejected(status.message().to_owned()));
                        }
                        _ => {
                            last = format!("{target}: {}", status.message());
                            None
                        }
                    },
                    Err(_) => {
                        last = format!("{target}: timed out");
                        None
                    }
                },
                Err(e) => {
                    last = format!("{target}: {e}");
                    None
                }
            };
            target = next.unwrap_or_else(|| self.after(&target));
        }
        Err(NodeCallError::Unreachable {
            tried: tried.join(", "),
            last,
        })
    }

    fn current(&self) -> String {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_current(&self, addr: &str) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = addr.to_owned();
    }

    /// The server after `addr` in the list (wrapping).
    fn after(&self, addr: &str) -> String {
        let pos = self.servers.iter().position(|s| s == addr);
        match pos {
            Some(i) => self.servers[(i + 1) % self.servers.len()].clone(),
            None => self.servers.first().cloned().unwrap_or_default(),
        }
    }

    fn channel(&self, addr: &str) -> Result<Channel, String> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(ch) = channels.get(addr) {
            return Ok(ch.clone());
        }
        let ep = endpoint(addr, self.connect_timeout).map_err(|e| e.to_string())?;
        let ch = ep.connect_lazy();
        channels.insert(addr.to_owned(), ch.clone());
        Ok(ch)
    }
}

fn reply(r: HeartbeatResponse) -> NodeReply {
    NodeReply {
        heartbeat_ttl: Duration::from_millis(r.heartbeat_ttl_ms),
        index: r.index,
    }
}

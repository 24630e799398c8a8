//! The seam between the client and the servers: what the client needs from
//! them, as a trait the integrator implements over gRPC (with failover
//! between servers inside it). The client never knows server addresses.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::BoxFuture;
use sched_core::model::{
    AllocDeploymentStatus, AllocId, Allocation, ClientStatus, Node, NodeId, TaskState,
};

/// The servers' answer to a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterResponse {
    /// The client must heartbeat within this time or be marked down.
    pub heartbeat_ttl: Duration,
}

/// The servers' answer to a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatResponse {
    /// The time within which the next heartbeat is due.
    pub heartbeat_ttl: Duration,
}

/// The client's report on one allocation, batched into
/// [`ServerConn::update_allocs`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AllocUpdate {
    /// The allocation.
    pub alloc_id: AllocId,
    /// What the client sees.
    pub client_status: ClientStatus,
    /// Why, for humans.
    pub client_description: String,
    /// Every task's state, with its events.
    pub task_states: BTreeMap<String, TaskState>,
    /// The deployment health the client judged, once it has.
    pub deployment_status: Option<AllocDeploymentStatus>,
}

/// Why a call to the servers failed. Each case asks for a different reaction
/// from the client.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnError {
    /// No server could be reached or none answered in time; retry later.
    #[error("no server reachable: {0}")]
    Unavailable(String),
    /// The servers do not know this node (it was garbage collected or never
    /// registered): register again.
    #[error("the servers do not know node {0}")]
    UnknownNode(String),
    /// The servers refused the request; retrying the same request will not
    /// help.
    #[error("the servers refused the request: {0}")]
    Rejected(String),
}

/// What the client needs from the servers.
pub trait ServerConn: Send + Sync + 'static {
    /// Registers (or re-registers) the node with its fingerprint.
    fn register(&self, node: Node) -> BoxFuture<'_, Result<RegisterResponse, ConnError>>;

    /// Tells the servers the node is alive.
    fn heartbeat(&self, node_id: &NodeId) -> BoxFuture<'_, Result<HeartbeatResponse, ConnError>>;

    /// A long poll of the allocations assigned to the node (each with its
    /// job): answers once the servers' index for them passes `index`, or
    /// after `wait` with the same index.
    fn allocations(
        &self,
        node_id: &NodeId,
        index: u64,
        wait: Duration,
    ) -> BoxFuture<'_, Result<(Vec<Allocation>, u64), ConnError>>;

    /// Reports allocations' status, batched.
    fn update_allocs(&self, updates: Vec<AllocUpdate>) -> BoxFuture<'_, Result<(), ConnError>>;
}

//! Client nodes as the servers track them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::{Duration, NetworkResource, NodeId};

/// A client machine as the servers know it: what it has and whether it can take work.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Node {
    /// Unique node ID, generated once by the client and kept across restarts.
    #[serde(rename = "ID", deserialize_with = "crate::model::ids::null_as_default")]
    pub id: NodeId,
    /// Host name, for humans.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub name: String,
    /// Datacenter the node is in.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub datacenter: String,
    /// Operator-chosen class for constraints.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub node_class: String,
    /// Node pool the node belongs to.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub node_pool: String,
    /// Hash of the placement-relevant fields, so identical nodes are checked once.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub computed_class: String,
    /// Fingerprinted attributes (`kernel.name`, `driver.docker` ...).
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub attributes: BTreeMap<String, String>,
    /// Operator metadata.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub meta: BTreeMap<String, String>,
    /// Total resources fingerprinted on the node.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub node_resources: NodeResources,
    /// Resources held back for the OS and agent.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub reserved_resources: NodeReservedResources,
    /// Driver health by driver name.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub drivers: BTreeMap<String, DriverInfo>,
    /// Liveness as seen by the servers.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub status: NodeStatus,
    /// Why the node has its status.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub status_description: String,
    /// Whether new work may be placed.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub scheduling_eligibility: NodeSchedulingEligibility,
    /// Set while the node is draining.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_strategy: Option<DrainStrategy>,
    /// Host volumes the client offers, by name (Nomad's `host_volume` client
    /// blocks); the scheduler places groups that request them only here.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub host_volumes: BTreeMap<String, ClientHostVolumeConfig>,
    /// Address of the client's HTTP API.
    #[serde(
        rename = "HTTPAddr",
        deserialize_with = "crate::model::ids::null_as_default"
    )]
    pub http_addr: String,
    /// Raft index of creation.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub modify_index: u64,
    /// Unix seconds of the last status change.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub status_updated_at: i64,
}

/// Resources a node offers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeResources {
    /// CPU capacity.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub cpu: NodeCpuResources,
    /// Memory capacity.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub memory: NodeMemoryResources,
    /// Disk capacity for allocation directories.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub disk: NodeDiskResources,
    /// Network interfaces and their addresses.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub networks: Vec<NetworkResource>,
    /// Fingerprinted device groups.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub devices: Vec<NodeDeviceResource>,
}

/// CPU capacity of a node.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeCpuResources {
    /// Total MHz across all cores.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub cpu_shares: i64,
    /// Number of cores.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub total_cpu_cores: u32,
    /// Core IDs that may be reserved exclusively.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub reservable_cpu_cores: Vec<u32>,
}

/// Memory capacity.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeMemoryResources {
    /// Memory in MB.
    #[serde(
        rename = "MemoryMB",
        deserialize_with = "crate::model::ids::null_as_default"
    )]
    pub memory_mb: i64,
}

/// Disk capacity.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeDiskResources {
    /// Disk in MB.
    #[serde(
        rename = "DiskMB",
        deserialize_with = "crate::model::ids::null_as_default"
    )]
    pub disk_mb: i64,
}

/// A group of identical devices on a node.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeDeviceResource {
    /// Device vendor.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub vendor: String,
    /// Device type (gpu, fpga ...).
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub r#type: String,
    /// Device model.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub name: String,
    /// The individual devices.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub instances: Vec<NodeDevice>,
    /// Device attributes for constraints.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub attributes: BTreeMap<String, String>,
}

/// One device instance.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeDevice {
    /// Device ID.
    #[serde(rename = "ID", deserialize_with = "crate::model::ids::null_as_default")]
    pub id: String,
    /// Whether it can be handed out.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub healthy: bool,
    /// Why it is unhealthy.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub health_description: String,
}

/// Resources a node keeps for itself.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeReservedResources {
    /// Reserved CPU.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub cpu: NodeReservedCpuResources,
    /// Reserved memory.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub memory: NodeMemoryResources,
    /// Reserved disk.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub disk: NodeDiskResources,
    /// Reserved ports.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub networks: NodeReservedNetworkResources,
}

/// Reserved CPU.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeReservedCpuResources {
    /// Reserved MHz.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub cpu_shares: i64,
}

/// Ports no allocation may take.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeReservedNetworkResources {
    /// Port list such as `22,80,8000-8080`.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub reserved_host_ports: String,
}

/// A host volume a client offers (Nomad's `ClientHostVolumeConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ClientHostVolumeConfig {
    /// The volume's name, as jobs request it.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub name: String,
    /// The host path behind it.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub path: String,
    /// Whether the client only mounts it read-only.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub read_only: bool,
}

/// A driver's state on a node, from fingerprinting.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DriverInfo {
    /// Whether the driver exists on the node.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub detected: bool,
    /// Whether it can run tasks.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub healthy: bool,
    /// Why it is unhealthy.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub health_description: String,
    /// Driver attributes for constraints.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub attributes: BTreeMap<String, String>,
}

/// An ongoing drain of a node.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DrainStrategy {
    /// How long allocations may take to migrate; negative forces at once.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub deadline: Duration,
    /// Leaves system allocations running.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub ignore_system_jobs: bool,
    /// Unix nanoseconds at which remaining allocations are stopped.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub force_deadline: i64,
    /// Unix nanoseconds at which the drain began.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub started_at: i64,
}

/// A node's liveness as the servers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum NodeStatus {
    /// Registered but not yet fingerprinted fully.
    #[default]
    #[serde(rename = "initializing")]
    Initializing,
    /// Heartbeating and usable.
    #[serde(rename = "ready")]
    Ready,
    /// Missed its heartbeats; its allocations are lost.
    #[serde(rename = "down")]
    Down,
    /// Missed heartbeats but allocations with a disconnect policy are kept.
    #[serde(rename = "disconnected")]
    Disconnected,
}

/// Whether the scheduler may place new allocations on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum NodeSchedulingEligibility {
    /// New work may be placed.
    #[default]
    #[serde(rename = "eligible")]
    Eligible,
    /// No new work (draining, or set by an operator).
    #[serde(rename = "ineligible")]
    Ineligible,
}

impl Node {
    /// Whether new allocations may be placed here: ready, eligible and not draining.
    pub fn is_schedulable(&self) -> bool {
        self.status == NodeStatus::Ready
            && self.scheduling_eligibility == NodeSchedulingEligibility::Eligible
            && self.drain_strategy.is_none()
    }
}

//! Allocations: placed task groups and the state clients report for them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::{AllocId, DeploymentId, Duration, EvalId, Job, NetworkResource, NodeId, SmallMap};

/// One placed copy of a task group on a node, and what became of it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Allocation {
    /// Unique allocation ID.
    #[serde(rename = "ID", deserialize_with = "crate::model::ids::null_as_default")]
    pub id: AllocId,
    /// Namespace of the job.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub namespace: String,
    /// Evaluation that placed it.
    #[serde(
        rename = "EvalID",
        deserialize_with = "crate::model::ids::null_as_default"
    )]
    pub eval_id: EvalId,
    /// `<job>.<group>[<index>]`.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub name: String,
    /// Node it is placed on.
    #[serde(
        rename = "NodeID",
        deserialize_with = "crate::model::ids::null_as_default"
    )]
    pub node_id: NodeId,
    /// Name of that node.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub node_name: String,
    /// Job it belongs to.
    #[serde(
        rename = "JobID",
        deserialize_with = "crate::model::ids::null_as_default"
    )]
    pub job_id: String,
    /// The job version it runs, when included: shared by every allocation of
    /// that version, so the state holds each version once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<std::sync::Arc<Job>>,
    /// Group it runs.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub task_group: String,
    /// Resources reserved on the node.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub allocated_resources: AllocatedResources,
    /// What the servers want.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub desired_status: DesiredStatus,
    /// Why.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub desired_description: String,
    /// What the client reports.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub client_status: ClientStatus,
    /// Details of the client status.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub client_description: String,
    /// Task states by task name.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub task_states: SmallMap<String, TaskState>,
    /// Deployment that created it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "DeploymentID",
        deserialize_with = "crate::model::ids::empty_as_none"
    )]
    pub deployment_id: Option<DeploymentId>,
    /// Health as judged by the deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_status: Option<AllocDeploymentStatus>,
    /// Reschedules that led to this allocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reschedule_tracker: Option<RescheduleTracker>,
    /// Delayed evaluation that will reschedule it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "FollowupEvalID",
        deserialize_with = "crate::model::ids::empty_as_none"
    )]
    pub followup_eval_id: Option<EvalId>,
    /// Allocation it replaces.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::model::ids::empty_as_none"
    )]
    pub previous_allocation: Option<AllocId>,
    /// Allocation that replaced it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::model::ids::empty_as_none"
    )]
    pub next_allocation: Option<AllocId>,
    /// Allocations this one evicted to make room (priority preemption).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::model::ids::null_as_default"
    )]
    pub preempted_allocations: Vec<AllocId>,
    /// The allocation whose placement evicted this one.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::model::ids::empty_as_none"
    )]
    pub preempted_by_allocation: Option<AllocId>,
    /// Raft index of creation.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub modify_index: u64,
    /// Raft index of the last server-side change.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub alloc_modify_index: u64,
    /// Unix nanoseconds of creation.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub create_time: i64,
    /// Unix nanoseconds of the last change.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub modify_time: i64,
}

/// Resources reserved for an allocation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocatedResources {
    /// Per task.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub tasks: SmallMap<String, AllocatedTaskResources>,
    /// Shared by the group.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub shared: AllocatedSharedResources,
}

/// Resources reserved for one task.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocatedTaskResources {
    /// CPU.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub cpu: AllocatedCpuResources,
    /// Memory.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub memory: AllocatedMemoryResources,
    /// Task-level networks (legacy).
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub networks: Vec<NetworkResource>,
}

/// CPU reserved for a task.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocatedCpuResources {
    /// MHz.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub cpu_shares: i64,
    /// Cores reserved exclusively.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub reserved_cores: Vec<u32>,
}

/// Memory reserved for a task.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocatedMemoryResources {
    /// Reserved MB.
    #[serde(
        rename = "MemoryMB",
        deserialize_with = "crate::model::ids::null_as_default"
    )]
    pub memory_mb: i64,
    /// Burst limit in MB; 0 when none.
    #[serde(
        rename = "MemoryMaxMB",
        deserialize_with = "crate::model::ids::null_as_default"
    )]
    pub memory_max_mb: i64,
}

/// Resources shared by a group's tasks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocatedSharedResources {
    /// Ephemeral disk.
    #[serde(
        rename = "DiskMB",
        deserialize_with = "crate::model::ids::null_as_default"
    )]
    pub disk_mb: i64,
    /// Group networks with assigned ports.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub networks: Vec<NetworkResource>,
    /// Assigned ports, flattened.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub ports: Vec<AllocatedPortMapping>,
}

/// A port assigned to an allocation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocatedPortMapping {
    /// Port label.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub label: String,
    /// Host port.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub value: i64,
    /// Mapped port.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub to: i64,
    /// Host address.
    #[serde(
        rename = "HostIP",
        deserialize_with = "crate::model::ids::null_as_default"
    )]
    pub host_ip: String,
}

/// A task's state on the client.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskState {
    /// `pending`, `running` or `dead`.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub state: String,
    /// Whether it ended in failure.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub failed: bool,
    /// Restarts so far.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub restarts: u64,
    /// RFC 3339 time of the last restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_restart: Option<String>,
    /// RFC 3339 time it last started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// RFC 3339 time it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// History, oldest first.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub events: Vec<TaskEvent>,
}

/// Something that happened to a task.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskEvent {
    /// Event type (Started, Terminated, Restarting ...).
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub r#type: String,
    /// Unix nanoseconds.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub time: i64,
    /// Short message.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub message: String,
    /// Message for humans.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub display_message: String,
    /// Structured details.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub details: BTreeMap<String, String>,
    /// Whether the event fails the task.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub fails_task: bool,
    /// Why it restarts.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub restart_reason: String,
    /// Error from the driver.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub driver_error: String,
    /// Exit code of the process.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub exit_code: i64,
    /// Signal that ended it.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub signal: i64,
    /// Kill timeout used.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub kill_timeout: Duration,
    /// Nanoseconds until the restart.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub start_delay: i64,
}

/// Previous reschedules of an allocation's lineage.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RescheduleTracker {
    /// Oldest first.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub events: Vec<RescheduleEvent>,
}

/// One reschedule.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RescheduleEvent {
    /// Unix nanoseconds.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub reschedule_time: i64,
    /// Allocation that was replaced.
    #[serde(
        rename = "PrevAllocID",
        deserialize_with = "crate::model::ids::null_as_default"
    )]
    pub prev_alloc_id: AllocId,
    /// Node it ran on.
    #[serde(
        rename = "PrevNodeID",
        deserialize_with = "crate::model::ids::null_as_default"
    )]
    pub prev_node_id: NodeId,
    /// Delay applied.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub delay: Duration,
}

/// An allocation's health within a deployment.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocDeploymentStatus {
    /// Unset until judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
    /// RFC 3339 time of the judgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Whether it is a canary.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub canary: bool,
    /// Raft index of the last change.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub modify_index: u64,
}

/// What the servers want an allocation to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum DesiredStatus {
    /// Keep it running.
    #[default]
    #[serde(rename = "run")]
    Run,
    /// Stop it (job stopped, updated or scaled down).
    #[serde(rename = "stop")]
    Stop,
    /// Stop it to make room for higher priority work.
    #[serde(rename = "evict")]
    Evict,
}

/// What the client reports about an allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum ClientStatus {
    /// Not started yet.
    #[default]
    #[serde(rename = "pending")]
    Pending,
    /// At least one task is running.
    #[serde(rename = "running")]
    Running,
    /// All tasks finished successfully.
    #[serde(rename = "complete")]
    Complete,
    /// A task failed.
    #[serde(rename = "failed")]
    Failed,
    /// The node went down with it.
    #[serde(rename = "lost")]
    Lost,
    /// The node is disconnected; its state is not known.
    #[serde(rename = "unknown")]
    Unknown,
}

impl ClientStatus {
    /// Whether the allocation has finished on the client for good.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ClientStatus::Complete | ClientStatus::Failed | ClientStatus::Lost
        )
    }
}

impl Allocation {
    /// Whether the allocation is over: the servers want it gone or the client
    /// reports it finished.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.desired_status,
            DesiredStatus::Stop | DesiredStatus::Evict
        ) || self.client_status.is_terminal()
    }
}

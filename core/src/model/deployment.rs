//! Deployments: the rollout of one job version.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::{AllocId, DeploymentId, Duration};

/// Tracks the rollout of one job version.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Deployment {
    /// Unique deployment ID.
    #[serde(rename = "ID", deserialize_with = "crate::model::ids::null_as_default")]
    pub id: DeploymentId,
    /// Namespace of the job.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub namespace: String,
    /// Job rolled out.
    #[serde(
        rename = "JobID",
        deserialize_with = "crate::model::ids::null_as_default"
    )]
    pub job_id: String,
    /// Job version rolled out.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub job_version: u64,
    /// Job modify index rolled out.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub job_modify_index: u64,
    /// Index of the job specification rolled out.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub job_spec_modify_index: u64,
    /// Create index of the job, to tell a re-created job apart.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub job_create_index: u64,
    /// Whether it is part of a multiregion rollout.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub is_multiregion: bool,
    /// Progress by group.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub task_groups: BTreeMap<String, DeploymentState>,
    /// Progress.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub status: DeploymentStatus,
    /// Why.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub status_description: String,
    /// Raft index of creation.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub modify_index: u64,
}

/// A group's progress within a deployment.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeploymentState {
    /// Revert on failure.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub auto_revert: bool,
    /// Promote canaries automatically.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub auto_promote: bool,
    /// Time allowed without progress.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub progress_deadline: Duration,
    /// RFC 3339 time by which progress is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_progress_by: Option<String>,
    /// Whether canaries were promoted.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub promoted: bool,
    /// Canaries placed.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub placed_canaries: Vec<AllocId>,
    /// Canaries wanted.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub desired_canaries: i64,
    /// Allocations wanted.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub desired_total: i64,
    /// Allocations placed.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub placed_allocs: i64,
    /// Allocations healthy.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub healthy_allocs: i64,
    /// Allocations unhealthy.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub unhealthy_allocs: i64,
}

/// Progress of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum DeploymentStatus {
    /// Being set up (multiregion).
    #[serde(rename = "initializing")]
    Initializing,
    /// Rolling out.
    #[default]
    #[serde(rename = "running")]
    Running,
    /// Paused by an operator.
    #[serde(rename = "paused")]
    Paused,
    /// Failed; may have been reverted.
    #[serde(rename = "failed")]
    Failed,
    /// All allocations healthy.
    #[serde(rename = "successful")]
    Successful,
    /// Superseded or the job was stopped.
    #[serde(rename = "cancelled")]
    Cancelled,
    /// Waiting for other regions (multiregion).
    #[serde(rename = "pending")]
    Pending,
    /// Blocked by a failed region (multiregion).
    #[serde(rename = "blocked")]
    Blocked,
    /// Being unblocked (multiregion).
    #[serde(rename = "unblocking")]
    Unblocking,
}

impl DeploymentStatus {
    /// Whether the deployment can still make progress.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            DeploymentStatus::Initializing
                | DeploymentStatus::Running
                | DeploymentStatus::Paused
                | DeploymentStatus::Pending
                | DeploymentStatus::Blocked
                | DeploymentStatus::Unblocking
        )
    }
}

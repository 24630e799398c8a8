//! Plans a scheduler submits and the results the plan applier returns.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::{Allocation, Deployment, DeploymentId, DeploymentStatus, EvalId, Job, NodeId};

/// A scheduler's proposed changes for one evaluation, checked and applied by the leader.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Plan {
    /// Evaluation the plan is for.
    #[serde(
        rename = "EvalID",
        deserialize_with = "crate::model::ids::null_as_default"
    )]
    pub eval_id: EvalId,
    /// Broker token proving the worker still holds the evaluation.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub eval_token: String,
    /// Priority used to order plans.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub priority: i64,
    /// Apply all of it or nothing.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub all_at_once: bool,
    /// The job the plan places.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<std::sync::Arc<Job>>,
    /// Allocations to stop, by node.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub node_update: BTreeMap<NodeId, Vec<Allocation>>,
    /// Allocations to place or update, by node.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub node_allocation: BTreeMap<NodeId, Vec<Allocation>>,
    /// Allocations to preempt, by node.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub node_preemptions: BTreeMap<NodeId, Vec<Allocation>>,
    /// Deployment to create or update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<Deployment>,
    /// Status changes to existing deployments.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub deployment_updates: Vec<DeploymentStatusUpdate>,
    /// State index the plan was computed at.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub snapshot_index: u64,
}

/// What the plan applier committed of a plan.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PlanResult {
    /// Stops committed.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub node_update: BTreeMap<NodeId, Vec<Allocation>>,
    /// Placements committed.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub node_allocation: BTreeMap<NodeId, Vec<Allocation>>,
    /// Preemptions committed.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub node_preemptions: BTreeMap<NodeId, Vec<Allocation>>,
    /// Deployment committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<Deployment>,
    /// Deployment updates committed.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub deployment_updates: Vec<DeploymentStatusUpdate>,
    /// Non-zero when the scheduler must refresh its state to this index and retry.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub refresh_index: u64,
    /// Raft index at which the allocations were committed.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub alloc_index: u64,
}

/// A status change to a deployment.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeploymentStatusUpdate {
    /// Deployment changed.
    #[serde(
        rename = "DeploymentID",
        deserialize_with = "crate::model::ids::null_as_default"
    )]
    pub deployment_id: DeploymentId,
    /// New status.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub status: DeploymentStatus,
    /// Why.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub status_description: String,
}

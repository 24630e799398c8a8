//! Evaluations and the placement metrics they carry.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::{DeploymentId, Duration, EvalId, NodeId, Resources};

/// A request to reconcile a job's desired and actual state, worked on by a scheduler.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Evaluation {
    /// Unique evaluation ID.
    #[serde(rename = "ID", deserialize_with = "crate::model::ids::null_as_default")]
    pub id: EvalId,
    /// Namespace of the job.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub namespace: String,
    /// Priority, usually the job's.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub priority: i64,
    /// Scheduler to use (the job's type, or `_core`).
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub r#type: String,
    /// Why it was created (`job-register`, `node-update` ...).
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub triggered_by: String,
    /// Job to evaluate.
    #[serde(
        rename = "JobID",
        deserialize_with = "crate::model::ids::null_as_default"
    )]
    pub job_id: String,
    /// Job modify index at creation.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub job_modify_index: u64,
    /// Node that triggered it, for node updates.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "NodeID",
        deserialize_with = "crate::model::ids::empty_as_none"
    )]
    pub node_id: Option<NodeId>,
    /// Deployment that triggered it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "DeploymentID",
        deserialize_with = "crate::model::ids::empty_as_none"
    )]
    pub deployment_id: Option<DeploymentId>,
    /// Progress.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub status: EvalStatus,
    /// Why it has its status.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub status_description: String,
    /// Delay before it may be processed.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub wait: Duration,
    /// RFC 3339 time before which it may not be processed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_until: Option<String>,
    /// Follow-up evaluation.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::model::ids::empty_as_none"
    )]
    pub next_eval: Option<EvalId>,
    /// Evaluation this one follows up.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::model::ids::empty_as_none"
    )]
    pub previous_eval: Option<EvalId>,
    /// Blocked evaluation created for failed placements.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::model::ids::empty_as_none"
    )]
    pub blocked_eval: Option<EvalId>,
    /// Placement failure metrics by group.
    #[serde(
        rename = "FailedTGAllocs",
        deserialize_with = "crate::model::ids::null_as_default"
    )]
    pub failed_tg_allocs: BTreeMap<String, AllocMetric>,
    /// Node classes known (in)eligible, for blocked evaluations.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub class_eligibility: BTreeMap<String, bool>,
    /// Whether constraints escaped the computed class.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub escaped_computed_class: bool,
    /// Allocations still to place, by group.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub queued_allocations: BTreeMap<String, i64>,
    /// State index the scheduler worked on.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub snapshot_index: u64,
    /// Raft index of creation.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub modify_index: u64,
    /// Unix nanoseconds of creation.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub create_time: i64,
    /// Unix nanoseconds of the last change.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub modify_time: i64,
    /// Trace ID stamped on every log line written for this evaluation.
    #[serde(
        rename = "TraceID",
        deserialize_with = "crate::model::ids::null_as_default"
    )]
    pub trace_id: String,
}

/// Why a placement succeeded or failed: what was looked at and filtered.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocMetric {
    /// Nodes looked at.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub nodes_evaluated: i64,
    /// Nodes removed by constraints.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub nodes_filtered: i64,
    /// Nodes in the job's node pool.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub nodes_in_pool: i64,
    /// Ready nodes by datacenter.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub nodes_available: BTreeMap<String, i64>,
    /// Filtered nodes by class.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub class_filtered: BTreeMap<String, i64>,
    /// Filtered nodes by constraint.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub constraint_filtered: BTreeMap<String, i64>,
    /// Nodes lacking resources.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub nodes_exhausted: i64,
    /// Exhausted nodes by class.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub class_exhausted: BTreeMap<String, i64>,
    /// Exhausted nodes by resource dimension.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub dimension_exhausted: BTreeMap<String, i64>,
    /// Quota dimensions exhausted.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub quota_exhausted: Vec<String>,
    /// Resources missing, by task.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub resources_exhausted: BTreeMap<String, Resources>,
    /// Final scores by node and scorer.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub scores: BTreeMap<String, f64>,
    /// Time spent placing.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub allocation_time: Duration,
    /// Further identical failures folded into this one.
    #[serde(deserialize_with = "crate::model::ids::null_as_default")]
    pub coalesced_failures: i64,
}

/// Progress of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum EvalStatus {
    /// Waiting for resources to free up.
    #[serde(rename = "blocked")]
    Blocked,
    /// Waiting for a scheduler.
    #[default]
    #[serde(rename = "pending")]
    Pending,
    /// Processed.
    #[serde(rename = "complete")]
    Complete,
    /// Processing failed too often.
    #[serde(rename = "failed")]
    Failed,
    /// Superseded by a newer evaluation.
    #[serde(rename = "canceled")]
    Canceled,
}

impl EvalStatus {
    /// Whether the evaluation will not be processed again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            EvalStatus::Complete | EvalStatus::Failed | EvalStatus::Canceled
        )
    }
}

//! The API's response shapes that are not model objects (stubs, write
//! answers, agent and operator views). Model objects (`Job`, `Evaluation`,
//! `Allocation`, `Node`, `Variable`) come from `sched_core::model`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use sched_core::model::{
    Allocation, Deployment, Evaluation, Job, Node, PreemptionConfig, SchedulerAlgorithm,
    SchedulerConfiguration, Variable,
};

/// `GET /v1/operator/scheduler/configuration`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SchedulerConfigurationResponse {
    /// The configuration in force.
    pub scheduler_config: SchedulerConfiguration,
    /// Raft index of the answer.
    pub index: u64,
}

/// `PUT /v1/operator/scheduler/configuration`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SchedulerSetConfigurationResponse {
    /// `false` when a compare-and-set index did not match.
    pub updated: bool,
    /// Raft index of the write.
    pub index: u64,
}

/// One row of `GET /v1/jobs`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobListStub {
    /// Job ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Parent of a dispatched or periodic child.
    #[serde(rename = "ParentID")]
    pub parent_id: String,
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// `service`, `batch`, `system` or `sysbatch`.
    pub r#type: String,
    /// Priority.
    pub priority: i64,
    /// Whether it launches periodic children.
    pub periodic: bool,
    /// Whether it is dispatched with parameters.
    pub parameterized_job: bool,
    /// Whether it was stopped.
    pub stop: bool,
    /// `pending`, `running` or `dead`.
    pub status: String,
    /// Why.
    pub status_description: String,
    /// Version.
    pub version: u64,
    /// Submission time, Unix nanoseconds.
    pub submit_time: i64,
    /// Index of its creation.
    pub create_index: u64,
    /// Index of its last change.
    pub modify_index: u64,
    /// Index of its last spec change.
    pub job_modify_index: u64,
}

/// One row of the allocation lists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocListStub {
    /// Allocation ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Evaluation that placed it.
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    /// `job.group[index]`.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Node.
    #[serde(rename = "NodeID")]
    pub node_id: String,
    /// Node name.
    pub node_name: String,
    /// Job.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// Job version it runs.
    pub job_version: u64,
    /// Task group.
    pub task_group: String,
    /// `run`, `stop` or `evict`.
    pub desired_status: String,
    /// What the client reports.
    pub client_status: String,
    /// Index of its creation.
    pub create_index: u64,
    /// Index of its last change.
    pub modify_index: u64,
    /// Unix nanoseconds of its creation.
    pub create_time: i64,
    /// Unix nanoseconds of its last change.
    pub modify_time: i64,
}

/// One row of `GET /v1/nodes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeListStub {
    /// Node ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Host address.
    pub address: String,
    /// Datacenter.
    pub datacenter: String,
    /// Name.
    pub name: String,
    /// Class.
    pub node_class: String,
    /// Pool.
    pub node_pool: String,
    /// Whether it is draining.
    pub drain: bool,
    /// `eligible` or `ineligible`.
    pub scheduling_eligibility: String,
    /// `initializing`, `ready`, `down` or `disconnected`.
    pub status: String,
    /// Index of its creation.
    pub create_index: u64,
    /// Index of its last change.
    pub modify_index: u64,
}

/// The answer to a job registration (also scale and revert).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobRegisterResponse {
    /// The evaluation created (empty for periodic and parameterized jobs).
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    /// Its index.
    pub eval_create_index: u64,
    /// The job's new modify index.
    pub job_modify_index: u64,
    /// Non-fatal remarks.
    pub warnings: String,
    /// The write's index.
    pub index: u64,
}

/// The answer to a write that triggers an evaluation (deregister,
/// evaluate, alloc stop, periodic force).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EvalResponse {
    /// The evaluation created.
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    /// Its index.
    pub eval_create_index: u64,
    /// The job's modify index, where there is one.
    pub job_modify_index: u64,
    /// The write's index.
    pub index: u64,
}

/// The answer to a deployment write (promote, fail, pause, allocation
/// health).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeploymentUpdateResponse {
    /// The evaluation created (empty when none was needed).
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    /// Its index.
    pub eval_create_index: u64,
    /// The deployment's new modify index.
    pub deployment_modify_index: u64,
    /// The job version reverted to, when failing it reverted the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverted_job_version: Option<u64>,
    /// The write's index.
    pub index: u64,
}

/// The answer to a dispatch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DispatchResponse {
    /// The child job.
    #[serde(rename = "DispatchedJobID")]
    pub dispatched_job_id: String,
    /// Its evaluation (empty when an idempotency token matched an earlier
    /// dispatch).
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    /// The evaluation's index.
    pub eval_create_index: u64,
    /// The child's creation index.
    pub job_create_index: u64,
    /// The write's index.
    pub index: u64,
}

/// The answer to a node drain or eligibility change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeUpdateResponse {
    /// Evaluations created for the node's jobs.
    #[serde(rename = "EvalIDs")]
    pub eval_ids: Vec<String>,
    /// Their index.
    pub eval_create_index: u64,
    /// The node's new modify index.
    pub node_modify_index: u64,
    /// The write's index.
    pub index: u64,
}

/// How a drain proceeds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DrainSpec {
    /// Nanoseconds allocations get to migrate (negative: at once).
    pub deadline: i64,
    /// Leave system jobs' allocations running.
    pub ignore_system_jobs: bool,
}

/// One group's planned changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DesiredUpdates {
    /// Left alone.
    pub ignore: u64,
    /// New placements.
    pub place: u64,
    /// Moved off draining nodes.
    pub migrate: u64,
    /// Stopped.
    pub stop: u64,
    /// Updated without replacement.
    pub in_place_update: u64,
    /// Replaced.
    pub destructive_update: u64,
    /// Canaries.
    pub canary: u64,
    /// Preempted.
    pub preemptions: u64,
}

/// The plan's annotations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PlanAnnotations {
    /// Per group.
    #[serde(rename = "DesiredTGUpdates")]
    pub desired_tg_updates: BTreeMap<String, DesiredUpdates>,
}

/// The answer to a job plan (a dry run of the scheduler).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobPlanResponse {
    /// What would change.
    pub annotations: PlanAnnotations,
    /// Per group, why placements would fail.
    #[serde(rename = "FailedTGAllocs")]
    pub failed_tg_allocs: BTreeMap<String, serde_json::Value>,
    /// The current job's modify index, for a check-index register.
    pub job_modify_index: u64,
    /// The job diff, when asked for.
    pub diff: Option<serde_json::Value>,
    /// Non-fatal remarks.
    pub warnings: String,
}

/// The answer to `/v1/validate/job`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobValidateResponse {
    /// Every rule the job breaks.
    pub validation_errors: Vec<String>,
    /// The errors joined.
    pub error: String,
    /// Non-fatal remarks.
    pub warnings: String,
}

/// `/v1/agent/members`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AgentMembers {
    /// The answering agent.
    pub server_name: String,
    /// Its region.
    pub server_region: String,
    /// Its datacenter.
    #[serde(rename = "ServerDC")]
    pub server_dc: String,
    /// Every known server.
    pub members: Vec<AgentMember>,
}

/// One server in `/v1/agent/members`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AgentMember {
    /// Name.
    pub name: String,
    /// Host address.
    pub addr: String,
    /// Port.
    pub port: u16,
    /// `alive`, `failed` or `left`.
    pub status: String,
    /// `region`, `dc`, `build`, `leader`, `raft_id`...
    pub tags: BTreeMap<String, String>,
}

/// `/v1/operator/raft/configuration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RaftConfiguration {
    /// The servers.
    pub servers: Vec<RaftServer>,
    /// The index of the configuration.
    pub index: u64,
}

/// One server in the Raft configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RaftServer {
    /// Raft ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Name.
    pub node: String,
    /// RPC address.
    pub address: String,
    /// Whether it leads.
    pub leader: bool,
    /// Whether it votes.
    pub voter: bool,
}

/// One row of `GET /v1/vars`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VariableMetadata {
    /// Namespace.
    pub namespace: String,
    /// Path.
    pub path: String,
    /// Index of its creation.
    pub create_index: u64,
    /// Index of its last write (the compare-and-set token).
    pub modify_index: u64,
}

/// `GET /v1/job/:id/summary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobSummary {
    /// Job.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// Namespace.
    pub namespace: String,
    /// Per group counts.
    pub summary: BTreeMap<String, TaskGroupSummary>,
}

/// One group's allocation counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskGroupSummary {
    /// Waiting for room.
    pub queued: i64,
    /// Finished.
    pub complete: i64,
    /// Failed.
    pub failed: i64,
    /// Running.
    pub running: i64,
    /// Placed, not yet running.
    pub starting: i64,
    /// Lost with their node.
    pub lost: i64,
    /// On disconnected nodes.
    pub unknown: i64,
}

/// What `POST /v1/client/allocation/:id/exec` answers: the command's exit
/// code and output (base64 on the wire, decoded here).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecResponse {
    /// The command's exit code (128 + the signal when a signal ended it).
    pub exit_code: i32,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: Vec<u8>,
}

//! The job: Nomad's `api.Job` and the small types only a job holds (periodic, parameterized, multiregion, UI), plus the registration envelope.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::{
    Affinity, Constraint, MigrateStrategy, ParameterizedJobConfig, PeriodicConfig,
    ReschedulePolicy, Spread, TaskGroup, UpdateStrategy,
};

/// A job as Nomad's `api.Job` carries it: what to run, where, and how to roll it out.
///
/// Every field a job file can set is optional, so a parsed job says exactly what the file said and [`Job::canonicalize`] fills the rest. Server-set fields sit at the end.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Job {
    /// Region the job is submitted to; `global` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Namespace isolating the job's name and objects; `default` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Unique job identifier within its namespace; the block label when not given.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "ID")]
    pub id: Option<String>,
    /// Display name; defaults to the ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Scheduler that handles the job: `service`, `batch`, `system` or `sysbatch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// Ranks the job against others for scheduling and preemption (1..=100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// Whether the whole job must be placed in one plan or not at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_at_once: Option<bool>,
    /// Datacenters the job may run in; `*` globs are allowed. Empty and absent stay distinct.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datacenters: Option<Vec<String>>,
    /// Node pool restricting which nodes are candidates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_pool: Option<String>,
    /// Hard placement filters applied to every group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Vec<Constraint>>,
    /// Soft placement preferences applied to every group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinities: Option<Vec<Affinity>>,
    /// How allocations are spread over an attribute's values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spreads: Option<Vec<Spread>>,
    /// The groups of tasks, each placed together on one node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_groups: Option<Vec<TaskGroup>>,
    /// Rolling-update defaults merged into each group's `Update`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<UpdateStrategy>,
    /// Deployment across several regions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiregion: Option<Multiregion>,
    /// Makes the job a cron-launched template of child jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub periodic: Option<PeriodicConfig>,
    /// Makes the job a dispatchable template of child jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameterized_job: Option<ParameterizedJobConfig>,
    /// Job-wide reschedule policy merged into each group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reschedule: Option<ReschedulePolicy>,
    /// Job-wide drain migration policy merged into each group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrate: Option<MigrateStrategy>,
    /// User metadata, available to constraints and interpolation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<BTreeMap<String, String>>,
    /// Description and links shown by the web UI.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "UI")]
    pub ui: Option<JobUIConfig>,
    /// Set by the server when the job is stopped (deregistered without purge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<bool>,
    /// The periodic or parameterized job a child job was launched from.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "ParentID")]
    pub parent_id: Option<String>,
    /// Whether the job was created by a dispatch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatched: Option<bool>,
    /// Token that makes a dispatch idempotent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatch_idempotency_token: Option<String>,
    /// Dispatch payload, base64 as Nomad encodes `[]byte`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// Consul namespace the job's services use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consul_namespace: Option<String>,
    /// Vault namespace the job's tokens come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_namespace: Option<String>,
    /// Accessor of the token that submitted the job.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "NomadTokenID"
    )]
    pub nomad_token_id: Option<String>,
    /// Server-computed status: pending, running or dead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Human explanation of `Status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_description: Option<String>,
    /// Whether this version was marked stable by a successful deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable: Option<bool>,
    /// Version number, bumped on every change of the specification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Submission time in Unix nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submit_time: Option<i64>,
    /// Raft index at which the job was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_index: Option<u64>,
    /// Raft index of the last change to the job object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modify_index: Option<u64>,
    /// Raft index of the last change to the specification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_modify_index: Option<u64>,
    /// Name given to this version by an operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_tag: Option<JobVersionTag>,
}

/// An operator's label on one job version, so it can be found and reverted to.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobVersionTag {
    /// Tag name, unique per job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When the tag was applied, in Unix nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tagged_time: Option<i64>,
}

/// What the web UI shows about the job beyond its spec.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobUIConfig {
    /// Markdown description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Links to external pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<JobUILink>>,
}

/// One link in the job's UI block.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobUILink {
    /// Link text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Target address.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "URL")]
    pub url: Option<String>,
}

/// Rolls the job out region by region.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Multiregion {
    /// How regions are rolled out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<MultiregionStrategy>,
    /// The regions, in rollout order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<MultiregionRegion>>,
}

/// Rollout pacing across regions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MultiregionStrategy {
    /// Regions deployed at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<i64>,
    /// What a failed region does to the others (`fail_all`, `fail_local`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<String>,
}

/// Per-region overrides for a multiregion job.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MultiregionRegion {
    /// Region name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Group count used in this region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    /// Datacenters used in this region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datacenters: Option<Vec<String>>,
    /// Node pool used in this region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_pool: Option<String>,
    /// Meta merged into the job's in this region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<BTreeMap<String, String>>,
}

/// The original job file kept beside the job, so it can be shown and re-run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Submission {
    /// The file's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `hcl2` or `json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Variables given as `-var` flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable_flags: Option<BTreeMap<String, String>>,
    /// Contents of variable files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<String>,
}

/// Body of `POST /v1/jobs`: the job plus options for the write.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobRegisterRequest {
    /// The job to register.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Job>,
    /// Register only if the job's current modify index equals `JobModifyIndex`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforce_index: Option<bool>,
    /// Index checked when `EnforceIndex` is set (0 means the job must not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_modify_index: Option<u64>,
    /// Overrides soft-mandatory policy failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_override: Option<bool>,
    /// Keeps the current group counts instead of the file's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_counts: Option<bool>,
    /// Keeps the current task resources instead of the file's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_resources: Option<bool>,
    /// Priority of the evaluation the registration creates, when not the job's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_priority: Option<i64>,
    /// The source the job came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submission: Option<Submission>,
}

//! Tasks and the blocks only a task holds (lifecycle, logs, vault, identities, secrets, actions, schedule, CSI plugin).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use super::{
    Affinity, Artifact, Constraint, Duration, Resources, RestartPolicy, ScalingPolicy, Service,
    Template, VolumeMount,
};

/// One unit of work run by a driver inside an allocation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Task {
    /// Task name, unique within the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Driver that runs the task (raw_exec, exec, docker, a plugin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// OS user the task runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Runs the task before, beside or after the main tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<TaskLifecycle>,
    /// Driver-specific configuration, free-form as the driver defines it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<BTreeMap<String, Value>>,
    /// Hard placement filters contributed by this task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Vec<Constraint>>,
    /// Soft placement preferences contributed by this task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinities: Option<Vec<Affinity>>,
    /// Environment variables; an empty block stays an empty map.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    /// Services registered for this task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<Service>>,
    /// Resources reserved for the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Task override merged over the group's restart policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    /// User metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<BTreeMap<String, String>>,
    /// Time between the kill signal and a forced kill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_timeout: Option<Duration>,
    /// Log rotation for stdout and stderr.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_config: Option<LogConfig>,
    /// Files fetched into the task directory before start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<Vec<Artifact>>,
    /// Vault token settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<Vault>,
    /// Consul namespace, cluster and partition for the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consul: Option<Consul>,
    /// Files rendered from templates and kept up to date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates: Option<Vec<Template>>,
    /// Where a dispatched job's payload is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatch_payload: Option<DispatchPayloadConfig>,
    /// Where the group's volumes are mounted in this task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_mounts: Option<Vec<VolumeMount>>,
    /// Makes the task a CSI plugin.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "CSIPluginConfig"
    )]
    pub csi_plugin_config: Option<CSIPluginConfig>,
    /// Stopping the leader stops the other tasks in the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<bool>,
    /// Delay between deregistering services and killing the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown_delay: Option<Duration>,
    /// Signal sent to stop the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_signal: Option<String>,
    /// Marks tasks Nomad creates for Consul Connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Vertical scaling policies (cpu, mem).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling_policies: Option<Vec<ScalingPolicy>>,
    /// Secrets fetched for the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Vec<Secret>>,
    /// The default workload identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<WorkloadIdentity>,
    /// Additional named workload identities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identities: Option<Vec<WorkloadIdentity>>,
    /// Commands operators can run in the task on demand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<Action>>,
    /// Time windows in which the task may run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<TaskSchedule>,
}

/// When a task runs relative to the group's main tasks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskLifecycle {
    /// `prestart`, `poststart` or `poststop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
    /// Keeps a hook task running for the allocation's lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar: Option<bool>,
}

/// Rotation of a task's stdout and stderr files.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogConfig {
    /// Rotated files kept per stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_files: Option<i64>,
    /// Size at which a file is rotated.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "MaxFileSizeMB"
    )]
    pub max_file_size_mb: Option<i64>,
    /// Newer spelling of the inverse of `Disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Turns log collection off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

/// Where a dispatched payload is written.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DispatchPayloadConfig {
    /// Path relative to the task's `local/` directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// Vault token derived for the task.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Vault {
    /// Vault policies the token carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<String>>,
    /// Vault role used to derive the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Vault namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Vault cluster name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Exposes the token as `VAULT_TOKEN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<bool>,
    /// Stops writing the token to the secrets directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_file: Option<bool>,
    /// What happens when the token changes: noop, restart or signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_mode: Option<String>,
    /// Signal sent when `ChangeMode` is signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_signal: Option<String>,
    /// Lets the token expire without renewal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_token_expiration: Option<bool>,
}

/// Consul placement of the task's or group's services.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Consul {
    /// Consul namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Consul cluster name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Consul admin partition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
}

/// A signed identity token given to the task.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WorkloadIdentity {
    /// Identity name; empty for the default identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Token audiences (`aud`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Vec<String>>,
    /// What happens when the token is renewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_mode: Option<String>,
    /// Signal sent when `ChangeMode` is signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_signal: Option<String>,
    /// Exposes the token in the environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<bool>,
    /// Writes the token to the secrets directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<bool>,
    /// Custom path for the token file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filepath: Option<String>,
    /// Service the identity belongs to, for service identities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// Token lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "TTL")]
    pub ttl: Option<Duration>,
    /// Additional claims added to the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_claims: Option<BTreeMap<String, String>>,
}

/// A secret fetched from a provider into the task's environment or files.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Secret {
    /// Secret name (block label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Provider plugin that fetches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Path of the secret at the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Provider-specific settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<BTreeMap<String, Value>>,
    /// Environment variables to set from the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
}

/// A named command operators can run inside the task.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Action {
    /// Action name (block label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Executable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
}

/// Restricts when the task may run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskSchedule {
    /// Cron-based run window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<TaskScheduleCron>,
}

/// A run window described by cron expressions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskScheduleCron {
    /// Cron expression opening the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Cron expression closing the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Time zone of the expressions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// Declares the task to be a CSI plugin.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CSIPluginConfig {
    /// Plugin ID volumes refer to.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "ID")]
    pub id: Option<String>,
    /// `controller`, `node` or `monolith`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// Where the plugin expects its socket and mounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_dir: Option<String>,
    /// Base directory for staged and published volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_publish_base_dir: Option<String>,
    /// How long the plugin may take to become healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_timeout: Option<Duration>,
}

//! Task groups: the unit of placement.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::{
    Affinity, Constraint, Consul, DisconnectStrategy, Duration, EphemeralDisk, MigrateStrategy,
    NetworkResource, ReschedulePolicy, RestartPolicy, ScalingPolicy, Service, Spread, Task,
    UpdateStrategy, VolumeRequest,
};

/// A set of tasks always placed together on one node; `Count` copies are run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskGroup {
    /// Group name, unique within the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Number of allocations to run; 1 (or the scaling minimum) when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    /// Hard placement filters for this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Vec<Constraint>>,
    /// Soft placement preferences for this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinities: Option<Vec<Affinity>>,
    /// The tasks run in each allocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Vec<Task>>,
    /// Spreading of this group's allocations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spreads: Option<Vec<Spread>>,
    /// Host or CSI volumes the group needs, keyed by the block label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, VolumeRequest>>,
    /// Local restart behaviour inherited by the tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    /// What happens when the node loses contact with the servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnect: Option<DisconnectStrategy>,
    /// Rescheduling of failed allocations onto other nodes (the job-level block is `Reschedule`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reschedule_policy: Option<ReschedulePolicy>,
    /// Scratch disk shared by the tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_disk: Option<EphemeralDisk>,
    /// Rolling update and canary settings for this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<UpdateStrategy>,
    /// How allocations move off a draining node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrate: Option<MigrateStrategy>,
    /// Shared network namespace and ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networks: Option<Vec<NetworkResource>>,
    /// User metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<BTreeMap<String, String>>,
    /// Services registered for the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<Service>>,
    /// Delay between deregistering services and killing tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown_delay: Option<Duration>,
    /// Deprecated form of `Disconnect.StopOnClientAfter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_after_client_disconnect: Option<Duration>,
    /// Deprecated form of `Disconnect.LostAfter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_client_disconnect: Option<Duration>,
    /// Kills allocations that run longer than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_run_duration: Option<Duration>,
    /// Horizontal scaling bounds and autoscaler policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling: Option<ScalingPolicy>,
    /// Consul namespace, cluster and partition for the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consul: Option<Consul>,
    /// Keeps lost allocations from being replaced elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prevent_reschedule_on_lost: Option<bool>,
}

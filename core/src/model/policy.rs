//! Lifecycle policies: update, restart, reschedule, migrate, disconnect, ephemeral disk.

use serde::{Deserialize, Serialize};

use super::Duration;

/// Rolling update and canary settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateStrategy {
    /// Delay between updates (legacy, used by system jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stagger: Option<Duration>,
    /// Allocations updated at once; 0 disables deployments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<i64>,
    /// How health is judged: `checks`, `task_states` or `manual`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<String>,
    /// Time an allocation must be healthy to count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_healthy_time: Option<Duration>,
    /// Time an allocation has to become healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_deadline: Option<Duration>,
    /// Time the deployment may go without progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline: Option<Duration>,
    /// Canaries placed before the rolling update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<i64>,
    /// Reverts to the last stable version on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_revert: Option<bool>,
    /// Promotes canaries once healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_promote: Option<bool>,
}

/// Restarts of failed tasks on the same node.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicy {
    /// Window in which `Attempts` restarts are allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Restarts allowed per interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i64>,
    /// Wait before a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    /// After the attempts: `fail` the allocation or `delay` until the next interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Re-renders templates on restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub render_templates: Option<bool>,
}

/// Replacement of failed allocations on other nodes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReschedulePolicy {
    /// Reschedules allowed per interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i64>,
    /// Window for `Attempts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Initial delay before a reschedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    /// Growth of the delay: `constant`, `exponential` or `fibonacci`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_function: Option<String>,
    /// Upper bound of the delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay: Option<Duration>,
    /// Reschedules without a limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlimited: Option<bool>,
}

/// How allocations move off a draining node.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MigrateStrategy {
    /// Allocations migrated at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<i64>,
    /// `checks` or `task_states`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<String>,
    /// Time a replacement must be healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_healthy_time: Option<Duration>,
    /// Time a replacement has to become healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_deadline: Option<Duration>,
}

/// Behaviour when a node loses contact with the servers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DisconnectStrategy {
    /// Time after which the allocation is considered lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_after: Option<Duration>,
    /// Time after which the client stops the allocation itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_on_client_after: Option<Duration>,
    /// Places a replacement while disconnected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace: Option<bool>,
    /// Which allocation wins on reconnect: `best_score`, `keep_original`, `keep_replacement`, `longest_running`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconcile: Option<String>,
}

/// Scratch disk shared by a group's tasks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EphemeralDisk {
    /// Tries to keep the disk across updates on the same node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticky: Option<bool>,
    /// Copies the disk to the new node on updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrate: Option<bool>,
    /// Size in MB.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "SizeMB")]
    pub size_mb: Option<i64>,
}

//! What a task asks for: CPU, memory, devices, NUMA.

use serde::{Deserialize, Serialize};

use super::{Affinity, Constraint, NetworkResource};

/// Compute resources reserved for a task.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resources {
    /// CPU in MHz shares.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "CPU")]
    pub cpu: Option<i64>,
    /// Whole cores reserved exclusively; excludes `CPU`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cores: Option<i64>,
    /// Memory reserved, in MB.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "MemoryMB")]
    pub memory_mb: Option<i64>,
    /// Memory the task may burst to, in MB.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "MemoryMaxMB"
    )]
    pub memory_max_mb: Option<i64>,
    /// Legacy per-task disk; group `EphemeralDisk` replaced it.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "DiskMB")]
    pub disk_mb: Option<i64>,
    /// Legacy, ignored.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "IOPS")]
    pub iops: Option<i64>,
    /// Size of the secrets directory tmpfs, in MB.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "SecretsMB")]
    pub secrets_mb: Option<i64>,
    /// Legacy task-level networks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networks: Option<Vec<NetworkResource>>,
    /// Devices (GPUs etc.) the task needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<Vec<RequestedDevice>>,
    /// NUMA placement of the reserved cores.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "NUMA")]
    pub numa: Option<Numa>,
}

/// A request for devices matching `vendor/type/name`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RequestedDevice {
    /// Device selector: `type`, `vendor/type` or `vendor/type/name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Instances required; 1 when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Filters on device attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Vec<Constraint>>,
    /// Preferences on device attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinities: Option<Vec<Affinity>>,
}

/// NUMA awareness for core reservations.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Numa {
    /// `none`, `prefer` or `require`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<String>,
    /// Devices that should share the cores' NUMA node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<Vec<String>>,
}

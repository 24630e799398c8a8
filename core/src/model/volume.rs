//! Volumes a group requests and where tasks mount them.

use serde::{Deserialize, Serialize};

/// A host or CSI volume the group needs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeRequest {
    /// Volume label (the map key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `host` or `csi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// Host volume name or CSI volume ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Requests read-only access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// Keeps the same volume across reschedules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticky: Option<bool>,
    /// CSI access mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_mode: Option<String>,
    /// CSI attachment mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_mode: Option<String>,
    /// CSI mount options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_options: Option<CSIMountOptions>,
    /// Appends the allocation index to `Source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_alloc: Option<bool>,
}

/// Options for mounting a CSI volume.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CSIMountOptions {
    /// File system type.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "FSType")]
    pub fs_type: Option<String>,
    /// Mount flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_flags: Option<Vec<String>>,
}

/// Where a group volume appears inside a task.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeMount {
    /// Label of the group volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// Mount point in the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Mounts read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// Mount propagation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation_mode: Option<String>,
    /// SELinux relabelling.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "SELinuxLabel"
    )]
    pub selinux_label: Option<String>,
}

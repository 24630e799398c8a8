//! Scaling policies for group counts and task resources.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Bounds and autoscaler policy for a group's count (horizontal) or a task's resources (vertical).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScalingPolicy {
    /// Set by the server.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "ID")]
    pub id: Option<String>,
    /// Set by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `horizontal`, `vertical_cpu` or `vertical_mem`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// What is scaled, set by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<BTreeMap<String, String>>,
    /// Lower bound; the group count when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    /// Upper bound; required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    /// Autoscaler policy, free-form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<BTreeMap<String, Value>>,
    /// Whether the autoscaler acts on the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Set by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_index: Option<u64>,
    /// Set by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modify_index: Option<u64>,
}

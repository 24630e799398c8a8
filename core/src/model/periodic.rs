//! Jobs that launch child jobs: periodic (cron) and parameterized (dispatch).

use serde::{Deserialize, Serialize};

/// Runs the job on a cron schedule; each launch creates a child job.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PeriodicConfig {
    /// Whether launches happen at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// One cron expression (from `cron`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// Several cron expressions (from `crons`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specs: Option<Vec<String>>,
    /// How `Spec` is read; only `cron` exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_type: Option<String>,
    /// Skips a launch while the previous child still runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prohibit_overlap: Option<bool>,
    /// Time zone the cron expressions are evaluated in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// Makes the job a template that `job dispatch` instantiates.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterizedJobConfig {
    /// Whether a payload is `optional`, `required` or `forbidden`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// Meta keys every dispatch must supply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_required: Option<Vec<String>>,
    /// Meta keys a dispatch may supply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_optional: Option<Vec<String>>,
}

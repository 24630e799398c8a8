//! Files a task gets: templates and artifacts.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use super::Duration;

/// A file rendered from a template and re-rendered when its data changes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Template {
    /// Template file to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_path: Option<String>,
    /// Where the result is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dest_path: Option<String>,
    /// Inline template text (`data`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedded_tmpl: Option<String>,
    /// Reaction to a change: `noop`, `restart`, `signal` or `script`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_mode: Option<String>,
    /// Signal sent when `ChangeMode` is signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_signal: Option<String>,
    /// Script run when `ChangeMode` is script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_script: Option<ChangeScript>,
    /// Random delay before reacting, to avoid thundering herds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub splay: Option<Duration>,
    /// File mode, octal string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perms: Option<String>,
    /// File owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<i64>,
    /// File group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<i64>,
    /// Opening delimiter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_delim: Option<String>,
    /// Closing delimiter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right_delim: Option<String>,
    /// Loads the result into the task environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envvars: Option<bool>,
    /// Deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_grace: Option<Duration>,
    /// Quiescence bounds before rendering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<WaitConfig>,
    /// Fails on missing map keys instead of rendering `<no value>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub err_missing_key: Option<bool>,
    /// Renders once and stops watching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub once: Option<bool>,
}

/// A script a template runs after a change.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeScript {
    /// Executable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Time the script may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Kills the task when the script fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_on_error: Option<bool>,
    /// Also runs after the first render.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_on_first_render: Option<bool>,
}

/// Minimum and maximum wait for data to settle before rendering.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitConfig {
    /// Minimum quiet time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Duration>,
    /// Maximum wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Duration>,
}

/// A file or archive downloaded into the task directory (go-getter).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Artifact {
    /// URL to fetch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub getter_source: Option<String>,
    /// go-getter options such as `checksum`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub getter_options: Option<BTreeMap<String, Value>>,
    /// HTTP headers sent when fetching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub getter_headers: Option<BTreeMap<String, String>>,
    /// `any`, `file` or `dir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub getter_mode: Option<String>,
    /// Skips TLS verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub getter_insecure: Option<bool>,
    /// Destination relative to the task directory; an empty string stays distinct from unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative_dest: Option<String>,
    /// Gives the files to the task user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chown: Option<bool>,
}

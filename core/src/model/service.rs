//! Service registrations and their health checks.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use super::{Duration, WorkloadIdentity};

/// A service registered in the catalog (Nomad's or Consul's) with health checks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Service {
    /// Service name; defaults to `<job>-<group>[-<task>]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Catalog tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Tags used while the allocation is a canary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_tags: Option<Vec<String>>,
    /// Lets Consul agents edit the tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_tag_override: Option<bool>,
    /// Port label or literal port number advertised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_label: Option<String>,
    /// Which address is advertised: `auto`, `host`, `driver` or `alloc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_mode: Option<String>,
    /// Explicit address to advertise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Health checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<ServiceCheck>>,
    /// Default restart-on-unhealthy settings for the checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_restart: Option<CheckRestart>,
    /// Consul Connect settings, kept loosely since sched does not implement Connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<Value>,
    /// Catalog metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<BTreeMap<String, String>>,
    /// Metadata used while the allocation is a canary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_meta: Option<BTreeMap<String, String>>,
    /// Extra addresses keyed by tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tagged_addresses: Option<BTreeMap<String, String>>,
    /// Task whose network the service uses (group services).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_name: Option<String>,
    /// How check results affect deployments: `require_healthy`, `ignore_warnings`, `ignore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_update: Option<String>,
    /// Identity used to register the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<WorkloadIdentity>,
    /// DNS SRV weights (Consul).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<ServiceWeights>,
    /// Catalog: `consul` or `nomad`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Consul cluster name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Consul service kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// DNS weights by health.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceWeights {
    /// Weight when passing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passing: Option<i64>,
    /// Weight when warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<i64>,
}

/// A health check run against a service.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceCheck {
    /// Check name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `http`, `tcp`, `grpc` or `script`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// Executable for script checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Arguments for script checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// HTTP path for http checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `http` or `https`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// HTTP method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// HTTP request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Port to check when not the service's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_label: Option<String>,
    /// Exposes the check through the Connect proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose: Option<bool>,
    /// Which address to check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_mode: Option<String>,
    /// Address advertised for the check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertise: Option<String>,
    /// Time between runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Time a run may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Status before the first run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_status: Option<String>,
    /// Free text for operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// SNI name for TLS checks.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "TLSServerName"
    )]
    pub tls_server_name: Option<String>,
    /// Skips certificate verification.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "TLSSkipVerify"
    )]
    pub tls_skip_verify: Option<bool>,
    /// HTTP headers; each value is a list like Go's `http.Header`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<BTreeMap<String, Vec<String>>>,
    /// Restarts the task when the check stays unhealthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_restart: Option<CheckRestart>,
    /// gRPC service name to check.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "GRPCService"
    )]
    pub grpc_service: Option<String>,
    /// Uses TLS for gRPC checks.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "GRPCUseTLS"
    )]
    pub grpc_use_tls: Option<bool>,
    /// Task a group-level script check runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_name: Option<String>,
    /// Consecutive successes needed to pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_before_passing: Option<i64>,
    /// Consecutive failures needed to turn critical.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures_before_critical: Option<i64>,
    /// Consecutive failures needed to warn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures_before_warning: Option<i64>,
    /// How this check affects deployments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_update: Option<String>,
}

/// Restarts a task whose check stays unhealthy.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CheckRestart {
    /// Unhealthy results before a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Time after start during which results are ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace: Option<Duration>,
    /// Treats warning as healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_warnings: Option<bool>,
}

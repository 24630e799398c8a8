//! Network requests and ports, shared by groups, tasks and nodes.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A network namespace request and the ports it needs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkResource {
    /// `host`, `bridge`, `none` or `cni/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Host interface, set by the scheduler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Address range of the network, set by the scheduler.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "CIDR")]
    pub cidr: Option<String>,
    /// Address assigned, set by the scheduler.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "IP")]
    pub ip: Option<String>,
    /// Hostname inside the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Legacy bandwidth request.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "MBits")]
    pub mbits: Option<i64>,
    /// DNS settings inside the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "DNS")]
    pub dns: Option<DNSConfig>,
    /// Arguments for CNI plugins.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "CNI")]
    pub cni: Option<CNIConfig>,
    /// Static ports: a job file's ports with `static`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved_ports: Option<Vec<Port>>,
    /// Ports the scheduler picks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_ports: Option<Vec<Port>>,
}

/// A port label bound to a host port.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Port {
    /// Name used by services and interpolation (`NOMAD_PORT_<label>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Host port; 0 for a dynamic port until assigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<i64>,
    /// Port inside the namespace the host port maps to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<i64>,
    /// Named host network the port binds on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_network: Option<String>,
    /// Allows several allocations to share a static port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_collision: Option<bool>,
}

/// Resolver settings for a network namespace.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DNSConfig {
    /// Name servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<Vec<String>>,
    /// Search domains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub searches: Option<Vec<String>>,
    /// Resolver options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
}

/// Extra arguments passed to CNI plugins.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CNIConfig {
    /// Plugin arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<BTreeMap<String, String>>,
}

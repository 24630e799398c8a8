//! Fingerprinting: what this machine is and has, as a
//! [`sched_core::model::Node`] the servers schedule against.
//!
//! It owns the host probes ([`host`]: CPU, memory, kernel and OS, network,
//! cgroup version, the alloc dir's disk), the drivers' health through their
//! `fingerprint` export, and the computed class ([`class`]). Attribute names
//! are Nomad's, so constraints written for Nomad work unchanged. It does not
//! register the node or refresh it periodically; the [`crate::Client`] does.

pub mod class;
pub mod host;

use std::collections::BTreeMap;

use sched_core::model::{
    DriverInfo, Node, NodeCpuResources, NodeDiskResources, NodeId, NodeMemoryResources,
    NodeReservedCpuResources, NodeReservedNetworkResources, NodeReservedResources, NodeResources,
    NodeStatus,
};

use crate::config::ClientConfig;
use crate::driver_host::{DriverHost, Health};

/// Why the machine could not be fingerprinted.
#[derive(Debug, thiserror::Error)]
pub enum FingerprintError {
    /// A system probe failed (sysinfo could not read the system).
    #[error("probing the system: {0}")]
    System(String),
    /// The alloc dir's file system could not be measured.
    #[error("measuring the disk of {path}: {source}")]
    Disk {
        /// The directory measured.
        path: std::path::PathBuf,
        /// What failed.
        source: nix::Error,
    },
}

/// Fingerprints the machine and the drivers into a node with `id`.
pub fn fingerprint(
    id: &NodeId,
    config: &ClientConfig,
    drivers: &DriverHost,
) -> Result<Node, FingerprintError> {
    let facts = host::probe(config)?;
    let mut attributes = facts.attributes.clone();
    let mut node_drivers = BTreeMap::new();
    for name in drivers.drivers() {
        let info = driver_info(drivers, &name);
        if info.detected {
            attributes.insert(
                format!("driver.{name}"),
                if info.healthy { "1" } else { "0" }.into(),
            );
            for (k, v) in &info.attributes {
                attributes.insert(format!("driver.{name}.{k}"), v.clone());
            }
        }
        node_drivers.insert(name, info);
    }
    let name = config
        .node_name
        .clone()
        .unwrap_or_else(|| facts.hostname.clone());
    let mut node = Node {
        id: id.clone(),
        name,
        datacenter: config.datacenter.clone(),
        node_class: config.node_class.clone(),
        node_pool: config.node_pool.clone(),
        attributes,
        meta: config.meta.clone(),
        node_resources: NodeResources {
            cpu: NodeCpuResources {
                cpu_shares: facts.total_mhz,
                total_cpu_cores: facts.cores,
                reservable_cpu_cores: (0..facts.cores).collect(),
            },
            memory: NodeMemoryResources {
                memory_mb: i64::try_from(facts.memory_bytes / (1024 * 1024)).unwrap_or(i64::MAX),
            },
            disk: NodeDiskResources {
                disk_mb: i64::try_from(facts.disk_free_bytes / (1024 * 1024)).unwrap_or(i64::MAX),
            },
            networks: facts.networks.clone(),
            devices: Vec::new(),
        },
        reserved_resources: NodeReservedResources {
            cpu: NodeReservedCpuResources {
                cpu_shares: config.reserved.cpu_mhz,
            },
            memory: NodeMemoryResources {
                memory_mb: config.reserved.memory_mb,
            },
            disk: NodeDiskResources {
                disk_mb: config.reserved.disk_mb,
            },
            networks: NodeReservedNetworkResources {
                reserved_host_ports: config.reserved.reserved_ports.clone(),
            },
        },
        drivers: node_drivers,
        status: NodeStatus::Initializing,
        http_addr: config.http_addr.clone(),
        ..Node::default()
    };
    node.computed_class = class::computed_class(&node);
    Ok(node)
}

/// One driver's health from its `fingerprint` export. A driver whose
/// fingerprint call fails is detected but unhealthy, with the error as the
/// reason: the operator sees why, and the scheduler places nothing on it.
fn driver_info(drivers: &DriverHost, name: &str) -> DriverInfo {
    let fp = drivers.driver(name).and_then(|d| d.fingerprint());
    match fp {
        Ok(fp) => DriverInfo {
            detected: fp.health != Health::Undetected,
            healthy: fp.health == Health::Healthy,
            health_description: fp.description,
            attributes: fp.attributes.into_iter().collect(),
        },
        Err(e) => {
            tracing::warn!(driver = name, error = %e, "driver fingerprint failed");
            DriverInfo {
                detected: true,
                healthy: false,
                health_description: format!("fingerprint failed: {e}"),
                attributes: BTreeMap::new(),
            }
        }
    }
}

//! Fingerprinting: what this machine is and has, as a
//! [`sched_core::model::Node`] the servers schedule against.
//!
//! It owns the host probes ([`host`]: CPU, memory, kernel and OS, network,
//! cgroup version, the alloc dir's disk), the drivers' health through their
//! `fingerprint` export, the computed class ([`class`]), and what counts as
//! a change worth telling the servers about ([`changes`]). Attribute names
//! are Nomad's, so constraints written for Nomad work unchanged. It does not
//! register the node or schedule the periodic refresh; the [`crate::Client`]
//! does.

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

/// Relative difference below which two numbers count as the same: free
/// disk and the current CPU frequency move all the time, and re-registering
/// for every megabyte written would only churn the servers.
const NUMERIC_TOLERANCE: f64 = 0.05;

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= NUMERIC_TOLERANCE * a.abs().max(b.abs())
}

fn same_attribute(a: &str, b: &str) -> bool {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => close(x, y),
        _ => a == b,
    }
}

/// What differs between the node as registered and a fresh fingerprint,
/// as short descriptions (empty: nothing the servers need to hear about).
/// Numbers within 5% of each other count as unchanged.
pub fn changes(old: &Node, new: &Node) -> Vec<String> {
    let mut out = Vec::new();
    let keys: std::collections::BTreeSet<&String> =
        old.attributes.keys().chain(new.attributes.keys()).collect();
    for k in keys {
        match (old.attributes.get(k), new.attributes.get(k)) {
            (Some(a), Some(b)) if same_attribute(a, b) => {}
            (a, b) => out.push(format!(
                "attribute {k}: {} -> {}",
                a.map_or("(none)", String::as_str),
                b.map_or("(none)", String::as_str)
            )),
        }
    }
    let (o, n) = (&old.node_resources, &new.node_resources);
    if !close(o.cpu.cpu_shares as f64, n.cpu.cpu_shares as f64)
        || o.cpu.total_cpu_cores != n.cpu.total_cpu_cores
    {
        out.push("cpu".into());
    }
    if !close(o.memory.memory_mb as f64, n.memory.memory_mb as f64) {
        out.push("memory".into());
    }
    if !close(o.disk.disk_mb as f64, n.disk.disk_mb as f64) {
        out.push("disk".into());
    }
    if o.networks != n.networks {
        out.push("networks".into());
    }
    for name in old.drivers.keys().chain(new.drivers.keys()) {
        let (a, b) = (old.drivers.get(name), new.drivers.get(name));
        let same = match (a, b) {
            (Some(a), Some(b)) => {
                a.detected == b.detected
                    && a.healthy == b.healthy
                    && a.health_description == b.health_description
            }
            _ => false,
        };
        if !same && !out.iter().any(|c| c == &format!("driver {name}")) {
            out.push(format!("driver {name}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> Node {
        let mut n = Node::default();
        n.attributes.insert("kernel.name".into(), "linux".into());
        n.attributes
            .insert("unique.storage.bytesfree".into(), "1000000000".into());
        n.node_resources.disk.disk_mb = 1000;
        n.drivers.insert(
            "raw_exec".into(),
            DriverInfo {
                detected: true,
                healthy: true,
                health_description: "ok".into(),
                attributes: BTreeMap::new(),
            },
        );
        n
    }

    #[test]
    fn small_moves_of_numbers_are_not_changes() {
        let old = node();
        let mut new = node();
        new.attributes
            .insert("unique.storage.bytesfree".into(), "999000000".into());
        new.node_resources.disk.disk_mb = 990;
        assert!(changes(&old, &new).is_empty(), "{:?}", changes(&old, &new));
    }

    #[test]
    fn attributes_resources_and_driver_health_are_changes() {
        let old = node();
        let mut new = node();
        new.attributes
            .insert("kernel.name".into(), "freebsd".into());
        new.attributes.insert("meta.added".into(), "x".into());
        new.node_resources.disk.disk_mb = 500;
        if let Some(d) = new.drivers.get_mut("raw_exec") {
            d.healthy = false;
        }
        assert_eq!(
            changes(&old, &new),
            vec![
                "attribute kernel.name: linux -> freebsd".to_string(),
                "attribute meta.added: (none) -> x".to_string(),
                "disk".to_string(),
                "driver raw_exec".to_string(),
            ]
        );
    }
}

//! What a node offers and what allocations take from it: CPU, memory,
//! reserved cores, devices and ports, with the node's own reservations
//! subtracted.
//!
//! This module owns resource arithmetic; whether an ask fits is decided in
//! [`feasible::resources`](crate::feasible::resources) and
//! [`feasible::ports`](crate::feasible::ports), and scores in
//! [`rank`](crate::rank).

use std::collections::{BTreeMap, BTreeSet};

use sched_core::model::{Allocation, Node};

use crate::job_view::JobView;

/// The lowest port handed out dynamically (Nomad's default).
pub const MIN_DYNAMIC_PORT: i64 = 20000;
/// The highest port handed out dynamically (Nomad's default).
pub const MAX_DYNAMIC_PORT: i64 = 32000;

/// What a node can give to allocations: its resources minus its reservations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capacity {
    /// CPU in MHz.
    pub cpu: i64,
    /// Memory in MB.
    pub memory_mb: i64,
    /// Cores that can be reserved exclusively.
    pub cores: i64,
    /// Healthy device instances by device name (`vendor/type/name`, with
    /// `type` and `type/name` as aliases, as Nomad matches them).
    pub devices: BTreeMap<String, u64>,
}

impl Capacity {
    /// A node's capacity.
    pub fn of(node: &Node) -> Capacity {
        let r = &node.node_resources;
        let reserved = &node.reserved_resources;
        let mut devices = BTreeMap::new();
        for d in &r.devices {
            let healthy = d.instances.iter().filter(|i| i.healthy).count() as u64;
            for name in device_names(&d.vendor, &d.r#type, &d.name) {
                *devices.entry(name).or_default() += healthy;
            }
        }
        let cores = if r.cpu.reservable_cpu_cores.is_empty() {
            i64::from(r.cpu.total_cpu_cores)
        } else {
            r.cpu.reservable_cpu_cores.len() as i64
        };
        Capacity {
            cpu: (r.cpu.cpu_shares - reserved.cpu.cpu_shares).max(0),
            memory_mb: (r.memory.memory_mb - reserved.memory.memory_mb).max(0),
            cores,
            devices,
        }
    }
}

/// The names a device request may use for a device: `type`,
/// `vendor/type` and `vendor/type/name`.
pub fn device_names(vendor: &str, kind: &str, name: &str) -> Vec<String> {
    vec![
        kind.to_owned(),
        format!("{vendor}/{kind}"),
        format!("{vendor}/{kind}/{name}"),
    ]
}

/// What a set of allocations takes from a node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU in MHz.
    pub cpu: i64,
    /// Memory in MB.
    pub memory_mb: i64,
    /// Reserved cores.
    pub cores: i64,
    /// Device instances by requested name.
    pub devices: BTreeMap<String, u64>,
    /// Host ports in use.
    pub ports: BTreeSet<i64>,
}

impl Usage {
    /// Adds one allocation's resources.
    pub fn add(&mut self, alloc: &Allocation) {
        for t in alloc.allocated_resources.tasks.values() {
            self.cpu += t.cpu.cpu_shares;
            self.memory_mb += t.memory.memory_mb;
            self.cores += t.cpu.reserved_cores.len() as i64;
        }
        for port in alloc_ports(alloc) {
            self.ports.insert(port);
        }
        for (name, count) in alloc_devices(alloc) {
            *self.devices.entry(name.to_owned()).or_default() += count;
        }
    }

    /// Takes away one allocation's resources, which [`add`](Self::add)
    /// added before.
    pub fn remove(&mut self, alloc: &Allocation) {
        for t in alloc.allocated_resources.tasks.values() {
            self.cpu -= t.cpu.cpu_shares;
            self.memory_mb -= t.memory.memory_mb;
            self.cores -= t.cpu.reserved_cores.len() as i64;
        }
        for port in alloc_ports(alloc) {
            self.ports.remove(&port);
        }
        for (name, count) in alloc_devices(alloc) {
            if let Some(held) = self.devices.get_mut(name) {
                *held = held.saturating_sub(count);
                if *held == 0 {
                    self.devices.remove(name);
                }
            }
        }
    }

    /// The usage of a set of allocations, skipping terminal ones.
    pub fn of<'a>(allocs: impl IntoIterator<Item = &'a Allocation>) -> Usage {
        let mut u = Usage::default();
        for a in allocs {
            if !a.is_terminal() {
                u.add(a);
            }
        }
        u
    }
}

/// The host ports an allocation holds, in its tasks' and its shared
/// networks.
fn alloc_ports(alloc: &Allocation) -> impl Iterator<Item = i64> + '_ {
    let r = &alloc.allocated_resources;
    let networks = r
        .tasks
        .values()
        .flat_map(|t| t.networks.iter())
        .chain(r.shared.networks.iter());
    networks
        .flat_map(|n| {
            n.reserved_ports
                .iter()
                .flatten()
                .chain(n.dynamic_ports.iter().flatten())
                .filter_map(|p| p.value)
        })
        .chain(r.shared.ports.iter().map(|p| p.value))
}

/// The device instances an allocation holds by requested name. Devices are
/// not itemised in the allocated resources yet: this is what the
/// allocation's group asks for.
fn alloc_devices(alloc: &Allocation) -> impl Iterator<Item = (&str, u64)> {
    alloc
        .job
        .as_ref()
        .and_then(|j| j.group(&alloc.task_group))
        .into_iter()
        .flat_map(|g| g.tasks.iter().flatten())
        .filter_map(|t| t.resources.as_ref()?.devices.as_ref())
        .flatten()
        .map(|d| (d.name.as_deref().unwrap_or(""), d.count.unwrap_or(1)))
}

/// Ports the node itself reserves (`reserved.reserved_ports = "22,80,8000-8080"`).
pub fn node_reserved_ports(node: &Node) -> BTreeSet<i64> {
    let mut out = BTreeSet::new();
    let spec = &node.reserved_resources.networks.reserved_host_ports;
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((lo, hi)) = part.split_once('-') {
            if let (Ok(lo), Ok(hi)) = (lo.trim().parse::<i64>(), hi.trim().parse::<i64>()) {
                out.extend(lo..=hi);
            }
        } else if let Ok(p) = part.parse::<i64>() {
            out.insert(p);
        }
    }
    out
}

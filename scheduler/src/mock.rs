//! Generators of nodes, jobs and allocations for tests and benchmarks:
//! Linux nodes of 4000 MHz and 8192 MB with the `raw_exec` and `exec`
//! drivers in `dc1`, and minimal service, batch and system jobs.

use std::collections::BTreeMap;

use sched_core::model::{
    DriverInfo, Job, NetworkResource, Node, NodeCpuResources, NodeId, NodeMemoryResources,
    NodeResources, NodeStatus, Port, Resources, Task, TaskGroup,
};

/// A ready node numbered `n`: 4000 MHz, 8192 MB, 4 cores, `dc1`, pool
/// `default`, class `linux-medium`, drivers `raw_exec` and `exec`.
pub fn node(n: u128) -> Node {
    let mut attributes = BTreeMap::new();
    attributes.insert("kernel.name".to_owned(), "linux".to_owned());
    attributes.insert("cpu.arch".to_owned(), "amd64".to_owned());
    attributes.insert("unique.hostname".to_owned(), format!("node-{n}"));
    let mut drivers = BTreeMap::new();
    for d in ["raw_exec", "exec"] {
        drivers.insert(
            d.to_owned(),
            DriverInfo {
                detected: true,
                healthy: true,
                ..Default::default()
            },
        );
        attributes.insert(format!("driver.{d}"), "1".to_owned());
    }
    Node {
        id: NodeId::from_u128(n),
        name: format!("node-{n}"),
        datacenter: "dc1".to_owned(),
        node_class: "linux-medium".to_owned(),
        node_pool: "default".to_owned(),
        computed_class: "v1:linux-medium".to_owned(),
        attributes,
        node_resources: NodeResources {
            cpu: NodeCpuResources {
                cpu_shares: 4000,
                total_cpu_cores: 4,
                reservable_cpu_cores: vec![0, 1, 2, 3],
            },
            memory: NodeMemoryResources { memory_mb: 8192 },
            ..Default::default()
        },
        drivers,
        status: NodeStatus::Ready,
        ..Default::default()
    }
}

/// A node with a given size.
pub fn node_sized(n: u128, cpu: i64, memory_mb: i64) -> Node {
    let mut node = node(n);
    node.node_resources.cpu.cpu_shares = cpu;
    node.node_resources.memory.memory_mb = memory_mb;
    node
}

/// A task running `raw_exec` with the given ask.
pub fn task(name: &str, cpu: i64, memory_mb: i64) -> Task {
    let mut config = BTreeMap::new();
    config.insert(
        "command".to_owned(),
        serde_json::Value::String("/bin/sleep".to_owned()),
    );
    Task {
        name: Some(name.to_owned()),
        driver: Some("raw_exec".to_owned()),
        config: Some(config),
        resources: Some(Resources {
            cpu: Some(cpu),
            memory_mb: Some(memory_mb),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A service job `id` with one group `web` of `count` tasks of the ask.
pub fn service_job(id: &str, count: i64, cpu: i64, memory_mb: i64) -> Job {
    Job {
        id: Some(id.to_owned()),
        name: Some(id.to_owned()),
        namespace: Some("default".to_owned()),
        r#type: Some("service".to_owned()),
        datacenters: Some(vec!["dc1".to_owned()]),
        task_groups: Some(vec![TaskGroup {
            name: Some("web".to_owned()),
            count: Some(count),
            tasks: Some(vec![task("server", cpu, memory_mb)]),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

/// A job of another type (`batch`, `system`, `sysbatch`) built like
/// [`service_job`].
pub fn job_of_type(id: &str, kind: &str, count: i64, cpu: i64, memory_mb: i64) -> Job {
    let mut j = service_job(id, count, cpu, memory_mb);
    j.r#type = Some(kind.to_owned());
    j
}

/// Adds a group-level network with static and dynamic ports to a job's
/// first group.
pub fn with_ports(mut job: Job, statics: &[(&str, i64)], dynamics: &[&str]) -> Job {
    if let Some(g) = job.task_groups.as_mut().and_then(|g| g.first_mut()) {
        g.networks = Some(vec![NetworkResource {
            reserved_ports: Some(
                statics
                    .iter()
                    .map(|(l, v)| Port {
                        label: Some((*l).to_owned()),
                        value: Some(*v),
                        ..Default::default()
                    })
                    .collect(),
            ),
            dynamic_ports: Some(
                dynamics
                    .iter()
                    .map(|l| Port {
                        label: Some((*l).to_owned()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }]);
    }
    job
}

/// A running allocation of `job`'s first group on `node`, with the
/// group's CPU and memory ask (for seeding state directly).
pub fn alloc(job: &Job, node: &Node, index: u64) -> sched_core::model::Allocation {
    use crate::job_view::{GroupView, JobView};
    use sched_core::model::{
        AllocId, AllocatedCpuResources, AllocatedMemoryResources, AllocatedResources,
        AllocatedTaskResources, Allocation, ClientStatus,
    };
    let group = job.groups().first().cloned().unwrap_or_default();
    let ask = group.ask();
    let mut tasks = sched_core::model::SmallMap::new();
    for (name, cpu, mem, _) in &ask.tasks {
        tasks.insert(
            name.clone(),
            AllocatedTaskResources {
                cpu: AllocatedCpuResources {
                    cpu_shares: *cpu,
                    reserved_cores: vec![],
                },
                memory: AllocatedMemoryResources {
                    memory_mb: *mem,
                    memory_max_mb: 0,
                },
                networks: vec![],
            },
        );
    }
    Allocation {
        id: AllocId::from_u128(
            u128::from(index) + (node.id.as_str().len() as u128) * 1_000_000 + 0xa110c,
        ),
        namespace: job.ns().to_owned(),
        name: crate::reconcile::alloc_name(job.job_id(), group.name(), index),
        node_id: node.id.clone(),
        node_name: node.name.clone(),
        job_id: job.job_id().to_owned(),
        job: Some(std::sync::Arc::new(job.clone())),
        task_group: group.name().to_owned(),
        allocated_resources: AllocatedResources {
            tasks,
            ..Default::default()
        },
        client_status: ClientStatus::Running,
        ..Default::default()
    }
}

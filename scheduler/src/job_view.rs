//! Read accessors over the api-style job model, whose fields are `Option`s:
//! each accessor returns the value Nomad's canonical defaults give when a
//! field is unset, so the rest of the scheduler never unwraps.
//!
//! This module owns those defaults as the scheduler sees them and the
//! per-group resource ask ([`GroupAsk`]); it does not change jobs (that is
//! [`Job::canonicalize`](sched_core::model::Job::canonicalize)).

use std::collections::BTreeMap;

use sched_core::model::{
    Affinity, Constraint, Duration, Job, ReschedulePolicy, Spread, Task, TaskGroup,
};

/// Nomad's default CPU ask per task, in MHz.
pub const DEFAULT_TASK_CPU: i64 = 100;
/// Nomad's default memory ask per task, in MB.
pub const DEFAULT_TASK_MEMORY_MB: i64 = 300;

/// Job-level accessors.
pub trait JobView {
    /// `service`, `batch`, `system` or `sysbatch` (default `service`).
    fn job_type(&self) -> &str;
    /// The namespace (default `default`).
    fn ns(&self) -> &str;
    /// The job ID (empty if unset).
    fn job_id(&self) -> &str;
    /// The priority (default 50).
    fn prio(&self) -> i64;
    /// Whether the job was stopped.
    fn stopped(&self) -> bool;
    /// The job version (default 0).
    fn ver(&self) -> u64;
    /// The task groups.
    fn groups(&self) -> &[TaskGroup];
    /// One task group by name.
    fn group(&self, name: &str) -> Option<&TaskGroup>;
    /// Datacenters the job may run in (default `["*"]`).
    fn dcs(&self) -> Vec<String>;
    /// The node pool (default `default`; `all` means any pool).
    fn pool(&self) -> &str;
    /// Job-level constraints.
    fn job_constraints(&self) -> &[Constraint];
    /// Job-level affinities.
    fn job_affinities(&self) -> &[Affinity];
    /// Job-level spreads.
    fn job_spreads(&self) -> &[Spread];
}

impl JobView for Job {
    fn job_type(&self) -> &str {
        self.r#type.as_deref().unwrap_or("service")
    }
    fn ns(&self) -> &str {
        self.namespace.as_deref().unwrap_or("default")
    }
    fn job_id(&self) -> &str {
        self.id.as_deref().unwrap_or("")
    }
    fn prio(&self) -> i64 {
        self.priority.unwrap_or(50)
    }
    fn stopped(&self) -> bool {
        self.stop.unwrap_or(false)
    }
    fn ver(&self) -> u64 {
        self.version.unwrap_or(0)
    }
    fn groups(&self) -> &[TaskGroup] {
        self.task_groups.as_deref().unwrap_or(&[])
    }
    fn group(&self, name: &str) -> Option<&TaskGroup> {
        self.groups().iter().find(|g| g.name() == name)
    }
    fn dcs(&self) -> Vec<String> {
        match &self.datacenters {
            Some(d) if !d.is_empty() => d.clone(),
            _ => vec!["*".to_owned()],
        }
    }
    fn pool(&self) -> &str {
        self.node_pool.as_deref().unwrap_or("default")
    }
    fn job_constraints(&self) -> &[Constraint] {
        self.constraints.as_deref().unwrap_or(&[])
    }
    fn job_affinities(&self) -> &[Affinity] {
        self.affinities.as_deref().unwrap_or(&[])
    }
    fn job_spreads(&self) -> &[Spread] {
        self.spreads.as_deref().unwrap_or(&[])
    }
}

/// Task-group accessors.
pub trait GroupView {
    /// The group name (empty if unset).
    fn name(&self) -> &str;
    /// The desired count (default 1, never negative).
    fn count(&self) -> u64;
    /// The tasks.
    fn task_list(&self) -> &[Task];
    /// Group constraints followed by every task's constraints.
    fn all_constraints(&self) -> Vec<&Constraint>;
    /// Group affinities followed by every task's affinities.
    fn all_affinities(&self) -> Vec<&Affinity>;
    /// Group spreads.
    fn spread_list(&self) -> &[Spread];
    /// The resources the group asks of a node.
    fn ask(&self) -> GroupAsk;
    /// The group's reschedule policy, else the job's, else the type default.
    fn reschedule(&self, job: &Job) -> Option<ReschedulePolicy>;
}

impl GroupView for TaskGroup {
    fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }
    fn count(&self) -> u64 {
        self.count.unwrap_or(1).max(0) as u64
    }
    fn task_list(&self) -> &[Task] {
        self.tasks.as_deref().unwrap_or(&[])
    }
    fn all_constraints(&self) -> Vec<&Constraint> {
        let mut out: Vec<&Constraint> = self.constraints.iter().flatten().collect();
        for t in self.task_list() {
            out.extend(t.constraints.iter().flatten());
        }
        out
    }
    fn all_affinities(&self) -> Vec<&Affinity> {
        let mut out: Vec<&Affinity> = self.affinities.iter().flatten().collect();
        for t in self.task_list() {
            out.extend(t.affinities.iter().flatten());
        }
        out
    }
    fn spread_list(&self) -> &[Spread] {
        self.spreads.as_deref().unwrap_or(&[])
    }
    fn ask(&self) -> GroupAsk {
        GroupAsk::of(self)
    }
    fn reschedule(&self, job: &Job) -> Option<ReschedulePolicy> {
        let mut policy = ReschedulePolicy::default_for(job.job_type())?;
        if let Some(p) = &job.reschedule {
            policy.merge(p);
        }
        if let Some(p) = &self.reschedule_policy {
            policy.merge(p);
        }
        Some(policy)
    }
}

/// A task's CPU (MHz) and memory (MB) ask, with Nomad's defaults.
pub fn task_cpu_mem(task: &Task) -> (i64, i64) {
    let r = task.resources.as_ref();
    (
        r.and_then(|r| r.cpu).unwrap_or(DEFAULT_TASK_CPU),
        r.and_then(|r| r.memory_mb)
            .unwrap_or(DEFAULT_TASK_MEMORY_MB),
    )
}

/// A static port the group reserves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticPort {
    /// The port's label.
    pub label: String,
    /// The host port.
    pub value: i64,
    /// The port inside the task (0: same as `value`).
    pub to: i64,
}

/// Everything one allocation of a group takes from a node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupAsk {
    /// CPU in MHz, summed over tasks (tasks with reserved cores count 0).
    pub cpu: i64,
    /// Memory in MB, summed over tasks.
    pub memory_mb: i64,
    /// Reserved cores, summed over tasks.
    pub cores: i64,
    /// Devices by name and count.
    pub devices: BTreeMap<String, u64>,
    /// Static ports, from group and task networks.
    pub static_ports: Vec<StaticPort>,
    /// Labels (and `to`) of dynamic ports, from group and task networks.
    pub dynamic_ports: Vec<(String, i64)>,
    /// Host volumes by source name, with whether the request is read-only.
    pub host_volumes: Vec<(String, bool)>,
    /// Per task: name, cpu, memory, cores.
    pub tasks: Vec<(String, i64, i64, i64)>,
}

impl GroupAsk {
    /// Computes a group's ask.
    pub fn of(group: &TaskGroup) -> GroupAsk {
        let mut ask = GroupAsk::default();
        let mut networks: Vec<_> = group.networks.iter().flatten().collect();
        for task in group.task_list() {
            let (mut cpu, mem) = task_cpu_mem(task);
            let res = task.resources.as_ref();
            let cores = res.and_then(|r| r.cores).unwrap_or(0).max(0);
            if cores > 0 {
                cpu = 0;
            }
            ask.cpu += cpu;
            ask.memory_mb += mem;
            ask.cores += cores;
            for d in res.and_then(|r| r.devices.as_ref()).into_iter().flatten() {
                let name = d.name.clone().unwrap_or_default();
                *ask.devices.entry(name).or_default() += d.count.unwrap_or(1);
            }
            networks.extend(res.and_then(|r| r.networks.as_ref()).into_iter().flatten());
            ask.tasks
                .push((task.name.clone().unwrap_or_default(), cpu, mem, cores));
        }
        for net in networks {
            for p in net.reserved_ports.iter().flatten() {
                ask.static_ports.push(StaticPort {
                    label: p.label.clone().unwrap_or_default(),
                    value: p.value.unwrap_or(0),
                    to: p.to.unwrap_or(0),
                });
            }
            for p in net.dynamic_ports.iter().flatten() {
                ask.dynamic_ports
                    .push((p.label.clone().unwrap_or_default(), p.to.unwrap_or(0)));
            }
        }
        for v in group.volumes.iter().flat_map(|m| m.values()) {
            if v.r#type.as_deref().unwrap_or("host") == "host" {
                let source = v.source.clone().unwrap_or_default();
                ask.host_volumes
                    .push((source, v.read_only.unwrap_or(false)));
            }
        }
        ask
    }
}

/// A duration in nanoseconds, zero when unset.
pub fn nanos(d: Option<Duration>) -> i64 {
    d.map(Duration::as_nanos).unwrap_or(0)
}

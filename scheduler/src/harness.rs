//! An in-memory cluster for tests and benchmarks: implements [`State`] and
//! [`Planner`] over plain maps and applies plans the way the server's plan
//! applier does — per node, it re-checks that the node is ready and that
//! every allocation fits (CPU, memory, cores, devices, no port used twice),
//! commits the nodes that fit and refuses the rest with a refresh index —
//! and records deployments and their placed, canary and health counts as
//! the server's state store does. So tests and benchmarks drive the real
//! scheduler.
//!
//! Not a store: no persistence, no concurrency, no blocking queries.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sched_core::model::{
    AllocDeploymentStatus, AllocId, Allocation, ClientStatus, Deployment, DeploymentId, EvalId,
    EvalStatus, Evaluation, Job, Node, NodeId, NodeStatus, Plan, PlanResult,
};

use crate::job_view::{GroupView, JobView};
use crate::rank::capacity_index::CapacityIndex;
use crate::stack::SchedulerConfig;
use crate::state::{Planner, PlannerError, SchedulerError, State};
use crate::usage::{Capacity, Usage, node_reserved_ports};

/// The in-memory cluster.
#[derive(Debug, Default)]
pub struct Harness {
    nodes: BTreeMap<NodeId, Node>,
    allocs: HashMap<AllocId, Allocation>,
    by_node: HashMap<NodeId, Vec<AllocId>>,
    by_job: HashMap<(String, String), Vec<AllocId>>,
    jobs: HashMap<(String, String), Job>,
    deployments: HashMap<DeploymentId, Deployment>,
    index: u64,
    capacity: CapacityIndex,
    /// Evaluations the scheduler created (blocked, follow-ups).
    pub created_evals: Vec<Evaluation>,
    /// Evaluations the scheduler finished, in order.
    pub updated_evals: Vec<Evaluation>,
    /// Blocked evaluations put back.
    pub reblocked_evals: Vec<Evaluation>,
    /// Plans submitted, in order.
    pub plans: Vec<Plan>,
    /// Results returned, in order.
    pub results: Vec<PlanResult>,
    /// For tests: commit at most this many nodes' placements per plan, to
    /// force partial commits.
    pub max_nodes_per_plan: Option<usize>,
    next_eval: u128,
}

impl Harness {
    /// An empty cluster.
    pub fn new() -> Harness {
        Harness::default()
    }

    fn bump(&mut self) -> u64 {
        self.index += 1;
        self.index
    }

    /// Adds or replaces a node.
    pub fn upsert_node(&mut self, mut node: Node) {
        let idx = self.bump();
        node.modify_index = idx;
        if node.create_index == 0 {
            node.create_index = idx;
        }
        let id = node.id.clone();
        self.nodes.insert(id.clone(), node);
        self.reindex_node(&id);
    }

    /// Sets a node's status (for example down).
    pub fn set_node_status(&mut self, id: &NodeId, status: NodeStatus) {
        let idx = self.bump();
        if let Some(n) = self.nodes.get_mut(id) {
            n.status = status;
            n.modify_index = idx;
        }
    }

    /// Registers a job, canonicalised, with version and modify index bumped
    /// as the server does.
    pub fn upsert_job(&mut self, mut job: Job) {
        let idx = self.bump();
        job.canonicalize();
        let key = (job.ns().to_owned(), job.job_id().to_owned());
        let version = self.jobs.get(&key).map(|j| j.ver() + 1).unwrap_or(0);
        job.version = Some(version);
        job.job_modify_index = Some(idx);
        job.modify_index = Some(idx);
        job.create_index.get_or_insert(idx);
        self.jobs.insert(key, job);
    }

    /// Adds or replaces an allocation directly (as a client update would).
    pub fn upsert_alloc(&mut self, mut alloc: Allocation) {
        let idx = self.bump();
        alloc.modify_index = idx;
        if alloc.create_index == 0 {
            alloc.create_index = idx;
        }
        self.store_alloc(alloc);
    }

    /// Adds or replaces a deployment (as the server's deployment endpoints
    /// would: promote, pause, fail), keeping its create index.
    pub fn upsert_deployment(&mut self, mut d: Deployment) {
        let idx = self.bump();
        d.create_index = self
            .deployments
            .get(&d.id)
            .map_or(idx, |old| old.create_index);
        d.modify_index = idx;
        self.deployments.insert(d.id.clone(), d);
    }

    /// A deployment by ID.
    pub fn deployment(&self, id: &DeploymentId) -> Option<&Deployment> {
        self.deployments.get(id)
    }

    /// A job's deployments, oldest first.
    pub fn deployments_of(&self, namespace: &str, job_id: &str) -> Vec<&Deployment> {
        let mut v: Vec<&Deployment> = self
            .deployments
            .values()
            .filter(|d| d.namespace == namespace && d.job_id == job_id)
            .collect();
        v.sort_by_key(|d| d.create_index);
        v
    }

    /// Records the client's health verdict on an allocation and counts it
    /// in its deployment, as the server does on a client update.
    pub fn set_alloc_health(&mut self, id: &AllocId, healthy: bool) {
        let Some(old) = self.allocs.get(id).cloned() else {
            return;
        };
        let mut a = old.clone();
        a.deployment_status
            .get_or_insert_with(AllocDeploymentStatus::default)
            .healthy = Some(healthy);
        self.account_deployment(Some(&old), &a);
        self.upsert_alloc(a);
    }

    /// Keeps a deployment's placed, canary, healthy and unhealthy counts in
    /// step with one allocation's change, as the server's state store does.
    fn account_deployment(&mut self, old: Option<&Allocation>, new: &Allocation) {
        let Some(d) = new
            .deployment_id
            .as_ref()
            .and_then(|id| self.deployments.get_mut(id))
        else {
            return;
        };
        let Some(g) = d.task_groups.get_mut(&new.task_group) else {
            return;
        };
        let health = |a: Option<&Allocation>| a.and_then(|a| a.deployment_status.as_ref()?.healthy);
        if old.is_none() {
            g.placed_allocs += 1;
            if crate::deployment::is_canary(new) && !g.placed_canaries.contains(&new.id) {
                g.placed_canaries.push(new.id.clone());
            }
        }
        let (was, is) = (health(old), health(Some(new)));
        if was != is {
            match was {
                Some(true) => g.healthy_allocs -= 1,
                Some(false) => g.unhealthy_allocs -= 1,
                None => {}
            }
            match is {
                Some(true) => g.healthy_allocs += 1,
                Some(false) => g.unhealthy_allocs += 1,
                None => {}
            }
        }
    }

    /// Sets an allocation's client status and modify time (Unix ns), as a
    /// client reporting a failure or completion would.
    pub fn set_client_status(&mut self, id: &AllocId, status: ClientStatus, at: i64) {
        if let Some(mut a) = self.allocs.get(id).cloned() {
            a.client_status = status;
            a.modify_time = at;
            self.upsert_alloc(a);
        }
    }

    fn store_alloc(&mut self, alloc: Allocation) {
        let node = alloc.node_id.clone();
        if !self.allocs.contains_key(&alloc.id) {
            self.by_node
                .entry(node.clone())
                .or_default()
                .push(alloc.id.clone());
            self.by_job
                .entry((alloc.namespace.clone(), alloc.job_id.clone()))
                .or_default()
                .push(alloc.id.clone());
        }
        self.allocs.insert(alloc.id.clone(), alloc);
        self.reindex_node(&node);
    }

    fn reindex_node(&mut self, id: &NodeId) {
        let Some(node) = self.nodes.get(id) else {
            self.capacity.remove(id);
            return;
        };
        let live: Vec<&Allocation> = self
            .allocs_by_node(id)
            .into_iter()
            .filter(|a| !a.is_terminal())
            .collect();
        let used = Usage::of(live.iter().copied());
        let cap = Capacity::of(node);
        self.capacity.update(
            id,
            (cap.cpu - used.cpu, cap.memory_mb - used.memory_mb),
            (cap.cpu, cap.memory_mb),
            live.is_empty(),
        );
    }

    /// Every allocation.
    pub fn all_allocs(&self) -> Vec<&Allocation> {
        let mut v: Vec<&Allocation> = self.allocs.values().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        v
    }

    /// An allocation by ID.
    pub fn alloc(&self, id: &AllocId) -> Option<&Allocation> {
        self.allocs.get(id)
    }

    /// A fresh evaluation for a registered job.
    pub fn job_eval(&mut self, namespace: &str, job_id: &str) -> Evaluation {
        self.next_eval += 1;
        let job = self.jobs.get(&(namespace.to_owned(), job_id.to_owned()));
        Evaluation {
            id: EvalId::from_u128(0xe000_0000 + self.next_eval),
            namespace: namespace.to_owned(),
            priority: job.map(|j| j.prio()).unwrap_or(50),
            r#type: job
                .map(|j| j.job_type().to_owned())
                .unwrap_or_else(|| "service".to_owned()),
            triggered_by: "job-register".to_owned(),
            job_id: job_id.to_owned(),
            job_modify_index: job.and_then(|j| j.job_modify_index).unwrap_or(0),
            status: EvalStatus::Pending,
            trace_id: format!("trace-{}", self.next_eval),
            ..Default::default()
        }
    }

    /// Registers a job and runs its evaluation.
    pub fn register_and_run(
        &mut self,
        job: Job,
        config: &SchedulerConfig,
    ) -> Result<Evaluation, SchedulerError> {
        let (ns, id) = (job.ns().to_owned(), job.job_id().to_owned());
        self.upsert_job(job);
        let eval = self.job_eval(&ns, &id);
        crate::process_eval(self, &eval, config)?;
        Ok(eval)
    }

    /// Runs an evaluation.
    pub fn run(
        &mut self,
        eval: &Evaluation,
        config: &SchedulerConfig,
    ) -> Result<(), SchedulerError> {
        crate::process_eval(self, eval, config)
    }

    /// The latest blocked evaluation the scheduler created, if any.
    pub fn last_blocked(&self) -> Option<&Evaluation> {
        self.created_evals
            .iter()
            .rev()
            .find(|e| e.status == EvalStatus::Blocked)
    }

    /// Checks that no node is overcommitted in CPU, memory, cores or ports;
    /// returns a description of the first violation.
    pub fn check_no_overcommit(&self) -> Result<(), String> {
        for node in self.nodes.values() {
            let live: Vec<&Allocation> = self
                .allocs_by_node(&node.id)
                .into_iter()
                .filter(|a| !a.is_terminal())
                .collect();
            node_fits(node, &live).map_err(|e| format!("node {}: {e}", node.name))?;
        }
        Ok(())
    }
}

/// Whether a set of allocations fits on a node: CPU, memory, cores,
/// devices, and no host port used twice or reserved by the node.
pub fn node_fits(node: &Node, allocs: &[&Allocation]) -> Result<(), String> {
    let cap = Capacity::of(node);
    let used = Usage::of(allocs.iter().copied());
    if used.cpu > cap.cpu {
        return Err(format!("cpu {} > {}", used.cpu, cap.cpu));
    }
    if used.memory_mb > cap.memory_mb {
        return Err(format!("memory {} > {}", used.memory_mb, cap.memory_mb));
    }
    if used.cores > cap.cores && used.cores > 0 {
        return Err(format!("cores {} > {}", used.cores, cap.cores));
    }
    for (name, n) in &used.devices {
        if *n > cap.devices.get(name).copied().unwrap_or(0) {
            return Err(format!("devices {name}"));
        }
    }
    let reserved = node_reserved_ports(node);
    let mut seen = BTreeSet::new();
    for a in allocs.iter().filter(|a| !a.is_terminal()) {
        for p in &a.allocated_resources.shared.ports {
            if !seen.insert(p.value) || reserved.contains(&p.value) {
                return Err(format!("port {} used twice", p.value));
            }
        }
    }
    Ok(())
}

impl State for Harness {
    fn nodes(&self) -> Vec<&Node> {
        self.nodes.values().collect()
    }
    fn node(&self, id: &NodeId) -> Option<&Node> {
        self.nodes.get(id)
    }
    fn allocs_by_node(&self, id: &NodeId) -> Vec<&Allocation> {
        self.by_node
            .get(id)
            .map(|ids| ids.iter().filter_map(|i| self.allocs.get(i)).collect())
            .unwrap_or_default()
    }
    fn allocs_by_job(&self, namespace: &str, job_id: &str) -> Vec<&Allocation> {
        self.by_job
            .get(&(namespace.to_owned(), job_id.to_owned()))
            .map(|ids| ids.iter().filter_map(|i| self.allocs.get(i)).collect())
            .unwrap_or_default()
    }
    fn job(&self, namespace: &str, id: &str) -> Option<&Job> {
        self.jobs.get(&(namespace.to_owned(), id.to_owned()))
    }
    fn latest_deployment(&self, namespace: &str, job_id: &str) -> Option<&Deployment> {
        self.deployments
            .values()
            .filter(|d| d.namespace == namespace && d.job_id == job_id)
            .max_by_key(|d| d.create_index)
    }
    fn index(&self) -> u64 {
        self.index
    }
    fn capacity_index(&self) -> Option<&CapacityIndex> {
        Some(&self.capacity)
    }
}

impl Planner for Harness {
    fn state(&self) -> &dyn State {
        self
    }

    fn submit_plan(&mut self, plan: Plan) -> Result<PlanResult, PlannerError> {
        self.plans.push(plan.clone());
        let index = self.bump();
        let mut result = PlanResult::default();
        let mut refused = false;
        // Decide per node, as the plan applier does.
        let nodes: BTreeSet<&NodeId> = plan
            .node_update
            .keys()
            .chain(plan.node_allocation.keys())
            .collect();
        let mut accepted: Vec<NodeId> = Vec::new();
        let mut placed_nodes = 0usize;
        for id in nodes {
            let placing = plan.node_allocation.get(id).is_some_and(|v| !v.is_empty());
            if !placing {
                accepted.push(id.clone());
                continue;
            }
            let Some(node) = self.nodes.get(id) else {
                refused = true;
                continue;
            };
            // Placements need a ready node; updates of existing allocs
            // (in place, follow-up IDs) are fine anywhere.
            let new_ones = plan
                .node_allocation
                .get(id)
                .into_iter()
                .flatten()
                .any(|a| !self.allocs.contains_key(&a.id));
            if new_ones && !node.is_schedulable() {
                refused = true;
                continue;
            }
            if self.max_nodes_per_plan.is_some_and(|m| placed_nodes >= m) {
                refused = true;
                continue;
            }
            let stopping: BTreeSet<&AllocId> = plan
                .node_update
                .get(id)
                .into_iter()
                .flatten()
                .map(|a| &a.id)
                .collect();
            let updating: BTreeMap<&AllocId, &Allocation> = plan
                .node_allocation
                .get(id)
                .into_iter()
                .flatten()
                .map(|a| (&a.id, a))
                .collect();
            let mut proposed: Vec<&Allocation> = self
                .allocs_by_node(id)
                .into_iter()
                .filter(|a| {
                    !a.is_terminal() && !stopping.contains(&a.id) && !updating.contains_key(&a.id)
                })
                .collect();
            proposed.extend(updating.values().copied().filter(|a| !a.is_terminal()));
            if node_fits(node, &proposed).is_err() {
                refused = true;
                continue;
            }
            placed_nodes += 1;
            accepted.push(id.clone());
        }
        if refused && plan.all_at_once {
            accepted.clear();
        } else {
            // Deployment changes commit with the plan, as in the applier.
            if let Some(d) = &plan.deployment {
                let mut d = d.clone();
                d.create_index = self
                    .deployments
                    .get(&d.id)
                    .map_or(index, |o| o.create_index);
                d.modify_index = index;
                self.deployments.insert(d.id.clone(), d);
                result.deployment = plan.deployment.clone();
            }
            for u in &plan.deployment_updates {
                if let Some(d) = self.deployments.get_mut(&u.deployment_id) {
                    d.status = u.status;
                    d.status_description = u.status_description.clone();
                    d.modify_index = index;
                }
            }
            result.deployment_updates = plan.deployment_updates.clone();
        }
        for id in &accepted {
            if let Some(stops) = plan.node_update.get(id) {
                for s in stops {
                    let mut a = self.allocs.get(&s.id).cloned().unwrap_or_else(|| s.clone());
                    a.desired_status = s.desired_status;
                    a.desired_description = s.desired_description.clone();
                    a.client_status = s.client_status;
                    a.modify_index = index;
                    self.store_alloc(a);
                }
                result.node_update.insert(id.clone(), stops.clone());
            }
            if let Some(places) = plan.node_allocation.get(id) {
                for p in places {
                    let mut a = p.clone();
                    a.modify_index = index;
                    if !self.allocs.contains_key(&a.id) {
                        a.create_index = index;
                    }
                    let old = self.allocs.get(&a.id).cloned();
                    self.account_deployment(old.as_ref(), &a);
                    if let Some(prev) = a.previous_allocation.clone()
                        && let Some(mut old) = self.allocs.get(&prev).cloned()
                    {
                        old.next_allocation = Some(a.id.clone());
                        self.store_alloc(old);
                    }
                    self.store_alloc(a);
                }
                result.node_allocation.insert(id.clone(), places.clone());
            }
        }
        result.alloc_index = index;
        if refused {
            result.refresh_index = index;
        }
        self.results.push(result.clone());
        Ok(result)
    }

    fn update_eval(&mut self, eval: Evaluation) -> Result<(), PlannerError> {
        self.updated_evals.push(eval);
        Ok(())
    }

    fn create_eval(&mut self, eval: Evaluation) -> Result<(), PlannerError> {
        self.created_evals.push(eval);
        Ok(())
    }

    fn reblock_eval(&mut self, eval: Evaluation) -> Result<(), PlannerError> {
        self.reblocked_evals.push(eval);
        Ok(())
    }
}

/// Counts a job's running (non-terminal) allocations per group.
pub fn running_per_group(h: &Harness, namespace: &str, job_id: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for a in h
        .allocs_by_job(namespace, job_id)
        .into_iter()
        .filter(|a| !a.is_terminal())
    {
        *out.entry(a.task_group.clone()).or_default() += 1;
    }
    if let Some(job) = h.job(namespace, job_id) {
        for g in job.groups() {
            out.entry(g.name().to_owned()).or_insert(0);
        }
    }
    out
}

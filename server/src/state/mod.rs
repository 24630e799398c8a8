//! The replicated state: tables of jobs, job versions, evaluations,
//! allocations, nodes, deployments, variables and servers, with the
//! secondary indexes readers need.
//!
//! Owns the in-memory tables (persistent maps, so a [`StateSnapshot`] is an
//! O(1) clone that never sees a half-applied command), their persistence in
//! sled trees, per-table modify indexes and the wake-ups blocking queries wait
//! on. Only the [`fsm`](crate::fsm) writes; everyone else reads snapshots.

mod error;
mod reader;
mod records;
mod scheduler_view;
mod store;
mod txn;

pub use error::StateError;
pub use reader::{StateEvent, StateEventKind, StatePublisher, StateReader, channel};
pub use store::clear;

pub(crate) use records::{DEFAULT_NAMESPACE, SnapshotData, compact_alloc, job_key};
pub(crate) use store::Store;
pub(crate) use txn::Txn;

use std::sync::Arc;

use sched_core::model::{
    AllocId, Allocation, Deployment, DeploymentId, EvalId, Evaluation, Job, Node, NodeId,
    SchedulerConfiguration, Submission, Variable,
};

use crate::fsm::ServerEntry;

/// A table, for per-table modify indexes and blocking queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Jobs and their versions.
    Jobs,
    /// Evaluations.
    Evals,
    /// Allocations.
    Allocs,
    /// Nodes.
    Nodes,
    /// Deployments.
    Deployments,
    /// Variables.
    Variables,
    /// The server address book.
    Servers,
    /// The operator's scheduler configuration.
    SchedulerConfig,
}

impl Table {
    /// Every table, in the order persistence and snapshots list them.
    pub const ALL: [Table; 8] = [
        Table::Jobs,
        Table::Evals,
        Table::Allocs,
        Table::Nodes,
        Table::Deployments,
        Table::Variables,
        Table::Servers,
        Table::SchedulerConfig,
    ];

    /// A stable name, used as the key of the table's modify index on disk
    /// and in snapshots (so reordering the enum never changes the bytes).
    pub fn name(self) -> &'static str {
        match self {
            Table::Jobs => "jobs",
            Table::Evals => "evals",
            Table::Allocs => "allocs",
            Table::Nodes => "nodes",
            Table::Deployments => "deployments",
            Table::Variables => "variables",
            Table::Servers => "servers",
            Table::SchedulerConfig => "scheduler_config",
        }
    }

    /// The table called `name` (see [`Table::name`]).
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// Key of one job version: (namespace, job id, version).
pub type VersionKey = (String, String, u64);

/// Key of a namespaced object: (namespace, id).
pub type NsKey = (String, String);

/// Allocations by ID, as the secondary indexes hold them.
pub(crate) type AllocIndex = imbl::OrdMap<AllocId, Arc<Allocation>>;

/// A consistent, immutable view of the whole state at one Raft index.
/// Cloning is O(1).
#[derive(Debug, Clone, Default)]
pub struct StateSnapshot {
    pub(crate) index: u64,
    pub(crate) table_index: imbl::OrdMap<Table, u64>,
    pub(crate) jobs: imbl::OrdMap<NsKey, Arc<Job>>,
    /// (namespace, job id) -> version -> job.
    pub(crate) job_versions: imbl::OrdMap<NsKey, imbl::OrdMap<u64, Arc<Job>>>,
    pub(crate) evals: imbl::OrdMap<EvalId, Arc<Evaluation>>,
    pub(crate) evals_by_job: imbl::OrdMap<NsKey, imbl::OrdSet<EvalId>>,
    pub(crate) allocs: imbl::OrdMap<AllocId, Arc<Allocation>>,
    /// A job's allocations themselves, not their IDs: the scheduler reads a
    /// job's and a node's allocations on every evaluation, and a lookup per
    /// ID in `allocs` was most of an evaluation's time at a million.
    pub(crate) allocs_by_job: imbl::OrdMap<NsKey, AllocIndex>,
    /// A node's allocations themselves (see `allocs_by_job`).
    pub(crate) allocs_by_node: imbl::OrdMap<NodeId, AllocIndex>,
    pub(crate) nodes: imbl::OrdMap<NodeId, Arc<Node>>,
    pub(crate) deployments: imbl::OrdMap<DeploymentId, Arc<Deployment>>,
    pub(crate) variables: imbl::OrdMap<NsKey, Arc<Variable>>,
    pub(crate) servers: imbl::OrdMap<u64, ServerEntry>,
    /// The source users submitted, per kept job version.
    pub(crate) submissions: imbl::OrdMap<VersionKey, Arc<Submission>>,
    /// The job versions allocations run, keyed by the allocation's
    /// (namespace, job id) and the version: one `Arc` per version that every
    /// allocation of it shares, kept while any allocation refers to it (even
    /// after the version left `job_versions` or the job was purged).
    pub(crate) alloc_jobs: imbl::OrdMap<VersionKey, Arc<Job>>,
    /// The operator's scheduler configuration, once one was set.
    pub(crate) scheduler_config: Option<SchedulerConfiguration>,
}

impl StateSnapshot {
    /// The Raft index of the last applied command.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The scheduler configuration in force: the stored one, or the
    /// defaults when none was ever set.
    pub fn scheduler_config(&self) -> SchedulerConfiguration {
        self.scheduler_config.unwrap_or_default()
    }

    /// The index of the last command that changed `table` (0 if none).
    pub fn table_index(&self, table: Table) -> u64 {
        self.table_index.get(&table).copied().unwrap_or(0)
    }

    /// Jobs in `namespace` (every namespace for `*`) whose ID starts with
    /// `prefix`, ordered by (namespace, ID).
    pub fn jobs(&self, namespace: &str, prefix: &str) -> Vec<Arc<Job>> {
        self.jobs
            .iter()
            .filter(|((ns, id), _)| (namespace == "*" || ns == namespace) && id.starts_with(prefix))
            .map(|(_, j)| j.clone())
            .collect()
    }

    /// The current version of a job.
    pub fn job(&self, namespace: &str, id: &str) -> Option<Arc<Job>> {
        self.jobs
            .get(&(namespace.to_string(), id.to_string()))
            .cloned()
    }

    /// Every kept version of a job, newest first.
    pub fn job_versions(&self, namespace: &str, id: &str) -> Vec<Arc<Job>> {
        self.job_versions
            .get(&(namespace.to_string(), id.to_string()))
            .map(|v| v.values().rev().cloned().collect())
            .unwrap_or_default()
    }

    /// One version of a job.
    pub fn job_version(&self, namespace: &str, id: &str, version: u64) -> Option<Arc<Job>> {
        self.job_versions
            .get(&(namespace.to_string(), id.to_string()))
            .and_then(|v| v.get(&version).cloned())
    }

    /// Evaluations whose ID starts with `prefix`.
    pub fn evals(&self, prefix: &str) -> Vec<Arc<Evaluation>> {
        self.evals
            .range(EvalId(prefix.to_string())..)
            .take_while(|(id, _)| id.0.starts_with(prefix))
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// One evaluation.
    pub fn eval(&self, id: &EvalId) -> Option<Arc<Evaluation>> {
        self.evals.get(id).cloned()
    }

    /// A job's evaluations.
    pub fn evals_by_job(&self, namespace: &str, job_id: &str) -> Vec<Arc<Evaluation>> {
        self.evals_by_job
            .get(&(namespace.to_string(), job_id.to_string()))
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| self.evals.get(id).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Allocations whose ID starts with `prefix`.
    pub fn allocs(&self, prefix: &str) -> Vec<Arc<Allocation>> {
        self.allocs
            .range(AllocId(prefix.to_string())..)
            .take_while(|(id, _)| id.0.starts_with(prefix))
            .map(|(_, a)| a.clone())
            .collect()
    }

    /// One allocation, with the job version it runs.
    pub fn alloc(&self, id: &AllocId) -> Option<Arc<Allocation>> {
        self.allocs.get(id).cloned()
    }

    /// A job's allocations, terminal ones included.
    pub fn allocs_by_job(&self, namespace: &str, job_id: &str) -> Vec<Arc<Allocation>> {
        self.allocs_by_job
            .get(&(namespace.to_string(), job_id.to_string()))
            .map(|allocs| allocs.values().cloned().collect())
            .unwrap_or_default()
    }

    /// A node's allocations, terminal ones included.
    pub fn allocs_by_node(&self, node_id: &NodeId) -> Vec<Arc<Allocation>> {
        self.allocs_by_node
            .get(node_id)
            .map(|allocs| allocs.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Nodes whose ID starts with `prefix`.
    pub fn nodes(&self, prefix: &str) -> Vec<Arc<Node>> {
        self.nodes
            .range(NodeId(prefix.to_string())..)
            .take_while(|(id, _)| id.0.starts_with(prefix))
            .map(|(_, n)| n.clone())
            .collect()
    }

    /// One node.
    pub fn node(&self, id: &NodeId) -> Option<Arc<Node>> {
        self.nodes.get(id).cloned()
    }

    /// Deployments whose ID starts with `prefix`.
    pub fn deployments(&self, prefix: &str) -> Vec<Arc<Deployment>> {
        self.deployments
            .range(DeploymentId(prefix.to_string())..)
            .take_while(|(id, _)| id.0.starts_with(prefix))
            .map(|(_, d)| d.clone())
            .collect()
    }

    /// One deployment.
    pub fn deployment(&self, id: &DeploymentId) -> Option<Arc<Deployment>> {
        self.deployments.get(id).cloned()
    }

    /// Variables in `namespace` (every namespace for `*`) under `prefix`.
    pub fn variables(&self, namespace: &str, prefix: &str) -> Vec<Arc<Variable>> {
        self.variables
            .iter()
            .filter(|((ns, p), _)| (namespace == "*" || ns == namespace) && p.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// One variable.
    pub fn variable(&self, namespace: &str, path: &str) -> Option<Arc<Variable>> {
        self.variables
            .get(&(namespace.to_string(), path.to_string()))
            .cloned()
    }

    /// The server address book, by Raft ID.
    pub fn servers(&self) -> Vec<ServerEntry> {
        self.servers.values().cloned().collect()
    }

    /// The source submitted for one kept version of a job.
    pub fn job_submission(
        &self,
        namespace: &str,
        id: &str,
        version: u64,
    ) -> Option<Arc<Submission>> {
        self.submissions
            .get(&(namespace.to_string(), id.to_string(), version))
            .cloned()
    }

    /// How many distinct job versions allocations hold: each is one shared
    /// copy however many allocations run it.
    pub fn alloc_job_versions(&self) -> usize {
        self.alloc_jobs.len()
    }
}

//! One command's write set: a copy of the state being changed (an O(1)
//! clone of persistent maps, so a refused command is simply dropped) and
//! the keys it touched, which the [`Store`](super::Store) turns into one
//! atomic sled write. The helpers keep the secondary indexes and per-table
//! modify indexes in step with the tables.

use std::collections::BTreeSet;
use std::sync::Arc;

use sched_core::model::{
    AllocId, Allocation, Deployment, DeploymentId, EvalId, Evaluation, Job, Node, NodeId,
    SchedulerConfiguration, Submission, Variable,
};

use super::records::{job_key, version_key};
use super::{NsKey, StateSnapshot, Table, VersionKey};
use crate::fsm::ServerEntry;

/// A record whose stored form must be rewritten (or removed when it is no
/// longer in the state).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum DirtyKey {
    Job(NsKey),
    JobVersion(VersionKey),
    Submission(VersionKey),
    AllocJob(VersionKey),
    Eval(EvalId),
    Alloc(AllocId),
    Node(NodeId),
    Deployment(DeploymentId),
    Variable(NsKey),
    Server(u64),
    SchedulerConfig,
}

/// The changes of one command, applied to a private copy of the state.
#[derive(Debug)]
pub(crate) struct Txn {
    /// The state being changed.
    pub(crate) state: StateSnapshot,
    /// Records touched.
    pub(crate) dirty: BTreeSet<DirtyKey>,
    /// Raft index of the command.
    pub(crate) index: u64,
}

impl Txn {
    /// Starts changing `state` for the command at `index`.
    pub(crate) fn new(state: StateSnapshot, index: u64) -> Txn {
        Txn {
            state,
            dirty: BTreeSet::new(),
            index,
        }
    }

    fn touch(&mut self, table: Table, key: DirtyKey) {
        self.state.table_index.insert(table, self.index);
        self.dirty.insert(key);
    }

    /// Sets a job's current version.
    pub(crate) fn put_job(&mut self, job: Arc<Job>) {
        let key = job_key(&job);
        self.state.jobs.insert(key.clone(), job);
        self.touch(Table::Jobs, DirtyKey::Job(key));
    }

    /// Removes a job, its versions and their submissions.
    pub(crate) fn purge_job(&mut self, key: &NsKey) {
        self.state.jobs.remove(key);
        self.touch(Table::Jobs, DirtyKey::Job(key.clone()));
        if let Some(versions) = self.state.job_versions.remove(key) {
            for v in versions.keys() {
                let vk = (key.0.clone(), key.1.clone(), *v);
                self.state.submissions.remove(&vk);
                self.dirty.insert(DirtyKey::Submission(vk.clone()));
                self.dirty.insert(DirtyKey::JobVersion(vk));
            }
        }
    }

    /// Adds or replaces one kept version of a job.
    pub(crate) fn put_job_version(&mut self, job: Arc<Job>) {
        let (ns, id, v) = version_key(&job);
        let key = (ns.clone(), id.clone());
        let mut versions = self
            .state
            .job_versions
            .get(&key)
            .cloned()
            .unwrap_or_default();
        versions.insert(v, job);
        self.state.job_versions.insert(key, versions);
        self.touch(Table::Jobs, DirtyKey::JobVersion((ns, id, v)));
    }

    /// Drops one kept version of a job and its submission.
    pub(crate) fn remove_job_version(&mut self, key: &VersionKey) {
        let jk = (key.0.clone(), key.1.clone());
        if let Some(mut versions) = self.state.job_versions.get(&jk).cloned() {
            versions.remove(&key.2);
            if versions.is_empty() {
                self.state.job_versions.remove(&jk);
            } else {
                self.state.job_versions.insert(jk, versions);
            }
        }
        self.state.submissions.remove(key);
        self.dirty.insert(DirtyKey::Submission(key.clone()));
        self.touch(Table::Jobs, DirtyKey::JobVersion(key.clone()));
    }

    /// Keeps the source of one job version.
    pub(crate) fn put_submission(&mut self, key: VersionKey, submission: Submission) {
        self.state
            .submissions
            .insert(key.clone(), Arc::new(submission));
        self.touch(Table::Jobs, DirtyKey::Submission(key));
    }

    /// The shared job an allocation of `key` runs: the one allocations of
    /// that version already share, else the kept version, else `given`
    /// (which then becomes the shared one). `None` when nothing is known.
    pub(crate) fn alloc_job(
        &mut self,
        key: VersionKey,
        given: Option<&Arc<Job>>,
    ) -> Option<Arc<Job>> {
        if let Some(j) = self.state.alloc_jobs.get(&key) {
            return Some(j.clone());
        }
        let kept = self
            .state
            .job_versions
            .get(&(key.0.clone(), key.1.clone()))
            .and_then(|v| v.get(&key.2))
            .cloned();
        let job = kept.or_else(|| given.cloned())?;
        self.state.alloc_jobs.insert(key.clone(), job.clone());
        self.dirty.insert(DirtyKey::AllocJob(key));
        Some(job)
    }

    /// Forgets the versions of a job no allocation runs any more.
    pub(crate) fn prune_alloc_jobs(&mut self, key: &NsKey) {
        let lo = (key.0.clone(), key.1.clone(), 0);
        let hi = (key.0.clone(), key.1.clone(), u64::MAX);
        let held: Vec<VersionKey> = self
            .state
            .alloc_jobs
            .range(lo..=hi)
            .map(|(k, _)| k.clone())
            .collect();
        if held.is_empty() {
            return;
        }
        let used: BTreeSet<u64> = self
            .state
            .allocs_by_job
            .get(key)
            .map(|allocs| {
                allocs
                    .values()
                    .filter_map(|a| a.job.as_ref().map(|j| j.version.unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default();
        for k in held {
            if !used.contains(&k.2) {
                self.state.alloc_jobs.remove(&k);
                self.dirty.insert(DirtyKey::AllocJob(k));
            }
        }
    }

    /// Adds or replaces an evaluation, keeping the job index.
    pub(crate) fn put_eval(&mut self, eval: Arc<Evaluation>) {
        let key = (eval.namespace.clone(), eval.job_id.clone());
        if let Some(old) = self.state.evals.get(&eval.id).cloned() {
            let old_key = (old.namespace.clone(), old.job_id.clone());
            if old_key != key {
                remove_from(&mut self.state.evals_by_job, &old_key, &old.id);
            }
        }
        self.state
            .evals_by_job
            .entry(key)
            .or_default()
            .insert(eval.id.clone());
        self.touch(Table::Evals, DirtyKey::Eval(eval.id.clone()));
        self.state.evals.insert(eval.id.clone(), eval);
    }

    /// Removes an evaluation; whether it existed.
    pub(crate) fn remove_eval(&mut self, id: &EvalId) -> bool {
        let Some(old) = self.state.evals.remove(id) else {
            return false;
        };
        remove_from(
            &mut self.state.evals_by_job,
            &(old.namespace.clone(), old.job_id.clone()),
            id,
        );
        self.touch(Table::Evals, DirtyKey::Eval(id.clone()));
        true
    }

    /// Adds or replaces an allocation, keeping the job and node indexes.
    pub(crate) fn put_alloc(&mut self, alloc: Arc<Allocation>) {
        let job = (alloc.namespace.clone(), alloc.job_id.clone());
        if let Some(old) = self.state.allocs.get(&alloc.id).cloned() {
            let old_job = (old.namespace.clone(), old.job_id.clone());
            if old_job != job {
                remove_from(&mut self.state.allocs_by_job, &old_job, &old.id);
            }
            if old.node_id != alloc.node_id {
                remove_from(&mut self.state.allocs_by_node, &old.node_id, &old.id);
            }
        }
        self.state
            .allocs_by_job
            .entry(job)
            .or_default()
            .insert(alloc.id.clone(), alloc.clone());
        self.state
            .allocs_by_node
            .entry(alloc.node_id.clone())
            .or_default()
            .insert(alloc.id.clone(), alloc.clone());
        self.touch(Table::Allocs, DirtyKey::Alloc(alloc.id.clone()));
        self.state.allocs.insert(alloc.id.clone(), alloc);
    }

    /// Removes an allocation; the removed one.
    pub(crate) fn remove_alloc(&mut self, id: &AllocId) -> Option<Arc<Allocation>> {
        let old = self.state.allocs.remove(id)?;
        remove_from(
            &mut self.state.allocs_by_job,
            &(old.namespace.clone(), old.job_id.clone()),
            id,
        );
        remove_from(&mut self.state.allocs_by_node, &old.node_id, id);
        self.touch(Table::Allocs, DirtyKey::Alloc(id.clone()));
        Some(old)
    }

    /// Adds or replaces a node.
    pub(crate) fn put_node(&mut self, node: Arc<Node>) {
        self.touch(Table::Nodes, DirtyKey::Node(node.id.clone()));
        self.state.nodes.insert(node.id.clone(), node);
    }

    /// Removes a node.
    pub(crate) fn remove_node(&mut self, id: &NodeId) {
        self.state.nodes.remove(id);
        self.touch(Table::Nodes, DirtyKey::Node(id.clone()));
    }

    /// Adds or replaces a deployment.
    pub(crate) fn put_deployment(&mut self, d: Arc<Deployment>) {
        self.touch(Table::Deployments, DirtyKey::Deployment(d.id.clone()));
        self.state.deployments.insert(d.id.clone(), d);
    }

    /// Adds or replaces a variable.
    pub(crate) fn put_variable(&mut self, v: Arc<Variable>) {
        let key = (v.namespace.clone(), v.path.clone());
        self.state.variables.insert(key.clone(), v);
        self.touch(Table::Variables, DirtyKey::Variable(key));
    }

    /// Removes a variable.
    pub(crate) fn remove_variable(&mut self, key: &NsKey) {
        self.state.variables.remove(key);
        self.touch(Table::Variables, DirtyKey::Variable(key.clone()));
    }

    /// Adds or replaces a server.
    pub(crate) fn put_server(&mut self, s: ServerEntry) {
        self.touch(Table::Servers, DirtyKey::Server(s.raft_id));
        self.state.servers.insert(s.raft_id, s);
    }

    /// Removes a server.
    pub(crate) fn remove_server(&mut self, id: u64) {
        self.state.servers.remove(&id);
        self.touch(Table::Servers, DirtyKey::Server(id));
    }

    /// Replaces the scheduler configuration.
    pub(crate) fn put_scheduler_config(&mut self, c: SchedulerConfiguration) {
        self.state.scheduler_config = Some(c);
        self.touch(Table::SchedulerConfig, DirtyKey::SchedulerConfig);
    }
}

/// Removes `id` from the set under `key`, dropping the set when empty.
fn remove_from<K, V, T>(index: &mut imbl::OrdMap<K, T>, key: &K, id: &V)
where
    K: Ord + Clone,
    T: Keyed<V> + Clone,
{
    if let Some(mut set) = index.get(key).cloned() {
        set.remove_key(id);
        if set.is_empty() {
            index.remove(key);
        } else {
            index.insert(key.clone(), set);
        }
    }
}

/// What a secondary index holds per key: IDs, or entries by ID.
trait Keyed<V> {
    fn remove_key(&mut self, id: &V);
    fn is_empty(&self) -> bool;
}

impl<V: Ord + Clone> Keyed<V> for imbl::OrdSet<V> {
    fn remove_key(&mut self, id: &V) {
        self.remove(id);
    }
    fn is_empty(&self) -> bool {
        imbl::OrdSet::is_empty(self)
    }
}

impl<V: Ord + Clone, T: Clone> Keyed<V> for imbl::OrdMap<V, T> {
    fn remove_key(&mut self, id: &V) {
        self.remove(id);
    }
    fn is_empty(&self) -> bool {
        imbl::OrdMap::is_empty(self)
    }
}

//! The serialised form of the state: one record type per table, shared by
//! the sled trees and Raft snapshots, and the conversions between records
//! and the in-memory [`StateSnapshot`] (which rebuild the secondary indexes
//! and re-share one `Arc<Job>` per job version among allocations).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use sched_core::model::{
    Allocation, Deployment, Evaluation, Job, Node, SchedulerConfiguration, Submission, Variable,
};

use super::{NsKey, StateError, StateSnapshot, Table, VersionKey};
use crate::fsm::ServerEntry;

/// Namespace of a job that names none.
pub(crate) const DEFAULT_NAMESPACE: &str = "default";

/// (namespace, id) of a job as the state keys it.
pub(crate) fn job_key(job: &Job) -> NsKey {
    (
        job.namespace
            .clone()
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string()),
        job.id.clone().unwrap_or_default(),
    )
}

/// The version key of a job as the state keys it (an unversioned job is
/// version 0).
pub(crate) fn version_key(job: &Job) -> VersionKey {
    let (ns, id) = job_key(job);
    (ns, id, job.version.unwrap_or(0))
}

/// Drops the spare capacity decoding leaves in an allocation's vectors
/// (serde grows them by doubling): allocations are the bulk of the state,
/// and each lives until it is garbage-collected.
pub(crate) fn compact_alloc(a: &mut Allocation) {
    for ts in a.task_states.values_mut() {
        ts.events.shrink_to_fit();
    }
    for t in a.allocated_resources.tasks.values_mut() {
        t.networks.shrink_to_fit();
        t.cpu.reserved_cores.shrink_to_fit();
    }
    let shared = &mut a.allocated_resources.shared;
    shared.ports.shrink_to_fit();
    shared.networks.shrink_to_fit();
    if let Some(r) = a.reschedule_tracker.as_mut() {
        r.events.shrink_to_fit();
    }
}

/// An allocation as stored: without its job (which would repeat the whole
/// job in every record), naming the version it runs instead.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StoredAlloc {
    /// The version of `alloc.job` (looked up under the allocation's own
    /// namespace and job ID in the alloc jobs table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_version: Option<u64>,
    /// The allocation, `job` left out.
    pub alloc: Allocation,
}

impl StoredAlloc {
    pub(crate) fn from_alloc(a: &Allocation) -> StoredAlloc {
        let mut alloc = a.clone();
        let job = alloc.job.take();
        StoredAlloc {
            job_version: job.map(|j| j.version.unwrap_or(0)),
            alloc,
        }
    }
}

/// A job version held for allocations, with its key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AllocJobRecord {
    /// Namespace of the allocations.
    pub namespace: String,
    /// Job ID of the allocations.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// The version.
    pub version: u64,
    /// The job.
    pub job: Arc<Job>,
}

/// A submission with the version it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SubmissionRecord {
    /// Namespace.
    pub namespace: String,
    /// Job ID.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// The version.
    pub version: u64,
    /// The source.
    pub submission: Submission,
}

/// The whole state as records: what a Raft snapshot decodes to and what
/// the sled trees load into.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SnapshotData {
    pub index: u64,
    pub table_index: BTreeMap<String, u64>,
    pub jobs: Vec<Job>,
    pub job_versions: Vec<Job>,
    pub submissions: Vec<SubmissionRecord>,
    pub alloc_jobs: Vec<AllocJobRecord>,
    pub evals: Vec<Evaluation>,
    pub allocs: Vec<StoredAlloc>,
    pub nodes: Vec<Node>,
    pub deployments: Vec<Deployment>,
    pub variables: Vec<Variable>,
    pub servers: Vec<ServerEntry>,
    /// Absent from snapshots of states that never had one set.
    #[serde(default)]
    pub scheduler_config: Option<SchedulerConfiguration>,
}

impl SnapshotData {
    /// Decodes a Raft snapshot.
    pub(crate) fn decode(bytes: &[u8]) -> Result<SnapshotData, StateError> {
        serde_json::from_slice(bytes).map_err(StateError::BadSnapshot)
    }

    /// Builds the in-memory state: tables, secondary indexes, and one
    /// shared job per version for the allocations.
    pub(crate) fn into_state(self) -> Result<StateSnapshot, StateError> {
        let mut s = StateSnapshot {
            index: self.index,
            ..StateSnapshot::default()
        };
        for (name, idx) in self.table_index {
            // Tables a newer version added are ignored rather than refused:
            // their indexes only steer blocking queries.
            if let Some(t) = Table::from_name(&name)
                && idx > 0
            {
                s.table_index.insert(t, idx);
            }
        }
        for v in self.job_versions {
            let (ns, id, ver) = version_key(&v);
            let mut versions = s
                .job_versions
                .get(&(ns.clone(), id.clone()))
                .cloned()
                .unwrap_or_default();
            versions.insert(ver, Arc::new(v));
            s.job_versions.insert((ns, id), versions);
        }
        for j in self.jobs {
            let key = job_key(&j);
            // Share the current job with its version when they are equal.
            let shared = s
                .job_versions
                .get(&key)
                .and_then(|v| v.get(&j.version.unwrap_or(0)))
                .filter(|v| ***v == j)
                .cloned();
            s.jobs.insert(key, shared.unwrap_or_else(|| Arc::new(j)));
        }
        for r in self.submissions {
            s.submissions
                .insert((r.namespace, r.job_id, r.version), Arc::new(r.submission));
        }
        for r in self.alloc_jobs {
            let shared = s
                .job_versions
                .get(&(r.namespace.clone(), r.job_id.clone()))
                .and_then(|v| v.get(&r.version))
                .filter(|v| **v == r.job)
                .cloned();
            s.alloc_jobs
                .insert((r.namespace, r.job_id, r.version), shared.unwrap_or(r.job));
        }
        for e in self.evals {
            s.evals_by_job
                .entry((e.namespace.clone(), e.job_id.clone()))
                .or_default()
                .insert(e.id.clone());
            s.evals.insert(e.id.clone(), Arc::new(e));
        }
        for r in self.allocs {
            let mut a = r.alloc;
            compact_alloc(&mut a);
            if let Some(version) = r.job_version {
                let key = (a.namespace.clone(), a.job_id.clone(), version);
                let job =
                    s.alloc_jobs
                        .get(&key)
                        .cloned()
                        .ok_or_else(|| StateError::MissingAllocJob {
                            alloc: a.id.to_string(),
                            namespace: key.0.clone(),
                            job_id: key.1.clone(),
                            version,
                        })?;
                a.job = Some(job);
            }
            let a = Arc::new(a);
            s.allocs_by_job
                .entry((a.namespace.clone(), a.job_id.clone()))
                .or_default()
                .insert(a.id.clone(), a.clone());
            s.allocs_by_node
                .entry(a.node_id.clone())
                .or_default()
                .insert(a.id.clone(), a.clone());
            s.allocs.insert(a.id.clone(), a);
        }
        for n in self.nodes {
            s.nodes.insert(n.id.clone(), Arc::new(n));
        }
        for d in self.deployments {
            s.deployments.insert(d.id.clone(), Arc::new(d));
        }
        for v in self.variables {
            s.variables
                .insert((v.namespace.clone(), v.path.clone()), Arc::new(v));
        }
        for srv in self.servers {
            s.servers.insert(srv.raft_id, srv);
        }
        s.scheduler_config = self.scheduler_config;
        Ok(s)
    }
}

/// Writes `items` as a JSON array field named `name` (preceded by a comma).
fn field<'a, T, I>(out: &mut Vec<u8>, name: &str, items: I) -> serde_json::Result<()>
where
    T: Serialize + 'a,
    I: IntoIterator<Item = T>,
{
    write!(out, ",\"{name}\":[").map_err(serde_json::Error::io)?;
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, &item)?;
    }
    out.push(b']');
    Ok(())
}

impl StateSnapshot {
    /// Serialises the whole state for a Raft snapshot, in the field order of
    /// [`SnapshotData`] and each table in key order, so equal states give
    /// equal bytes. Streams straight from the tables (no second copy of the
    /// state is built).
    pub(crate) fn encode_snapshot(&self) -> serde_json::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(1 << 20);
        write!(out, "{{\"Index\":{}", self.index).map_err(serde_json::Error::io)?;
        // Every table, zeros included, so a loaded state (whose meta lists
        // them all) and a live one give the same bytes.
        let table_index: BTreeMap<&str, u64> = Table::ALL
            .iter()
            .map(|t| (t.name(), self.table_index(*t)))
            .collect();
        out.extend_from_slice(b",\"TableIndex\":");
        serde_json::to_writer(&mut out, &table_index)?;
        field(&mut out, "Jobs", self.jobs.values().map(|j| &**j))?;
        field(
            &mut out,
            "JobVersions",
            self.job_versions
                .values()
                .flat_map(|v| v.values().map(|j| &**j)),
        )?;
        field(
            &mut out,
            "Submissions",
            self.submissions
                .iter()
                .map(|((ns, id, v), s)| SubmissionRecord {
                    namespace: ns.clone(),
                    job_id: id.clone(),
                    version: *v,
                    submission: (**s).clone(),
                }),
        )?;
        field(
            &mut out,
            "AllocJobs",
            self.alloc_jobs
                .iter()
                .map(|((ns, id, v), j)| AllocJobRecord {
                    namespace: ns.clone(),
                    job_id: id.clone(),
                    version: *v,
                    job: j.clone(),
                }),
        )?;
        field(&mut out, "Evals", self.evals.values().map(|e| &**e))?;
        field(
            &mut out,
            "Allocs",
            self.allocs.values().map(|a| StoredAlloc::from_alloc(a)),
        )?;
        field(&mut out, "Nodes", self.nodes.values().map(|n| &**n))?;
        field(
            &mut out,
            "Deployments",
            self.deployments.values().map(|d| &**d),
        )?;
        field(&mut out, "Variables", self.variables.values().map(|v| &**v))?;
        field(&mut out, "Servers", self.servers.values())?;
        if let Some(c) = &self.scheduler_config {
            out.extend_from_slice(b",\"SchedulerConfig\":");
            serde_json::to_writer(&mut out, c)?;
        }
        out.push(b'}');
        Ok(out)
    }
}

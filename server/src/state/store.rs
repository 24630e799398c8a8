//! The state's sled trees: one per table plus `state.meta` (applied index,
//! table indexes, the restore marker). Each command's records and its
//! applied index are written in one sled transaction, without an fsync: the
//! Raft log is the durable record and re-applies what a crash lost.

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::records::{AllocJobRecord, SnapshotData, StoredAlloc, SubmissionRecord};
use super::txn::DirtyKey;
use super::{StateError, StateSnapshot, Table};

const META: &str = "state.meta";
const APPLIED_INDEX: &[u8] = b"applied_index";
const TABLE_INDEX: &[u8] = b"table_index";
const RESTORING: &[u8] = b"restore_in_progress";

/// The record trees, in the order of [`TREES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TreeId {
    Jobs,
    JobVersions,
    Submissions,
    AllocJobs,
    Evals,
    Allocs,
    Nodes,
    Deployments,
    Variables,
    Servers,
    SchedulerConfig,
}

/// Tree names, indexed by [`TreeId`].
const TREES: [&str; 11] = [
    "state.jobs",
    "state.job_versions",
    "state.job_submissions",
    "state.alloc_jobs",
    "state.evals",
    "state.allocs",
    "state.nodes",
    "state.deployments",
    "state.variables",
    "state.servers",
    "state.scheduler_config",
];

/// One record's write: its tree, key, and value (`None`: remove).
type RecordWrite = (TreeId, Vec<u8>, Option<Vec<u8>>);

/// Handles on the state's trees in one sled db.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    db: sled::Db,
    trees: Vec<sled::Tree>,
    meta: sled::Tree,
}

/// A record's key: JSON of its tuple of strings and integers, which keeps
/// keys unambiguous whatever characters IDs hold.
///
/// # Panics
/// Never: strings and integers always encode as JSON.
fn key_bytes<K: serde::Serialize + ?Sized>(key: &K) -> Vec<u8> {
    serde_json::to_vec(key).expect("string and integer keys always encode")
}

fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, StateError> {
    serde_json::to_vec(v).map_err(|e| StateError::Transaction(format!("encoding a record: {e}")))
}

fn u64_value(v: Option<sled::IVec>) -> u64 {
    v.and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

impl Store {
    /// Opens (creating when missing) the state's trees in `db`.
    pub(crate) fn open(db: &sled::Db) -> Result<Store, StateError> {
        let trees = TREES
            .iter()
            .map(|n| db.open_tree(n))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Store {
            db: db.clone(),
            trees,
            meta: db.open_tree(META)?,
        })
    }

    fn tree(&self, t: TreeId) -> &sled::Tree {
        &self.trees[t as usize]
    }

    /// Reads every tree into memory.
    pub(crate) fn load(&self) -> Result<StateSnapshot, StateError> {
        if let Some(v) = self.meta.get(RESTORING)? {
            return Err(StateError::IncompleteRestore {
                index: u64_value(Some(v)),
            });
        }
        let mut data = SnapshotData {
            index: u64_value(self.meta.get(APPLIED_INDEX)?),
            ..SnapshotData::default()
        };
        if let Some(v) = self.meta.get(TABLE_INDEX)? {
            data.table_index = serde_json::from_slice(&v).map_err(|source| StateError::Decode {
                tree: META,
                key: "table_index".into(),
                source,
            })?;
        }
        data.jobs = self.read(TreeId::Jobs)?;
        data.job_versions = self.read(TreeId::JobVersions)?;
        data.submissions = self.read::<SubmissionRecord>(TreeId::Submissions)?;
        data.alloc_jobs = self.read::<AllocJobRecord>(TreeId::AllocJobs)?;
        data.evals = self.read(TreeId::Evals)?;
        data.allocs = self.read::<StoredAlloc>(TreeId::Allocs)?;
        data.nodes = self.read(TreeId::Nodes)?;
        data.deployments = self.read(TreeId::Deployments)?;
        data.variables = self.read(TreeId::Variables)?;
        data.servers = self.read(TreeId::Servers)?;
        data.scheduler_config = self.read(TreeId::SchedulerConfig)?.into_iter().next();
        data.into_state()
    }

    fn read<T: serde::de::DeserializeOwned>(&self, t: TreeId) -> Result<Vec<T>, StateError> {
        let mut out = Vec::with_capacity(self.tree(t).len());
        for kv in self.tree(t).iter() {
            let (k, v) = kv?;
            out.push(
                serde_json::from_slice(&v).map_err(|source| StateError::Decode {
                    tree: TREES[t as usize],
                    key: String::from_utf8_lossy(&k).into_owned(),
                    source,
                })?,
            );
        }
        Ok(out)
    }

    /// The record a dirty key names, as it now is in `state` (`None`: removed).
    fn record(state: &StateSnapshot, key: &DirtyKey) -> Result<RecordWrite, StateError> {
        Ok(match key {
            DirtyKey::Job(k) => (
                TreeId::Jobs,
                key_bytes(k),
                state.jobs.get(k).map(|j| encode(&**j)).transpose()?,
            ),
            DirtyKey::JobVersion(k) => (
                TreeId::JobVersions,
                key_bytes(k),
                state
                    .job_versions
                    .get(&(k.0.clone(), k.1.clone()))
                    .and_then(|v| v.get(&k.2))
                    .map(|j| encode(&**j))
                    .transpose()?,
            ),
            DirtyKey::Submission(k) => (
                TreeId::Submissions,
                key_bytes(k),
                state
                    .submissions
                    .get(k)
                    .map(|s| {
                        encode(&SubmissionRecord {
                            namespace: k.0.clone(),
                            job_id: k.1.clone(),
                            version: k.2,
                            submission: (**s).clone(),
                        })
                    })
                    .transpose()?,
            ),
            DirtyKey::AllocJob(k) => (
                TreeId::AllocJobs,
                key_bytes(k),
                state
                    .alloc_jobs
                    .get(k)
                    .map(|j| {
                        encode(&AllocJobRecord {
                            namespace: k.0.clone(),
                            job_id: k.1.clone(),
                            version: k.2,
                            job: j.clone(),
                        })
                    })
                    .transpose()?,
            ),
            DirtyKey::Eval(k) => (
                TreeId::Evals,
                key_bytes(k),
                state.evals.get(k).map(|e| encode(&**e)).transpose()?,
            ),
            DirtyKey::Alloc(k) => (
                TreeId::Allocs,
                key_bytes(k),
                state
                    .allocs
                    .get(k)
                    .map(|a| encode(&StoredAlloc::from_alloc(a)))
                    .transpose()?,
            ),
            DirtyKey::Node(k) => (
                TreeId::Nodes,
                key_bytes(k),
                state.nodes.get(k).map(|n| encode(&**n)).transpose()?,
            ),
            DirtyKey::Deployment(k) => (
                TreeId::Deployments,
                key_bytes(k),
                state.deployments.get(k).map(|d| encode(&**d)).transpose()?,
            ),
            DirtyKey::Variable(k) => (
                TreeId::Variables,
                key_bytes(k),
                state.variables.get(k).map(|v| encode(&**v)).transpose()?,
            ),
            DirtyKey::Server(k) => (
                TreeId::Servers,
                key_bytes(k),
                state.servers.get(k).map(encode).transpose()?,
            ),
            DirtyKey::SchedulerConfig => (
                TreeId::SchedulerConfig,
                key_bytes("scheduler_config"),
                state.scheduler_config.as_ref().map(encode).transpose()?,
            ),
        })
    }

    fn meta_batch(state: &StateSnapshot) -> Result<sled::Batch, StateError> {
        let mut meta = sled::Batch::default();
        meta.insert(APPLIED_INDEX, &state.index.to_be_bytes());
        let table_index: std::collections::BTreeMap<&str, u64> = Table::ALL
            .iter()
            .map(|t| (t.name(), state.table_index(*t)))
            .collect();
        meta.insert(TABLE_INDEX, encode(&table_index)?);
        Ok(meta)
    }

    /// Writes the records `dirty` names as they are in `state`, with its
    /// applied and table indexes, atomically.
    pub(crate) fn commit<'a>(
        &self,
        state: &StateSnapshot,
        dirty: impl IntoIterator<Item = &'a DirtyKey>,
    ) -> Result<(), StateError> {
        let mut batches: Vec<sled::Batch> =
            (0..TREES.len()).map(|_| sled::Batch::default()).collect();
        for key in dirty {
            let (tree, k, v) = Self::record(state, key)?;
            match v {
                Some(v) => batches[tree as usize].insert(k, v),
                None => batches[tree as usize].remove(k),
            }
        }
        let meta = Self::meta_batch(state)?;
        let mut all: Vec<sled::Tree> = self.trees.clone();
        all.push(self.meta.clone());
        let res: Result<(), TransactionError<()>> = all.as_slice().transaction(|views| {
            for (view, batch) in views
                .iter()
                .zip(batches.iter().chain(std::iter::once(&meta)))
            {
                view.apply_batch(batch)?;
            }
            Ok::<(), ConflictableTransactionError<()>>(())
        });
        res.map_err(|e| StateError::Transaction(format!("{e:?}")))
    }

    /// Records only a new applied index (a command that changed nothing).
    pub(crate) fn commit_index(&self, index: u64) -> Result<(), StateError> {
        self.meta.insert(APPLIED_INDEX, &index.to_be_bytes())?;
        Ok(())
    }

    /// Replaces every tree with `state`. A marker is written (and flushed)
    /// first and removed (and flushed) last, so a crash in between is found
    /// by [`Store::load`] instead of leaving a silent mix of two states.
    pub(crate) fn replace_all(&self, state: &StateSnapshot) -> Result<(), StateError> {
        self.meta.insert(RESTORING, &state.index.to_be_bytes())?;
        self.db.flush()?;
        for t in &self.trees {
            t.clear()?;
        }
        let mut dirty = Vec::new();
        dirty.extend(state.jobs.keys().cloned().map(DirtyKey::Job));
        for (k, versions) in &state.job_versions {
            dirty.extend(
                versions
                    .keys()
                    .map(|v| DirtyKey::JobVersion((k.0.clone(), k.1.clone(), *v))),
            );
        }
        dirty.extend(state.submissions.keys().cloned().map(DirtyKey::Submission));
        dirty.extend(state.alloc_jobs.keys().cloned().map(DirtyKey::AllocJob));
        dirty.extend(state.evals.keys().cloned().map(DirtyKey::Eval));
        dirty.extend(state.allocs.keys().cloned().map(DirtyKey::Alloc));
        dirty.extend(state.nodes.keys().cloned().map(DirtyKey::Node));
        dirty.extend(state.deployments.keys().cloned().map(DirtyKey::Deployment));
        dirty.extend(state.variables.keys().cloned().map(DirtyKey::Variable));
        dirty.extend(state.servers.keys().copied().map(DirtyKey::Server));
        if state.scheduler_config.is_some() {
            dirty.push(DirtyKey::SchedulerConfig);
        }
        // Plain batches per tree: the marker, not a transaction, is what
        // makes the whole replacement detectable as unfinished.
        for chunk in dirty.chunks(4096) {
            let mut batches: Vec<sled::Batch> =
                (0..TREES.len()).map(|_| sled::Batch::default()).collect();
            for key in chunk {
                let (tree, k, v) = Self::record(state, key)?;
                if let Some(v) = v {
                    batches[tree as usize].insert(k, v);
                }
            }
            for (t, b) in self.trees.iter().zip(batches) {
                t.apply_batch(b)?;
            }
        }
        self.meta.apply_batch(Self::meta_batch(state)?)?;
        self.db.flush()?;
        self.meta.remove(RESTORING)?;
        self.db.flush()?;
        Ok(())
    }
}

/// Removes the whole state from `db` (after [`StateError::IncompleteRestore`],
/// before installing a snapshot again). Leaves other trees (the Raft log)
/// alone.
pub fn clear(db: &sled::Db) -> Result<(), StateError> {
    for name in TREES.iter().chain(std::iter::once(&META)) {
        db.open_tree(name)?.clear()?;
    }
    db.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_ids_follow_the_tree_names() {
        assert_eq!(TREES[TreeId::Jobs as usize], "state.jobs");
        assert_eq!(TREES[TreeId::Servers as usize], "state.servers");
        assert_eq!(TREES[TreeId::Allocs as usize], "state.allocs");
    }

    #[test]
    fn an_unfinished_restore_is_refused_on_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sled::open(dir.path()).expect("open");
        let store = Store::open(&db).expect("store");
        store
            .meta
            .insert(RESTORING, &7u64.to_be_bytes())
            .expect("marker");
        assert!(matches!(
            store.load(),
            Err(StateError::IncompleteRestore { index: 7 })
        ));
        clear(&db).expect("clear");
        assert_eq!(store.load().expect("load").index(), 0);
    }
}

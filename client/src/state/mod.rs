//! The client's local state in sled: the node's id, the allocations it runs,
//! and per task the driver's handle and the task's state (restart count
//! included), so a restarted client re-attaches to its tasks instead of
//! starting them again.
//!
//! It owns the on-disk format (JSON values in one tree per kind). It does
//! not decide what to recover; the [`crate::Client`] and the runners do.

use std::path::Path;

use sched_core::model::{AllocDeploymentStatus, AllocId, Allocation, NodeId, TaskState};
use serde::{Deserialize, Serialize};

use crate::driver_host::TaskHandle;

/// Why the local state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The state directory could not be made.
    #[error("state directory {path}: {source}")]
    Dir {
        /// The directory.
        path: std::path::PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// sled failed (I/O, corruption, or the database is open elsewhere).
    #[error("local state database: {0}")]
    Db(#[from] sled::Error),
    /// A stored value does not decode (written by an incompatible version).
    #[error("local state record {key}: {source}")]
    Decode {
        /// The record's key.
        key: String,
        /// What failed.
        source: serde_json::Error,
    },
    /// A value could not be encoded.
    #[error("encoding local state: {0}")]
    Encode(serde_json::Error),
}

/// A driver handle as stored: the WIT record's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredHandle {
    /// The task's driver-side id.
    pub id: String,
    /// The driver's name.
    pub driver: String,
    /// The state format version.
    pub version: u32,
    /// The driver's opaque state.
    pub state: Vec<u8>,
}

impl From<&TaskHandle> for StoredHandle {
    fn from(h: &TaskHandle) -> Self {
        StoredHandle {
            id: h.id.clone(),
            driver: h.driver.clone(),
            version: h.version,
            state: h.state.clone(),
        }
    }
}

impl From<&StoredHandle> for TaskHandle {
    fn from(h: &StoredHandle) -> Self {
        TaskHandle {
            id: h.id.clone(),
            driver: h.driver.clone(),
            version: h.version,
            state: h.state.clone(),
        }
    }
}

/// What the client keeps about one task.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LocalTask {
    /// The task's state as reported (events, restarts, times).
    pub state: TaskState,
    /// The running instance's driver handle; `None` when none runs.
    pub handle: Option<StoredHandle>,
    /// The restart tracker's interval start (Unix ns) and count in it.
    pub restart_window: (i64, u32),
}

/// The client's sled database.
#[derive(Debug, Clone)]
pub struct LocalState {
    meta: sled::Tree,
    allocs: sled::Tree,
    tasks: sled::Tree,
    health: sled::Tree,
    db: sled::Db,
}

fn decode<T: for<'de> Deserialize<'de>>(key: &[u8], v: &[u8]) -> Result<T, StateError> {
    serde_json::from_slice(v).map_err(|source| StateError::Decode {
        key: String::from_utf8_lossy(key).into_owned(),
        source,
    })
}

fn task_key(alloc: &AllocId, task: &str) -> String {
    format!("{}/{task}", alloc.as_str())
}

impl LocalState {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        std::fs::create_dir_all(dir).map_err(|source| StateError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        let db = sled::Config::new()
            .path(dir.join("state.db"))
            .cache_capacity(4 << 20)
            .flush_every_ms(Some(500))
            .open()?;
        Ok(LocalState {
            meta: db.open_tree("meta")?,
            allocs: db.open_tree("allocs")?,
            tasks: db.open_tree("tasks")?,
            health: db.open_tree("health")?,
            db,
        })
    }

    /// The node's id, generated and stored on first use.
    pub fn node_id(&self) -> Result<NodeId, StateError> {
        if let Some(v) = self.meta.get("node_id")? {
            return Ok(NodeId(String::from_utf8_lossy(&v).into_owned()));
        }
        let id = NodeId::generate();
        self.meta.insert("node_id", id.as_str().as_bytes())?;
        self.db.flush()?;
        Ok(id)
    }

    /// Stores an allocation (with its job).
    pub fn put_alloc(&self, alloc: &Allocation) -> Result<(), StateError> {
        let v = serde_json::to_vec(alloc).map_err(StateError::Encode)?;
        self.allocs.insert(alloc.id.as_str(), v)?;
        Ok(())
    }

    /// Every stored allocation.
    pub fn allocs(&self) -> Result<Vec<Allocation>, StateError> {
        self.allocs
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                decode(&k, &v)
            })
            .collect()
    }

    /// Removes an allocation and its tasks.
    pub fn delete_alloc(&self, id: &AllocId) -> Result<(), StateError> {
        self.allocs.remove(id.as_str())?;
        let prefix = format!("{}/", id.as_str());
        for k in self.tasks.scan_prefix(prefix.as_bytes()).keys() {
            self.tasks.remove(k?)?;
        }
        self.health.remove(id.as_str())?;
        Ok(())
    }

    /// Stores the deployment health judged for an allocation, durably: a
    /// restarted client reports it instead of judging again.
    pub fn put_health(
        &self,
        alloc: &AllocId,
        status: &AllocDeploymentStatus,
    ) -> Result<(), StateError> {
        let v = serde_json::to_vec(status).map_err(StateError::Encode)?;
        self.health.insert(alloc.as_str(), v)?;
        self.health.flush()?;
        Ok(())
    }

    /// The deployment health judged for an allocation, if it was.
    pub fn health(&self, alloc: &AllocId) -> Result<Option<AllocDeploymentStatus>, StateError> {
        self.health
            .get(alloc.as_str())?
            .map(|v| decode(alloc.as_str().as_bytes(), &v))
            .transpose()
    }

    /// Stores a task's local record, durably: a handle must survive a crash
    /// right after the start it records.
    pub fn put_task(&self, alloc: &AllocId, task: &str, t: &LocalTask) -> Result<(), StateError> {
        let v = serde_json::to_vec(t).map_err(StateError::Encode)?;
        self.tasks.insert(task_key(alloc, task), v)?;
        self.tasks.flush()?;
        Ok(())
    }

    /// A task's local record.
    pub fn task(&self, alloc: &AllocId, task: &str) -> Result<Option<LocalTask>, StateError> {
        let key = task_key(alloc, task);
        self.tasks
            .get(&key)?
            .map(|v| decode(key.as_bytes(), &v))
            .transpose()
    }

    /// Writes everything to disk.
    pub fn flush(&self) -> Result<(), StateError> {
        self.db.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn survives_reopening() {
        let d = tempfile::tempdir().unwrap();
        let alloc = Allocation {
            id: AllocId::from_u128(1),
            name: "web.web[0]".into(),
            ..Allocation::default()
        };
        let id = {
            let s = LocalState::open(d.path()).unwrap();
            s.put_alloc(&alloc).unwrap();
            let t = LocalTask {
                handle: Some(StoredHandle {
                    id: "x/web".into(),
                    driver: "raw_exec".into(),
                    version: 1,
                    state: vec![1, 2, 3],
                }),
                restart_window: (5, 1),
                ..LocalTask::default()
            };
            s.put_task(&alloc.id, "web", &t).unwrap();
            s.flush().unwrap();
            s.node_id().unwrap()
        };
        let s = LocalState::open(d.path()).unwrap();
        assert_eq!(s.node_id().unwrap(), id);
        assert_eq!(s.allocs().unwrap(), vec![alloc.clone()]);
        let t = s.task(&alloc.id, "web").unwrap().unwrap();
        assert_eq!(t.handle.unwrap().state, vec![1, 2, 3]);
        s.delete_alloc(&alloc.id).unwrap();
        assert!(s.allocs().unwrap().is_empty());
        assert!(s.task(&alloc.id, "web").unwrap().is_none());
    }

    #[test]
    fn deployment_health_survives_reopening_and_goes_with_its_alloc() {
        let d = tempfile::tempdir().unwrap();
        let id = AllocId::from_u128(2);
        let judged = AllocDeploymentStatus {
            healthy: Some(false),
            timestamp: Some("2026-01-01T00:00:00Z".into()),
            canary: true,
            modify_index: 0,
        };
        {
            let s = LocalState::open(d.path()).unwrap();
            assert_eq!(s.health(&id).unwrap(), None);
            s.put_health(&id, &judged).unwrap();
        }
        let s = LocalState::open(d.path()).unwrap();
        assert_eq!(s.health(&id).unwrap(), Some(judged));
        s.delete_alloc(&id).unwrap();
        assert_eq!(s.health(&id).unwrap(), None);
    }
}

//! The allocation directory, Nomad's layout:
//!
//! ```text
//! <alloc_dir>/<alloc id>/
//!   alloc/            shared by the group's tasks (NOMAD_ALLOC_DIR)
//!     data/           kept across a sticky ephemeral disk's migrations
//!     logs/           every task's rotating stdout and stderr
//!     tmp/
//!   <task>/           the task's directory (the driver's task dir)
//!     local/          NOMAD_TASK_DIR
//!     secrets/        NOMAD_SECRETS_DIR, mode 0700
//!     tmp/
//! ```

use std::path::{Path, PathBuf};

/// Why a directory could not be made or removed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct DirError {
    /// The directory.
    pub path: PathBuf,
    /// What failed.
    pub source: std::io::Error,
}

/// One allocation's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocDir {
    root: PathBuf,
}

/// One task's directories in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDir {
    /// `<alloc>/<task>`: what the driver gets as the task dir.
    pub dir: PathBuf,
    /// `local/`.
    pub local: PathBuf,
    /// `secrets/`.
    pub secrets: PathBuf,
    /// `tmp/`.
    pub tmp: PathBuf,
}

fn mkdir(path: &Path, mode: u32) -> Result<(), DirError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path)
        .and_then(|()| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)))
        .map_err(|source| DirError {
            path: path.to_path_buf(),
            source,
        })
}

impl AllocDir {
    /// The directory of allocation `id` under the client's alloc dir.
    pub fn new(alloc_dir: &Path, id: &str) -> Self {
        AllocDir {
            root: alloc_dir.join(id),
        }
    }

    /// `<alloc_dir>/<alloc id>`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The shared `alloc/` directory.
    pub fn shared(&self) -> PathBuf {
        self.root.join("alloc")
    }

    /// Where the tasks' logs are.
    pub fn logs(&self) -> PathBuf {
        self.shared().join("logs")
    }

    /// Makes the shared directories.
    pub fn build(&self) -> Result<(), DirError> {
        mkdir(&self.root, 0o755)?;
        let shared = self.shared();
        mkdir(&shared, 0o777)?;
        for sub in ["data", "logs", "tmp"] {
            mkdir(&shared.join(sub), 0o777)?;
        }
        Ok(())
    }

    /// The directories of `task` (not made).
    pub fn task(&self, task: &str) -> TaskDir {
        let dir = self.root.join(task);
        TaskDir {
            local: dir.join("local"),
            secrets: dir.join("secrets"),
            tmp: dir.join("tmp"),
            dir,
        }
    }

    /// Makes the directories of `task`.
    pub fn build_task(&self, task: &str) -> Result<TaskDir, DirError> {
        let t = self.task(task);
        mkdir(&t.dir, 0o777)?;
        mkdir(&t.local, 0o777)?;
        mkdir(&t.secrets, 0o700)?;
        mkdir(&t.tmp, 0o777)?;
        Ok(t)
    }

    /// Removes the whole allocation directory.
    pub fn destroy(&self) -> Result<(), DirError> {
        match std::fs::remove_dir_all(&self.root) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(DirError {
                path: self.root.clone(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn nomad_layout() {
        let d = tempfile::tempdir().unwrap();
        let a = AllocDir::new(d.path(), "a1");
        a.build().unwrap();
        let t = a.build_task("web").unwrap();
        for p in [
            "a1/alloc/data",
            "a1/alloc/logs",
            "a1/alloc/tmp",
            "a1/web/local",
            "a1/web/secrets",
            "a1/web/tmp",
        ] {
            assert!(d.path().join(p).is_dir(), "{p}");
        }
        assert_eq!(t.local, d.path().join("a1/web/local"));
        a.destroy().unwrap();
        assert!(!d.path().join("a1").exists());
    }
}

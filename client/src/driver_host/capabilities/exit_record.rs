//! Exit records: how a task's process ended, kept in a file by the process
//! that waits for it, so that a client started after the task ended (the
//! previous one was killed or crashed) still learns its exit status.
//!
//! Only a process's parent can read its wait status, and a client that
//! died cannot. So every task runs under a supervisor (the `process`
//! capability's [`super::supervisor`], the `isolated-process` sandbox's
//! init) that is its parent, outlives the client, and writes the task's end
//! ([`Ended::encode`], 8 bytes) into a record file it was handed open.
//!
//! A record is the file `<pid>.<spawn unix ns>` in the record directory
//! (the pid the driver keeps in its handle, and when the host spawned it,
//! which the driver's `started_at` matches within a tolerance, so a reused
//! pid never meets an old record). The host creates it under a temporary
//! name, takes an exclusive `flock` on it and forks the supervisor, which
//! inherits the open file description and with it the lock; the host then
//! renames it. The lock lives as long as that description is open, i.e.
//! as long as the supervisor (and the client that forked it) lives: a later
//! client that finds an empty record it *can* lock knows the supervisor
//! died without writing, and the exit status is lost.
//!
//! It does not decide what an unknown exit means to the driver, and it
//! does not run the supervisor.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::unistd::geteuid;

use super::isolated_process::init::Ended;

/// How far a record's spawn time may be from the `started_at` a driver
/// recorded and still be the same task.
const START_TOLERANCE_NS: u64 = 2_000_000_000;

/// Prefix of records whose task's pid is not known yet.
const PENDING: &str = ".pending-";

/// What a record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordState {
    /// The supervisor wrote how the task ended.
    Ended(Ended),
    /// Nothing written yet, and the supervisor still lives.
    Pending,
    /// Nothing written, and the supervisor is gone: the status is lost.
    Lost,
}

/// The directory of exit records.
#[derive(Debug, Clone)]
pub struct ExitRecords {
    dir: PathBuf,
}

/// One record, open.
#[derive(Debug)]
pub struct Record {
    file: File,
    path: PathBuf,
}

impl ExitRecords {
    /// The machine-wide default: `/run/sched/exits` for root, else a
    /// per-user directory under the temporary directory. Machine-wide on
    /// purpose: records are keyed by pid, and a restarted client may have
    /// been given another data dir.
    pub fn default_dir() -> PathBuf {
        let uid = geteuid();
        if uid.is_root() {
            PathBuf::from("/run/sched/exits")
        } else {
            std::env::temp_dir().join(format!("sched-{uid}-exits"))
        }
    }

    /// Uses `dir`, creating it. It must be a directory of the client's
    /// user that nobody else can write, since the records decide which
    /// exit status a task is reported with.
    pub fn open(dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("creating the exit record directory {}: {e}", dir.display()))?;
        let meta = std::fs::symlink_metadata(dir)
            .map_err(|e| format!("reading {}: {e}", dir.display()))?;
        if !meta.is_dir() || meta.uid() != geteuid().as_raw() {
            return Err(format!(
                "the exit record directory {} is not a directory owned by uid {}",
                dir.display(),
                geteuid()
            ));
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("restricting {}: {e}", dir.display()))?;
        Ok(ExitRecords {
            dir: dir.to_path_buf(),
        })
    }

    /// A new, empty record, locked, not yet named after a pid.
    pub fn create(&self) -> Result<Record, String> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = self
            .dir
            .join(format!("{PENDING}{}-{n}", std::process::id()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("creating the exit record {}: {e}", path.display()))?;
        flock(&file, libc::LOCK_EX | libc::LOCK_NB)
            .map_err(|e| format!("locking the exit record {}: {e}", path.display()))?;
        Ok(Record { file, path })
    }

    /// Names `record` after the task's pid and spawn time.
    pub fn name(&self, record: &mut Record, pid: u32, spawned_ns: u64) -> Result<(), String> {
        let path = self.dir.join(format!("{pid}.{spawned_ns}"));
        std::fs::rename(&record.path, &path)
            .map_err(|e| format!("naming the exit record {}: {e}", path.display()))?;
        record.path = path;
        Ok(())
    }

    /// The record of the task `pid` started at `started_at_ns` (unix
    /// nanoseconds, as the driver recorded it; 0 accepts any), opened anew.
    pub fn find(&self, pid: u32, started_at_ns: u64) -> Option<Record> {
        let prefix = format!("{pid}.");
        let dir = std::fs::read_dir(&self.dir).ok()?;
        let path = dir.flatten().map(|e| e.path()).find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix(&prefix))
                .and_then(|ns| ns.parse::<u64>().ok())
                .is_some_and(|ns| {
                    started_at_ns == 0 || ns.abs_diff(started_at_ns) <= START_TOLERANCE_NS
                })
        })?;
        let file = OpenOptions::new().read(true).open(&path).ok()?;
        Some(Record { file, path })
    }
}

impl Record {
    /// The descriptor a supervisor writes the task's end to.
    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// How the task ended, if the supervisor wrote it.
    pub fn ended(&self) -> Option<Ended> {
        let mut buf = Vec::with_capacity(8);
        let mut f = &self.file;
        // The supervisor writes at offset 0 through its own copy of the
        // description; read from the start whatever our offset is.
        use std::io::Seek;
        f.seek(std::io::SeekFrom::Start(0)).ok()?;
        f.take(8).read_to_end(&mut buf).ok()?;
        Ended::decode(&buf)
    }

    /// What the record says, for a record opened with
    /// [`ExitRecords::find`] (its own description: the lock test is
    /// meaningless on the description the supervisor shares).
    pub fn state(&self) -> RecordState {
        if let Some(ended) = self.ended() {
            return RecordState::Ended(ended);
        }
        match flock(&self.file, libc::LOCK_SH | libc::LOCK_NB) {
            Err(Errno::EWOULDBLOCK) => RecordState::Pending,
            _ => {
                // Written between the two looks, or lost for good.
                let _ = flock(&self.file, libc::LOCK_UN);
                self.ended().map_or(RecordState::Lost, RecordState::Ended)
            }
        }
    }

    /// Where the record is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Deletes the record: its task's end has been taken.
    pub fn remove(self) {
        if let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), error = %e, "could not remove an exit record");
        }
    }
}

#[allow(unsafe_code)]
fn flock(file: &File, op: libc::c_int) -> Result<(), Errno> {
    // SAFETY: flock(2) on a descriptor `file` owns; no memory involved.
    Errno::result(unsafe { libc::flock(file.as_raw_fd(), op) }).map(drop)
}

#[cfg(test)]
mod tests {
    use super::super::isolated_process::init::write_fd;
    use super::*;

    fn records(name: &str) -> ExitRecords {
        let d = std::env::temp_dir().join(format!("sched-records-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        ExitRecords::open(&d).unwrap()
    }

    #[test]
    fn a_written_record_is_found_by_pid_and_start_time() {
        let r = records("found");
        let mut rec = r.create().unwrap();
        r.name(&mut rec, 4242, 1_000_000_000_000).unwrap();
        write_fd(rec.fd(), &Ended::Exited(3).encode()).unwrap();
        assert_eq!(rec.ended(), Some(Ended::Exited(3)));
        // Another start time is another task with the same pid.
        assert!(r.find(4242, 1_000_000_000_000 + 60_000_000_000).is_none());
        assert!(r.find(4243, 1_000_000_000_000).is_none());
        let found = r.find(4242, 1_000_000_000_000 + 500_000_000).unwrap();
        assert_eq!(found.state(), RecordState::Ended(Ended::Exited(3)));
        found.remove();
        assert!(r.find(4242, 0).is_none());
    }

    #[test]
    fn an_empty_record_is_pending_while_locked_and_lost_after() {
        let r = records("pending");
        let mut rec = r.create().unwrap();
        r.name(&mut rec, 77, 5).unwrap();
        assert_eq!(r.find(77, 5).unwrap().state(), RecordState::Pending);
        // Closing the writer's description (the supervisor dying) frees it.
        drop(rec);
        assert_eq!(r.find(77, 5).unwrap().state(), RecordState::Lost);
    }

    #[test]
    fn a_directory_of_someone_else_is_refused() {
        if !geteuid().is_root() {
            return;
        }
        let d = std::env::temp_dir().join(format!("sched-records-owner-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::os::unix::fs::chown(&d, Some(65534), None).unwrap();
        let err = ExitRecords::open(&d).unwrap_err();
        assert!(err.contains("not a directory owned by uid 0"), "{err}");
    }
}

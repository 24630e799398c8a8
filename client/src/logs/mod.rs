//! Task logs: each task's stdout and stderr in rotating files under the
//! allocation's `alloc/logs` (Nomad's names, `<task>.stdout.<N>`, the
//! highest N the newest), and the reader the HTTP layer serves as
//! `/v1/client/fs/logs`.
//!
//! The task (through its driver) appends to the newest file itself, so logs
//! keep flowing while the client restarts: nothing of the client sits in
//! the pipe. Rotation is therefore copy-and-truncate: the full file is
//! copied to a frozen file under its own index, the live file moves up one
//! index (a hard link, so the task's open descriptor keeps writing to it)
//! and is truncated. Bytes the task writes between the copy and the
//! truncation are lost; the rotation check runs every few seconds, so that
//! window is a few microseconds once per `max_file_size`.
//!
//! This module does not decide when to rotate; the task runner calls
//! [`LogRotator::rotate_if_needed`] on its poll.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// [`LogRotator`]'s "newest index not known yet".
const UNKNOWN: u64 = u64::MAX;

/// One of a task's output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// The name in file names and the HTTP API.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    /// Parses `stdout` or `stderr`.
    pub fn parse(s: &str) -> Option<Stream> {
        match s {
            "stdout" => Some(Stream::Stdout),
            "stderr" => Some(Stream::Stderr),
            _ => None,
        }
    }
}

/// Why logs could not be rotated or read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A log file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The task has written nothing to this stream (no file exists).
    #[error("no {stream} logs for task {task}")]
    NoLogs {
        /// The task.
        task: String,
        /// The stream.
        stream: &'static str,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> LogError + '_ {
    move |source| LogError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The file name of index `n` of a task's stream.
pub fn file_name(task: &str, stream: Stream, n: u64) -> String {
    format!("{task}.{}.{n}", stream.as_str())
}

/// The indices of a task's stream files in `dir`, ascending.
pub fn indices(dir: &Path, task: &str, stream: Stream) -> Vec<u64> {
    let prefix = format!("{task}.{}.", stream.as_str());
    let mut out: Vec<u64> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let name = name.to_str()?;
            name.strip_prefix(&prefix)?.parse().ok()
        })
        .collect();
    out.sort_unstable();
    out
}

/// Rotation of one stream of one task.
#[derive(Debug, Clone)]
pub struct LogRotator {
    dir: PathBuf,
    task: String,
    stream: Stream,
    max_files: u64,
    max_bytes: u64,
    /// The newest index, remembered so the frequent size check is one
    /// `stat` rather than a directory listing.
    live: Arc<AtomicU64>,
}

impl LogRotator {
    /// Rotation in `dir` keeping `max_files` files of at most
    /// `max_file_size_mb` each (Nomad's `logs` block; at least 1 of each).
    pub fn new(
        dir: &Path,
        task: &str,
        stream: Stream,
        max_files: i64,
        max_file_size_mb: i64,
    ) -> Self {
        LogRotator {
            dir: dir.to_path_buf(),
            task: task.to_string(),
            stream,
            max_files: u64::try_from(max_files).unwrap_or(1).max(1),
            max_bytes: u64::try_from(max_file_size_mb)
                .unwrap_or(1)
                .max(1)
                .saturating_mul(1024 * 1024),
            live: Arc::new(AtomicU64::new(UNKNOWN)),
        }
    }

    /// The newest index, listing the directory only when not known.
    fn newest(&self) -> Option<u64> {
        match self.live.load(Ordering::Relaxed) {
            UNKNOWN => {
                let n = indices(&self.dir, &self.task, self.stream)
                    .last()
                    .copied()?;
                self.live.store(n, Ordering::Relaxed);
                Some(n)
            }
            n => Some(n),
        }
    }

    /// Overrides the size limit in bytes (for small limits in tests).
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes.max(1);
        self
    }

    /// The file the task appends to: the newest, created if none exists.
    pub fn live_path(&self) -> Result<PathBuf, LogError> {
        let n = indices(&self.dir, &self.task, self.stream)
            .last()
            .copied()
            .unwrap_or(0);
        self.live.store(n, Ordering::Relaxed);
        let path = self.dir.join(file_name(&self.task, self.stream, n));
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        Ok(path)
    }

    /// Rotates the live file if it grew past the limit, and removes files
    /// beyond `max_files`. Returns whether it rotated.
    pub fn rotate_if_needed(&self) -> Result<bool, LogError> {
        let Some(n) = self.newest() else {
            return Ok(false);
        };
        let live = self.dir.join(file_name(&self.task, self.stream, n));
        let len = match fs::metadata(&live) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Removed under us: list the directory again next time.
                self.live.store(UNKNOWN, Ordering::Relaxed);
                return Ok(false);
            }
            Err(e) => return Err(io_err(&live)(e)),
        };
        if len < self.max_bytes {
            return Ok(false);
        }
        let next = self.dir.join(file_name(&self.task, self.stream, n + 1));
        let tmp = self
            .dir
            .join(format!(".{}.{}.rotating", self.task, self.stream.as_str()));
        fs::copy(&live, &tmp).map_err(io_err(&tmp))?;
        fs::hard_link(&live, &next).map_err(io_err(&next))?;
        fs::rename(&tmp, &live).map_err(io_err(&live))?;
        OpenOptions::new()
            .write(true)
            .open(&next)
            .and_then(|f| f.set_len(0))
            .map_err(io_err(&next))?;
        self.live.store(n + 1, Ordering::Relaxed);
        let keep_from = (n + 2).saturating_sub(self.max_files);
        for old in indices(&self.dir, &self.task, self.stream) {
            if old < keep_from {
                let p = self.dir.join(file_name(&self.task, self.stream, old));
                fs::remove_file(&p).map_err(io_err(&p))?;
            }
        }
        tracing::debug!(task = %self.task, stream = self.stream.as_str(), index = n + 1, "rotated log");
        Ok(true)
    }
}

/// Where a read starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `offset` bytes after the oldest byte kept.
    Start,
    /// `offset` bytes before the newest byte.
    End,
}

/// A position in a task's stream: a file index and an offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The file index.
    pub index: u64,
    /// The byte offset in that file.
    pub offset: u64,
}

/// Bytes read and where to read on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    /// The bytes.
    pub data: Vec<u8>,
    /// The file the last byte came from.
    pub file: String,
    /// Where the next read starts.
    pub next: Cursor,
}

/// Reads one stream of one task's logs across its rotated files.
#[derive(Debug, Clone)]
pub struct LogReader {
    dir: PathBuf,
    task: String,
    stream: Stream,
}

impl LogReader {
    /// A reader of `task`'s `stream` in the logs dir `dir` (an allocation's
    /// `alloc/logs`).
    pub fn new(dir: &Path, task: &str, stream: Stream) -> Self {
        LogReader {
            dir: dir.to_path_buf(),
            task: task.to_string(),
            stream,
        }
    }

    fn path(&self, n: u64) -> PathBuf {
        self.dir.join(file_name(&self.task, self.stream, n))
    }

    /// The cursor `offset` bytes from `origin`, clamped to what is kept.
    pub fn seek(&self, origin: Origin, offset: u64) -> Result<Cursor, LogError> {
        let idx = indices(&self.dir, &self.task, self.stream);
        let (Some(&first), Some(&last)) = (idx.first(), idx.last()) else {
            return Err(LogError::NoLogs {
                task: self.task.clone(),
                stream: self.stream.as_str(),
            });
        };
        let sizes: Vec<(u64, u64)> = idx
            .iter()
            .map(|&n| (n, fs::metadata(self.path(n)).map_or(0, |m| m.len())))
            .collect();
        let total: u64 = sizes.iter().map(|(_, s)| s).sum();
        let mut from_start = match origin {
            Origin::Start => offset.min(total),
            Origin::End => total.saturating_sub(offset),
        };
        for (n, size) in &sizes {
            if from_start < *size {
                return Ok(Cursor {
                    index: *n,
                    offset: from_start,
                });
            }
            from_start -= size;
        }
        let _ = first;
        let last_size = sizes.last().map_or(0, |(_, s)| *s);
        Ok(Cursor {
            index: last,
            offset: last_size,
        })
    }

    /// Reads up to `max` bytes from `cursor`, moving to newer files as each
    /// ends. A cursor into a file removed by rotation starts at the oldest
    /// kept file.
    pub fn read(&self, cursor: Cursor, max: usize) -> Result<LogChunk, LogError> {
        use std::io::{Read, Seek, SeekFrom};
        let idx = indices(&self.dir, &self.task, self.stream);
        let mut cur = cursor;
        if let Some(&first) = idx.first()
            && cur.index < first
        {
            cur = Cursor {
                index: first,
                offset: 0,
            };
        }
        let mut data = Vec::new();
        let mut file = file_name(&self.task, self.stream, cur.index);
        let from = cur.index;
        for &n in idx.iter().filter(|&&n| n >= from) {
            if data.len() >= max {
                break;
            }
            if n > cur.index {
                cur = Cursor {
                    index: n,
                    offset: 0,
                };
            }
            let path = self.path(n);
            let mut f = match fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&path)(e)),
            };
            let len = f.metadata().map_err(io_err(&path))?.len();
            if cur.offset > len {
                // Truncated under us by a rotation: its bytes moved down.
                cur.offset = len;
            }
            f.seek(SeekFrom::Start(cur.offset)).map_err(io_err(&path))?;
            let want = (max - data.len()) as u64;
            let got = f.take(want).read_to_end(&mut data).map_err(io_err(&path))?;
            cur.offset += got as u64;
            file = file_name(&self.task, self.stream, n);
        }
        Ok(LogChunk {
            data,
            file,
            next: cur,
        })
    }

    /// Like [`LogReader::read`], but when nothing is there yet waits (polling
    /// every 100 ms) up to `wait` for new bytes: the `follow` of the logs API.
    pub async fn follow(
        &self,
        cursor: Cursor,
        max: usize,
        wait: Duration,
    ) -> Result<LogChunk, LogError> {
        let deadline = Instant::now() + wait;
        loop {
            let chunk = self.read(cursor, max)?;
            if !chunk.data.is_empty() || Instant::now() >= deadline {
                return Ok(chunk);
            }
            tokio::time::sleep(Duration::from_millis(100).min(deadline - Instant::now())).await;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Write;

    #[test]
    fn rotates_keeps_max_files_and_reads_across_them() {
        let d = tempfile::tempdir().unwrap();
        let rot = LogRotator::new(d.path(), "web", Stream::Stdout, 2, 1).with_max_bytes(10);
        let live = rot.live_path().unwrap();
        assert!(live.ends_with("web.stdout.0"));
        // The writer keeps its descriptor across rotations, like a task.
        let mut w = OpenOptions::new().append(true).open(&live).unwrap();
        w.write_all(b"0123456789ab").unwrap();
        assert!(rot.rotate_if_needed().unwrap());
        w.write_all(b"cdefghijklmn").unwrap();
        assert!(rot.rotate_if_needed().unwrap());
        w.write_all(b"xyz").unwrap();
        assert!(!rot.rotate_if_needed().unwrap());
        assert_eq!(indices(d.path(), "web", Stream::Stdout), vec![1, 2]);
        assert_eq!(
            fs::read(d.path().join("web.stdout.1")).unwrap(),
            b"cdefghijklmn"
        );
        assert_eq!(fs::read(d.path().join("web.stdout.2")).unwrap(), b"xyz");

        let r = LogReader::new(d.path(), "web", Stream::Stdout);
        let all = r.read(r.seek(Origin::Start, 0).unwrap(), 1 << 20).unwrap();
        assert_eq!(all.data, b"cdefghijklmnxyz");
        assert_eq!(all.file, "web.stdout.2");
        let tail = r.read(r.seek(Origin::End, 5).unwrap(), 1 << 20).unwrap();
        assert_eq!(tail.data, b"lmnxyz"[1..].to_vec());
        let from = r.read(r.seek(Origin::Start, 4).unwrap(), 3).unwrap();
        assert_eq!(from.data, b"ghi");
        // Reading on from the end finds what is appended later.
        w.write_all(b"!").unwrap();
        assert_eq!(r.read(all.next, 10).unwrap().data, b"!");
    }

    #[test]
    fn a_stream_without_files_says_so() {
        let d = tempfile::tempdir().unwrap();
        let r = LogReader::new(d.path(), "web", Stream::Stderr);
        assert!(matches!(
            r.seek(Origin::Start, 0),
            Err(LogError::NoLogs { .. })
        ));
    }
}

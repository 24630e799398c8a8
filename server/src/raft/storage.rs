//! The Raft log, hard state, conf state and latest snapshot in sled.
//!
//! Three trees: `raft_log` maps each entry's big-endian index to its term
//! (8 bytes, so `term` never decodes a payload) followed by the encoded
//! entry; `raft_meta` holds the hard state, conf state and the point the
//! log was truncated at; `raft_snapshot` holds the latest snapshot alone.
//! The snapshot is kept apart because sled rewrites a tree's page whole:
//! beside the hard state, which changes with every commit, a snapshot of a
//! million allocations was written out again and again. Writes are not
//! flushed one by one: the node calls [`SledStorage::flush`] once per Ready
//! batch, which is what makes group commit cheap.

use std::sync::atomic::{AtomicBool, Ordering};

use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, Storage, StorageError};
use sled::Transactional;

use super::error::RaftError;

const LOG_TREE: &str = "raft_log";
const META_TREE: &str = "raft_meta";
const SNAPSHOT_TREE: &str = "raft_snapshot";
const HARD_STATE_KEY: &[u8] = b"hard_state";
const CONF_STATE_KEY: &[u8] = b"conf_state";
const TRUNCATED_KEY: &[u8] = b"truncated";
const SNAPSHOT_KEY: &[u8] = b"snapshot";

/// Raft's durable storage over a sled database shared with the rest of the
/// server. The node task owns it; reads are served from sled plus a few
/// cached scalars, so `&self` methods never block on a lock.
#[derive(Debug)]
pub struct SledStorage {
    db: sled::Db,
    log: sled::Tree,
    meta: sled::Tree,
    /// The latest snapshot, in a tree of its own (see the module docs).
    snapshots: sled::Tree,
    hard_state: HardState,
    conf_state: ConfState,
    /// Index and term of the last entry removed from the log (0, 0 when none):
    /// the log starts right after it.
    truncated: (u64, u64),
    last_index: u64,
    /// Index and term of the stored snapshot, (0, 0) when none.
    snapshot_at: (u64, u64),
    /// Set when raft-rs asked for a snapshot the stored one cannot serve (too
    /// old, or from before the requesting peer joined); the node then takes
    /// a fresh one.
    snapshot_wanted: AtomicBool,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> RaftError {
    RaftError::Corrupt(format!("{what}: {e}"))
}

fn store_err(e: RaftError) -> raft::Error {
    raft::Error::Store(StorageError::Other(Box::new(e)))
}

fn decode_entry(bytes: &[u8]) -> Result<Entry, RaftError> {
    let body = bytes
        .get(8..)
        .ok_or_else(|| corrupt("log entry", "shorter than its term"))?;
    Entry::parse_from_bytes(body).map_err(|e| corrupt("log entry", e))
}

fn decode_term(bytes: &[u8]) -> Result<u64, RaftError> {
    let head: [u8; 8] = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| corrupt("log entry", "shorter than its term"))?;
    Ok(u64::from_be_bytes(head))
}

fn encode_entry(e: &Entry) -> Result<Vec<u8>, RaftError> {
    let mut out = Vec::with_capacity(8 + e.compute_size() as usize);
    out.extend_from_slice(&e.term.to_be_bytes());
    e.write_to_vec(&mut out)
        .map_err(|e| corrupt("encoding entry", e))?;
    Ok(out)
}

fn truncated_bytes(index: u64, term: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(16);
    v.extend_from_slice(&index.to_be_bytes());
    v.extend_from_slice(&term.to_be_bytes());
    v
}

fn encode<M: protobuf::Message>(m: &M) -> Result<Vec<u8>, RaftError> {
    m.write_to_bytes().map_err(|e| corrupt("encoding", e))
}

fn decode<M: protobuf::Message>(what: &str, bytes: Option<sled::IVec>) -> Result<M, RaftError> {
    match bytes {
        Some(b) => M::parse_from_bytes(&b).map_err(|e| corrupt(what, e)),
        None => Ok(M::new()),
    }
}

/// Moves a snapshot stored beside the hard state (as data directories
/// written before the snapshot had a tree of its own hold it) into the
/// snapshot tree, in one transaction.
fn move_snapshot_out_of_meta(meta: &sled::Tree, snapshots: &sled::Tree) -> Result<(), RaftError> {
    let Some(old) = meta.get(SNAPSHOT_KEY)? else {
        return Ok(());
    };
    (meta, snapshots)
        .transaction(|(m, s)| {
            s.insert(SNAPSHOT_KEY, old.clone())?;
            m.remove(SNAPSHOT_KEY)?;
            Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
        })
        .map_err(|e| transaction_error("moving the snapshot", e))
}

/// A failed transaction of these trees (which never abort on purpose).
fn transaction_error(what: &str, e: sled::transaction::TransactionError<()>) -> RaftError {
    match e {
        sled::transaction::TransactionError::Storage(e) => RaftError::Storage(e),
        sled::transaction::TransactionError::Abort(()) => corrupt(what, "transaction aborted"),
    }
}

impl SledStorage {
    /// Opens (or creates) the Raft trees in `db` and loads the cached state.
    pub fn open(db: &sled::Db) -> Result<SledStorage, RaftError> {
        let log = db.open_tree(LOG_TREE)?;
        let meta = db.open_tree(META_TREE)?;
        let snapshots = db.open_tree(SNAPSHOT_TREE)?;
        move_snapshot_out_of_meta(&meta, &snapshots)?;
        let hard_state: HardState = decode("hard state", meta.get(HARD_STATE_KEY)?)?;
        let conf_state: ConfState = decode("conf state", meta.get(CONF_STATE_KEY)?)?;
        let truncated = match meta.get(TRUNCATED_KEY)? {
            Some(b) if b.len() == 16 => {
                let (i, t) = b.split_at(8);
                (decode_term(i)?, decode_term(t)?)
            }
            Some(_) => return Err(corrupt("truncated state", "wrong length")),
            None => (0, 0),
        };
        let snapshot_at = match snapshots.get(SNAPSHOT_KEY)? {
            Some(b) => {
                let s = Snapshot::parse_from_bytes(&b).map_err(|e| corrupt("snapshot", e))?;
                (s.get_metadata().index, s.get_metadata().term)
            }
            None => (0, 0),
        };
        let last_index = match log.last()? {
            Some((k, _)) => decode_term(&k)?,
            None => truncated.0,
        };
        Ok(SledStorage {
            db: db.clone(),
            log,
            meta,
            snapshots,
            hard_state,
            conf_state,
            truncated,
            last_index,
            snapshot_at,
            snapshot_wanted: AtomicBool::new(false),
        })
    }

    /// Whether this storage belongs to a cluster (it has a configuration).
    /// A server joining an existing cluster starts uninitialized and learns
    /// everything from the leader.
    pub fn is_initialized(&self) -> bool {
        self.conf_state != ConfState::default()
    }

    /// Bootstraps a fresh cluster: every founding server calls this with the
    /// same voters, so they all start from the same configuration.
    pub fn initialize(&mut self, voters: &[u64]) -> Result<(), RaftError> {
        if self.is_initialized() {
            return Err(RaftError::AlreadyInitialized);
        }
        let cs = ConfState {
            voters: voters.to_vec(),
            ..ConfState::default()
        };
        self.set_conf_state(cs)?;
        self.flush()
    }

    /// Appends entries, first removing any stored suffix they conflict with.
    /// Entries already compacted away are skipped rather than written back.
    pub fn append(&mut self, entries: &[Entry]) -> Result<(), RaftError> {
        let first = self.truncated.0 + 1;
        let entries: Vec<&Entry> = entries.iter().filter(|e| e.index >= first).collect();
        let Some(head) = entries.first() else {
            return Ok(());
        };
        if head.index > self.last_index + 1 {
            return Err(corrupt(
                "append",
                format!(
                    "gap in the log: last {}, appending {}",
                    self.last_index, head.index
                ),
            ));
        }
        let mut batch = sled::Batch::default();
        for idx in head.index..=self.last_index {
            batch.remove(&idx.to_be_bytes());
        }
        let mut last = self.last_index;
        for e in &entries {
            batch.insert(&e.index.to_be_bytes(), encode_entry(e)?);
            last = e.index;
        }
        self.log.apply_batch(batch)?;
        self.last_index = last;
        Ok(())
    }

    /// Records the hard state (term, vote, commit).
    pub fn set_hard_state(&mut self, hs: HardState) -> Result<(), RaftError> {
        self.meta.insert(HARD_STATE_KEY, encode(&hs)?)?;
        self.hard_state = hs;
        Ok(())
    }

    /// Advances the recorded commit index (raft-rs reports commit changes
    /// without a full hard state after `advance`).
    pub fn set_commit(&mut self, commit: u64) -> Result<(), RaftError> {
        if commit <= self.hard_state.commit {
            return Ok(());
        }
        let mut hs = self.hard_state.clone();
        hs.commit = commit;
        self.set_hard_state(hs)
    }

    /// Records the membership after a conf change is applied.
    pub fn set_conf_state(&mut self, cs: ConfState) -> Result<(), RaftError> {
        self.meta.insert(CONF_STATE_KEY, encode(&cs)?)?;
        self.conf_state = cs;
        Ok(())
    }

    /// The current membership.
    pub fn conf_state(&self) -> &ConfState {
        &self.conf_state
    }

    /// The recorded hard state.
    pub fn hard_state(&self) -> &HardState {
        &self.hard_state
    }

    /// Replaces the log with a snapshot received from the leader: the log is
    /// dropped (everything in it is covered or superseded), the membership
    /// and commit index come from the snapshot.
    pub fn apply_snapshot(&mut self, snapshot: Snapshot) -> Result<(), RaftError> {
        let meta = snapshot.get_metadata();
        let (index, term) = (meta.index, meta.term);
        if index < self.truncated.0 {
            return Err(RaftError::Raft(raft::Error::Store(
                StorageError::SnapshotOutOfDate,
            )));
        }
        let keys: Vec<sled::IVec> = self.log.iter().keys().collect::<Result<_, _>>()?;
        let mut hs = self.hard_state.clone();
        hs.term = hs.term.max(term);
        hs.commit = hs.commit.max(index);
        let (snap_bytes, conf_bytes, hs_bytes) = (
            encode(&snapshot)?,
            encode(meta.get_conf_state())?,
            encode(&hs)?,
        );
        let truncated = truncated_bytes(index, term);
        // One transaction: a crash must leave either the old log or the
        // snapshot, never a log without entries its commit index points at.
        (&self.log, &self.meta, &self.snapshots)
            .transaction(|(log, m, snapshots)| {
                for k in &keys {
                    log.remove(k)?;
                }
                snapshots.insert(SNAPSHOT_KEY, snap_bytes.as_slice())?;
                m.insert(TRUNCATED_KEY, truncated.as_slice())?;
                m.insert(CONF_STATE_KEY, conf_bytes.as_slice())?;
                m.insert(HARD_STATE_KEY, hs_bytes.as_slice())?;
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| transaction_error("installing snapshot", e))?;
        self.truncated = (index, term);
        self.last_index = index;
        self.snapshot_at = (index, term);
        self.conf_state = meta.get_conf_state().clone();
        self.hard_state = hs;
        Ok(())
    }

    fn set_truncated(&mut self, index: u64, term: u64) -> Result<(), RaftError> {
        self.meta
            .insert(TRUNCATED_KEY, truncated_bytes(index, term))?;
        self.truncated = (index, term);
        Ok(())
    }

    /// Removes the entries before `index` (it becomes the first index). The
    /// caller only compacts behind a stored snapshot, so a follower that
    /// needs the removed entries gets the snapshot instead.
    pub fn compact(&mut self, index: u64) -> Result<(), RaftError> {
        if index <= self.truncated.0 + 1 {
            return Ok(());
        }
        if index > self.last_index + 1 {
            return Err(corrupt(
                "compact",
                format!("index {index} beyond last {}", self.last_index),
            ));
        }
        let term = self.term_of(index - 1)?;
        // The marker first: should only it survive a crash, the entries left
        // behind it are unreachable and the next compaction removes them.
        self.set_truncated(index - 1, term)?;
        let mut batch = sled::Batch::default();
        for item in self.log.range(..index.to_be_bytes()).keys() {
            batch.remove(item?);
        }
        self.log.apply_batch(batch)?;
        Ok(())
    }

    /// Stores a snapshot of the state machine taken at `index` (which must be
    /// applied, so it is in the log or is the current snapshot point).
    pub fn create_snapshot(
        &mut self,
        index: u64,
        conf_state: ConfState,
        data: Vec<u8>,
    ) -> Result<Snapshot, RaftError> {
        let term = self.term_of(index)?;
        let mut snap = Snapshot {
            data: data.into(),
            ..Snapshot::default()
        };
        let meta = snap.mut_metadata();
        meta.index = index;
        meta.term = term;
        meta.set_conf_state(conf_state);
        self.snapshots.insert(SNAPSHOT_KEY, encode(&snap)?)?;
        self.snapshot_at = (index, term);
        Ok(snap)
    }

    /// The stored snapshot, if any.
    pub fn stored_snapshot(&self) -> Result<Option<Snapshot>, RaftError> {
        match self.snapshots.get(SNAPSHOT_KEY)? {
            Some(b) => Ok(Some(
                Snapshot::parse_from_bytes(&b).map_err(|e| corrupt("snapshot", e))?,
            )),
            None => Ok(None),
        }
    }

    /// Whether raft-rs asked for a snapshot the stored one could not serve
    /// since the last call; the caller should create a fresh one.
    pub fn take_snapshot_request(&self) -> bool {
        self.snapshot_wanted.swap(false, Ordering::Relaxed)
    }

    /// Index of the stored snapshot (0 when none).
    pub fn snapshot_index(&self) -> u64 {
        self.snapshot_at.0
    }

    /// Makes every write so far durable (one fsync).
    pub fn flush(&self) -> Result<(), RaftError> {
        self.db.flush()?;
        Ok(())
    }

    fn first(&self) -> u64 {
        self.truncated.0 + 1
    }

    fn term_of(&self, idx: u64) -> Result<u64, RaftError> {
        if idx == self.truncated.0 {
            return Ok(self.truncated.1);
        }
        if idx == self.snapshot_at.0 && idx != 0 {
            return Ok(self.snapshot_at.1);
        }
        if idx < self.first() {
            return Err(RaftError::Raft(raft::Error::Store(StorageError::Compacted)));
        }
        if idx > self.last_index {
            return Err(RaftError::Raft(raft::Error::Store(
                StorageError::Unavailable,
            )));
        }
        match self.log.get(idx.to_be_bytes())? {
            Some(v) => decode_term(&v),
            None => Err(corrupt("log", format!("entry {idx} missing"))),
        }
    }
}

/// Whether a snapshot's membership includes `peer` (raft-rs refuses to
/// install a snapshot that does not).
fn knows(s: &Snapshot, peer: u64) -> bool {
    let cs = s.get_metadata().get_conf_state();
    [
        &cs.voters,
        &cs.learners,
        &cs.voters_outgoing,
        &cs.learners_next,
    ]
    .iter()
    .any(|ids| ids.contains(&peer))
}

impl Storage for SledStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState::new(
            self.hard_state.clone(),
            self.conf_state.clone(),
        ))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        let max_size = max_size.into().unwrap_or(u64::MAX);
        if low < self.first() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > self.last_index + 1 || low > high {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        let mut out = Vec::with_capacity((high - low).min(1024) as usize);
        let mut size = 0u64;
        for item in self.log.range(low.to_be_bytes()..high.to_be_bytes()) {
            let (_, v) = item.map_err(|e| store_err(e.into()))?;
            let e = decode_entry(&v).map_err(store_err)?;
            size += u64::from(e.compute_size());
            if !out.is_empty() && size > max_size {
                break;
            }
            out.push(e);
        }
        if out.first().is_some_and(|e| e.index != low) || out.is_empty() && low < high {
            return Err(store_err(corrupt("log", format!("entry {low} missing"))));
        }
        Ok(out)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        self.term_of(idx).map_err(|e| match e {
            RaftError::Raft(inner) => inner,
            other => store_err(other),
        })
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.first())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last_index)
    }

    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        match self.stored_snapshot().map_err(store_err)? {
            Some(s) if s.get_metadata().index >= request_index && knows(&s, to) => Ok(s),
            _ => {
                self.snapshot_wanted.store(true, Ordering::Relaxed);
                Err(raft::Error::Store(
                    StorageError::SnapshotTemporarilyUnavailable,
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            data: vec![index as u8; 10].into(),
            ..Entry::default()
        }
    }

    fn open() -> (tempfile::TempDir, sled::Db, SledStorage) {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = sled::open(dir.path()).expect("open sled");
        let s = SledStorage::open(&db).expect("open storage");
        (dir, db, s)
    }

    fn ctx() -> GetEntriesContext {
        GetEntriesContext::empty(false)
    }

    #[test]
    fn fresh_storage_is_empty_and_uninitialized() {
        let (_d, _db, s) = open();
        assert!(!s.is_initialized());
        assert_eq!(s.first_index().ok(), Some(1));
        assert_eq!(s.last_index().ok(), Some(0));
        assert_eq!(s.term(0).ok(), Some(0));
        let st = s.initial_state().expect("state");
        assert!(!st.initialized());
    }

    #[test]
    fn initialize_sets_voters_once() {
        let (_d, _db, mut s) = open();
        s.initialize(&[1, 2, 3]).expect("init");
        assert!(s.is_initialized());
        assert_eq!(
            s.initial_state().expect("state").conf_state.voters,
            vec![1, 2, 3]
        );
        assert!(matches!(
            s.initialize(&[1]),
            Err(RaftError::AlreadyInitialized)
        ));
    }

    #[test]
    fn entries_terms_and_bounds_follow_the_storage_contract() {
        let (_d, _db, mut s) = open();
        s.append(&[entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2)])
            .expect("append");
        assert_eq!(s.first_index().ok(), Some(1));
        assert_eq!(s.last_index().ok(), Some(4));
        assert_eq!(s.term(3).ok(), Some(2));
        assert_eq!(
            s.term(5).err(),
            Some(raft::Error::Store(StorageError::Unavailable))
        );
        let all = s.entries(1, 5, None, ctx()).expect("entries");
        assert_eq!(
            all.iter().map(|e| e.index).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        // max_size: at least one entry, then as many as fit.
        let one = s.entries(2, 5, 0, ctx()).expect("entries");
        assert_eq!(one.len(), 1);
        let size = u64::from(entry(1, 1).compute_size());
        let two = s.entries(1, 5, size * 2, ctx()).expect("entries");
        assert_eq!(two.len(), 2);
        assert_eq!(
            s.entries(1, 6, None, ctx()).err(),
            Some(raft::Error::Store(StorageError::Unavailable))
        );
    }

    #[test]
    fn append_truncates_a_conflicting_suffix() {
        let (_d, _db, mut s) = open();
        s.append(&[entry(1, 1), entry(2, 1), entry(3, 1), entry(4, 1)])
            .expect("append");
        s.append(&[entry(3, 2)]).expect("append");
        assert_eq!(s.last_index().ok(), Some(3));
        assert_eq!(s.term(3).ok(), Some(2));
        assert_eq!(
            s.term(4).err(),
            Some(raft::Error::Store(StorageError::Unavailable))
        );
        assert!(s.append(&[entry(9, 2)]).is_err(), "a gap is refused");
    }

    #[test]
    fn compaction_hides_old_entries_but_keeps_the_boundary_term() {
        let (_d, _db, mut s) = open();
        s.append(&(1..=10).map(|i| entry(i, i / 4 + 1)).collect::<Vec<_>>())
            .expect("append");
        s.compact(6).expect("compact");
        assert_eq!(s.first_index().ok(), Some(6));
        assert_eq!(s.term(5).ok(), Some(2));
        assert_eq!(
            s.term(4).err(),
            Some(raft::Error::Store(StorageError::Compacted))
        );
        assert_eq!(
            s.entries(4, 8, None, ctx()).err(),
            Some(raft::Error::Store(StorageError::Compacted))
        );
        assert_eq!(s.entries(6, 11, None, ctx()).expect("entries").len(), 5);
        // Compacting backwards is a no-op; beyond the log is refused.
        s.compact(3).expect("noop");
        assert_eq!(s.first_index().ok(), Some(6));
        assert!(s.compact(20).is_err());
    }

    #[test]
    fn snapshots_are_created_served_and_installed() {
        let (_d, _db, mut s) = open();
        s.initialize(&[1]).expect("init");
        s.append(&(1..=5).map(|i| entry(i, 1)).collect::<Vec<_>>())
            .expect("append");
        assert_eq!(
            s.snapshot(0, 2).err(),
            Some(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable
            ))
        );
        let cs = s.conf_state().clone();
        s.create_snapshot(4, cs, b"state@4".to_vec()).expect("snap");
        let got = s.snapshot(0, 1).expect("snapshot");
        assert_eq!(got.get_metadata().index, 4);
        assert_eq!(got.get_metadata().term, 1);
        assert_eq!(&got.data[..], b"state@4");
        assert_eq!(
            s.snapshot(5, 2).err(),
            Some(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable
            ))
        );

        // Another node installs it.
        let (_d2, _db2, mut other) = open();
        other.append(&[entry(1, 1)]).expect("append");
        other.apply_snapshot(got).expect("install");
        assert_eq!(other.first_index().ok(), Some(5));
        assert_eq!(other.last_index().ok(), Some(4));
        assert_eq!(other.term(4).ok(), Some(1));
        assert_eq!(other.hard_state().commit, 4);
        assert_eq!(other.conf_state().voters, vec![1]);
        other.append(&[entry(5, 2)]).expect("append after snapshot");
        assert_eq!(other.last_index().ok(), Some(5));
    }

    #[test]
    fn reopening_yields_the_same_contents() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let db = sled::open(dir.path()).expect("open");
            let mut s = SledStorage::open(&db).expect("storage");
            s.initialize(&[1, 2]).expect("init");
            s.append(&(1..=8).map(|i| entry(i, 3)).collect::<Vec<_>>())
                .expect("append");
            s.set_hard_state(HardState {
                term: 3,
                vote: 2,
                commit: 6,
                ..HardState::default()
            })
            .expect("hs");
            let cs = s.conf_state().clone();
            s.create_snapshot(6, cs, b"six".to_vec()).expect("snap");
            s.compact(4).expect("compact");
            s.flush().expect("flush");
        }
        let db = sled::open(dir.path()).expect("reopen");
        let s = SledStorage::open(&db).expect("storage");
        let st = s.initial_state().expect("state");
        assert_eq!(st.hard_state.term, 3);
        assert_eq!(st.hard_state.vote, 2);
        assert_eq!(st.hard_state.commit, 6);
        assert_eq!(st.conf_state.voters, vec![1, 2]);
        assert_eq!(s.first_index().ok(), Some(4));
        assert_eq!(s.last_index().ok(), Some(8));
        assert_eq!(s.term(3).ok(), Some(3));
        assert_eq!(s.snapshot_index(), 6);
        assert_eq!(s.entries(4, 9, None, ctx()).expect("entries").len(), 5);
    }

    #[test]
    fn a_snapshot_stored_beside_the_hard_state_moves_to_its_own_tree() {
        let dir = tempfile::tempdir().expect("temp dir");
        let snap = {
            let db = sled::open(dir.path()).expect("open");
            let mut s = SledStorage::open(&db).expect("storage");
            s.initialize(&[1]).expect("init");
            s.append(&(1..=3).map(|i| entry(i, 1)).collect::<Vec<_>>())
                .expect("append");
            let cs = s.conf_state().clone();
            let snap = s.create_snapshot(3, cs, b"three".to_vec()).expect("snap");
            // Where data directories written before the snapshot tree kept it.
            let bytes = db
                .open_tree(SNAPSHOT_TREE)
                .expect("tree")
                .remove(SNAPSHOT_KEY)
                .expect("remove")
                .expect("stored");
            db.open_tree(META_TREE)
                .expect("meta")
                .insert(SNAPSHOT_KEY, bytes)
                .expect("insert");
            s.flush().expect("flush");
            snap
        };
        let db = sled::open(dir.path()).expect("reopen");
        let s = SledStorage::open(&db).expect("storage");
        assert_eq!(s.snapshot_index(), 3);
        assert_eq!(s.stored_snapshot().expect("read"), Some(snap));
        let meta = db.open_tree(META_TREE).expect("meta");
        assert_eq!(meta.get(SNAPSHOT_KEY).expect("get"), None);
        assert!(meta.get(CONF_STATE_KEY).expect("get").is_some());
    }
}

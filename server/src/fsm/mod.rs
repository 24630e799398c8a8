//! The finite state machine: the only writer of the replicated state.
//!
//! Owns the [`Command`] enum (every change proposed through Raft), its
//! deterministic application onto the [`state`](crate::state) store
//! ([`Fsm`], which persists each command to sled and publishes the new
//! snapshot and its events), and Raft snapshots of the whole state. It does
//! not decide anything: timestamps, IDs and evaluations are chosen by the
//! proposer and carried in the command, so every server applies the same log
//! to the same bytes. It does not drive Raft either (see
//! [`raft`](crate::raft)): it is the [`StateMachine`] Raft applies to.

mod apply;
mod command;
mod deployments;

pub use apply::{ApplyError, JOB_TRACKED_VERSIONS, spec_changed};
pub use command::{AllocClientUpdate, AllocStop, Command, CommandResponse, ServerEntry};
#[cfg(any(test, feature = "testing"))]
pub use deployments::fixture as deployment_fixture;
pub(crate) use deployments::rfc3339;

use crate::raft::StateMachine;
use crate::state::{
    SnapshotData, StateError, StateEvent, StatePublisher, StateReader, StateSnapshot, Store, Table,
    Txn, channel,
};

/// The state machine over the state store: applies committed entries,
/// writes each one's changes to sled atomically, and publishes the new
/// snapshot to [`StateReader`]s.
#[derive(Debug)]
pub struct Fsm {
    state: StateSnapshot,
    store: Store,
    publisher: StatePublisher,
    /// The last index whose effects reached sled. Stops following
    /// `state.index` after a write failure: from then on nothing more is
    /// written, so the db stays a consistent prefix of the log and a
    /// restart re-applies the rest from Raft.
    durable_index: u64,
    persist_failed: bool,
}

impl Fsm {
    /// Loads the state from `db` and returns the FSM with the reader
    /// handle that follows it.
    ///
    /// Fails with [`StateError::IncompleteRestore`] when a snapshot restore
    /// was interrupted (clear the state with [`crate::state::clear`] and
    /// install the snapshot again).
    pub fn open(db: &sled::Db) -> Result<(Fsm, StateReader), StateError> {
        let store = Store::open(db)?;
        let state = store.load()?;
        let (publisher, reader) = channel(state.clone());
        tracing::info!(
            applied_index = state.index(),
            jobs = state.jobs.len(),
            allocs = state.allocs.len(),
            nodes = state.nodes.len(),
            "state loaded"
        );
        Ok((
            Fsm {
                durable_index: state.index(),
                state,
                store,
                publisher,
                persist_failed: false,
            },
            reader,
        ))
    }

    /// The current state (an O(1) clone).
    pub fn state(&self) -> StateSnapshot {
        self.state.clone()
    }

    /// Whether every applied command reached sled. `false` after a storage
    /// failure: the state in memory is still right, but this server should
    /// restart so Raft re-applies what the db lacks.
    pub fn is_persisting(&self) -> bool {
        !self.persist_failed
    }

    fn persist(&mut self, write: impl FnOnce(&Store, &StateSnapshot) -> Result<(), StateError>) {
        if self.persist_failed {
            return;
        }
        match write(&self.store, &self.state) {
            Ok(()) => self.durable_index = self.state.index(),
            Err(e) => {
                self.persist_failed = true;
                tracing::error!(
                    error = %e,
                    index = self.state.index(),
                    durable_index = self.durable_index,
                    "state write failed; no further writes until restart"
                );
            }
        }
    }

    fn apply_command(&mut self, index: u64, data: &[u8]) -> CommandResponse {
        let mut resp = CommandResponse {
            index,
            ..CommandResponse::default()
        };
        if index <= self.state.index() && self.state.index() > 0 {
            resp.error = Some(
                ApplyError::AlreadyApplied {
                    index,
                    applied: self.state.index(),
                }
                .to_string(),
            );
            return resp;
        }
        let cmd = Command::decode(data).map_err(|e| ApplyError::Decode(e.to_string()));
        if let Ok(Command::Restore { snapshot }) = &cmd {
            return self.apply_restore(index, snapshot, resp);
        }
        let outcome = cmd.and_then(|cmd| {
            let mut txn = Txn::new(self.state.clone(), index);
            let applied = apply::apply(&mut txn, cmd)?;
            Ok((txn, applied))
        });
        let events = match outcome {
            Ok((mut txn, applied)) => {
                txn.state.index = index;
                resp.job_version = applied.job_version;
                resp.error = applied.partial_error.map(|e| e.to_string());
                self.state = txn.state;
                let dirty = txn.dirty;
                self.persist(|store, state| store.commit(state, &dirty));
                applied.events
            }
            Err(e) => {
                tracing::debug!(index, error = %e, "command refused");
                resp.error = Some(e.to_string());
                self.state.index = index;
                self.persist(|store, _| store.commit_index(index));
                Vec::new()
            }
        };
        self.publisher.publish(
            self.state.clone(),
            events
                .into_iter()
                .map(|kind| StateEvent { index, kind })
                .collect(),
        );
        resp
    }

    /// Applies [`Command::Restore`]: the snapshot's tables replace the
    /// state's at `index` (every table's modify index moves to `index`, so
    /// blocking queries on any of them wake), keeping this cluster's server
    /// address book. A snapshot that does not decode changes nothing and is
    /// answered as a refusal.
    fn apply_restore(
        &mut self,
        index: u64,
        snapshot: &str,
        mut resp: CommandResponse,
    ) -> CommandResponse {
        let decoded = SnapshotData::decode(snapshot.as_bytes()).and_then(|d| d.into_state());
        let mut state = match decoded {
            Ok(state) => state,
            Err(e) => {
                let err = ApplyError::BadRestore(e.to_string());
                tracing::warn!(index, error = %err, "restore refused");
                resp.error = Some(err.to_string());
                self.state.index = index;
                self.persist(|store, _| store.commit_index(index));
                self.publisher.publish(self.state.clone(), Vec::new());
                return resp;
            }
        };
        let restored_from = state.index;
        state.index = index;
        for table in Table::ALL {
            state.table_index.insert(table, index);
        }
        state.servers = self.state.servers.clone();
        self.state = state;
        if !self.persist_failed {
            match self.store.replace_all(&self.state) {
                Ok(()) => self.durable_index = index,
                Err(e) => {
                    // As for a failed command write: the memory state is
                    // right, the db must be rebuilt from Raft after a restart.
                    self.persist_failed = true;
                    tracing::error!(index, error = %e, "writing the restored state failed");
                }
            }
        }
        self.publisher.publish(self.state.clone(), Vec::new());
        tracing::info!(
            index,
            restored_from,
            jobs = self.state.jobs.len(),
            allocs = self.state.allocs.len(),
            nodes = self.state.nodes.len(),
            "state replaced by an operator snapshot"
        );
        resp
    }

    /// Replaces the state with a snapshot's.
    pub fn restore_snapshot(&mut self, index: u64, data: &[u8]) -> Result<(), StateError> {
        let decoded = SnapshotData::decode(data)?;
        if decoded.index != index {
            return Err(StateError::SnapshotIndex {
                expected: index,
                found: decoded.index,
            });
        }
        let state = decoded.into_state()?;
        if let Err(e) = self.store.replace_all(&state) {
            // The db now holds part of the snapshot behind its marker: stop
            // writing so the next open reports it instead of mixing in more.
            self.persist_failed = true;
            return Err(e);
        }
        self.state = state;
        self.durable_index = index;
        self.persist_failed = false;
        self.publisher.publish(self.state.clone(), Vec::new());
        tracing::info!(index, "state restored from a snapshot");
        Ok(())
    }
}

impl StateMachine for Fsm {
    fn apply(&mut self, index: u64, data: &[u8]) -> CommandResponse {
        self.apply_command(index, data)
    }

    fn applied_index(&self) -> u64 {
        self.durable_index
    }

    /// # Panics
    /// Never in practice: the state holds only values that encode as JSON
    /// (string keys, finite numbers come from decoded JSON or the proposer).
    fn snapshot(&self) -> Vec<u8> {
        self.state
            .encode_snapshot()
            .expect("the state always encodes as JSON")
    }

    fn restore(&mut self, index: u64, data: &[u8]) -> Result<(), String> {
        self.restore_snapshot(index, data)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests;

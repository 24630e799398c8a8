//! A [`Cluster`] for one process with nothing to replicate: commands are
//! encoded as for a Raft entry and applied straight to the state machine,
//! in order, under a lock. Black-box tests and in-process benchmarks run the
//! real broker, workers and applier against the real FSM through it; a
//! server uses the Raft-backed cluster instead.

use std::sync::Mutex;

use futures::future::BoxFuture;

use super::broker::Clock;
use super::{Cluster, ClusterError};
use crate::fsm::{Command, CommandResponse};
use crate::raft::StateMachine;
use crate::state::StateReader;

/// A state machine applied directly, one command at a time.
pub struct LocalCluster {
    machine: Mutex<Box<dyn StateMachine>>,
    reader: StateReader,
    clock: Clock,
}

impl std::fmt::Debug for LocalCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCluster").finish_non_exhaustive()
    }
}

impl LocalCluster {
    /// A cluster over `machine`, whose published state `reader` follows.
    pub fn new(machine: Box<dyn StateMachine>, reader: StateReader, clock: Clock) -> LocalCluster {
        LocalCluster {
            machine: Mutex::new(machine),
            reader,
            clock,
        }
    }

    /// Applies a command now (the synchronous core of [`Cluster::apply`]).
    pub fn apply_now(&self, cmd: &Command) -> Result<CommandResponse, ClusterError> {
        let data = cmd.encode();
        let mut machine = self
            .machine
            .lock()
            .map_err(|_| ClusterError::Unavailable("state machine panicked".to_owned()))?;
        let index = machine.applied_index() + 1;
        Ok(machine.apply(index, &data))
    }
}

impl Cluster for LocalCluster {
    fn state(&self) -> StateReader {
        self.reader.clone()
    }

    fn apply(&self, cmd: Command) -> BoxFuture<'_, Result<CommandResponse, ClusterError>> {
        Box::pin(async move { self.apply_now(&cmd) })
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }
}

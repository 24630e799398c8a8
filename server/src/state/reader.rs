//! How readers get snapshots and hear about changes: the FSM publishes a new
//! [`StateSnapshot`] and the [`StateEvent`]s of each applied command; readers
//! take the latest snapshot, wait for an index, or subscribe to events.

use std::sync::Arc;
use std::time::Duration;

use sched_core::model::{Allocation, Deployment, Evaluation, Job, Node, NodeId, Variable};
use tokio::sync::{broadcast, watch};

use super::{StateSnapshot, Table};

/// How many events a slow subscriber may fall behind before it is told it
/// lagged (and must rebuild from a snapshot).
const EVENT_BUFFER: usize = 16 * 1024;

/// One change an applied command made.
#[derive(Debug, Clone)]
pub struct StateEvent {
    /// Raft index of the command.
    pub index: u64,
    /// What changed.
    pub kind: StateEventKind,
}

/// What an applied command changed, one object per event.
#[derive(Debug, Clone)]
pub enum StateEventKind {
    /// A job was registered or updated (stopped jobs too).
    Job(Arc<Job>),
    /// A job was purged.
    JobPurged {
        /// Namespace.
        namespace: String,
        /// Job ID.
        job_id: String,
    },
    /// An evaluation was created or updated.
    Eval(Arc<Evaluation>),
    /// An allocation was created or updated.
    Alloc(Arc<Allocation>),
    /// A node was registered or updated.
    Node(Arc<Node>),
    /// A node was removed.
    NodeDeregistered(NodeId),
    /// A deployment was created or updated.
    Deployment(Arc<Deployment>),
    /// A variable was written.
    Variable(Arc<Variable>),
    /// A variable was deleted.
    VariableDeleted {
        /// Namespace.
        namespace: String,
        /// Path.
        path: String,
    },
}

/// The FSM's side: publishes each applied command's snapshot and events.
#[derive(Debug)]
pub struct StatePublisher {
    snapshot: watch::Sender<StateSnapshot>,
    events: broadcast::Sender<Arc<StateEvent>>,
}

/// The readers' side; cheap to clone.
#[derive(Debug, Clone)]
pub struct StateReader {
    snapshot: watch::Receiver<StateSnapshot>,
    events: broadcast::Sender<Arc<StateEvent>>,
}

/// A publisher and the reader handle that follows it, starting at `initial`.
pub fn channel(initial: StateSnapshot) -> (StatePublisher, StateReader) {
    let (tx, rx) = watch::channel(initial);
    let (events, _) = broadcast::channel(EVENT_BUFFER);
    (
        StatePublisher {
            snapshot: tx,
            events: events.clone(),
        },
        StateReader {
            snapshot: rx,
            events,
        },
    )
}

impl StatePublisher {
    /// Publishes the state after a command, then its events.
    pub fn publish(&self, snapshot: StateSnapshot, events: Vec<StateEvent>) {
        self.snapshot.send_replace(snapshot);
        for e in events {
            // No subscriber is not an error: nobody is listening yet.
            let _ = self.events.send(Arc::new(e));
        }
    }
}

impl StateReader {
    /// The latest applied state.
    pub fn snapshot(&self) -> StateSnapshot {
        self.snapshot.borrow().clone()
    }

    /// Waits until the state has applied `index`, or `timeout` passes
    /// (then answers with the latest state: callers check its index).
    pub async fn wait_for_index(&self, index: u64, timeout: Duration) -> StateSnapshot {
        let mut rx = self.snapshot.clone();
        let wait = rx.wait_for(|s| s.index() >= index);
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(s)) => s.clone(),
            _ => self.snapshot(),
        }
    }

    /// Waits until one of `tables` changes past `index`, or `timeout`
    /// passes: the blocking query.
    pub async fn wait_for_change(
        &self,
        tables: &[Table],
        index: u64,
        timeout: Duration,
    ) -> StateSnapshot {
        let mut rx = self.snapshot.clone();
        let wait = rx.wait_for(|s| tables.iter().any(|t| s.table_index(*t) > index));
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(s)) => s.clone(),
            _ => self.snapshot(),
        }
    }

    /// Events of commands applied from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StateEvent>> {
        self.events.subscribe()
    }
}

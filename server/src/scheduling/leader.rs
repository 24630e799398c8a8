//! The leader task: while this server leads, it feeds the eval broker and
//! the blocked-evals tracker from the state's events, turns capacity changes
//! into unblocks, and writes the evals the broker and tracker give up on
//! (failed past the delivery limit, superseded duplicates).
//!
//! On becoming leader it enables both from a snapshot (subscribing first, so
//! no change falls between the snapshot and the events); on losing
//! leadership it disables them. When it falls behind the event stream it
//! re-reads a snapshot and releases every blocked eval, because a capacity
//! change may have been missed.

use std::sync::Arc;
use std::time::Duration;

use sched_core::model::{EvalId, EvalStatus, Evaluation};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use super::Cluster;
use super::blocked::BlockedEvals;
use super::broker::EvalBroker;
use super::capacity::CapacityTracker;
use crate::fsm::Command;
use crate::state::{StateEvent, StateEventKind, StateReader, StateSnapshot};

/// How often delayed evals and nack timeouts are looked at, and failed or
/// superseded evals written.
const TICK: Duration = Duration::from_millis(100);
/// How long a failed eval's follow-up waits before it runs (Nomad's base).
const FAILED_FOLLOW_UP_DELAY: Duration = Duration::from_secs(60);
/// At most this many unblocked evals wait for the broker to take them.
const MAX_RETRY: usize = 100_000;

/// Runs until `shutdown` turns `true`, leading whenever `leader` is `true`.
pub async fn run_leader(
    cluster: Arc<dyn Cluster>,
    broker: Arc<EvalBroker>,
    blocked: Arc<BlockedEvals>,
    capacity: Arc<CapacityTracker>,
    mut leader: watch::Receiver<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            break;
        }
        if !*leader.borrow_and_update() {
            tokio::select! {
                r = leader.changed() => if r.is_err() { break },
                _ = shutdown.changed() => {},
            }
            continue;
        }
        let mut lead = Leading {
            cluster: cluster.clone(),
            broker: broker.clone(),
            blocked: blocked.clone(),
            capacity: capacity.clone(),
            retry: Vec::new(),
        };
        lead.run(&mut leader, &mut shutdown).await;
        broker.disable();
        blocked.disable();
    }
}

struct Leading {
    cluster: Arc<dyn Cluster>,
    broker: Arc<EvalBroker>,
    blocked: Arc<BlockedEvals>,
    capacity: Arc<CapacityTracker>,
    /// Unblocked evals the broker still held a delivery of; offered again
    /// each tick until it takes them or the state shows them finished.
    retry: Vec<Evaluation>,
}

impl Leading {
    async fn run(
        &mut self,
        leader: &mut watch::Receiver<bool>,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        let reader = self.cluster.state();
        let mut events = reader.subscribe();
        let snap = reader.snapshot();
        self.capacity.rebuild(&snap);
        self.broker.enable(&snap);
        self.blocked.enable(&snap);
        let mut base = snap.index();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                r = leader.changed() => {
                    if r.is_err() || !*leader.borrow() {
                        return;
                    }
                }
                _ = tick.tick() => self.tick().await,
                ev = events.recv() => match ev {
                    Ok(ev) => {
                        if ev.index > base {
                            self.on_event(&ev, &reader);
                        }
                    }
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "fell behind the state's events; rescanning the state");
                        events = reader.subscribe();
                        let snap = reader.snapshot();
                        base = snap.index();
                        self.capacity.rebuild(&snap);
                        self.rescan(&snap);
                    }
                    Err(RecvError::Closed) => return,
                },
            }
        }
    }

    fn offer(&mut self, evals: Vec<Evaluation>) {
        for e in evals {
            if !self.broker.enqueue(e.clone()) && self.retry.len() < MAX_RETRY {
                self.retry.push(e);
            }
        }
    }

    fn on_event(&mut self, ev: &StateEvent, reader: &StateReader) {
        match &ev.kind {
            StateEventKind::Alloc(a) => self.capacity.alloc_changed(a),
            StateEventKind::Node(n) => self.capacity.node_changed(n),
            StateEventKind::NodeDeregistered(id) => self.capacity.node_removed(id),
            _ => {}
        }
        match &ev.kind {
            StateEventKind::Eval(e) => match e.status {
                EvalStatus::Pending => {
                    self.broker.enqueue(e.as_ref().clone());
                }
                EvalStatus::Blocked => {
                    if let Some(now) = self.blocked.block(e.as_ref().clone()) {
                        self.offer(vec![now]);
                    }
                }
                _ => self.blocked.untrack(&e.id, &e.namespace, &e.job_id),
            },
            StateEventKind::Alloc(a) if a.is_terminal() => {
                if let Some(node) = reader.snapshot().node(&a.node_id) {
                    let freed = self.blocked.unblock(&node.computed_class, ev.index);
                    self.offer(freed);
                }
            }
            StateEventKind::Node(n) if n.is_schedulable() => {
                let freed = self.blocked.unblock(&n.computed_class, ev.index);
                self.offer(freed);
            }
            _ => {}
        }
    }

    /// Catches up after missed events: every pending eval to the broker
    /// (it drops those it holds), every blocked one tracked, then all of
    /// them released since a capacity change may have been missed.
    fn rescan(&mut self, snap: &StateSnapshot) {
        for e in snap.evals("") {
            match e.status {
                EvalStatus::Pending => {
                    self.broker.enqueue(e.as_ref().clone());
                }
                EvalStatus::Blocked => {
                    let _ = self.blocked.block(e.as_ref().clone());
                }
                _ => {}
            }
        }
        let all = self.blocked.unblock_all(snap.index());
        self.offer(all);
    }

    async fn tick(&mut self) {
        self.broker.tick();
        if !self.retry.is_empty() {
            let snap = self.cluster.state().snapshot();
            let retry = std::mem::take(&mut self.retry);
            let live: Vec<Evaluation> = retry
                .into_iter()
                .filter(|e| snap.eval(&e.id).is_some_and(|s| !s.status.is_terminal()))
                .collect();
            self.offer(live);
        }
        let now = self.cluster.now();
        let mut writes = Vec::new();
        for e in self.broker.take_failed() {
            let follow = sched_scheduler::submit::followup_eval(
                &e,
                EvalId::generate(),
                now.saturating_add(
                    i64::try_from(FAILED_FOLLOW_UP_DELAY.as_nanos()).unwrap_or(i64::MAX),
                ),
                now,
            );
            let mut failed = e;
            failed.status = EvalStatus::Failed;
            failed.status_description = "evaluation reached its delivery limit".to_owned();
            failed.next_eval = Some(follow.id.clone());
            failed.modify_time = now;
            writes.push(failed);
            writes.push(follow);
        }
        for mut e in self
            .broker
            .take_cancelable()
            .into_iter()
            .chain(self.blocked.take_duplicates())
        {
            e.status = EvalStatus::Canceled;
            e.status_description = "superseded by a newer evaluation of the job".to_owned();
            e.modify_time = now;
            writes.push(e);
        }
        if writes.is_empty() {
            return;
        }
        let count = writes.len();
        match self
            .cluster
            .apply(Command::EvalUpsert { evals: writes })
            .await
        {
            Ok(resp) if resp.error.is_none() => {
                tracing::debug!(count, index = resp.index, "wrote failed and canceled evals");
            }
            Ok(resp) => tracing::warn!(count, error = ?resp.error, "state refused eval updates"),
            Err(e) => tracing::warn!(count, error = %e, "writing failed and canceled evals failed"),
        }
    }
}

//! Free capacity per node, kept up to date from the state's events, so a
//! worker hands the scheduler a ready [`CapacityIndex`] instead of the
//! scheduler summing every allocation of every node for each evaluation
//! (which grows with the cluster's allocations, not with the eval's work).
//!
//! The index is advisory, as the scheduler documents: it may run a little
//! ahead of or behind the snapshot an eval is scheduled on, and every
//! candidate it offers is re-checked against the snapshot by the scheduler
//! and against the latest state by the plan applier. A stale entry costs a
//! skipped candidate, never an overcommit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use sched_core::model::{AllocId, Allocation, Deployment, Job, Node, NodeId};
use sched_scheduler::State;
use sched_scheduler::rank::capacity_index::CapacityIndex;
use sched_scheduler::usage::{Capacity, Usage};

use crate::state::StateSnapshot;

#[derive(Debug, Default, Clone, Copy)]
struct NodeUsage {
    /// Total (cpu, memory) when the node takes new work; `None` otherwise.
    total: Option<(i64, i64)>,
    used: (i64, i64),
    live: usize,
}

#[derive(Debug, Default)]
struct Inner {
    index: CapacityIndex,
    nodes: HashMap<NodeId, NodeUsage>,
    /// Live allocations: their node and (cpu, memory).
    live: HashMap<AllocId, (NodeId, i64, i64)>,
    published: Option<Arc<CapacityIndex>>,
}

impl Inner {
    fn reindex(&mut self, id: &NodeId) {
        self.published = None;
        match self.nodes.get(id).copied() {
            Some(NodeUsage {
                total: Some(total),
                used,
                live,
            }) => self
                .index
                .update(id, (total.0 - used.0, total.1 - used.1), total, live == 0),
            _ => self.index.remove(id),
        }
    }

    fn node(&mut self, node: &Node) {
        let cap = Capacity::of(node);
        let entry = self.nodes.entry(node.id.clone()).or_default();
        entry.total = node.is_schedulable().then_some((cap.cpu, cap.memory_mb));
        self.reindex(&node.id);
    }

    fn alloc(&mut self, a: &Allocation) {
        let live = !a.is_terminal();
        match (live, self.live.contains_key(&a.id)) {
            (true, false) => {
                let u = Usage::of([a]);
                self.live
                    .insert(a.id.clone(), (a.node_id.clone(), u.cpu, u.memory_mb));
                let n = self.nodes.entry(a.node_id.clone()).or_default();
                n.used = (n.used.0 + u.cpu, n.used.1 + u.memory_mb);
                n.live += 1;
                self.reindex(&a.node_id);
            }
            (false, true) => {
                if let Some((node, cpu, mem)) = self.live.remove(&a.id) {
                    if let Some(n) = self.nodes.get_mut(&node) {
                        n.used = (n.used.0 - cpu, n.used.1 - mem);
                        n.live = n.live.saturating_sub(1);
                    }
                    self.reindex(&node);
                }
            }
            _ => {}
        }
    }
}

/// The tracker; share it behind an `Arc`.
#[derive(Debug, Default)]
pub struct CapacityTracker {
    inner: Mutex<Inner>,
}

impl CapacityTracker {
    /// An empty tracker.
    pub fn new() -> CapacityTracker {
        CapacityTracker::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts over from a snapshot.
    pub fn rebuild(&self, state: &StateSnapshot) {
        let mut fresh = Inner::default();
        for n in state.nodes("") {
            fresh.node(&n);
        }
        for a in state.allocs("") {
            fresh.alloc(&a);
        }
        *self.lock() = fresh;
    }

    /// A node was registered or changed.
    pub fn node_changed(&self, node: &Node) {
        self.lock().node(node);
    }

    /// A node was removed.
    pub fn node_removed(&self, id: &NodeId) {
        let mut inner = self.lock();
        inner.nodes.remove(id);
        inner.reindex(id);
    }

    /// An allocation was created or changed.
    pub fn alloc_changed(&self, alloc: &Allocation) {
        self.lock().alloc(alloc);
    }

    /// The index as of the events seen so far (copied once per change
    /// burst, shared until the next change).
    pub fn current(&self) -> Arc<CapacityIndex> {
        let mut inner = self.lock();
        if let Some(p) = &inner.published {
            return p.clone();
        }
        let p = Arc::new(inner.index.clone());
        inner.published = Some(p.clone());
        p
    }
}

/// A snapshot with a capacity index beside it: the [`State`] workers give
/// the scheduler.
#[derive(Debug, Clone)]
pub struct IndexedSnapshot {
    /// The snapshot.
    pub snapshot: StateSnapshot,
    /// The advisory capacity index.
    pub capacity: Arc<CapacityIndex>,
}

impl State for IndexedSnapshot {
    fn nodes(&self) -> Vec<&Node> {
        State::nodes(&self.snapshot)
    }
    fn node(&self, id: &NodeId) -> Option<&Node> {
        State::node(&self.snapshot, id)
    }
    fn allocs_by_node(&self, id: &NodeId) -> Vec<&Allocation> {
        State::allocs_by_node(&self.snapshot, id)
    }
    fn allocs_by_job(&self, namespace: &str, job_id: &str) -> Vec<&Allocation> {
        State::allocs_by_job(&self.snapshot, namespace, job_id)
    }
    fn job(&self, namespace: &str, id: &str) -> Option<&Job> {
        State::job(&self.snapshot, namespace, id)
    }
    fn latest_deployment(&self, namespace: &str, job_id: &str) -> Option<&Deployment> {
        State::latest_deployment(&self.snapshot, namespace, job_id)
    }
    fn index(&self) -> u64 {
        State::index(&self.snapshot)
    }
    fn capacity_index(&self) -> Option<&CapacityIndex> {
        Some(&self.capacity)
    }
}

#[cfg(test)]
mod tests {
    use sched_core::model::{ClientStatus, NodeStatus};
    use sched_scheduler::mock;

    use super::*;

    fn alloc(n: u128, node: &Node, cpu: i64, mem: i64) -> Allocation {
        let job = mock::service_job("web", 1, cpu, mem);
        let mut a = mock::alloc(&job, node, 0);
        a.id = AllocId::from_u128(n);
        a
    }

    fn fitting(t: &CapacityTracker, cpu: i64, mem: i64) -> Vec<NodeId> {
        t.current().fitting(cpu, mem).cloned().collect()
    }

    #[test]
    fn follows_allocations_as_they_start_and_stop() {
        let t = CapacityTracker::new();
        let (a, b) = (mock::node(1), mock::node(2));
        t.node_changed(&a);
        t.node_changed(&b);
        assert!(
            fitting(&t, 100, 100).is_empty(),
            "empty nodes are not offered"
        );
        let mut x = alloc(1, &a, 3000, 1000);
        t.alloc_changed(&x);
        t.alloc_changed(&x);
        assert_eq!(fitting(&t, 1000, 100), vec![a.id.clone()], "counted once");
        assert!(fitting(&t, 1001, 100).is_empty());
        x.client_status = ClientStatus::Complete;
        t.alloc_changed(&x);
        assert!(fitting(&t, 100, 100).is_empty(), "the node is empty again");
    }

    #[test]
    fn nodes_that_take_no_work_are_not_offered_and_rebuild_matches_events() {
        let t = CapacityTracker::new();
        let mut a = mock::node(1);
        t.node_changed(&a);
        t.alloc_changed(&alloc(1, &a, 1000, 1000));
        assert_eq!(fitting(&t, 100, 100).len(), 1);
        a.status = NodeStatus::Down;
        t.node_changed(&a);
        assert!(fitting(&t, 100, 100).is_empty());
        t.node_removed(&a.id);
        assert!(fitting(&t, 100, 100).is_empty());

        let b = mock::node(2);
        let running = alloc(2, &b, 500, 500);
        let mut s = StateSnapshot::default();
        s.nodes.insert(b.id.clone(), Arc::new(b.clone()));
        s.allocs
            .insert(running.id.clone(), Arc::new(running.clone()));
        let mut on_b = imbl::OrdMap::new();
        on_b.insert(running.id.clone(), Arc::new(running.clone()));
        s.allocs_by_node.insert(b.id.clone(), on_b);
        t.rebuild(&s);
        assert_eq!(fitting(&t, 3500, 100), vec![b.id.clone()]);
        assert!(fitting(&t, 3501, 100).is_empty());
    }
}

//! An index of partly filled nodes by free capacity, for sched's candidate
//! selection: instead of a random sample, the stack asks for nodes whose
//! free CPU is just enough for the ask (ascending), which finds a
//! near-best fit in O(log N) per placement. Empty nodes are not indexed;
//! when no partly filled node fits, the stack falls back to Nomad's
//! shuffled scan.
//!
//! The index is advisory: every candidate is re-checked against the
//! proposed allocations by the stack, so a stale entry costs a skip, never
//! an overcommit. Stores keep it up to date with [`CapacityIndex::update`].

use std::collections::{BTreeSet, HashMap};

use sched_core::model::NodeId;

/// Partly filled nodes ordered by free CPU, then free memory.
#[derive(Debug, Clone, Default)]
pub struct CapacityIndex {
    by_free: BTreeSet<(i64, i64, NodeId)>,
    entries: HashMap<NodeId, (i64, i64)>,
}

impl CapacityIndex {
    /// An empty index.
    pub fn new() -> CapacityIndex {
        CapacityIndex::default()
    }

    /// Records a node's free CPU and memory; a node with nothing placed
    /// (`empty`) or nothing left is removed.
    pub fn update(&mut self, node: &NodeId, free_cpu: i64, free_mem: i64, empty: bool) {
        self.remove(node);
        if empty || free_cpu <= 0 || free_mem <= 0 {
            return;
        }
        self.by_free.insert((free_cpu, free_mem, node.clone()));
        self.entries.insert(node.clone(), (free_cpu, free_mem));
    }

    /// Forgets a node.
    pub fn remove(&mut self, node: &NodeId) {
        if let Some((c, m)) = self.entries.remove(node) {
            self.by_free.remove(&(c, m, node.clone()));
        }
    }

    /// How many nodes are indexed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no node is indexed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Nodes with at least `cpu` free CPU and `mem` free memory, tightest
    /// CPU first.
    pub fn fitting(&self, cpu: i64, mem: i64) -> impl Iterator<Item = &NodeId> + '_ {
        self.by_free
            .range((cpu, i64::MIN, NodeId::default())..)
            .filter(move |(_, m, _)| *m >= mem)
            .map(|(_, _, id)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tightest_fit_first() {
        let mut idx = CapacityIndex::new();
        let (a, b, c) = (
            NodeId::from_u128(1),
            NodeId::from_u128(2),
            NodeId::from_u128(3),
        );
        idx.update(&a, 3000, 6000, false);
        idx.update(&b, 500, 6000, false);
        idx.update(&c, 800, 100, false);
        let got: Vec<&NodeId> = idx.fitting(400, 512).collect();
        assert_eq!(got, vec![&b, &a]);
        idx.update(&b, 4000, 8192, true);
        assert_eq!(idx.fitting(400, 512).collect::<Vec<_>>(), vec![&a]);
        assert_eq!(idx.len(), 2);
        idx.remove(&a);
        assert_eq!(idx.fitting(0, 0).collect::<Vec<_>>(), vec![&c]);
    }
}

//! An index of partly filled nodes by free capacity, for sched's candidate
//! selection: instead of a random sample, the stack asks for nodes whose
//! free CPU (or free memory, for asks that weigh more in memory) is just
//! enough for the ask, ascending, which finds a near-best fit in O(log N)
//! per placement. Empty nodes are not offered;
//! when no partly filled node fits, the stack falls back to Nomad's
//! shuffled scan.
//!
//! The index is advisory: every candidate is re-checked against the
//! proposed allocations by the stack, so a stale entry costs a skip, never
//! an overcommit. Stores keep it up to date with [`CapacityIndex::update`].
//!
//! Its sets and maps are persistent (`imbl`): a server publishes a copy to
//! its workers after every change burst, and a copy must not cost a clone
//! of every node ID.

use imbl::{HashMap, OrdSet};

use sched_core::model::NodeId;

/// Partly filled nodes ordered by free CPU and, separately, by free memory.
#[derive(Debug, Clone, Default)]
pub struct CapacityIndex {
    by_cpu: OrdSet<(i64, i64, NodeId)>,
    by_mem: OrdSet<(i64, i64, NodeId)>,
    entries: HashMap<NodeId, (i64, i64)>,
    totals: HashMap<NodeId, (i64, i64)>,
    sum_cpu: i64,
    sum_mem: i64,
}

impl CapacityIndex {
    /// An empty index.
    pub fn new() -> CapacityIndex {
        CapacityIndex::default()
    }

    /// Records a node's free and total CPU and memory; a node with nothing
    /// placed (`empty`) or nothing left is not offered as a candidate.
    pub fn update(&mut self, node: &NodeId, free: (i64, i64), total: (i64, i64), empty: bool) {
        self.remove(node);
        self.sum_cpu += total.0;
        self.sum_mem += total.1;
        self.totals.insert(node.clone(), total);
        let (free_cpu, free_mem) = free;
        if empty || free_cpu <= 0 || free_mem <= 0 {
            return;
        }
        self.by_cpu.insert((free_cpu, free_mem, node.clone()));
        self.by_mem.insert((free_mem, free_cpu, node.clone()));
        self.entries.insert(node.clone(), (free_cpu, free_mem));
    }

    /// Forgets a node.
    pub fn remove(&mut self, node: &NodeId) {
        if let Some((c, m)) = self.totals.remove(node) {
            self.sum_cpu -= c;
            self.sum_mem -= m;
        }
        if let Some((c, m)) = self.entries.remove(node) {
            self.by_cpu.remove(&(c, m, node.clone()));
            self.by_mem.remove(&(m, c, node.clone()));
        }
    }

    /// How many nodes are offered as candidates.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no node is offered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Nodes with at least `cpu` free CPU and `mem` free memory, tightest
    /// first in the dimension the ask weighs more in (relative to the
    /// cluster's total CPU and memory).
    pub fn fitting(&self, cpu: i64, mem: i64) -> Box<dyn Iterator<Item = &NodeId> + '_> {
        let cpu_heavy =
            (cpu as i128) * (self.sum_mem as i128) >= (mem as i128) * (self.sum_cpu as i128);
        if cpu_heavy {
            Box::new(
                self.by_cpu
                    .range((cpu, i64::MIN, NodeId::default())..)
                    .filter(move |(_, m, _)| *m >= mem)
                    .map(|(_, _, id)| id),
            )
        } else {
            Box::new(
                self.by_mem
                    .range((mem, i64::MIN, NodeId::default())..)
                    .filter(move |(_, c, _)| *c >= cpu)
                    .map(|(_, _, id)| id),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: (i64, i64) = (4000, 8192);

    #[test]
    fn tightest_fit_first() {
        let mut idx = CapacityIndex::new();
        let (a, b, c) = (
            NodeId::from_u128(1),
            NodeId::from_u128(2),
            NodeId::from_u128(3),
        );
        idx.update(&a, (3000, 6000), T, false);
        idx.update(&b, (500, 6000), T, false);
        idx.update(&c, (800, 100), T, false);
        let got: Vec<&NodeId> = idx.fitting(400, 512).collect();
        assert_eq!(got, vec![&b, &a]);
        idx.update(&b, T, T, true);
        assert_eq!(idx.fitting(400, 512).collect::<Vec<_>>(), vec![&a]);
        assert_eq!(idx.len(), 2);
        idx.remove(&a);
        assert_eq!(idx.fitting(0, 0).collect::<Vec<_>>(), vec![&c]);
    }

    #[test]
    fn memory_heavy_asks_order_by_free_memory() {
        let mut idx = CapacityIndex::new();
        let (a, b) = (NodeId::from_u128(1), NodeId::from_u128(2));
        idx.update(&a, (500, 7000), T, false);
        idx.update(&b, (3000, 2100), T, false);
        // 100 MHz / 2048 MB weighs more in memory: b is the tighter fit.
        assert_eq!(idx.fitting(100, 2048).collect::<Vec<_>>(), vec![&b, &a]);
        // 400 MHz / 128 MB weighs more in CPU: a is the tighter fit.
        assert_eq!(idx.fitting(400, 128).collect::<Vec<_>>(), vec![&a, &b]);
    }
}

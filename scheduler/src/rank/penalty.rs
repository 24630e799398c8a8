//! The reschedule penalty: when replacing a failed allocation, the nodes it
//! (and its predecessors) failed on score -1.

use std::collections::HashSet;

use sched_core::model::NodeId;

/// The penalty score, if the node is a penalty node.
pub fn score(penalty_nodes: &HashSet<NodeId>, node: &NodeId) -> Option<f64> {
    penalty_nodes.contains(node).then_some(-1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_penalty_nodes_score() {
        let set: HashSet<NodeId> = [NodeId::from_u128(1)].into();
        assert_eq!(score(&set, &NodeId::from_u128(1)), Some(-1.0));
        assert_eq!(score(&set, &NodeId::from_u128(2)), None);
    }
}

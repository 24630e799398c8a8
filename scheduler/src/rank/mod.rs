//! Ranking: scores for feasible nodes, one file per scorer, and how the
//! candidate set is limited and the best node chosen.
//!
//! Each scorer appends to a [`RankedNode`]'s scores only when it applies
//! (Nomad's convention); [`normalize`] averages what was appended. The
//! order in which scorers run is the stack's ([`crate::stack`]).

pub mod affinity;
pub mod anti_affinity;
pub mod binpack;
pub mod capacity_index;
pub mod limit;
pub mod penalty;
pub mod preemption;
pub mod spread;

use sched_core::model::AllocatedPortMapping;

/// A feasible node with the scores collected for it.
#[derive(Debug, Clone, PartialEq)]
pub struct RankedNode {
    /// Index of the node in the candidate list.
    pub index: usize,
    /// Scores appended by the scorers that apply.
    pub scores: Vec<f64>,
    /// The average of `scores`.
    pub final_score: f64,
    /// Ports assigned for the placement.
    pub ports: Vec<AllocatedPortMapping>,
}

/// Averages the scores into the final score (Nomad's score normalisation).
pub fn normalize(node: &mut RankedNode) {
    if !node.scores.is_empty() {
        node.final_score = node.scores.iter().sum::<f64>() / node.scores.len() as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_averages_applied_scorers() {
        let mut n = RankedNode {
            index: 0,
            scores: vec![0.5, -0.5, 1.0],
            final_score: 0.0,
            ports: vec![],
        };
        normalize(&mut n);
        assert!((n.final_score - 1.0 / 3.0).abs() < 1e-12);
        let mut empty = RankedNode {
            index: 0,
            scores: vec![],
            final_score: 0.0,
            ports: vec![],
        };
        normalize(&mut empty);
        assert_eq!(empty.final_score, 0.0);
    }
}

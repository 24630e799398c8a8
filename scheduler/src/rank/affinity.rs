//! Node affinity: the weights of the job, group and task affinities a node
//! matches, summed and divided by the sum of absolute weights (so -1..1).
//! Applies whenever there are affinities, even when none match.

use sched_core::model::{Affinity, Node};

use crate::context::EvalContext;
use crate::feasible::constraint::{check_operand, resolve_target};

/// The affinity score, if there are affinities.
pub fn score(ctx: &mut EvalContext<'_>, affinities: &[Affinity], node: &Node) -> Option<f64> {
    if affinities.is_empty() {
        return None;
    }
    let sum_weight: f64 = affinities
        .iter()
        .map(|a| f64::from(a.weight.unwrap_or(50)).abs())
        .sum();
    if sum_weight == 0.0 {
        return None;
    }
    let mut total = 0.0;
    for a in affinities {
        let l = resolve_target(a.l_target.as_deref().unwrap_or(""), node);
        let r = resolve_target(a.r_target.as_deref().unwrap_or(""), node);
        if check_operand(
            ctx,
            a.operand.as_deref().unwrap_or("="),
            l.as_deref(),
            r.as_deref(),
        ) {
            total += f64::from(a.weight.unwrap_or(50));
        }
    }
    Some(total / sum_weight)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::Harness;
    use crate::mock;

    fn aff(l: &str, r: &str, w: i8) -> Affinity {
        Affinity {
            l_target: Some(l.into()),
            operand: Some("=".into()),
            r_target: Some(r.into()),
            weight: Some(w),
        }
    }

    #[test]
    fn weights_summed_and_normalised() {
        let h = Harness::new();
        let mut ctx = EvalContext::new(&h, Default::default());
        let mut node = mock::node(1);
        node.meta.insert("rack".into(), "r1".into());
        let affs = vec![
            aff("${meta.rack}", "r1", 50),
            aff("${node.datacenter}", "dc2", 30),
            aff("${attr.kernel.name}", "linux", -20),
        ];
        // matched: 50 + (-20) = 30; sum |w| = 100
        assert_eq!(score(&mut ctx, &affs, &node), Some(0.3));
        assert_eq!(score(&mut ctx, &[], &node), None);
        let none = vec![aff("${meta.rack}", "r9", 40)];
        assert_eq!(score(&mut ctx, &none, &node), Some(0.0));
    }
}

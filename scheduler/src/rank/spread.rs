//! Spread: steers a group's allocations across the values of a node
//! attribute, either evenly (no targets) or towards target percentages,
//! with Nomad's boost formula: `(desired - used) / desired * weight / sum
//! of weights` per attribute with targets, an implicit `*` target for the
//! remainder, the lowest boost seen for values with a zero target, and -1
//! for values without one; the even algorithm compares the node's value
//! count with the minimum and maximum counts.

use std::collections::HashMap;

use sched_core::model::{Job, Node, TaskGroup};

use crate::context::EvalContext;
use crate::feasible::constraint::resolve_target;
use crate::feasible::distinct::job_proposed;
use crate::job_view::{GroupView, JobView};

const IMPLICIT_TARGET: &str = "*";

#[derive(Debug, Clone)]
struct SpreadInfo {
    attribute: String,
    weight: f64,
    desired: HashMap<String, f64>,
    targets: Vec<String>,
}

/// The spread scorer of one job and group.
#[derive(Debug, Clone)]
pub struct SpreadScorer {
    group: String,
    infos: Vec<SpreadInfo>,
    sum_weights: f64,
    lowest_boost: f64,
    /// Per spread: allocations of the group per attribute value.
    counts: Vec<HashMap<String, u64>>,
}

impl SpreadScorer {
    /// Gathers the group's and the job's spreads.
    pub fn new(job: &Job, group: &TaskGroup) -> SpreadScorer {
        let total = group.count() as f64;
        let mut infos = Vec::new();
        let mut sum_weights = 0.0;
        for s in group.spread_list().iter().chain(job.job_spreads()) {
            let weight = f64::from(s.weight.unwrap_or(50));
            let mut desired = HashMap::new();
            let mut targets = Vec::new();
            let mut sum = 0.0;
            for t in s.spread_target.iter().flatten() {
                let value = t.value.clone().unwrap_or_default();
                let d = f64::from(t.percent.unwrap_or(0)) / 100.0 * total;
                desired.insert(value.clone(), d);
                targets.push(value);
                sum += d;
            }
            if sum > 0.0 && sum < total {
                desired.insert(IMPLICIT_TARGET.to_owned(), total - sum);
            }
            sum_weights += weight;
            infos.push(SpreadInfo {
                attribute: s.attribute.clone().unwrap_or_default(),
                weight,
                desired,
                targets,
            });
        }
        SpreadScorer {
            group: group.name().to_owned(),
            counts: vec![HashMap::new(); infos.len()],
            infos,
            sum_weights,
            lowest_boost: -1.0,
        }
    }

    /// Whether the group has spreads.
    pub fn is_empty(&self) -> bool {
        self.infos.is_empty()
    }

    /// Counts the group's proposed allocations per attribute value; call
    /// once per selection.
    pub fn prepare(&mut self, ctx: &EvalContext<'_>, namespace: &str, job_id: &str) {
        if self.is_empty() {
            return;
        }
        for c in &mut self.counts {
            c.clear();
        }
        for alloc in job_proposed(ctx, namespace, job_id) {
            if alloc.task_group != self.group {
                continue;
            }
            let Some(node) = ctx.state.node(&alloc.node_id) else {
                continue;
            };
            for (info, counts) in self.infos.iter().zip(self.counts.iter_mut()) {
                if let Some(v) = resolve_target(&info.attribute, node) {
                    *counts.entry(v).or_default() += 1;
                }
            }
        }
    }

    /// The spread score of a node, if spreads apply and it is non-zero.
    pub fn score(&mut self, node: &Node) -> Option<f64> {
        if self.is_empty() {
            return None;
        }
        let mut total = 0.0;
        for (info, counts) in self.infos.iter().zip(self.counts.iter()) {
            let value = resolve_target(&info.attribute, node);
            if info.desired.is_empty() {
                total += even_boost(counts, &info.targets, value.as_deref());
                continue;
            }
            let Some(value) = value else {
                total -= 1.0;
                continue;
            };
            let used = counts.get(&value).copied().unwrap_or(0) + 1;
            let desired = match info
                .desired
                .get(&value)
                .or(info.desired.get(IMPLICIT_TARGET))
            {
                Some(d) => *d,
                None => {
                    total -= 1.0;
                    continue;
                }
            };
            if desired == 0.0 {
                total += self.lowest_boost;
                continue;
            }
            let weight = info.weight / self.sum_weights;
            let boost = (desired - used as f64) / desired * weight;
            total += boost;
            if boost < self.lowest_boost {
                self.lowest_boost = boost;
            }
        }
        (total != 0.0).then_some(total)
    }
}

/// Even spread: boost values below the minimum count, penalise the rest.
fn even_boost(counts: &HashMap<String, u64>, targets: &[String], value: Option<&str>) -> f64 {
    let mut combined = counts.clone();
    for t in targets {
        combined.entry(t.clone()).or_insert(0);
    }
    if combined.is_empty() {
        return 0.0;
    }
    let Some(value) = value else {
        return -1.0;
    };
    let current = combined.get(value).copied().unwrap_or(0);
    let mut min = 0u64;
    let mut max = 0u64;
    for &v in combined.values() {
        if min == 0 || v < min {
            min = v;
        }
        if max == 0 || v > max {
            max = v;
        }
    }
    let delta_boost = if min == 0 {
        -1.0
    } else {
        (min as f64 - current as f64) / min as f64
    };
    if current != min {
        delta_boost
    } else if min == max {
        -1.0
    } else if min == 0 {
        1.0
    } else {
        (max - min) as f64 / min as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock;
    use sched_core::model::{Spread, SpreadTarget};

    fn scorer(targets: &[(&str, u8)], count: i64) -> SpreadScorer {
        let mut job = mock::service_job("web", count, 100, 128);
        let spread = Spread {
            attribute: Some("${node.datacenter}".into()),
            weight: Some(100),
            spread_target: if targets.is_empty() {
                None
            } else {
                Some(
                    targets
                        .iter()
                        .map(|(v, p)| SpreadTarget {
                            value: Some((*v).into()),
                            percent: Some(*p),
                        })
                        .collect(),
                )
            },
        };
        job.spreads = Some(vec![spread]);
        let group = job.groups()[0].clone();
        SpreadScorer::new(&job, &group)
    }

    fn node_in(dc: &str) -> Node {
        let mut n = mock::node(1);
        n.datacenter = dc.into();
        n
    }

    #[test]
    fn targets_boost_by_hand() {
        // count 10, dc1 70% (7), dc2 30% (3).
        let mut s = scorer(&[("dc1", 70), ("dc2", 30)], 10);
        s.counts[0].insert("dc1".into(), 3);
        s.counts[0].insert("dc2".into(), 2);
        // dc1: used 3+1=4, (7-4)/7 = 0.428571...
        let a = s.score(&node_in("dc1")).unwrap();
        assert!((a - 3.0 / 7.0).abs() < 1e-12);
        // dc2: used 2+1=3, (3-3)/3 = 0 -> no score appended
        assert_eq!(s.score(&node_in("dc2")), None);
        // dc3: no target and no implicit target: -1
        assert_eq!(s.score(&node_in("dc3")), Some(-1.0));
    }

    #[test]
    fn implicit_target_takes_the_remainder() {
        let mut s = scorer(&[("dc1", 50)], 10);
        // dc9 falls under "*" with desired 5; used 0+1: (5-1)/5 = 0.8
        assert_eq!(s.score(&node_in("dc9")), Some(0.8));
    }

    #[test]
    fn even_spread() {
        let mut s = scorer(&[], 6);
        // Nothing placed: 0, not appended.
        assert_eq!(s.score(&node_in("dc1")), None);
        s.counts[0].insert("dc1".into(), 2);
        s.counts[0].insert("dc2".into(), 1);
        // dc2 is the minimum, max differs: (2-1)/1 = 1
        assert_eq!(s.score(&node_in("dc2")), Some(1.0));
        // dc1 above the minimum: (1-2)/1 = -1
        assert_eq!(s.score(&node_in("dc1")), Some(-1.0));
        s.counts[0].insert("dc2".into(), 2);
        // Even: maximum penalty.
        assert_eq!(s.score(&node_in("dc1")), Some(-1.0));
    }
}

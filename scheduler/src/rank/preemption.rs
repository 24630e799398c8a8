//! Priority preemption, as Nomad does it: when a placement fits on no node
//! as it is, a job may evict allocations of jobs at least
//! [`PRIORITY_DELTA`] lower in priority. This module chooses which
//! allocations to evict on one node and scores the choice; the stack
//! decides when to ask ([`crate::stack`]), the schedulers record the
//! choice in the plan ([`append_preempted`]) and the plan applier and the
//! state evict them.
//!
//! The choice, per node ([`select`]):
//! 1. Allocations holding a static port the ask needs must go (if any of
//!    them is not preemptible, the node is out).
//! 2. Candidates are grouped by priority, lowest first. Within a group the
//!    allocation whose CPU/memory is closest to what is still needed
//!    ([`resource_distance`], plus [`MAX_PARALLEL_PENALTY`] per allocation
//!    of the same job and group beyond its `migrate.max_parallel` already
//!    preempted by the plan) is taken, until the freed resources cover the
//!    ask; a higher priority group is only touched when the lower ones did
//!    not suffice.
//! 3. The taken set is trimmed: sorted by distance from the ask, largest
//!    first, allocations are kept only until the ask is covered, so a
//!    single large allocation replaces several small ones.
//!
//! A node where preemption places a job is ranked with
//! [`preemption_score`] of the evicted allocations' [`net_priority`]: the
//! more and the higher-priority work a node would lose, the lower it ranks.

use std::collections::HashMap;

use sched_core::model::{AllocId, Allocation, DesiredStatus, Plan};

use crate::job_view::{GroupAsk, JobView};
use crate::usage::{Capacity, Usage, node_reserved_ports};

/// A job may only preempt allocations of jobs at least this much lower in
/// priority (so never its own, nor those of jobs of equal priority).
pub const PRIORITY_DELTA: i64 = 10;

/// Added to an allocation's distance for every allocation of its job and
/// group the plan already preempts beyond the group's `migrate.max_parallel`,
/// so one job does not lose too many allocations at once.
pub const MAX_PARALLEL_PENALTY: f64 = 50.0;

/// The CPU (MHz) and memory (MB) an ask needs or an allocation holds: the
/// dimensions preemption trades in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Amount {
    /// CPU in MHz.
    pub cpu: i64,
    /// Memory in MB.
    pub memory_mb: i64,
}

impl Amount {
    /// What an allocation holds.
    pub fn of_alloc(a: &Allocation) -> Amount {
        let mut out = Amount::default();
        for t in a.allocated_resources.tasks.values() {
            out.cpu += t.cpu.cpu_shares;
            out.memory_mb += t.memory.memory_mb;
        }
        out
    }

    fn add(&mut self, o: Amount) {
        self.cpu += o.cpu;
        self.memory_mb += o.memory_mb;
    }

    fn sub(&mut self, o: Amount) {
        self.cpu -= o.cpu;
        self.memory_mb -= o.memory_mb;
    }

    /// Whether this covers `ask` in every dimension.
    pub fn covers(&self, ask: Amount) -> bool {
        self.cpu >= ask.cpu && self.memory_mb >= ask.memory_mb
    }
}

/// Nomad's distance between what is asked and what an allocation holds:
/// the length of the vector of relative differences per dimension
/// (`(ask - used) / ask`, 0 for a dimension not asked for). 0 is a perfect
/// match; lower is better.
pub fn resource_distance(ask: Amount, used: Amount) -> f64 {
    let coord = |ask: i64, used: i64| {
        if ask > 0 {
            (ask - used) as f64 / ask as f64
        } else {
            0.0
        }
    };
    let cpu = coord(ask.cpu, used.cpu);
    let mem = coord(ask.memory_mb, used.memory_mb);
    (cpu * cpu + mem * mem).sqrt()
}

/// An allocation's preemption score (lower is better): its
/// [`resource_distance`] from what is still needed, plus
/// [`MAX_PARALLEL_PENALTY`] for each allocation of its job and group the
/// plan preempts at or beyond `max_parallel` (0: no limit).
pub fn score_for_group(
    needed: Amount,
    used: Amount,
    max_parallel: i64,
    already_preempted: usize,
) -> f64 {
    let n = already_preempted as i64;
    let penalty = if max_parallel > 0 && n >= max_parallel {
        ((n + 1) - max_parallel) as f64 * MAX_PARALLEL_PENALTY
    } else {
        0.0
    };
    resource_distance(needed, used) + penalty
}

/// Nomad's net priority of a set of preempted allocations: the highest
/// priority plus the sum of priorities divided by it (the sum breaks ties
/// between sets with the same highest priority). 0 for an empty set.
pub fn net_priority(priorities: impl IntoIterator<Item = i64>) -> f64 {
    let (mut max, mut sum) = (0i64, 0i64);
    for p in priorities {
        max = max.max(p);
        sum += p;
    }
    if max <= 0 {
        return 0.0;
    }
    max as f64 + sum as f64 / max as f64
}

/// The ranking score of a node where placing needs preemption: a logistic
/// curve falling from 1 towards 0 as the net priority of what is evicted
/// grows (0.5 at a net priority of 2048, Nomad's constants).
pub fn preemption_score(net_priority: f64) -> f64 {
    const RATE: f64 = 0.0048;
    const ORIGIN: f64 = 2048.0;
    1.0 / (1.0 + (RATE * (net_priority - ORIGIN)).exp())
}

/// The priority of the job an allocation runs, if the allocation carries it.
fn alloc_priority(a: &Allocation) -> Option<i64> {
    a.job.as_ref().map(|j| j.prio())
}

/// Whether a job of `job_priority` may preempt `alloc`.
pub fn preemptible(job_priority: i64, alloc: &Allocation) -> bool {
    alloc_priority(alloc).is_some_and(|p| job_priority - p >= PRIORITY_DELTA)
}

/// (namespace, job, group) of an allocation, for the max-parallel count.
type GroupKey = (String, String, String);

fn group_key(a: &Allocation) -> GroupKey {
    (a.namespace.clone(), a.job_id.clone(), a.task_group.clone())
}

/// How many allocations of each job and group the plan already preempts.
pub fn plan_preemption_counts(plan: &Plan) -> HashMap<GroupKey, usize> {
    let mut out = HashMap::new();
    for a in plan.node_preemptions.values().flatten() {
        *out.entry(group_key(a)).or_default() += 1;
    }
    out
}

fn max_parallel(a: &Allocation) -> i64 {
    a.job
        .as_ref()
        .and_then(|j| j.group(&a.task_group))
        .and_then(|g| g.migrate.as_ref())
        .and_then(|m| m.max_parallel)
        .unwrap_or(0)
}

/// Chooses the allocations to evict from a node so that `ask` fits, or
/// `None` when evicting every preemptible allocation would not be enough.
/// `proposed` is what the node would run under the plan so far; `counts`
/// is [`plan_preemption_counts`] of the plan. The caller re-checks the
/// whole fit (cores, devices, dynamic ports) without the chosen ones.
pub fn select<'a>(
    job_priority: i64,
    node: &sched_core::model::Node,
    proposed: &[&'a Allocation],
    ask: &GroupAsk,
    counts: &HashMap<GroupKey, usize>,
) -> Option<Vec<&'a Allocation>> {
    let cap = Capacity::of(node);
    let used = Usage::of(proposed.iter().copied());
    let want = Amount {
        cpu: ask.cpu,
        memory_mb: ask.memory_mb,
    };
    let free = Amount {
        cpu: cap.cpu - used.cpu,
        memory_mb: cap.memory_mb - used.memory_mb,
    };
    // Step 1: static ports. A port the node itself reserves cannot be
    // freed; one held by an allocation can only if it is preemptible.
    let reserved = node_reserved_ports(node);
    let mut forced: Vec<&'a Allocation> = Vec::new();
    for p in &ask.static_ports {
        if reserved.contains(&p.value) {
            return None;
        }
        for a in proposed.iter().copied().filter(|a| holds_port(a, p.value)) {
            if !preemptible(job_priority, a) {
                return None;
            }
            if !forced.iter().any(|f| f.id == a.id) {
                forced.push(a);
            }
        }
    }
    let mut available = free;
    let mut needed = want;
    for a in &forced {
        available.add(Amount::of_alloc(a));
        needed.sub(Amount::of_alloc(a));
    }
    // Step 2: greedy by priority group, closest first.
    let mut groups: Vec<(i64, Vec<&'a Allocation>)> = Vec::new();
    for a in proposed.iter().copied() {
        if a.is_terminal() || !preemptible(job_priority, a) || forced.iter().any(|f| f.id == a.id) {
            continue;
        }
        let p = alloc_priority(a).unwrap_or(0);
        match groups.iter_mut().find(|(gp, _)| *gp == p) {
            Some((_, v)) => v.push(a),
            None => groups.push((p, vec![a])),
        }
    }
    groups.sort_by_key(|(p, _)| *p);
    let mut taken: Vec<&'a Allocation> = Vec::new();
    let mut met = available.covers(want);
    for (_, mut group) in groups {
        while !met && !group.is_empty() {
            let mut best = 0;
            let mut best_score = f64::MAX;
            for (i, a) in group.iter().enumerate() {
                let already = counts.get(&group_key(a)).copied().unwrap_or(0);
                let s = score_for_group(needed, Amount::of_alloc(a), max_parallel(a), already);
                if s < best_score {
                    best_score = s;
                    best = i;
                }
            }
            let a = group.swap_remove(best);
            available.add(Amount::of_alloc(a));
            needed.sub(Amount::of_alloc(a));
            met = available.covers(want);
            taken.push(a);
        }
        if met {
            break;
        }
    }
    if !met {
        return None;
    }
    // Step 3: drop what a larger choice already covers.
    taken.sort_by(|x, y| {
        let dx = resource_distance(want, Amount::of_alloc(x));
        let dy = resource_distance(want, Amount::of_alloc(y));
        dy.total_cmp(&dx)
    });
    let mut available = free;
    for a in &forced {
        available.add(Amount::of_alloc(a));
    }
    let mut out = forced;
    for a in taken {
        if available.covers(want) {
            break;
        }
        available.add(Amount::of_alloc(a));
        out.push(a);
    }
    Some(out)
}

fn holds_port(a: &Allocation, port: i64) -> bool {
    let mut u = Usage::default();
    u.add(a);
    u.ports.contains(&port)
}

/// Records that `alloc`'s placement evicts `preempted`: they go to the
/// plan's preemptions ([`append_preempted`]) and their IDs onto the
/// allocation.
pub fn record_preemptions(plan: &mut Plan, alloc: &mut Allocation, preempted: &[Allocation]) {
    if preempted.is_empty() {
        return;
    }
    append_preempted(plan, preempted, &alloc.id);
    alloc.preempted_allocations = preempted.iter().map(|a| a.id.clone()).collect();
}

/// Records in the plan that `alloc_id`'s placement evicts `victims`: each
/// goes to the plan's preemptions with desired status `evict`, the reason
/// Nomad gives, and the preempting allocation.
pub fn append_preempted(plan: &mut Plan, victims: &[Allocation], alloc_id: &AllocId) {
    for v in victims {
        let mut a = v.clone();
        a.desired_status = DesiredStatus::Evict;
        a.desired_description = format!("Preempted by alloc ID {alloc_id}");
        a.preempted_by_allocation = Some(alloc_id.clone());
        a.job = None;
        plan.node_preemptions
            .entry(a.node_id.clone())
            .or_default()
            .push(a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job_view::StaticPort;
    use crate::mock;
    use sched_core::model::{AllocatedPortMapping, Job, Node};

    fn job(id: &str, priority: i64, cpu: i64, mem: i64) -> Job {
        let mut j = mock::service_job(id, 1, cpu, mem);
        j.priority = Some(priority);
        j
    }

    fn alloc(n: u128, node: &Node, priority: i64, cpu: i64, mem: i64) -> Allocation {
        let j = job(&format!("job{n}"), priority, cpu, mem);
        let mut a = mock::alloc(&j, node, 0);
        a.id = AllocId::from_u128(n);
        a
    }

    fn ask(cpu: i64, mem: i64) -> GroupAsk {
        GroupAsk {
            cpu,
            memory_mb: mem,
            ..Default::default()
        }
    }

    fn ids(v: &[&Allocation]) -> Vec<u128> {
        let mut out: Vec<u128> = v
            .iter()
            .map(|a| {
                (0u128..100)
                    .find(|i| AllocId::from_u128(*i) == a.id)
                    .unwrap()
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn distance_and_scores_match_hand_computed_values() {
        // ask 1000/1000, used 500/1500: coords 0.5 and -0.5.
        let d = resource_distance(
            Amount {
                cpu: 1000,
                memory_mb: 1000,
            },
            Amount {
                cpu: 500,
                memory_mb: 1500,
            },
        );
        assert!((d - 0.5f64.sqrt()).abs() < 1e-12, "{d}");
        // A dimension not asked for counts 0.
        let d = resource_distance(
            Amount {
                cpu: 0,
                memory_mb: 100,
            },
            Amount {
                cpu: 900,
                memory_mb: 25,
            },
        );
        assert!((d - 0.75).abs() < 1e-12);
        // max_parallel 2, 3 already preempted: (3 + 1 - 2) * 50 = 100.
        let a = Amount {
            cpu: 100,
            memory_mb: 100,
        };
        assert_eq!(score_for_group(a, a, 2, 3), 100.0);
        assert_eq!(score_for_group(a, a, 2, 1), 0.0);
        assert_eq!(score_for_group(a, a, 0, 9), 0.0);
        // net priority of 20, 30, 30: 30 + 80 / 30.
        let n = net_priority([20, 30, 30]);
        assert!((n - (30.0 + 80.0 / 30.0)).abs() < 1e-12);
        assert_eq!(net_priority([]), 0.0);
        assert!((preemption_score(2048.0) - 0.5).abs() < 1e-12);
        // 1 / (1 + e^(0.0048 * (32.666.. - 2048)))
        let expect = 1.0 / (1.0 + (0.0048f64 * (n - 2048.0)).exp());
        assert!((preemption_score(n) - expect).abs() < 1e-15);
        assert!(preemption_score(100.0) > preemption_score(200.0));
    }

    #[test]
    fn priority_delta_guards_equal_and_close_priorities() {
        let node = mock::node(1);
        assert!(preemptible(60, &alloc(1, &node, 50, 1, 1)));
        assert!(!preemptible(59, &alloc(1, &node, 50, 1, 1)));
        assert!(!preemptible(50, &alloc(1, &node, 50, 1, 1)));
        assert!(!preemptible(40, &alloc(1, &node, 50, 1, 1)));
    }

    #[test]
    fn lowest_priority_group_is_used_first_and_closest_allocation_wins() {
        // Node: 4000 MHz / 8192 MB, full.
        let node = mock::node(1);
        let a1 = alloc(1, &node, 20, 1000, 2048);
        let a2 = alloc(2, &node, 20, 1500, 2048);
        let a3 = alloc(3, &node, 30, 1500, 4096);
        let proposed = vec![&a1, &a2, &a3];
        // Ask 1400/2000. Priority 20 first. Distances from the ask:
        // a1: ((1400-1000)/1400, (2000-2048)/2000) = (0.2857, -0.024) -> 0.2867
        // a2: ((1400-1500)/1400, -0.024) = (-0.0714, -0.024) -> 0.0753
        // a2 is closest and alone covers 1400/2000.
        let got = select(70, &node, &proposed, &ask(1400, 2000), &HashMap::new()).unwrap();
        assert_eq!(ids(&got), vec![2]);
        // Ask 2400/4000: a2 first (1500/2048 leaves 900/1952 needed),
        // then a1 (only one left at priority 20): 2500/4096 covers it,
        // a3 at priority 30 is never touched.
        let got = select(70, &node, &proposed, &ask(2400, 4000), &HashMap::new()).unwrap();
        assert_eq!(ids(&got), vec![1, 2]);
        // Too much for everything preemptible: none.
        assert!(select(70, &node, &proposed, &ask(4001, 100), &HashMap::new()).is_none());
        // A priority-35 job may only touch priority <= 25.
        assert!(select(35, &node, &proposed, &ask(2600, 100), &HashMap::new()).is_none());
        let got = select(35, &node, &proposed, &ask(2500, 100), &HashMap::new()).unwrap();
        assert_eq!(ids(&got), vec![1, 2]);
    }

    #[test]
    fn free_capacity_counts_and_superset_filter_drops_the_unneeded() {
        let node = mock::node(1);
        // 3000 MHz / 6000 MB used; 1000 / 2192 free.
        let small = alloc(1, &node, 10, 200, 1000);
        let big = alloc(2, &node, 10, 2800, 5000);
        let proposed = vec![&small, &big];
        // Ask 1500/2000 needs 500 more MHz. Greedy picks small first
        // (distance from 1500/2000: (0.8667, 0.5) -> 1.0006 vs big
        // (-0.8667, -1.5) -> 1.7324), which is not enough (1200 free),
        // then big. Sorted by distance from the ask, largest first, big
        // alone covers it: small is dropped.
        let got = select(50, &node, &proposed, &ask(1500, 2000), &HashMap::new()).unwrap();
        assert_eq!(ids(&got), vec![2]);
    }

    #[test]
    fn max_parallel_penalty_steers_away_from_an_already_preempted_group() {
        let node = mock::node(1);
        let mut a1 = alloc(1, &node, 10, 2000, 4096);
        let a2 = alloc(2, &node, 10, 1900, 4000);
        // a1's group allows one migration at a time and the plan already
        // preempts one of its allocations: it scores 0.0 + 50 and a2,
        // though farther (0.05, 0.0234), wins.
        let mut j = (**a1.job.as_ref().unwrap()).clone();
        j.task_groups.as_mut().unwrap()[0].migrate = Some(sched_core::model::MigrateStrategy {
            max_parallel: Some(1),
            ..Default::default()
        });
        a1.job = Some(std::sync::Arc::new(j));
        let counts: HashMap<GroupKey, usize> = [(group_key(&a1), 1)].into();
        let got = select(50, &node, &[&a1, &a2], &ask(2000, 4096), &HashMap::new()).unwrap();
        assert_eq!(ids(&got), vec![1]);
        let got = select(50, &node, &[&a1, &a2], &ask(2000, 4096), &counts).unwrap();
        assert_eq!(ids(&got), vec![2]);
    }

    #[test]
    fn static_port_holders_must_go_and_must_be_preemptible() {
        let node = mock::node(1);
        let mut low = alloc(1, &node, 10, 100, 100);
        low.allocated_resources
            .shared
            .ports
            .push(AllocatedPortMapping {
                label: "http".into(),
                value: 80,
                to: 80,
                host_ip: String::new(),
            });
        let mut want = ask(100, 100);
        want.static_ports.push(StaticPort {
            label: "http".into(),
            value: 80,
            to: 0,
        });
        let got = select(50, &node, &[&low], &want, &HashMap::new()).unwrap();
        assert_eq!(ids(&got), vec![1]);
        assert!(select(15, &node, &[&low], &want, &HashMap::new()).is_none());
        let mut reserved = node.clone();
        reserved.reserved_resources.networks.reserved_host_ports = "80".into();
        assert!(select(50, &reserved, &[], &want, &HashMap::new()).is_none());
    }

    #[test]
    fn appended_preemptions_name_the_preempting_allocation() {
        let node = mock::node(1);
        let victim = alloc(1, &node, 10, 100, 100);
        let mut plan = Plan::default();
        let by = AllocId::from_u128(99);
        append_preempted(&mut plan, std::slice::from_ref(&victim), &by);
        let got = &plan.node_preemptions[&node.id][0];
        assert_eq!(got.desired_status, DesiredStatus::Evict);
        assert_eq!(
            got.desired_description,
            format!("Preempted by alloc ID {by}")
        );
        assert_eq!(got.preempted_by_allocation, Some(by));
        assert_eq!(plan_preemption_counts(&plan)[&group_key(&victim)], 1);
    }
}

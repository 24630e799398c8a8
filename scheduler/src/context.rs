//! The per-evaluation scheduling context: the state snapshot, the plan being
//! built, the metrics of the placement being decided, and caches that live
//! for one evaluation (compiled regular expressions, parsed version
//! constraints, feasibility per computed node class).
//!
//! This module owns "what a node would hold if the plan so far committed"
//! ([`EvalContext::proposed_allocs`]) and the metric bookkeeping helpers;
//! it does not decide feasibility or scores.

use std::cell::RefCell;
use std::collections::HashMap;

use regex::Regex;
use sched_core::model::{AllocId, AllocMetric, Allocation, Node, NodeId, Plan};

use crate::feasible::version::VersionConstraint;
use crate::state::State;
use crate::usage::Usage;

/// Everything one evaluation's placements share.
pub struct EvalContext<'a> {
    /// The snapshot being scheduled against.
    pub state: &'a dyn State,
    /// The plan built so far.
    pub plan: Plan,
    /// Metrics of the placement being decided.
    pub metrics: AllocMetric,
    /// Whether scores of every ranked node are recorded in the metrics.
    pub record_scores: bool,
    regexes: HashMap<String, Option<Regex>>,
    versions: HashMap<(String, bool), Option<VersionConstraint>>,
    /// Cached feasibility per (computed class, checker scope key).
    pub class_eligibility: HashMap<(String, String), Option<String>>,
    /// Each visited node's live allocations in the snapshot and the
    /// plan's changes to them. The snapshot does not change while the plan
    /// grows, and a bin-packing evaluation comes back to the same partly
    /// filled node for placement after placement: reading the node once
    /// per evaluation and folding in only the plan entries added since the
    /// last visit keeps a visit's cost from growing with the allocations
    /// already on the node or placed there by this plan.
    nodes: RefCell<HashMap<NodeId, ProposedNode<'a>>>,
}

/// One node as the plan so far would leave it.
struct ProposedNode<'a> {
    /// The node's live allocations in the snapshot; sorted by ID (once
    /// `sorted`) when the plan first touches the node, to find the ones it
    /// stops, preempts or replaces in place.
    live: Vec<&'a Allocation>,
    sorted: bool,
    /// Live allocations per (job, group), counted when first asked.
    live_counts: Vec<(String, String, u64)>,
    /// How many of the plan's stops, preemptions and placements for the
    /// node are folded in below. The plan only grows; if a list is found
    /// shorter, everything is folded in again.
    folded: [usize; 3],
    /// Snapshot allocations the plan displaces, each counted once.
    displaced: Vec<&'a AllocId>,
    /// What the proposed allocations take.
    used: Usage,
    /// The plan's change to the count per (job, group).
    counts: Vec<(String, String, i64)>,
}

impl<'a> ProposedNode<'a> {
    fn new(live: Vec<&'a Allocation>) -> ProposedNode<'a> {
        let used = Usage::of(live.iter().copied());
        ProposedNode {
            live,
            sorted: false,
            live_counts: Vec::new(),
            folded: [0; 3],
            displaced: Vec::new(),
            used,
            counts: Vec::new(),
        }
    }

    fn find(&mut self, id: &AllocId) -> Option<&'a Allocation> {
        if !self.sorted {
            self.live.sort_by(|a, b| a.id.cmp(&b.id));
            self.sorted = true;
        }
        self.live
            .binary_search_by(|a| a.id.cmp(id))
            .ok()
            .map(|i| self.live[i])
    }

    fn count(&mut self, job_id: &str, group: &str, by: i64) {
        match group_entry(&mut self.counts, job_id, group) {
            Some(n) => *n += by,
            None => self.counts.push((job_id.to_owned(), group.to_owned(), by)),
        }
    }

    /// Folds in the plan entries for the node not seen yet: `lists` are
    /// its stops, preemptions and placements.
    fn fold(&mut self, lists: [&[Allocation]; 3]) {
        if lists
            .iter()
            .zip(self.folded)
            .any(|(l, seen)| l.len() < seen)
        {
            self.used = Usage::of(self.live.iter().copied());
            self.folded = [0; 3];
            self.displaced.clear();
            self.counts.clear();
        }
        for (k, list) in lists.into_iter().enumerate() {
            for a in &list[self.folded[k]..] {
                if let Some(orig) = self.find(&a.id)
                    && !self.displaced.contains(&&orig.id)
                {
                    self.displaced.push(&orig.id);
                    self.used.remove(orig);
                    self.count(&orig.job_id, &orig.task_group, -1);
                }
                if k == 2 && !a.is_terminal() {
                    self.used.add(a);
                    self.count(&a.job_id, &a.task_group, 1);
                }
            }
            self.folded[k] = list.len();
        }
    }

    /// The proposed allocations of `job_id`'s `group`.
    fn collisions(&mut self, job_id: &str, group: &str) -> u64 {
        let live = match group_entry(&mut self.live_counts, job_id, group) {
            Some(n) => *n,
            None => {
                let n = self
                    .live
                    .iter()
                    .filter(|a| a.job_id == job_id && a.task_group == group)
                    .count() as u64;
                self.live_counts
                    .push((job_id.to_owned(), group.to_owned(), n));
                n
            }
        };
        let change = group_entry(&mut self.counts, job_id, group).map_or(0, |n| *n);
        live.saturating_add_signed(change)
    }
}

/// The count kept for `job_id`'s `group` in a short list of them.
fn group_entry<'v, T>(
    counts: &'v mut [(String, String, T)],
    job_id: &str,
    group: &str,
) -> Option<&'v mut T> {
    counts
        .iter_mut()
        .find(|(j, g, _)| j == job_id && g == group)
        .map(|(_, _, n)| n)
}

/// What a node would hold if the plan committed, as the fit check needs it.
#[derive(Debug, Clone, Default)]
pub struct ProposedFit {
    /// The resources its proposed allocations take.
    pub used: Usage,
    /// How many of them belong to the job and group being placed (job
    /// anti-affinity scores against it).
    pub collisions: u64,
}

impl std::fmt::Debug for EvalContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvalContext")
            .field("plan", &self.plan)
            .field("metrics", &self.metrics)
            .finish_non_exhaustive()
    }
}

impl<'a> EvalContext<'a> {
    /// A context over `state` building `plan`.
    pub fn new(state: &'a dyn State, plan: Plan) -> EvalContext<'a> {
        EvalContext {
            state,
            plan,
            metrics: AllocMetric::default(),
            record_scores: true,
            regexes: HashMap::new(),
            versions: HashMap::new(),
            class_eligibility: HashMap::new(),
            nodes: RefCell::new(HashMap::new()),
        }
    }

    /// Runs `f` on the node as the plan so far would leave it.
    fn with_proposed<T>(&self, node: &NodeId, f: impl FnOnce(&mut ProposedNode<'a>) -> T) -> T {
        let mut nodes = self.nodes.borrow_mut();
        let entry = nodes.entry(node.clone()).or_insert_with(|| {
            let state: &'a dyn State = self.state;
            let live: Vec<&'a Allocation> = state
                .allocs_by_node(node)
                .into_iter()
                .filter(|a| !a.is_terminal())
                .collect();
            ProposedNode::new(live)
        });
        let plan = &self.plan;
        entry.fold(
            [
                &plan.node_update,
                &plan.node_preemptions,
                &plan.node_allocation,
            ]
            .map(|m| m.get(node).map_or(&[][..], Vec::as_slice)),
        );
        f(entry)
    }

    /// What the fit check needs of a node if the plan committed: the
    /// resources its allocations would take and how many of them belong
    /// to `job_id`'s `group` — the same allocations as
    /// [`proposed_allocs`](Self::proposed_allocs), without listing them.
    pub fn proposed_fit(&self, node: &NodeId, job_id: &str, group: &str) -> ProposedFit {
        self.with_proposed(node, |n| ProposedFit {
            used: n.used.clone(),
            collisions: n.collisions(job_id, group),
        })
    }

    /// The allocations a node would run if the plan committed: its
    /// non-terminal allocations, minus those the plan stops or preempts,
    /// with the plan's placements and in-place updates (which replace by ID).
    pub fn proposed_allocs(&self, node: &NodeId) -> Vec<&Allocation> {
        let mut out: Vec<&Allocation> = self.with_proposed(node, |n| {
            n.live
                .iter()
                .copied()
                .filter(|a| !n.displaced.contains(&&a.id))
                .collect()
        });
        out.extend(
            self.plan
                .node_allocation
                .get(node)
                .into_iter()
                .flatten()
                .filter(|a| !a.is_terminal()),
        );
        out
    }

    /// A compiled regular expression, cached; `None` if it does not compile.
    pub fn regex(&mut self, pattern: &str) -> Option<&Regex> {
        self.regexes
            .entry(pattern.to_owned())
            .or_insert_with(|| Regex::new(pattern).ok())
            .as_ref()
    }

    /// A parsed version constraint (`semver` selects strict semver
    /// ordering), cached; `None` if it does not parse.
    pub fn version_constraint(&mut self, spec: &str, semver: bool) -> Option<&VersionConstraint> {
        self.versions
            .entry((spec.to_owned(), semver))
            .or_insert_with(|| VersionConstraint::parse(spec, semver))
            .as_ref()
    }

    /// Records a node filtered out by `reason` (a constraint or checker).
    pub fn filter_node(&mut self, node: &Node, reason: &str) {
        let m = &mut self.metrics;
        m.nodes_filtered += 1;
        if !node.node_class.is_empty() {
            *m.class_filtered.entry(node.node_class.clone()).or_default() += 1;
        }
        *m.constraint_filtered.entry(reason.to_owned()).or_default() += 1;
    }

    /// Records a node whose resources ran out in dimension `dim`.
    pub fn exhaust_node(&mut self, node: &Node, dim: &str) {
        let m = &mut self.metrics;
        m.nodes_exhausted += 1;
        if !node.node_class.is_empty() {
            *m.class_exhausted
                .entry(node.node_class.clone())
                .or_default() += 1;
        }
        *m.dimension_exhausted.entry(dim.to_owned()).or_default() += 1;
    }

    /// Records one scorer's score for a node (`<node id>.<scorer>`).
    pub fn score_node(&mut self, node: &Node, scorer: &str, score: f64) {
        if self.record_scores {
            self.metrics
                .scores
                .insert(format!("{}.{scorer}", node.id), score);
        }
    }
}

/// A human summary of why placements failed, e.g. `Resources exhausted on
/// 12 nodes: memory` or `Constraint ${attr.kernel.name} = windows filtered
/// 30 nodes`, one line per cause.
pub fn explain(metric: &AllocMetric) -> Vec<String> {
    let mut lines = Vec::new();
    for (constraint, n) in &metric.constraint_filtered {
        lines.push(format!("Constraint {constraint} filtered {n} nodes"));
    }
    if metric.nodes_exhausted > 0 {
        let dims: Vec<&str> = metric
            .dimension_exhausted
            .keys()
            .map(String::as_str)
            .collect();
        lines.push(format!(
            "Resources exhausted on {} nodes: {}",
            metric.nodes_exhausted,
            dims.join(", ")
        ));
    }
    if metric.nodes_evaluated == 0 && lines.is_empty() {
        lines.push("No nodes were eligible for evaluation".to_owned());
    }
    lines
}

#[cfg(test)]
mod tests {
    use sched_core::model::{AllocId, DesiredStatus};

    use super::*;
    use crate::harness::Harness;
    use crate::job_view::{GroupView, JobView};
    use crate::mock;

    /// The proposed allocations and their usage computed from scratch, as
    /// the folded view must match.
    fn from_scratch(h: &Harness, plan: &Plan, node: &NodeId) -> (Usage, Vec<AllocId>) {
        let touched = |a: &Allocation| {
            [
                &plan.node_update,
                &plan.node_preemptions,
                &plan.node_allocation,
            ]
            .iter()
            .filter_map(|m| m.get(node))
            .flatten()
            .any(|x| x.id == a.id)
        };
        let mut out: Vec<&Allocation> = h
            .allocs_by_node(node)
            .into_iter()
            .filter(|a| !a.is_terminal() && !touched(a))
            .collect();
        out.extend(
            plan.node_allocation
                .get(node)
                .into_iter()
                .flatten()
                .filter(|a| !a.is_terminal()),
        );
        let mut ids: Vec<AllocId> = out.iter().map(|a| a.id.clone()).collect();
        ids.sort();
        (Usage::of(out), ids)
    }

    fn check(ctx: &EvalContext<'_>, h: &Harness, node: &NodeId, job: &str, group: &str) {
        let (used, ids) = from_scratch(h, &ctx.plan, node);
        let fit = ctx.proposed_fit(node, job, group);
        assert_eq!(fit.used, used);
        let mut listed: Vec<AllocId> = ctx
            .proposed_allocs(node)
            .iter()
            .map(|a| a.id.clone())
            .collect();
        listed.sort();
        assert_eq!(listed, ids);
        let ours = ctx
            .proposed_allocs(node)
            .iter()
            .filter(|a| a.job_id == job && a.task_group == group)
            .count() as u64;
        assert_eq!(fit.collisions, ours);
    }

    #[test]
    fn the_folded_view_of_a_node_matches_one_computed_from_scratch() {
        let mut h = Harness::new();
        let node = mock::node_sized(1, 8000, 16384);
        h.upsert_node(node.clone());
        let web = mock::service_job("web", 3, 500, 256);
        let db = mock::service_job("db", 2, 300, 512);
        let existing: Vec<Allocation> = (0..3)
            .map(|i| mock::alloc(&web, &node, i))
            .chain((10..12).map(|i| mock::alloc(&db, &node, i)))
            .collect();
        for a in &existing {
            h.upsert_alloc(a.clone());
        }
        let group = web.groups()[0].name().to_owned();
        let mut ctx = EvalContext::new(&h, Plan::default());
        check(&ctx, &h, &node.id, "web", &group);

        // A stop, an in-place update and a new placement, visited between
        // each so the view folds them in one at a time.
        let mut stopped = existing[0].clone();
        stopped.desired_status = DesiredStatus::Stop;
        ctx.plan
            .node_update
            .entry(node.id.clone())
            .or_default()
            .push(stopped.clone());
        check(&ctx, &h, &node.id, "web", &group);
        let mut updated = existing[3].clone();
        updated.allocated_resources = existing[1].allocated_resources.clone();
        ctx.plan
            .node_allocation
            .entry(node.id.clone())
            .or_default()
            .push(updated);
        check(&ctx, &h, &node.id, "db", &group);
        let mut new = mock::alloc(&web, &node, 7);
        new.id = AllocId::from_u128(77);
        ctx.plan
            .node_allocation
            .entry(node.id.clone())
            .or_default()
            .push(new);
        check(&ctx, &h, &node.id, "web", &group);
        // The same allocation stopped twice (and preempted) counts once.
        ctx.plan
            .node_preemptions
            .entry(node.id.clone())
            .or_default()
            .push(stopped);
        check(&ctx, &h, &node.id, "web", &group);

        // A plan that is not the one folded so far (shorter lists) is
        // folded again from the start.
        ctx.plan.node_allocation.clear();
        check(&ctx, &h, &node.id, "web", &group);
        ctx.plan = Plan::default();
        check(&ctx, &h, &node.id, "db", &group);
    }
}

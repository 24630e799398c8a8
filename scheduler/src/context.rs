//! The per-evaluation scheduling context: the state snapshot, the plan being
//! built, the metrics of the placement being decided, and caches that live
//! for one evaluation (compiled regular expressions, parsed version
//! constraints, feasibility per computed node class).
//!
//! This module owns "what a node would hold if the plan so far committed"
//! ([`EvalContext::proposed_allocs`]) and the metric bookkeeping helpers;
//! it does not decide feasibility or scores.

use std::collections::HashMap;

use regex::Regex;
use sched_core::model::{AllocMetric, Allocation, Node, NodeId, Plan};

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
        }
    }

    /// The allocations a node would run if the plan committed: its
    /// non-terminal allocations, minus those the plan stops or preempts,
    /// with the plan's placements and in-place updates (which replace by ID).
    pub fn proposed_allocs(&self, node: &NodeId) -> Vec<&Allocation> {
        let stopped = self.plan.node_update.get(node);
        let preempted = self.plan.node_preemptions.get(node);
        let placed = self.plan.node_allocation.get(node);
        let mut out: Vec<&Allocation> = self
            .state
            .allocs_by_node(node)
            .into_iter()
            .filter(|a| !a.is_terminal())
            .filter(|a| !stopped.is_some_and(|s| s.iter().any(|x| x.id == a.id)))
            .filter(|a| !preempted.is_some_and(|s| s.iter().any(|x| x.id == a.id)))
            .filter(|a| !placed.is_some_and(|p| p.iter().any(|x| x.id == a.id)))
            .collect();
        out.extend(placed.into_iter().flatten().filter(|a| !a.is_terminal()));
        out
    }

    /// The resources the proposed allocations of a node take.
    pub fn proposed_usage(&self, node: &NodeId) -> Usage {
        Usage::of(self.proposed_allocs(node))
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

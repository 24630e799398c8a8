//! `distinct_hosts` and `distinct_property`: constraints on how a job's
//! allocations (as proposed by the plan so far) share nodes or node
//! property values. At job level they count the whole job's allocations, at
//! group or task level only the group's.

use std::collections::HashMap;

use sched_core::model::{Allocation, Constraint, Job, Node, TaskGroup};

use super::constraint::resolve_target;
use crate::context::EvalContext;
use crate::job_view::{GroupView, JobView};

/// Whether a constraint is one of the two distinct operands.
pub fn is_distinct(c: &Constraint) -> bool {
    matches!(
        c.operand.as_deref(),
        Some("distinct_hosts") | Some("distinct_property")
    )
}

/// A `distinct_property` rule: at most `limit` allocations per value.
#[derive(Debug, Clone, PartialEq)]
struct PropertyRule {
    target: String,
    limit: u64,
    job_level: bool,
    display: String,
}

/// The distinct rules of one job and group, with the job's proposed
/// allocations counted once per selection.
#[derive(Debug, Clone)]
pub struct DistinctChecks {
    job_id: String,
    group: String,
    hosts_job: bool,
    hosts_group: bool,
    properties: Vec<PropertyRule>,
    /// (property target, value) → allocations counted per scope
    /// (job-level, group-level).
    counts: HashMap<(String, String), (u64, u64)>,
}

impl DistinctChecks {
    /// Gathers the rules.
    pub fn new(job: &Job, group: &TaskGroup) -> DistinctChecks {
        let mut d = DistinctChecks {
            job_id: job.job_id().to_owned(),
            group: group.name().to_owned(),
            hosts_job: false,
            hosts_group: false,
            properties: Vec::new(),
            counts: HashMap::new(),
        };
        let job_level = job.job_constraints().iter().map(|c| (c, true));
        let group_level = group.all_constraints().into_iter().map(|c| (c, false));
        for (c, is_job) in job_level.chain(group_level) {
            match c.operand.as_deref() {
                // `distinct_hosts = false` disables it.
                Some("distinct_hosts") if c.r_target.as_deref() != Some("false") => {
                    if is_job {
                        d.hosts_job = true;
                    } else {
                        d.hosts_group = true;
                    }
                }
                Some("distinct_property") => {
                    let target = c.l_target.clone().unwrap_or_default();
                    let limit = c
                        .r_target
                        .as_deref()
                        .and_then(|r| r.trim().parse::<u64>().ok())
                        .unwrap_or(1)
                        .max(1);
                    d.properties.push(PropertyRule {
                        display: format!("distinct_property: {target}"),
                        target,
                        limit,
                        job_level: is_job,
                    });
                }
                _ => {}
            }
        }
        d
    }

    /// Whether there is anything to check.
    pub fn is_empty(&self) -> bool {
        !self.hosts_job && !self.hosts_group && self.properties.is_empty()
    }

    /// Counts the job's proposed allocations per property value; call once
    /// per selection before [`DistinctChecks::check`].
    pub fn prepare(&mut self, ctx: &EvalContext<'_>, namespace: &str) {
        self.counts.clear();
        if self.properties.is_empty() {
            return;
        }
        for alloc in job_proposed(ctx, namespace, &self.job_id) {
            let Some(node) = ctx.state.node(&alloc.node_id) else {
                continue;
            };
            for rule in &self.properties {
                if let Some(v) = resolve_target(&rule.target, node) {
                    let e = self.counts.entry((rule.target.clone(), v)).or_default();
                    e.0 += 1;
                    if alloc.task_group == self.group {
                        e.1 += 1;
                    }
                }
            }
        }
    }

    /// Checks a node, recording a filtered node in the metrics.
    pub fn check(&self, ctx: &mut EvalContext<'_>, node: &Node) -> bool {
        if self.is_empty() {
            return true;
        }
        if self.hosts_job || self.hosts_group {
            let collide = ctx
                .proposed_allocs(&node.id)
                .iter()
                .any(|a| a.job_id == self.job_id && (self.hosts_job || a.task_group == self.group));
            if collide {
                ctx.filter_node(node, "distinct_hosts");
                return false;
            }
        }
        for rule in &self.properties {
            let Some(v) = resolve_target(&rule.target, node) else {
                ctx.filter_node(node, &rule.display);
                return false;
            };
            let (job_n, group_n) = self
                .counts
                .get(&(rule.target.clone(), v))
                .copied()
                .unwrap_or((0, 0));
            let used = if rule.job_level { job_n } else { group_n };
            if used >= rule.limit {
                ctx.filter_node(node, &rule.display);
                return false;
            }
        }
        true
    }
}

/// The job's allocations as the plan would leave them: non-terminal ones
/// from the snapshot not stopped by the plan, plus the plan's placements.
pub fn job_proposed<'c>(
    ctx: &'c EvalContext<'_>,
    namespace: &str,
    job_id: &str,
) -> Vec<&'c Allocation> {
    let stopped: std::collections::HashSet<&str> = ctx
        .plan
        .node_update
        .values()
        .flatten()
        .map(|a| a.id.as_str())
        .collect();
    let placed: Vec<&Allocation> = ctx
        .plan
        .node_allocation
        .values()
        .flatten()
        .filter(|a| a.job_id == job_id && !a.is_terminal())
        .collect();
    let placed_ids: std::collections::HashSet<&str> =
        placed.iter().map(|a| a.id.as_str()).collect();
    let mut out: Vec<&Allocation> = ctx
        .state
        .allocs_by_job(namespace, job_id)
        .into_iter()
        .filter(|a| !a.is_terminal())
        .filter(|a| !stopped.contains(a.id.as_str()) && !placed_ids.contains(a.id.as_str()))
        .collect();
    out.extend(placed);
    out
}

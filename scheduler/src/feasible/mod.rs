//! Feasibility: whether a node can run a task group at all, before any
//! ranking. One file per checker; [`GroupChecks`] gathers, for one job and
//! group, the checks that depend only on the node (drivers, constraints,
//! datacenter, node pool, host volumes) and caches their verdict per
//! computed node class when none of them looks at a node's unique facts
//! (Nomad's "escaped" constraints).
//!
//! Checks that depend on other allocations (`distinct_hosts`,
//! `distinct_property`, resource fit, ports) live in [`distinct`],
//! [`resources`] and [`ports`] and are never cached. Ranking lives in
//! [`crate::rank`], the order of the chain in [`crate::stack`].

pub mod constraint;
pub mod datacenter;
pub mod distinct;
pub mod driver;
pub mod host_volume;
pub mod ports;
pub mod resources;
pub mod version;

use std::collections::BTreeSet;

use sched_core::model::{Constraint, Job, Node, TaskGroup};

use crate::context::EvalContext;
use crate::job_view::{GroupAsk, GroupView, JobView};

/// A constraint with its display string (`LTarget Operand RTarget`, as
/// Nomad prints it in failure metrics).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedConstraint {
    /// The constraint.
    pub constraint: Constraint,
    /// How it is shown in metrics.
    pub display: String,
    /// Whether it looks at unique node facts, so its verdict cannot be
    /// cached per computed class.
    pub escaped: bool,
}

impl NamedConstraint {
    fn new(c: &Constraint) -> NamedConstraint {
        let l = c.l_target.as_deref().unwrap_or("");
        let op = c.operand.as_deref().unwrap_or("=");
        let r = c.r_target.as_deref().unwrap_or("");
        NamedConstraint {
            constraint: c.clone(),
            display: format!("{l} {op} {r}").trim().to_owned(),
            escaped: constraint::is_escaped(l) || constraint::is_escaped(r),
        }
    }

    /// The operand, defaulting to `=`.
    pub fn operand(&self) -> &str {
        self.constraint.operand.as_deref().unwrap_or("=")
    }
}

/// The node-only checks of one task group, prepared once per selection.
#[derive(Debug, Clone)]
pub struct GroupChecks {
    /// Cache key scope: job ID and group name.
    scope: String,
    /// Drivers the group's tasks use.
    pub drivers: BTreeSet<String>,
    /// Constraints checked per node (job, group and task level), without
    /// `distinct_hosts` / `distinct_property`.
    pub constraints: Vec<NamedConstraint>,
    /// Datacenter patterns.
    pub datacenters: Vec<String>,
    /// Node pool (`all` for any).
    pub pool: String,
    /// The group's resource ask.
    pub ask: GroupAsk,
    /// Whether any constraint is escaped (checked on every node).
    pub escaped: bool,
}

impl GroupChecks {
    /// Prepares the checks for a group of a job.
    pub fn new(job: &Job, group: &TaskGroup) -> GroupChecks {
        let constraints: Vec<NamedConstraint> = job
            .job_constraints()
            .iter()
            .chain(group.all_constraints())
            .filter(|c| !distinct::is_distinct(c))
            .map(NamedConstraint::new)
            .collect();
        let escaped = constraints.iter().any(|c| c.escaped);
        GroupChecks {
            scope: format!("{}/{}/{}", job.ns(), job.job_id(), group.name()),
            drivers: driver::group_drivers(group),
            constraints,
            datacenters: job.dcs(),
            pool: job.pool().to_owned(),
            ask: group.ask(),
            escaped,
        }
    }

    /// Runs the node-only checks, recording a filtered node in the metrics.
    /// Returns whether the node passed.
    pub fn check(&self, ctx: &mut EvalContext<'_>, node: &Node) -> bool {
        if !node.is_schedulable() {
            ctx.filter_node(node, "node is not ready and eligible");
            return false;
        }
        if !datacenter::in_datacenters(node, &self.datacenters) {
            ctx.filter_node(node, "missing compatible datacenter");
            return false;
        }
        if !datacenter::in_pool(node, &self.pool) {
            ctx.filter_node(node, "node is not in the job's node pool");
            return false;
        }
        if !host_volume::has_volumes(node, &self.ask.host_volumes) {
            ctx.filter_node(node, "missing compatible host volumes");
            return false;
        }
        // Drivers and constraints depend only on class-level facts unless a
        // constraint is escaped: cache the verdict per computed class.
        let cacheable = !self.escaped && !node.computed_class.is_empty();
        let key = (node.computed_class.clone(), self.scope.clone());
        if cacheable && let Some(verdict) = ctx.class_eligibility.get(&key) {
            return match verdict.clone() {
                None => true,
                Some(reason) => {
                    ctx.filter_node(node, &reason);
                    false
                }
            };
        }
        let verdict = self.class_check(ctx, node);
        if cacheable {
            ctx.class_eligibility.insert(key, verdict.clone());
        }
        match verdict {
            None => true,
            Some(reason) => {
                ctx.filter_node(node, &reason);
                false
            }
        }
    }

    fn class_check(&self, ctx: &mut EvalContext<'_>, node: &Node) -> Option<String> {
        if !driver::has_drivers(node, &self.drivers) {
            return Some("missing drivers".to_owned());
        }
        for c in &self.constraints {
            if !constraint::satisfies(ctx, &c.constraint, node) {
                return Some(c.display.clone());
            }
        }
        None
    }
}

//! The placement stack: for one placement of a task group, walk candidate
//! nodes through feasibility and then ranking, and pick the best, recording
//! an [`AllocMetric`](sched_core::model::AllocMetric) in the context so a
//! failure explains itself.
//!
//! The whole chain is assembled in [`Stack::new`] and run by
//! [`Stack::select`] (generic schedulers) or [`Stack::select_on`] (system
//! schedulers, one given node). The checkers and scorers themselves live in
//! [`crate::feasible`] and [`crate::rank`].

use std::collections::{HashMap, HashSet};

use sched_core::model::{Affinity, Allocation, Job, Node, NodeId, SchedulerAlgorithm, TaskGroup};
use serde::{Deserialize, Serialize};

use crate::context::EvalContext;
use crate::feasible::distinct::DistinctChecks;
use crate::feasible::{GroupChecks, ports, resources};
use crate::job_view::{GroupView, JobView};
use crate::rank::capacity_index::CapacityIndex;
use crate::rank::limit::{LimitSelect, limit_for};
use crate::rank::spread::SpreadScorer;
use crate::rank::{RankedNode, affinity, anti_affinity, binpack, normalize, penalty, preemption};
use crate::state::State;
use crate::usage::{Capacity, Usage};

/// How the fit of a node is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ScoringAlgorithm {
    /// Prefer fuller nodes (Nomad's BestFit v3).
    #[default]
    Binpack,
    /// Prefer emptier nodes.
    Spread,
}

/// Where candidates come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CandidateSelection {
    /// Partly filled nodes with just enough free capacity first (from the
    /// [`CapacityIndex`]), then Nomad's limited shuffled scan.
    #[default]
    CapacityIndex,
    /// Nomad's: `max(2, ceil(log2 N))` feasible nodes of a shuffled list.
    NomadLimit,
}

/// Scheduler settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchedulerConfig {
    /// Fit scoring.
    pub algorithm: ScoringAlgorithm,
    /// Candidate selection.
    pub candidates: CandidateSelection,
    /// Seed of the shuffles and port picks (each evaluation mixes in its ID).
    pub seed: u64,
    /// The time in Unix nanoseconds, for reschedule delays; `None` reads
    /// the clock.
    pub now_nanos: Option<i64>,
    /// How many index-ordered candidates are scored before the best is
    /// taken (capacity-index selection).
    pub index_candidates: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            algorithm: ScoringAlgorithm::Binpack,
            candidates: CandidateSelection::CapacityIndex,
            seed: 0x5eed,
            now_nanos: None,
            index_candidates: 8,
        }
    }
}

impl SchedulerConfig {
    /// Nomad's defaults: bin-packing over a limited shuffled sample.
    pub fn nomad() -> SchedulerConfig {
        SchedulerConfig {
            candidates: CandidateSelection::NomadLimit,
            ..SchedulerConfig::default()
        }
    }

    /// The current time in Unix nanoseconds.
    pub fn now(&self) -> i64 {
        self.now_nanos.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as i64)
                .unwrap_or(0)
        })
    }
}

/// Per-placement options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectOptions {
    /// Nodes a rescheduled allocation failed on.
    pub penalty_nodes: HashSet<NodeId>,
    /// Let the fit evict lower-priority allocations (only when the
    /// operator's configuration enables preemption for the job's type).
    pub preempt: bool,
}

/// The chosen node.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    /// The node.
    pub node_id: NodeId,
    /// Its name.
    pub node_name: String,
    /// The final (normalised) score.
    pub score: f64,
    /// Ports assigned on it.
    pub ports: Vec<sched_core::model::AllocatedPortMapping>,
    /// Lower-priority allocations to evict for the placement to fit.
    pub preempted: Vec<Allocation>,
}

/// What one group needs at every selection, prepared once.
struct GroupPrep {
    checks: GroupChecks,
    distinct: DistinctChecks,
    spread: SpreadScorer,
    affinities: Vec<Affinity>,
    count: u64,
}

/// One stage of the chain, in the order [`Stack::new`] assembles them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Readiness, datacenter, node pool, host volumes, drivers and
    /// constraints; cached per computed class unless escaped.
    NodeChecks,
    /// `distinct_hosts` and `distinct_property` against the plan so far.
    Distinct,
    /// CPU, memory, cores, devices, then ports; failures are "exhausted"
    /// unless preemption can make room.
    Fit,
    /// Bin-pack (or spread) fit score.
    FitScore,
    /// Penalty for the priority of the allocations a placement preempts.
    Preemption,
    /// Penalty for sharing a node with the same job and group.
    JobAntiAffinity,
    /// Penalty for the nodes a rescheduled allocation failed on.
    ReschedulePenalty,
    /// Node affinity score.
    NodeAffinity,
    /// Spread score.
    Spread,
    /// Average of the scores that applied.
    Normalize,
}

/// The feasibility-then-rank chain over one evaluation's candidate nodes.
pub struct Stack<'s> {
    config: SchedulerConfig,
    state: &'s dyn State,
    rng: fastrand::Rng,
    /// The stages every candidate goes through, in order.
    stages: Vec<Stage>,
    /// Ready nodes in the job's datacenters and pool, shuffled, loaded on
    /// first use; the scan continues where the previous placement stopped
    /// (Nomad's static iterator).
    nodes: Option<Vec<&'s Node>>,
    datacenters: Vec<String>,
    pool: String,
    batch: bool,
    offset: usize,
    built_index: Option<CapacityIndex>,
    groups: HashMap<String, GroupPrep>,
    /// Whether the operator's configuration lets this job's scheduler
    /// preempt.
    preemption_enabled: bool,
    /// The evictions each node evaluated in the current selection needs.
    preemptions: HashMap<NodeId, Vec<Allocation>>,
}

impl std::fmt::Debug for Stack<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("config", &self.config)
            .field("stages", &self.stages)
            .finish_non_exhaustive()
    }
}

/// What the stages learn about one candidate.
struct Scratch {
    used: Usage,
    cap: Capacity,
    collisions: u64,
    ranked: RankedNode,
    preempted: Vec<Allocation>,
}

impl<'s> Stack<'s> {
    /// Assembles the chain for a job over the snapshot's nodes.
    pub fn new(
        mut config: SchedulerConfig,
        state: &'s dyn State,
        job: &Job,
        seed: u64,
    ) -> Stack<'s> {
        // The operator's stored configuration, when there is one, decides
        // the algorithm and whether this job type may preempt.
        let operator = state.scheduler_configuration();
        if let Some(c) = operator {
            config.algorithm = match c.scheduler_algorithm {
                SchedulerAlgorithm::Binpack => ScoringAlgorithm::Binpack,
                SchedulerAlgorithm::Spread => ScoringAlgorithm::Spread,
            };
        }
        let preemption_enabled = operator
            .unwrap_or_default()
            .preemption_config
            .enabled_for(job.job_type());
        let rng = fastrand::Rng::with_seed(config.seed ^ seed);
        let stages = vec![
            // Feasibility, cheapest and cacheable first: readiness,
            // datacenter, pool, host volumes, drivers, constraints.
            Stage::NodeChecks,
            // Constraints on how the job shares nodes and property values.
            Stage::Distinct,
            // Resources and ports against the node's proposed allocations;
            // with preemption, evicting lower-priority ones to make room.
            Stage::Fit,
            // Rank: BestFit v3 (or its mirror for the spread algorithm).
            Stage::FitScore,
            // Rank: the net priority of what a placement would evict.
            Stage::Preemption,
            // Rank: penalise co-location with the same job and group.
            Stage::JobAntiAffinity,
            // Rank: penalise nodes a rescheduled allocation failed on.
            Stage::ReschedulePenalty,
            // Rank: node affinities, weights normalised to -1..1.
            Stage::NodeAffinity,
            // Rank: spread over attribute values, with or without targets.
            Stage::Spread,
            // Final score: the average of the scores that applied.
            Stage::Normalize,
        ];
        // The source (ready nodes in the job's datacenters and pool,
        // shuffled) is loaded lazily: with the capacity index most
        // placements never need it. The limit and max-score selection
        // follow the chain (`LimitSelect`): max(2, ceil(log2 N)) options
        // (2 for batch), all when affinities or spreads apply.
        Stack {
            config,
            state,
            rng,
            stages,
            nodes: None,
            datacenters: job.dcs(),
            pool: job.pool().to_owned(),
            batch: job.job_type() == "batch",
            offset: 0,
            built_index: None,
            groups: HashMap::new(),
            preemption_enabled,
            preemptions: HashMap::new(),
        }
    }

    /// Whether the operator's configuration lets this job's scheduler
    /// preempt lower-priority allocations.
    pub fn preemption_enabled(&self) -> bool {
        self.preemption_enabled
    }

    fn load_nodes(&mut self) -> usize {
        if self.nodes.is_none() {
            let mut nodes: Vec<&'s Node> = self
                .state
                .nodes()
                .into_iter()
                .filter(|n| {
                    n.is_schedulable()
                        && crate::feasible::datacenter::in_datacenters(n, &self.datacenters)
                        && crate::feasible::datacenter::in_pool(n, &self.pool)
                })
                .collect();
            self.rng.shuffle(&mut nodes);
            self.nodes = Some(nodes);
        }
        self.nodes.as_ref().map_or(0, Vec::len)
    }

    /// The nodes the stack considers.
    pub fn node_count(&mut self) -> usize {
        self.load_nodes()
    }

    /// The stages, in order.
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// Picks a node for one placement of `group`, or `None` with the reasons
    /// in `ctx.metrics`.
    pub fn select(
        &mut self,
        ctx: &mut EvalContext<'_>,
        job: &Job,
        group: &TaskGroup,
        opts: &SelectOptions,
    ) -> Option<Selected> {
        ctx.metrics = Default::default();
        self.preemptions.clear();
        let started = std::time::Instant::now();
        let mut prep = self.take_prep(job, group);
        prep.distinct.prepare(ctx, job.ns());
        prep.spread.prepare(ctx, job.ns(), job.job_id());
        let everything = !prep.affinities.is_empty() || !prep.spread.is_empty();

        let mut result = None;
        // The index holds nodes with room; preemption looks at full ones.
        if self.config.candidates == CandidateSelection::CapacityIndex
            && !everything
            && !opts.preempt
        {
            result = self.select_from_index(ctx, job, group, &mut prep, opts);
        }
        if result.is_none() {
            let n = self.load_nodes();
            ctx.metrics.nodes_in_pool = n as i64;
            let limit = if everything {
                usize::MAX
            } else {
                limit_for(n, self.batch)
            };
            let mut sel = LimitSelect::new(limit);
            let mut visited = 0;
            let mut seen: Vec<&'s Node> = Vec::new();
            while visited < n {
                let Some(node) = self
                    .nodes
                    .as_ref()
                    .and_then(|v| v.get((self.offset + visited) % n).copied())
                else {
                    break;
                };
                visited += 1;
                if let Some(mut r) = self.evaluate(ctx, job, group, &mut prep, opts, node) {
                    r.index = seen.len();
                    seen.push(node);
                    if sel.offer(r) {
                        break;
                    }
                }
            }
            if n > 0 {
                self.offset = (self.offset + visited) % n;
            }
            result = sel.best().and_then(|b| seen.get(b.index).map(|n| (b, *n)));
        }
        self.groups.insert(group.name().to_owned(), prep);
        ctx.metrics.allocation_time =
            sched_core::model::Duration::from_nanos(started.elapsed().as_nanos() as i64);
        let preempted = result
            .as_ref()
            .and_then(|(_, node)| self.preemptions.remove(&node.id))
            .unwrap_or_default();
        result.map(|(best, node)| Selected {
            node_id: node.id.clone(),
            node_name: node.name.clone(),
            score: best.final_score,
            ports: best.ports,
            preempted,
        })
    }

    /// The group's prepared checks and scorers, built on first use.
    fn take_prep(&mut self, job: &Job, group: &TaskGroup) -> GroupPrep {
        self.groups.remove(group.name()).unwrap_or_else(|| {
            let mut affinities: Vec<Affinity> = job.job_affinities().to_vec();
            affinities.extend(group.all_affinities().into_iter().cloned());
            GroupPrep {
                checks: GroupChecks::new(job, group),
                distinct: DistinctChecks::new(job, group),
                spread: SpreadScorer::new(job, group),
                affinities,
                count: group.count(),
            }
        })
    }

    /// sched's selection: score the first few partly filled nodes with just
    /// enough free capacity, tightest first.
    fn select_from_index(
        &mut self,
        ctx: &mut EvalContext<'_>,
        job: &Job,
        group: &TaskGroup,
        prep: &mut GroupPrep,
        opts: &SelectOptions,
    ) -> Option<(RankedNode, &'s Node)> {
        let (cpu, mem) = (prep.checks.ask.cpu, prep.checks.ask.memory_mb);
        // The state's index if it keeps one, else one built from the
        // snapshot once per stack (taken out while the chain runs, so the
        // candidates are read lazily: most placements score a handful).
        let state = self.state;
        let kept = state.capacity_index();
        let built = match kept {
            Some(_) => None,
            None => Some(self.built_index.take().unwrap_or_else(|| {
                self.load_nodes();
                build_index(state, self.nodes.as_deref().unwrap_or(&[]))
            })),
        };
        let mut sel = LimitSelect::new(self.config.index_candidates.max(1));
        let mut seen: Vec<&'s Node> = Vec::new();
        if let Some(idx) = kept.or(built.as_ref()) {
            for id in idx.fitting(cpu, mem).take(256) {
                let Some(node) = state.node(id) else {
                    continue;
                };
                if let Some(mut r) = self.evaluate(ctx, job, group, prep, opts, node) {
                    r.index = seen.len();
                    seen.push(node);
                    if sel.offer(r) {
                        break;
                    }
                }
            }
        }
        if built.is_some() {
            self.built_index = built;
        }
        sel.best().and_then(|b| seen.get(b.index).map(|n| (b, *n)))
    }

    /// Runs the whole chain on one given node (system schedulers).
    pub fn select_on(
        &mut self,
        ctx: &mut EvalContext<'_>,
        job: &Job,
        group: &TaskGroup,
        node: &'s Node,
    ) -> Option<Selected> {
        ctx.metrics.nodes_in_pool = self.load_nodes() as i64;
        self.preemptions.clear();
        let mut prep = self.take_prep(job, group);
        prep.distinct.prepare(ctx, job.ns());
        prep.spread.prepare(ctx, job.ns(), job.job_id());
        // System jobs preempt in the one pass, as Nomad's system stack does.
        let opts = SelectOptions {
            preempt: true,
            ..SelectOptions::default()
        };
        let r = self.evaluate(ctx, job, group, &mut prep, &opts, node);
        self.groups.insert(group.name().to_owned(), prep);
        let preempted = self.preemptions.remove(&node.id).unwrap_or_default();
        r.map(|best| Selected {
            node_id: node.id.clone(),
            node_name: node.name.clone(),
            score: best.final_score,
            ports: best.ports,
            preempted,
        })
    }

    /// One node through the chain: `None` if filtered or exhausted.
    fn evaluate(
        &mut self,
        ctx: &mut EvalContext<'_>,
        job: &Job,
        group: &TaskGroup,
        prep: &mut GroupPrep,
        opts: &SelectOptions,
        node: &Node,
    ) -> Option<RankedNode> {
        ctx.metrics.nodes_evaluated += 1;
        let mut x = Scratch {
            used: Usage::default(),
            cap: Capacity::default(),
            collisions: 0,
            ranked: RankedNode {
                index: 0,
                scores: Vec::with_capacity(5),
                final_score: 0.0,
                ports: Vec::new(),
            },
            preempted: Vec::new(),
        };
        for stage in self.stages.iter().copied() {
            match stage {
                Stage::NodeChecks => {
                    if !prep.checks.check(ctx, node) {
                        return None;
                    }
                }
                Stage::Distinct => {
                    if !prep.distinct.check(ctx, node) {
                        return None;
                    }
                }
                Stage::Fit => {
                    let proposed = ctx.proposed_fit(&node.id, job.job_id(), group.name());
                    x.collisions = proposed.collisions;
                    x.used = proposed.used;
                    x.cap = Capacity::of(node);
                    let ask = &prep.checks.ask;
                    let fit = resources::fits(&x.cap, &x.used, ask)
                        .and_then(|()| ports::assign(node, &x.used, ask, &mut self.rng));
                    let fit = match fit {
                        Err(dim) if opts.preempt && self.preemption_enabled => {
                            let proposed = ctx.proposed_allocs(&node.id);
                            fit_by_preempting(&mut self.rng, ctx, job, node, &proposed, ask)
                                .ok_or(dim)
                        }
                        other => other.map(|p| (p, Vec::new(), x.used.clone())),
                    };
                    match fit {
                        Ok((p, preempted, used)) => {
                            x.ranked.ports = p;
                            x.preempted = preempted;
                            x.used = used;
                        }
                        Err(dim) => {
                            ctx.exhaust_node(node, &dim);
                            return None;
                        }
                    }
                }
                Stage::FitScore => {
                    let ask = &prep.checks.ask;
                    let (cpu, mem) = (x.used.cpu + ask.cpu, x.used.memory_mb + ask.memory_mb);
                    let fit = match self.config.algorithm {
                        ScoringAlgorithm::Binpack => binpack::score_fit_binpack(&x.cap, cpu, mem),
                        ScoringAlgorithm::Spread => binpack::score_fit_spread(&x.cap, cpu, mem),
                    } / binpack::MAX_FIT_SCORE;
                    x.ranked.scores.push(fit);
                    ctx.score_node(node, "binpack", fit);
                }
                Stage::Preemption => {
                    if !x.preempted.is_empty() {
                        let net = preemption::net_priority(
                            x.preempted
                                .iter()
                                .filter_map(|a| a.job.as_ref().map(|j| j.prio())),
                        );
                        let s = preemption::preemption_score(net);
                        x.ranked.scores.push(s);
                        ctx.score_node(node, "preemption", s);
                        self.preemptions
                            .insert(node.id.clone(), std::mem::take(&mut x.preempted));
                    }
                }
                Stage::JobAntiAffinity => {
                    if let Some(s) = anti_affinity::score(x.collisions, prep.count) {
                        x.ranked.scores.push(s);
                        ctx.score_node(node, "job-anti-affinity", s);
                    }
                }
                Stage::ReschedulePenalty => {
                    if let Some(s) = penalty::score(&opts.penalty_nodes, &node.id) {
                        x.ranked.scores.push(s);
                        ctx.score_node(node, "node-reschedule-penalty", s);
                    }
                }
                Stage::NodeAffinity => {
                    if let Some(s) = affinity::score(ctx, &prep.affinities, node) {
                        x.ranked.scores.push(s);
                        ctx.score_node(node, "node-affinity", s);
                    }
                }
                Stage::Spread => {
                    if let Some(s) = prep.spread.score(node) {
                        x.ranked.scores.push(s);
                        ctx.score_node(node, "allocation-spread", s);
                    }
                }
                Stage::Normalize => {
                    normalize(&mut x.ranked);
                    ctx.score_node(node, "normalized-score", x.ranked.final_score);
                }
            }
        }
        Some(x.ranked)
    }
}

/// The fit with lower-priority allocations evicted: the ports, the
/// evicted allocations and what the node would then use, or `None` when no
/// preemptible set makes room.
fn fit_by_preempting(
    rng: &mut fastrand::Rng,
    ctx: &EvalContext<'_>,
    job: &Job,
    node: &Node,
    proposed: &[&Allocation],
    ask: &crate::job_view::GroupAsk,
) -> Option<(
    Vec<sched_core::model::AllocatedPortMapping>,
    Vec<Allocation>,
    Usage,
)> {
    let counts = preemption::plan_preemption_counts(&ctx.plan);
    let victims = preemption::select(job.prio(), node, proposed, ask, &counts)?;
    let left: Vec<&Allocation> = proposed
        .iter()
        .copied()
        .filter(|a| !victims.iter().any(|v| v.id == a.id))
        .collect();
    let used = Usage::of(left);
    // Cores, devices and dynamic ports are not traded: the rest must fit
    // as it is.
    resources::fits(&Capacity::of(node), &used, ask).ok()?;
    let ports = ports::assign(node, &used, ask, rng).ok()?;
    Some((ports, victims.into_iter().cloned().collect(), used))
}

/// Builds a capacity index over nodes from the snapshot's allocations.
pub fn build_index(state: &dyn State, nodes: &[&Node]) -> CapacityIndex {
    let mut idx = CapacityIndex::new();
    for n in nodes {
        let allocs = state.allocs_by_node(&n.id);
        let live: Vec<_> = allocs.into_iter().filter(|a| !a.is_terminal()).collect();
        let used = Usage::of(live.iter().copied());
        let cap = Capacity::of(n);
        idx.update(
            &n.id,
            (cap.cpu - used.cpu, cap.memory_mb - used.memory_mb),
            (cap.cpu, cap.memory_mb),
            live.is_empty(),
        );
    }
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::Harness;
    use crate::mock;
    use sched_core::model::{AllocId, Constraint};

    fn nomad() -> SchedulerConfig {
        SchedulerConfig::nomad()
    }

    /// Two nodes; node 1 already runs `filler` (3000 MHz / 6000 MB).
    fn two_nodes_one_busy() -> Harness {
        let mut h = Harness::new();
        let (n1, n2) = (mock::node(1), mock::node(2));
        h.upsert_node(n1.clone());
        h.upsert_node(n2);
        let filler = mock::service_job("filler", 1, 3000, 6000);
        h.upsert_job(filler.clone());
        h.upsert_alloc(mock::alloc(&filler, &n1, 0));
        h
    }

    fn pick(
        h: &Harness,
        config: SchedulerConfig,
        job: &Job,
        opts: &SelectOptions,
    ) -> (Option<Selected>, sched_core::model::AllocMetric) {
        let mut ctx = EvalContext::new(h, Default::default());
        let mut stack = Stack::new(config, h, job, 1);
        let group = job.groups()[0].clone();
        let got = stack.select(&mut ctx, job, &group, opts);
        (got, ctx.metrics)
    }

    #[test]
    fn binpack_prefers_the_fuller_node_and_records_scores() {
        let h = two_nodes_one_busy();
        let job = mock::service_job("web", 1, 500, 512);
        let (got, m) = pick(&h, nomad(), &job, &SelectOptions::default());
        let got = got.unwrap();
        assert_eq!(got.node_id, NodeId::from_u128(1));
        // used 3500/4000, 6512/8192: (20 - (10^0.125 + 10^0.205078125)) / 18
        let expect = (20.0 - (10f64.powf(0.125) + 10f64.powf(1.0 - 6512.0 / 8192.0))) / 18.0;
        assert!(
            (got.score - expect).abs() < 1e-9,
            "{} vs {expect}",
            got.score
        );
        assert_eq!(m.nodes_evaluated, 2);
        assert!(
            m.scores
                .contains_key(&format!("{}.binpack", NodeId::from_u128(1)))
        );
        assert!(
            m.scores
                .contains_key(&format!("{}.normalized-score", NodeId::from_u128(2)))
        );
    }

    #[test]
    fn spread_algorithm_prefers_the_emptier_node() {
        let h = two_nodes_one_busy();
        let job = mock::service_job("web", 1, 500, 512);
        let config = SchedulerConfig {
            algorithm: ScoringAlgorithm::Spread,
            ..nomad()
        };
        let (got, _) = pick(&h, config, &job, &SelectOptions::default());
        assert_eq!(got.unwrap().node_id, NodeId::from_u128(2));
    }

    #[test]
    fn capacity_index_finds_the_partly_filled_node() {
        let mut h = two_nodes_one_busy();
        for i in 3..=40 {
            h.upsert_node(mock::node(i));
        }
        let job = mock::service_job("web", 1, 500, 512);
        let (got, m) = pick(
            &h,
            SchedulerConfig::default(),
            &job,
            &SelectOptions::default(),
        );
        assert_eq!(got.unwrap().node_id, NodeId::from_u128(1));
        // Only the indexed node was looked at.
        assert_eq!(m.nodes_evaluated, 1);
        // Too big for node 1: falls back to the shuffled scan.
        let big = mock::service_job("big", 1, 1001, 512);
        let (got, _) = pick(
            &h,
            SchedulerConfig::default(),
            &big,
            &SelectOptions::default(),
        );
        assert_ne!(got.unwrap().node_id, NodeId::from_u128(1));
    }

    #[test]
    fn reschedule_penalty_avoids_the_failed_node() {
        let mut h = Harness::new();
        h.upsert_node(mock::node(1));
        h.upsert_node(mock::node(2));
        let job = mock::service_job("web", 1, 500, 512);
        for bad in [1u128, 2] {
            let opts = SelectOptions {
                penalty_nodes: [NodeId::from_u128(bad)].into(),
                ..SelectOptions::default()
            };
            let (got, _) = pick(&h, nomad(), &job, &opts);
            assert_ne!(got.unwrap().node_id, NodeId::from_u128(bad));
        }
    }

    #[test]
    fn job_anti_affinity_outweighs_a_better_fit() {
        let mut h = Harness::new();
        let (n1, n2) = (mock::node(1), mock::node(2));
        h.upsert_node(n1.clone());
        h.upsert_node(n2);
        let job = mock::service_job("web", 2, 1000, 1024);
        h.upsert_job(job.clone());
        h.upsert_alloc(mock::alloc(&job, &n1, 0));
        let (got, m) = pick(&h, nomad(), &job, &SelectOptions::default());
        assert_eq!(got.unwrap().node_id, NodeId::from_u128(2));
        // -(1 + 1) / 2
        assert_eq!(
            m.scores[&format!("{}.job-anti-affinity", NodeId::from_u128(1))],
            -1.0
        );
    }

    #[test]
    fn exhausted_and_filtered_nodes_are_counted() {
        let mut h = two_nodes_one_busy();
        let mut n3 = mock::node(3);
        n3.attributes.insert("kernel.name".into(), "windows".into());
        n3.computed_class = "v1:windows".into();
        h.upsert_node(n3);
        let mut job = mock::service_job("web", 1, 1500, 512);
        job.constraints = Some(vec![Constraint {
            l_target: Some("${attr.kernel.name}".into()),
            operand: Some("=".into()),
            r_target: Some("linux".into()),
        }]);
        let (got, m) = pick(&h, nomad(), &job, &SelectOptions::default());
        assert_eq!(got.unwrap().node_id, NodeId::from_u128(2));
        assert_eq!(m.nodes_filtered, 1);
        assert_eq!(m.constraint_filtered["${attr.kernel.name} = linux"], 1);
        assert_eq!(m.nodes_exhausted, 1);
        assert_eq!(m.dimension_exhausted["cpu"], 1);
        let _ = AllocId::from_u128(0);
    }

    #[test]
    fn class_cache_skips_rechecks_but_not_for_escaped_constraints() {
        let mut h = Harness::new();
        // Same computed class, inconsistent attribute (only possible in a
        // test): the first node's verdict is reused for the second.
        let n1 = mock::node(1);
        let mut n2 = mock::node(2);
        n2.attributes.insert("kernel.name".into(), "windows".into());
        h.upsert_node(n1.clone());
        h.upsert_node(n2.clone());
        let mut job = mock::service_job("web", 1, 100, 100);
        job.constraints = Some(vec![Constraint {
            l_target: Some("${attr.kernel.name}".into()),
            operand: Some("=".into()),
            r_target: Some("linux".into()),
        }]);
        let group = job.groups()[0].clone();
        let checks = GroupChecks::new(&job, &group);
        let mut ctx = EvalContext::new(&h, Default::default());
        assert!(checks.check(&mut ctx, &n1));
        assert!(checks.check(&mut ctx, &n2), "cached per class");
        // Escaped: ${node.unique.name} is checked on every node.
        job.constraints = Some(vec![Constraint {
            l_target: Some("${node.unique.name}".into()),
            operand: Some("=".into()),
            r_target: Some("node-2".into()),
        }]);
        let checks = GroupChecks::new(&job, &group);
        assert!(checks.escaped);
        let mut ctx = EvalContext::new(&h, Default::default());
        assert!(!checks.check(&mut ctx, &n1));
        assert!(checks.check(&mut ctx, &n2));
    }
}

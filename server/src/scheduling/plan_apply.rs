//! The plan applier: the one task that turns plans into committed
//! allocations, so two workers that planned on the same free capacity can
//! never both get it.
//!
//! Follows Nomad's `plan_apply.go`: for every node a plan touches it
//! re-checks the node against the latest state (it exists, is ready and
//! eligible when new allocations land on it, and everything that would run
//! there fits with `node_fits`), commits the nodes that pass as one
//! `Command::ApplyPlanResult`, and answers the worker with what was
//! committed and, when part was refused, a `refresh_index` to retry from.
//! `all_at_once` plans commit whole or not at all. A plan whose eval token is
//! not the broker's outstanding delivery is refused: its worker lost the eval.
//!
//! Preemptions: a node's placements are checked with the allocations the
//! plan preempts there removed. A preempted allocation that is no longer on
//! the node (gone, moved) refuses the node; one that already stopped is
//! dropped from the commit and, no longer freeing anything, makes the node
//! fail the fit unless there is room anyway. The commit evicts the rest and
//! creates one evaluation per job that lost allocations, so they are placed
//! again elsewhere.
//!
//! The check of the next plan overlaps the commit of the previous one: it
//! sees the previous plan's placements as already there (its stops are not
//! credited until committed), which can only refuse more, never overcommit.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use sched_core::model::{AllocId, Allocation, Evaluation, NodeId, Plan, PlanResult};
use sched_scheduler::harness::node_fits;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::broker::EvalBroker;
use super::plan_queue::{PlanError, PlanQueue};
use super::{Cluster, ClusterError};
use crate::evals::{new_eval, trigger};
use crate::fsm::{AllocStop, Command, CommandResponse};
use crate::state::StateSnapshot;

/// How long the applier waits for the state to reach the index of its
/// previous commit before checking the next plan.
const INDEX_WAIT: Duration = Duration::from_secs(10);
/// How often the idle applier looks at the shutdown signal.
const IDLE_POLL: Duration = Duration::from_millis(250);

/// Placements committed (or being committed) that the state may not show
/// yet, by node.
pub type Overlay = HashMap<NodeId, Vec<Allocation>>;

/// The outcome of checking a plan against a state.
#[derive(Debug, Clone, Default)]
pub struct CheckedPlan {
    /// What would be committed (indexes not set yet).
    pub result: PlanResult,
    /// Whether any node was refused.
    pub refused: bool,
    /// The command committing `result`, or `None` when nothing is left to
    /// commit.
    pub command: Option<Command>,
}

fn stops(allocs: Option<&Vec<Allocation>>) -> Vec<AllocStop> {
    allocs
        .into_iter()
        .flatten()
        .map(|a| AllocStop {
            alloc_id: a.id.clone(),
            description: a.desired_description.clone(),
            client_status: a.client_status.is_terminal().then_some(a.client_status),
        })
        .collect()
}

/// Why one node of a plan cannot be committed, or `None` when it can.
fn refuse_reason(
    state: &StateSnapshot,
    overlay: &Overlay,
    plan: &Plan,
    id: &NodeId,
) -> Option<String> {
    let placing = plan.node_allocation.get(id).into_iter().flatten();
    // Stops and preemptions only ever free capacity.
    placing.clone().next()?;
    let Some(node) = state.node(id) else {
        return Some("node not found".to_owned());
    };
    // An ID already taken by another allocation would overwrite it.
    if let Some(clash) = placing.clone().find(|a| {
        state
            .alloc(&a.id)
            .is_some_and(|old| old.name != a.name || old.job_id != a.job_id)
    }) {
        return Some(format!("allocation ID {} already in use", clash.id.0));
    }
    if let Some(stale) = plan
        .node_preemptions
        .get(id)
        .into_iter()
        .flatten()
        .find(|p| {
            state
                .alloc(&p.id)
                .is_none_or(|a| a.node_id != *id || a.job_id != p.job_id)
        })
    {
        return Some(format!(
            "preempted allocation {} is no longer on the node",
            stale.id.0
        ));
    }
    let new_ones = placing.clone().any(|a| state.alloc(&a.id).is_none());
    if new_ones && !node.is_schedulable() {
        return Some("node not ready or not eligible".to_owned());
    }
    let removed: HashSet<&AllocId> = plan
        .node_update
        .get(id)
        .into_iter()
        .chain(plan.node_preemptions.get(id))
        .chain(plan.node_allocation.get(id))
        .flatten()
        .map(|a| &a.id)
        .collect();
    let existing = state.allocs_by_node(id);
    let in_state: HashSet<&AllocId> = existing.iter().map(|a| &a.id).collect();
    let mut proposed: Vec<&Allocation> = existing
        .iter()
        .map(|a| a.as_ref())
        .filter(|a| !a.is_terminal() && !removed.contains(&a.id))
        .collect();
    proposed.extend(
        overlay
            .get(id)
            .into_iter()
            .flatten()
            .filter(|a| !a.is_terminal() && !removed.contains(&a.id) && !in_state.contains(&a.id)),
    );
    proposed.extend(placing.filter(|a| !a.is_terminal()));
    node_fits(&node, &proposed).err()
}

/// Checks every node of `plan` against `state` plus `overlay` and builds
/// the command for the part that fits.
pub fn check_plan(state: &StateSnapshot, overlay: &Overlay, plan: &Plan, now: i64) -> CheckedPlan {
    let nodes: BTreeSet<&NodeId> = plan
        .node_update
        .keys()
        .chain(plan.node_allocation.keys())
        .chain(plan.node_preemptions.keys())
        .collect();
    let mut refused = false;
    let mut accepted = Vec::new();
    for id in nodes {
        match refuse_reason(state, overlay, plan, id) {
            None => accepted.push(id.clone()),
            Some(reason) => {
                tracing::debug!(eval_id = %plan.eval_id.0, node_id = %id.0, %reason, "plan refused on node");
                refused = true;
            }
        }
    }
    if refused && plan.all_at_once {
        accepted.clear();
    }
    let mut result = PlanResult::default();
    for id in &accepted {
        for (from, to) in [
            (&plan.node_update, &mut result.node_update),
            (&plan.node_allocation, &mut result.node_allocation),
        ] {
            if let Some(v) = from.get(id).filter(|v| !v.is_empty()) {
                to.insert(id.clone(), v.clone());
            }
        }
        // Allocations that stopped meanwhile need no eviction.
        let live: Vec<Allocation> = plan
            .node_preemptions
            .get(id)
            .into_iter()
            .flatten()
            .filter(|p| state.alloc(&p.id).is_some_and(|a| !a.is_terminal()))
            .cloned()
            .collect();
        if !live.is_empty() {
            result.node_preemptions.insert(id.clone(), live);
        }
    }
    let commit_all = !(refused && plan.all_at_once);
    if commit_all {
        result.deployment = plan.deployment.clone();
        result.deployment_updates = plan.deployment_updates.clone();
    }
    let empty = result.node_update.is_empty()
        && result.node_allocation.is_empty()
        && result.node_preemptions.is_empty()
        && result.deployment.is_none()
        && result.deployment_updates.is_empty();
    let command = (!empty).then(|| Command::ApplyPlanResult {
        job: plan.job.as_ref().map(|j| Box::new(j.as_ref().clone())),
        allocs: result
            .node_allocation
            .values()
            .flatten()
            .map(|a| {
                // The state shares one job per version; the command
                // carries it once. An allocation placed with an older
                // version (while canaries wait) keeps its own.
                let mut a = a.clone();
                let older = match (&a.job, &plan.job) {
                    (Some(own), Some(planned)) => own.version != planned.version,
                    _ => false,
                };
                if !older {
                    a.job = None;
                }
                a
            })
            .collect(),
        stopped: result
            .node_update
            .values()
            .flat_map(|v| stops(Some(v)))
            .collect(),
        preempted: result
            .node_preemptions
            .values()
            .flat_map(|v| stops(Some(v)))
            .collect(),
        deployment: result.deployment.clone(),
        deployment_updates: result.deployment_updates.clone(),
        evals: preemption_evals(state, &result, now),
        now,
    });
    CheckedPlan {
        result,
        refused,
        command,
    }
}

/// One pending evaluation per job that loses allocations to the plan's
/// preemptions, so the scheduler places them again (Nomad's
/// `PreemptionEvals`).
fn preemption_evals(state: &StateSnapshot, result: &PlanResult, now: i64) -> Vec<Evaluation> {
    let jobs: BTreeSet<(&str, &str)> = result
        .node_preemptions
        .values()
        .flatten()
        .map(|a| (a.namespace.as_str(), a.job_id.as_str()))
        .collect();
    jobs.into_iter()
        .filter_map(|(ns, id)| state.job(ns, id))
        .map(|job| {
            let e = new_eval(&job, trigger::PREEMPTION, now);
            tracing::debug!(eval_id = %e.id.0, job_id = %e.job_id, "evaluation for preempted allocations");
            e
        })
        .collect()
}

/// A commit in progress and the worker waiting for it.
struct InFlight {
    handle: JoinHandle<Result<CommandResponse, ClusterError>>,
    reply: oneshot::Sender<Result<PlanResult, PlanError>>,
    checked: CheckedPlan,
    snapshot_index: u64,
}

impl InFlight {
    fn overlay(&self) -> Overlay {
        self.checked
            .result
            .node_allocation
            .clone()
            .into_iter()
            .collect()
    }

    /// Waits for the commit and answers the worker.
    async fn finish(self) -> Finished {
        let outcome = match self.handle.await {
            Ok(Ok(resp)) => match resp.error {
                Some(e) => Err(ClusterError::Rejected(e)),
                None => Ok(resp.index),
            },
            Ok(Err(e)) => Err(e),
            Err(e) => Err(ClusterError::Unavailable(e.to_string())),
        };
        match outcome {
            Ok(index) => {
                let mut result = self.checked.result;
                result.alloc_index = index;
                if self.checked.refused {
                    result.refresh_index = index.max(self.snapshot_index);
                }
                let _ = self.reply.send(Ok(result));
                Finished::Committed(index)
            }
            Err(e) => {
                tracing::warn!(error = %e, "committing a plan failed");
                // A timeout or a vanished commit task may still commit
                // later; a refusal or a lost leadership did not.
                let uncertain = matches!(e, ClusterError::Timeout | ClusterError::Unavailable(_));
                let _ = self.reply.send(Err(PlanError::Cluster(e)));
                Finished::Failed { uncertain }
            }
        }
    }
}

/// How a commit ended.
enum Finished {
    Committed(u64),
    Failed { uncertain: bool },
}

/// What the applier knows about the commits behind it.
struct Applier {
    cluster: Arc<dyn Cluster>,
    /// Every commit that finished is at or below this index.
    last_index: u64,
    /// A failed commit may still land: the state must pass a barrier
    /// before the next check can trust it.
    uncertain: bool,
}

impl Applier {
    async fn finish(&mut self, f: InFlight) {
        match f.finish().await {
            Finished::Committed(i) => self.last_index = self.last_index.max(i),
            Finished::Failed { uncertain } => self.uncertain |= uncertain,
        }
    }

    /// A snapshot that holds every commit that finished (and any that
    /// failed uncertainly), or why there is none.
    async fn settled_snapshot(&mut self) -> Result<StateSnapshot, ClusterError> {
        if self.uncertain {
            // Commands apply in order: once a no-op proposed now is
            // applied, an earlier commit either landed or never will.
            let resp = self.cluster.apply(Command::Noop).await?;
            self.last_index = self.last_index.max(resp.index);
            self.uncertain = false;
        }
        let snapshot = self
            .cluster
            .state()
            .wait_for_index(self.last_index, INDEX_WAIT)
            .await;
        if snapshot.index() < self.last_index {
            return Err(ClusterError::Timeout);
        }
        Ok(snapshot)
    }
}

/// The applier loop: runs until `shutdown` turns `true`.
pub async fn run_applier(
    cluster: Arc<dyn Cluster>,
    plans: Arc<PlanQueue>,
    broker: Arc<EvalBroker>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut applier = Applier {
        cluster: cluster.clone(),
        last_index: 0,
        uncertain: false,
    };
    let mut in_flight: Option<InFlight> = None;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let next = if in_flight.is_some() {
            plans.try_next()
        } else {
            tokio::select! {
                p = plans.next(IDLE_POLL) => p,
                _ = shutdown.changed() => None,
            }
        };
        let Some(pending) = next else {
            if let Some(f) = in_flight.take() {
                applier.finish(f).await;
            }
            continue;
        };
        let plan = pending.plan;
        if broker.outstanding(&plan.eval_id).as_deref() != Some(plan.eval_token.as_str()) {
            let _ = pending
                .reply
                .send(Err(PlanError::TokenMismatch(plan.eval_id.clone())));
            continue;
        }
        let snapshot = match applier.settled_snapshot().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "state not settled; refusing the plan");
                let _ = pending.reply.send(Err(PlanError::Cluster(e)));
                continue;
            }
        };
        let overlay = in_flight
            .as_ref()
            .map(InFlight::overlay)
            .unwrap_or_default();
        let checked = check_plan(&snapshot, &overlay, &plan, cluster.now());
        if let Some(f) = in_flight.take() {
            applier.finish(f).await;
        }
        let Some(command) = checked.command.clone() else {
            let mut result = checked.result;
            result.alloc_index = snapshot.index();
            if checked.refused {
                result.refresh_index = snapshot.index().max(1);
            }
            let _ = pending.reply.send(Ok(result));
            continue;
        };
        let c = cluster.clone();
        in_flight = Some(InFlight {
            handle: tokio::spawn(async move { c.apply(command).await }),
            reply: pending.reply,
            checked,
            snapshot_index: snapshot.index(),
        });
    }
    if let Some(f) = in_flight.take() {
        applier.finish(f).await;
    }
}

#[cfg(test)]
mod tests {
    use sched_core::model::{DesiredStatus, EvalId, Node, NodeStatus};
    use sched_scheduler::mock;

    use super::*;

    fn state(nodes: &[Node], allocs: &[Allocation], index: u64) -> StateSnapshot {
        let mut s = StateSnapshot {
            index,
            ..StateSnapshot::default()
        };
        for n in nodes {
            s.nodes.insert(n.id.clone(), Arc::new(n.clone()));
        }
        for a in allocs {
            let mut set = s
                .allocs_by_node
                .get(&a.node_id)
                .cloned()
                .unwrap_or_default();
            let a = Arc::new(a.clone());
            set.insert(a.id.clone(), a.clone());
            s.allocs_by_node.insert(a.node_id.clone(), set);
            s.allocs.insert(a.id.clone(), a);
        }
        s
    }

    /// A new allocation of `cpu` MHz and 256 MB on `node`.
    fn alloc(n: u128, node: &Node, cpu: i64) -> Allocation {
        let job = mock::service_job("web", 1, cpu, 256);
        let mut a = mock::alloc(&job, node, 0);
        a.id = AllocId::from_u128(n);
        a.client_status = sched_core::model::ClientStatus::Pending;
        a
    }

    fn plan(places: Vec<Allocation>, stops: Vec<Allocation>) -> Plan {
        let mut p = Plan {
            eval_id: EvalId::from_u128(1),
            priority: 50,
            ..Default::default()
        };
        for a in places {
            p.node_allocation
                .entry(a.node_id.clone())
                .or_default()
                .push(a);
        }
        for mut a in stops {
            a.desired_status = DesiredStatus::Stop;
            p.node_update.entry(a.node_id.clone()).or_default().push(a);
        }
        p
    }

    fn placed(c: &CheckedPlan) -> usize {
        match &c.command {
            Some(Command::ApplyPlanResult { allocs, .. }) => allocs.len(),
            _ => 0,
        }
    }

    #[test]
    fn an_allocation_of_an_older_job_version_keeps_its_job() {
        let node = mock::node(1);
        let s = state(std::slice::from_ref(&node), &[], 7);
        let mut new_job = mock::service_job("web", 1, 100, 256);
        new_job.version = Some(3);
        let mut old_job = new_job.clone();
        old_job.version = Some(2);
        let mut current = alloc(1, &node, 100);
        current.job = Some(Arc::new(new_job.clone()));
        let mut older = alloc(2, &node, 100);
        older.job = Some(Arc::new(old_job));
        let mut p = plan(vec![current, older], vec![]);
        p.job = Some(Arc::new(new_job));
        let c = check_plan(&s, &Overlay::new(), &p, 0);
        let Some(Command::ApplyPlanResult { allocs, .. }) = &c.command else {
            panic!("the plan commits");
        };
        let version = |id: u128| {
            let a = allocs.iter().find(|a| a.id == AllocId::from_u128(id));
            a.map(|a| a.job.as_ref().map(|j| j.version))
        };
        assert_eq!(version(1), Some(None), "the plan's job travels once");
        assert_eq!(version(2), Some(Some(Some(2))));
    }

    #[test]
    fn an_overcommitting_plan_is_committed_only_on_the_nodes_that_fit() {
        let (a, b) = (mock::node(1), mock::node(2));
        let running = {
            let mut r = alloc(100, &a, 3000);
            r.client_status = sched_core::model::ClientStatus::Running;
            r
        };
        let s = state(&[a.clone(), b.clone()], std::slice::from_ref(&running), 7);
        let p = plan(
            vec![alloc(1, &a, 1000), alloc(2, &a, 1000), alloc(3, &b, 1000)],
            vec![],
        );
        let c = check_plan(&s, &Overlay::new(), &p, 0);
        assert!(c.refused);
        assert_eq!(
            c.result.node_allocation.keys().collect::<Vec<_>>(),
            vec![&b.id]
        );
        assert_eq!(placed(&c), 1);
        if let Some(Command::ApplyPlanResult { allocs, .. }) = &c.command {
            assert!(
                allocs.iter().all(|a| a.job.is_none()),
                "the job travels once"
            );
        }
    }

    #[test]
    fn all_at_once_plans_commit_whole_or_not_at_all() {
        let (a, b) = (mock::node(1), mock::node(2));
        let s = state(&[a.clone(), b.clone()], &[], 3);
        let mut p = plan(vec![alloc(1, &a, 5000), alloc(2, &b, 1000)], vec![]);
        p.all_at_once = true;
        let c = check_plan(&s, &Overlay::new(), &p, 0);
        assert!(c.refused);
        assert!(c.result.node_allocation.is_empty());
        assert!(c.command.is_none());
    }

    #[test]
    fn stops_in_the_same_plan_free_room_for_its_placements() {
        let a = mock::node(1);
        let mut old = alloc(100, &a, 3500);
        old.client_status = sched_core::model::ClientStatus::Running;
        let s = state(std::slice::from_ref(&a), std::slice::from_ref(&old), 3);
        let p = plan(vec![alloc(1, &a, 3500)], vec![old]);
        let c = check_plan(&s, &Overlay::new(), &p, 0);
        assert!(!c.refused);
        match &c.command {
            Some(Command::ApplyPlanResult {
                allocs, stopped, ..
            }) => {
                assert_eq!((allocs.len(), stopped.len()), (1, 1));
            }
            other => panic!("expected a commit, got {other:?}"),
        }
    }

    #[test]
    fn new_placements_need_a_ready_eligible_node_that_exists() {
        let mut down = mock::node(1);
        down.status = NodeStatus::Down;
        let missing = mock::node(2);
        let s = state(std::slice::from_ref(&down), &[], 3);
        let p = plan(vec![alloc(1, &down, 100), alloc(2, &missing, 100)], vec![]);
        let c = check_plan(&s, &Overlay::new(), &p, 0);
        assert!(c.refused);
        assert!(c.command.is_none());
    }

    #[test]
    fn placements_being_committed_count_against_the_next_plan() {
        let a = mock::node(1);
        let s = state(std::slice::from_ref(&a), &[], 3);
        let mut overlay = Overlay::new();
        overlay.insert(a.id.clone(), vec![alloc(1, &a, 3000)]);
        let p = plan(vec![alloc(2, &a, 2000)], vec![]);
        let c = check_plan(&s, &overlay, &p, 0);
        assert!(
            c.refused,
            "the previous plan's 3000 MHz plus 2000 exceed 4000"
        );
        let fits = plan(vec![alloc(3, &a, 1000)], vec![]);
        assert!(!check_plan(&s, &overlay, &fits, 0).refused);
    }

    #[test]
    fn a_placement_reusing_another_allocations_id_is_refused() {
        let a = mock::node(1);
        let mut existing = alloc(1, &a, 100);
        existing.name = "web.web[0]".to_owned();
        let s = state(std::slice::from_ref(&a), std::slice::from_ref(&existing), 3);
        let mut clash = alloc(1, &a, 100);
        clash.name = "web.web[1]".to_owned();
        let c = check_plan(&s, &Overlay::new(), &plan(vec![clash], vec![]), 0);
        assert!(c.refused);
        assert!(c.command.is_none());
        // The same allocation updated in place is fine.
        let c = check_plan(&s, &Overlay::new(), &plan(vec![existing], vec![]), 0);
        assert!(!c.refused);
    }

    /// A node 4000 MHz large, 3500 of it taken by a running allocation of
    /// the priority-20 job `low`, which the state knows.
    fn full_node() -> (Node, Allocation, StateSnapshot) {
        let n = mock::node(1);
        let mut low_job = mock::service_job("low", 1, 3500, 256);
        low_job.priority = Some(20);
        let mut victim = mock::alloc(&low_job, &n, 0);
        victim.id = AllocId::from_u128(500);
        let mut s = state(std::slice::from_ref(&n), std::slice::from_ref(&victim), 9);
        s.jobs
            .insert(("default".to_owned(), "low".to_owned()), Arc::new(low_job));
        (n, victim, s)
    }

    fn preempting(place: Allocation, victims: &[Allocation]) -> Plan {
        let mut p = plan(vec![place.clone()], vec![]);
        sched_scheduler::rank::preemption::append_preempted(&mut p, victims, &place.id);
        p
    }

    #[test]
    fn preempted_allocations_make_room_and_their_jobs_get_evaluations() {
        let (n, victim, s) = full_node();
        let new = alloc(1, &n, 1000);
        // Without the preemption the node is full.
        assert!(check_plan(&s, &Overlay::new(), &plan(vec![new.clone()], vec![]), 0).refused);
        let c = check_plan(
            &s,
            &Overlay::new(),
            &preempting(new.clone(), std::slice::from_ref(&victim)),
            77,
        );
        assert!(!c.refused);
        assert_eq!(c.result.node_preemptions[&n.id].len(), 1);
        match c.command {
            Some(Command::ApplyPlanResult {
                preempted, evals, ..
            }) => {
                assert_eq!(preempted.len(), 1);
                assert_eq!(preempted[0].alloc_id, victim.id);
                assert_eq!(
                    preempted[0].description,
                    format!("Preempted by alloc ID {}", new.id)
                );
                assert_eq!(preempted[0].client_status, None);
                assert_eq!(evals.len(), 1);
                assert_eq!(
                    (evals[0].job_id.as_str(), evals[0].triggered_by.as_str()),
                    ("low", "preemption")
                );
                assert_eq!((evals[0].priority, evals[0].create_time), (20, 77));
                assert_eq!(evals[0].status, sched_core::model::EvalStatus::Pending);
            }
            other => panic!("expected a commit, got {other:?}"),
        }
    }

    #[test]
    fn stale_preemptions_are_refused() {
        let (n, victim, _) = full_node();
        let new = alloc(1, &n, 1000);
        let p = preempting(new.clone(), std::slice::from_ref(&victim));
        // The victim is gone from the state.
        let empty = state(std::slice::from_ref(&n), &[], 10);
        let c = check_plan(&empty, &Overlay::new(), &p, 0);
        assert!(c.refused);
        assert!(c.command.is_none());
        // The victim moved to another node.
        let mut moved = victim.clone();
        moved.node_id = mock::node(2).id;
        let elsewhere = state(&[n.clone(), mock::node(2)], &[moved], 10);
        assert!(check_plan(&elsewhere, &Overlay::new(), &p, 0).refused);
        // The victim already stopped and something else took the room:
        // evicting it frees nothing, the node is full.
        let mut stopped = victim.clone();
        stopped.desired_status = DesiredStatus::Stop;
        stopped.client_status = sched_core::model::ClientStatus::Complete;
        let mut other = alloc(600, &n, 3500);
        other.client_status = sched_core::model::ClientStatus::Running;
        let taken = state(std::slice::from_ref(&n), &[stopped.clone(), other], 10);
        let c = check_plan(&taken, &Overlay::new(), &p, 0);
        assert!(c.refused);
        assert!(c.command.is_none());
        // Stopped and the room still free: the placement commits, the
        // eviction (and its evaluation) is dropped.
        let free = state(std::slice::from_ref(&n), &[stopped], 10);
        let c = check_plan(&free, &Overlay::new(), &p, 0);
        assert!(!c.refused);
        assert!(c.result.node_preemptions.is_empty());
        match c.command {
            Some(Command::ApplyPlanResult {
                preempted,
                evals,
                allocs,
                ..
            }) => {
                assert!(preempted.is_empty() && evals.is_empty());
                assert_eq!(allocs.len(), 1);
            }
            other => panic!("expected a commit, got {other:?}"),
        }
    }
}

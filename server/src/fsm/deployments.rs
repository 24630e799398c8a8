//! How the deployment commands change the state, following Nomad's state
//! store (`UpdateDeploymentStatus`, `UpdateDeploymentPromotion`,
//! `UpdateDeploymentAllocHealth`): every check runs before the first
//! write, so a refused command leaves the state as it was.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{SecondsFormat, TimeZone, Utc};
use sched_core::model::{
    AllocDeploymentStatus, AllocId, Deployment, DeploymentId, DeploymentStatus,
    DeploymentStatusUpdate, Evaluation, Job,
};

use super::apply::{
    Applied, ApplyError, account_deployment, register_job, set_stability, upsert_evals,
};
use crate::state::{NsKey, StateEventKind, Txn};

/// RFC 3339 (nanoseconds, UTC) of Unix nanoseconds, the form deployment
/// times take in Nomad's JSON.
pub(crate) fn rfc3339(nanos: i64) -> String {
    Utc.timestamp_nanos(nanos)
        .to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn status_name(s: DeploymentStatus) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The deployment, if it exists and is still active.
fn active(
    txn: &Txn,
    id: &DeploymentId,
    action: &'static str,
) -> Result<Arc<Deployment>, ApplyError> {
    let d = txn
        .state
        .deployments
        .get(id)
        .cloned()
        .ok_or_else(|| ApplyError::DeploymentNotFound(id.to_string()))?;
    if !d.status.is_active() {
        return Err(ApplyError::DeploymentTerminal {
            action,
            id: id.to_string(),
            status: status_name(d.status),
        });
    }
    Ok(d)
}

fn put(txn: &mut Txn, mut d: Deployment, out: &mut Applied) {
    d.modify_index = txn.index;
    let d = Arc::new(d);
    txn.put_deployment(d.clone());
    out.events.push(StateEventKind::Deployment(d));
}

/// Writes a status change, the job an auto-revert registers and the
/// follow-up evaluation; the deployment is known to be active.
#[allow(clippy::too_many_arguments)]
fn write_status(
    txn: &mut Txn,
    d: &Deployment,
    update: DeploymentStatusUpdate,
    job: Option<Job>,
    eval: Option<Evaluation>,
    now: i64,
    out: &mut Applied,
    jobs: &mut BTreeSet<NsKey>,
) -> Result<(), ApplyError> {
    let registered = match job {
        Some(j) => {
            let (j, version) = register_job(txn, j, None, now, out)?;
            out.job_version = Some(version);
            Some(j)
        }
        None => None,
    };
    let mut changed = d.clone();
    changed.status = update.status;
    changed.status_description = update.status_description;
    put(txn, changed, out);
    if update.status == DeploymentStatus::Successful
        && txn
            .state
            .job_version(&d.namespace, &d.job_id, d.job_version)
            .is_some()
    {
        set_stability(
            txn,
            d.namespace.clone(),
            d.job_id.clone(),
            d.job_version,
            true,
            out,
        )?;
    }
    if let Some(j) = &registered {
        jobs.insert(crate::state::job_key(j));
    }
    if let Some(mut e) = eval {
        if let Some(j) = &registered {
            e.job_modify_index = j.job_modify_index.unwrap_or(txn.index);
        }
        upsert_evals(txn, vec![e], out, jobs);
    }
    Ok(())
}

/// [`Command::DeploymentStatusUpdate`](super::Command::DeploymentStatusUpdate).
pub(super) fn status_update(
    txn: &mut Txn,
    update: DeploymentStatusUpdate,
    job: Option<Job>,
    eval: Option<Evaluation>,
    now: i64,
    out: &mut Applied,
    jobs: &mut BTreeSet<NsKey>,
) -> Result<(), ApplyError> {
    let d = active(txn, &update.deployment_id, "update")?;
    write_status(txn, &d, update, job, eval, now, out, jobs)
}

/// How many of a group's placed canaries are healthy.
fn healthy_canaries(txn: &Txn, canaries: &[AllocId]) -> i64 {
    let n = canaries
        .iter()
        .filter_map(|id| txn.state.allocs.get(id))
        .filter(|a| a.deployment_status.as_ref().and_then(|s| s.healthy) == Some(true))
        .count();
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// [`Command::DeploymentPromote`](super::Command::DeploymentPromote).
pub(super) fn promote(
    txn: &mut Txn,
    id: &DeploymentId,
    groups: Option<Vec<String>>,
    eval: Option<Evaluation>,
    now: i64,
    out: &mut Applied,
    jobs: &mut BTreeSet<NsKey>,
) -> Result<(), ApplyError> {
    let d = active(txn, id, "promote")?;
    if d.status != DeploymentStatus::Running {
        return Err(ApplyError::DeploymentNotRunning {
            id: id.to_string(),
            status: status_name(d.status),
        });
    }
    let names: Vec<String> = match groups {
        Some(names) => {
            if let Some(g) = names.iter().find(|g| !d.task_groups.contains_key(*g)) {
                return Err(ApplyError::DeploymentGroupNotFound {
                    id: id.to_string(),
                    group: g.clone(),
                });
            }
            names
                .into_iter()
                .filter(|g| d.task_groups[g].desired_canaries > 0)
                .collect()
        }
        None => d
            .task_groups
            .iter()
            .filter(|(_, g)| g.desired_canaries > 0)
            .map(|(n, _)| n.clone())
            .collect(),
    };
    if names.is_empty() {
        return Err(ApplyError::NoCanaries(id.to_string()));
    }
    for name in &names {
        let g = &d.task_groups[name];
        if g.promoted {
            continue;
        }
        let healthy = healthy_canaries(txn, &g.placed_canaries);
        if healthy < g.desired_canaries {
            return Err(ApplyError::CanariesUnhealthy {
                group: name.clone(),
                healthy,
                desired: g.desired_canaries,
            });
        }
    }
    let mut changed = (*d).clone();
    let mut promoted_canaries = Vec::new();
    for name in &names {
        if let Some(g) = changed.task_groups.get_mut(name) {
            g.promoted = true;
            promoted_canaries.extend(g.placed_canaries.iter().cloned());
        }
    }
    // A deployment that waited for a manual promotion is simply running now.
    if changed.status_description == crate::scheduling::deployment_watcher::DESC_NEEDS_PROMOTION {
        changed.status_description = crate::scheduling::deployment_watcher::DESC_RUNNING.to_owned();
    }
    put(txn, changed, out);
    // As Nomad does: a promoted canary is an ordinary allocation of the
    // new version from now on.
    for alloc_id in promoted_canaries {
        let Some(old) = txn.state.allocs.get(&alloc_id).cloned() else {
            continue;
        };
        let Some(ds) = old.deployment_status.as_ref().filter(|s| s.canary) else {
            continue;
        };
        let mut a = (*old).clone();
        a.deployment_status = Some(AllocDeploymentStatus {
            canary: false,
            modify_index: txn.index,
            ..ds.clone()
        });
        a.modify_index = txn.index;
        a.modify_time = now;
        let a = Arc::new(a);
        txn.put_alloc(a.clone());
        out.events.push(StateEventKind::Alloc(a));
    }
    if let Some(e) = eval {
        upsert_evals(txn, vec![e], out, jobs);
    }
    Ok(())
}

/// [`Command::DeploymentAllocHealth`](super::Command::DeploymentAllocHealth).
#[allow(clippy::too_many_arguments)]
pub(super) fn alloc_health(
    txn: &mut Txn,
    id: &DeploymentId,
    (healthy, unhealthy): (Vec<AllocId>, Vec<AllocId>),
    update: Option<(DeploymentStatusUpdate, Option<Job>)>,
    eval: Option<Evaluation>,
    now: i64,
    out: &mut Applied,
    jobs: &mut BTreeSet<NsKey>,
) -> Result<(), ApplyError> {
    let d = active(txn, id, "set health of allocations for")?;
    if let Some(both) = healthy.iter().find(|h| unhealthy.contains(h)) {
        return Err(ApplyError::AllocHealthConflict(both.to_string()));
    }
    let foreign: Vec<String> = healthy
        .iter()
        .chain(&unhealthy)
        .filter(|a| {
            txn.state
                .allocs
                .get(*a)
                .is_none_or(|a| a.deployment_id.as_ref() != Some(id))
        })
        .map(ToString::to_string)
        .collect();
    if !foreign.is_empty() {
        return Err(ApplyError::AllocsNotInDeployment {
            id: id.to_string(),
            allocs: foreign,
        });
    }
    let marks = healthy
        .into_iter()
        .map(|a| (a, true))
        .chain(unhealthy.into_iter().map(|a| (a, false)));
    for (alloc_id, is_healthy) in marks {
        let Some(old) = txn.state.allocs.get(&alloc_id).cloned() else {
            continue;
        };
        let mut a = (*old).clone();
        let ds = a
            .deployment_status
            .get_or_insert_with(AllocDeploymentStatus::default);
        ds.healthy = Some(is_healthy);
        ds.timestamp = Some(rfc3339(now));
        ds.modify_index = txn.index;
        a.modify_index = txn.index;
        a.modify_time = now;
        account_deployment(txn, Some(&old), &a, out);
        let a = Arc::new(a);
        txn.put_alloc(a.clone());
        out.events.push(StateEventKind::Alloc(a));
    }
    match update {
        Some((u, job)) => {
            // Counts moved above: write the status onto the latest copy.
            let latest = txn.state.deployments.get(id).cloned().unwrap_or(d);
            write_status(txn, &latest, u, job, eval, now, out, jobs)?;
        }
        None => {
            if let Some(e) = eval {
                upsert_evals(txn, vec![e], out, jobs);
            }
        }
    }
    Ok(())
}

/// [`Command::DeploymentPause`](super::Command::DeploymentPause).
pub(super) fn pause(
    txn: &mut Txn,
    id: &DeploymentId,
    pause: bool,
    eval: Option<Evaluation>,
    out: &mut Applied,
    jobs: &mut BTreeSet<NsKey>,
) -> Result<(), ApplyError> {
    use crate::scheduling::deployment_watcher::{DESC_PAUSED, DESC_RUNNING};
    let d = active(txn, id, if pause { "pause" } else { "resume" })?;
    let mut changed = (*d).clone();
    if pause {
        changed.status = DeploymentStatus::Paused;
        changed.status_description = DESC_PAUSED.to_owned();
    } else {
        changed.status = DeploymentStatus::Running;
        changed.status_description = DESC_RUNNING.to_owned();
    }
    put(txn, changed, out);
    if let Some(e) = eval {
        upsert_evals(txn, vec![e], out, jobs);
    }
    Ok(())
}

/// [`Command::DeploymentProgress`](super::Command::DeploymentProgress).
pub(super) fn progress(
    txn: &mut Txn,
    id: &DeploymentId,
    require_progress_by: BTreeMap<String, String>,
    eval: Option<Evaluation>,
    out: &mut Applied,
    jobs: &mut BTreeSet<NsKey>,
) -> Result<(), ApplyError> {
    let d = active(txn, id, "update progress of")?;
    if let Some(g) = require_progress_by
        .keys()
        .find(|g| !d.task_groups.contains_key(*g))
    {
        return Err(ApplyError::DeploymentGroupNotFound {
            id: id.to_string(),
            group: g.clone(),
        });
    }
    if !require_progress_by.is_empty() {
        let mut changed = (*d).clone();
        for (g, by) in require_progress_by {
            if let Some(state) = changed.task_groups.get_mut(&g) {
                state.require_progress_by = Some(by);
            }
        }
        put(txn, changed, out);
    }
    if let Some(e) = eval {
        upsert_evals(txn, vec![e], out, jobs);
    }
    Ok(())
}

/// A job with a stable version 0 and a version 1 rolling out under a
/// deployment, built from commands, for the deployment tests of the FSM,
/// the watcher and the HTTP API.
#[cfg(any(test, feature = "testing"))]
pub mod fixture {
    use std::collections::BTreeMap;

    use sched_core::model::{
        AllocDeploymentStatus, AllocId, ClientStatus, Deployment, DeploymentId, DeploymentState,
        DeploymentStatus, Job, Node, NodeStatus,
    };

    use crate::fsm::{AllocClientUpdate, Command};

    /// The deployment's only group.
    pub const GROUP: &str = "web";
    /// The job.
    pub const JOB: &str = "web";

    /// The deployment's ID.
    pub fn deployment_id() -> DeploymentId {
        DeploymentId::from_u128(0xd0)
    }

    /// The ID of the `i`th allocation placed.
    pub fn alloc_id(i: usize) -> AllocId {
        AllocId::from_u128(0x100 + i as u128)
    }

    /// Version `version` of the job (versions differ in priority).
    pub fn job(version: u64) -> Job {
        let mut j = sched_scheduler::mock::service_job(JOB, 3, 100, 64);
        j.priority = Some(50 + i64::try_from(version).unwrap_or(0));
        j
    }

    fn node() -> Node {
        let mut n = sched_scheduler::mock::node(1);
        n.status = NodeStatus::Ready;
        n
    }

    /// The commands that set it up: a node, version 0 registered and
    /// marked stable, version 1 registered, and a plan placing `allocs`
    /// allocations of version 1 (the first `canaries` of them canaries)
    /// under a running deployment whose group is `group`.
    pub fn setup(group: DeploymentState, allocs: usize, canaries: usize, now: i64) -> Vec<Command> {
        let n = node();
        let mut v1 = job(1);
        v1.version = Some(1);
        let placed = (0..allocs)
            .map(|i| {
                let mut a = sched_scheduler::mock::alloc(&v1, &n, i as u64);
                a.id = alloc_id(i);
                a.job = None;
                a.client_status = ClientStatus::Pending;
                a.deployment_id = Some(deployment_id());
                a.deployment_status = (i < canaries).then(|| AllocDeploymentStatus {
                    canary: true,
                    ..AllocDeploymentStatus::default()
                });
                a
            })
            .collect();
        let d = Deployment {
            id: deployment_id(),
            namespace: "default".into(),
            job_id: JOB.into(),
            job_version: 1,
            task_groups: BTreeMap::from([(GROUP.to_string(), group)]),
            status: DeploymentStatus::Running,
            status_description: "Deployment is running".into(),
            ..Deployment::default()
        };
        vec![
            Command::NodeRegister {
                node: Box::new(n),
                evals: vec![],
                now,
            },
            Command::JobRegister {
                job: Box::new(job(0)),
                eval: None,
                submission: None,
                now,
            },
            Command::JobStability {
                namespace: "default".into(),
                job_id: JOB.into(),
                version: 0,
                stable: true,
            },
            Command::JobRegister {
                job: Box::new(job(1)),
                eval: None,
                submission: None,
                now,
            },
            Command::ApplyPlanResult {
                job: Some(Box::new(v1)),
                allocs: placed,
                stopped: vec![],
                preempted: vec![],
                deployment: Some(d),
                deployment_updates: vec![],
                evals: vec![],
                now,
            },
        ]
    }

    /// A client reporting the deployment health of allocations.
    pub fn report(allocs: &[usize], healthy: bool, now: i64) -> Command {
        Command::AllocClientUpdate {
            updates: allocs
                .iter()
                .map(|i| AllocClientUpdate {
                    alloc_id: alloc_id(*i),
                    client_status: ClientStatus::Running,
                    healthy: Some(healthy),
                    ..AllocClientUpdate::default()
                })
                .collect(),
            evals: vec![],
            now,
        }
    }
}

#[cfg(test)]
mod tests {
    use sched_core::model::{DeploymentState, Duration, EvalId, Evaluation};
    use serde_json::Value;

    use super::fixture::{self, GROUP, JOB, alloc_id, deployment_id};
    use super::*;
    use crate::fsm::{Command, CommandResponse, Fsm};
    use crate::raft::StateMachine;
    use crate::state::{StateSnapshot, Table};

    const NOW: i64 = 1_700_000_000_000_000_000;

    struct Harness {
        fsm: Fsm,
        next: u64,
        _dir: tempfile::TempDir,
    }

    impl Harness {
        fn new(group: DeploymentState, allocs: usize, canaries: usize) -> Harness {
            let dir = tempfile::tempdir().expect("tempdir");
            let db = sled::open(dir.path()).expect("sled");
            let (fsm, _reader) = Fsm::open(&db).expect("open");
            let mut h = Harness {
                fsm,
                next: 1,
                _dir: dir,
            };
            for cmd in fixture::setup(group, allocs, canaries, NOW) {
                h.ok(cmd);
            }
            h
        }

        fn run(&mut self, cmd: Command) -> CommandResponse {
            let i = self.next;
            self.next += 1;
            self.fsm.apply(i, &cmd.encode())
        }

        fn ok(&mut self, cmd: Command) -> CommandResponse {
            let r = self.run(cmd);
            assert_eq!(r.error, None, "command refused");
            r
        }

        /// Runs a command that must be refused, checks the state's bytes
        /// (all but the applied index) did not change, and answers the
        /// refusal.
        fn refused(&mut self, cmd: Command) -> String {
            let before = self.tables();
            let r = self.run(cmd);
            assert_eq!(self.tables(), before, "a refused command changed the state");
            r.error.expect("command refused")
        }

        fn tables(&self) -> Value {
            let mut v: Value = serde_json::from_slice(&self.fsm.snapshot()).expect("json");
            if let Value::Object(m) = &mut v {
                m.remove("Index");
            }
            v
        }

        fn s(&self) -> StateSnapshot {
            self.fsm.state()
        }

        fn deployment(&self) -> Arc<Deployment> {
            self.s().deployment(&deployment_id()).expect("deployment")
        }
    }

    fn group(total: i64, canaries: i64) -> DeploymentState {
        DeploymentState {
            desired_total: total,
            desired_canaries: canaries,
            auto_revert: true,
            progress_deadline: Duration(60_000_000_000),
            ..DeploymentState::default()
        }
    }

    fn eval(n: u128) -> Evaluation {
        Evaluation {
            id: EvalId::from_u128(n),
            namespace: "default".into(),
            job_id: JOB.into(),
            triggered_by: "deployment-watcher".into(),
            ..Evaluation::default()
        }
    }

    fn status(s: DeploymentStatus, desc: &str) -> DeploymentStatusUpdate {
        DeploymentStatusUpdate {
            deployment_id: deployment_id(),
            status: s,
            status_description: desc.into(),
        }
    }

    #[test]
    fn failing_with_a_revert_registers_the_stable_spec_as_a_new_version() {
        let mut h = Harness::new(group(3, 0), 3, 0);
        let mut revert = (*h.s().job_version("default", JOB, 0).expect("v0")).clone();
        revert.version = None;
        let r = h.ok(Command::DeploymentStatusUpdate {
            update: status(
                DeploymentStatus::Failed,
                "Failed due to unhealthy allocations - rolling back to job version 0",
            ),
            job: Some(Box::new(revert)),
            eval: Some(eval(9)),
            now: NOW + 5,
        });
        assert_eq!(r.job_version, Some(2));
        let s = h.s();
        let d = h.deployment();
        assert_eq!(d.status, DeploymentStatus::Failed);
        assert!(
            d.status_description
                .ends_with("rolling back to job version 0")
        );
        let j = s.job("default", JOB).expect("job");
        assert_eq!(j.version, Some(2));
        assert_eq!(j.priority, fixture::job(0).priority);
        assert_eq!(j.stable, Some(false));
        let e = s.eval(&EvalId::from_u128(9)).expect("eval");
        assert_eq!(e.job_modify_index, j.job_modify_index.expect("index"));
        assert_eq!(s.table_index(Table::Deployments), r.index);
    }

    #[test]
    fn success_marks_the_version_stable() {
        let mut h = Harness::new(group(3, 0), 3, 0);
        h.ok(Command::DeploymentStatusUpdate {
            update: status(
                DeploymentStatus::Successful,
                "Deployment completed successfully",
            ),
            job: None,
            eval: None,
            now: NOW,
        });
        let s = h.s();
        assert_eq!(h.deployment().status, DeploymentStatus::Successful);
        assert_eq!(s.job("default", JOB).expect("job").stable, Some(true));
        assert_eq!(
            s.job_version("default", JOB, 1).expect("v1").stable,
            Some(true)
        );
    }

    #[test]
    fn a_plan_completing_the_deployment_marks_the_version_stable() {
        let mut h = Harness::new(group(3, 0), 3, 0);
        h.ok(Command::ApplyPlanResult {
            job: None,
            allocs: vec![],
            stopped: vec![],
            preempted: vec![],
            deployment: None,
            deployment_updates: vec![status(
                DeploymentStatus::Successful,
                "Deployment completed successfully",
            )],
            evals: vec![],
            now: NOW,
        });
        assert_eq!(h.deployment().status, DeploymentStatus::Successful);
        assert_eq!(
            h.s().job_version("default", JOB, 1).expect("v1").stable,
            Some(true)
        );
    }

    #[test]
    fn status_updates_of_unknown_or_terminal_deployments_are_refused() {
        let mut h = Harness::new(group(3, 0), 3, 0);
        let mut unknown = status(DeploymentStatus::Failed, "x");
        unknown.deployment_id = DeploymentId::from_u128(0xbad);
        let err = h.refused(Command::DeploymentStatusUpdate {
            update: unknown,
            job: None,
            eval: Some(eval(9)),
            now: NOW,
        });
        assert!(err.contains("not found"), "{err}");
        h.ok(Command::DeploymentStatusUpdate {
            update: status(DeploymentStatus::Failed, "Deployment marked as failed"),
            job: None,
            eval: None,
            now: NOW,
        });
        // Terminal now: nothing more, not even the job or eval it carries.
        let err = h.refused(Command::DeploymentStatusUpdate {
            update: status(DeploymentStatus::Successful, "x"),
            job: Some(Box::new(fixture::job(7))),
            eval: Some(eval(10)),
            now: NOW,
        });
        assert!(err.contains("terminal deployment"), "{err}");
        assert!(err.contains("failed"), "{err}");
    }

    #[test]
    fn promotion_needs_every_canary_healthy_and_a_running_deployment() {
        let mut h = Harness::new(group(3, 2), 2, 2);
        let promote = |groups: Option<Vec<String>>| Command::DeploymentPromote {
            deployment_id: deployment_id(),
            groups,
            eval: Some(eval(9)),
            now: NOW,
        };
        let err = h.refused(promote(None));
        assert!(err.contains("0/2 healthy canaries"), "{err}");
        h.ok(fixture::report(&[0], true, NOW));
        let err = h.refused(promote(Some(vec![GROUP.into()])));
        assert!(err.contains("1/2 healthy canaries"), "{err}");
        let err = h.refused(promote(Some(vec!["db".into()])));
        assert!(err.contains("no task group \"db\""), "{err}");
        h.ok(fixture::report(&[1], true, NOW));
        h.ok(Command::DeploymentPause {
            deployment_id: deployment_id(),
            pause: true,
            eval: None,
            now: NOW,
        });
        let err = h.refused(promote(None));
        assert!(err.contains("paused, not running"), "{err}");
        h.ok(Command::DeploymentPause {
            deployment_id: deployment_id(),
            pause: false,
            eval: None,
            now: NOW,
        });

        h.ok(promote(None));
        let s = h.s();
        let d = h.deployment();
        assert!(d.task_groups[GROUP].promoted);
        assert!(s.eval(&EvalId::from_u128(9)).is_some());
        for i in 0..2 {
            let a = s.alloc(&alloc_id(i)).expect("alloc");
            let ds = a.deployment_status.as_ref().expect("status");
            assert!(!ds.canary, "a promoted canary is no longer one");
            assert_eq!(ds.healthy, Some(true));
        }
    }

    #[test]
    fn a_deployment_without_canaries_has_nothing_to_promote() {
        let mut h = Harness::new(group(3, 0), 3, 0);
        let err = h.refused(Command::DeploymentPromote {
            deployment_id: deployment_id(),
            groups: None,
            eval: None,
            now: NOW,
        });
        assert!(err.contains("no canaries to promote"), "{err}");
    }

    #[test]
    fn allocation_health_set_by_hand_counts_and_may_fail_the_deployment() {
        let mut h = Harness::new(group(3, 0), 3, 0);
        h.ok(Command::DeploymentAllocHealth {
            deployment_id: deployment_id(),
            healthy: vec![alloc_id(0), alloc_id(1)],
            unhealthy: vec![],
            update: None,
            job: None,
            eval: Some(eval(9)),
            now: NOW + 7,
        });
        let s = h.s();
        assert_eq!(h.deployment().task_groups[GROUP].healthy_allocs, 2);
        let ds = s
            .alloc(&alloc_id(0))
            .and_then(|a| a.deployment_status.clone())
            .expect("status");
        assert_eq!(ds.healthy, Some(true));
        assert_eq!(ds.timestamp, Some(rfc3339(NOW + 7)));
        assert!(s.eval(&EvalId::from_u128(9)).is_some());

        let err = h.refused(Command::DeploymentAllocHealth {
            deployment_id: deployment_id(),
            healthy: vec![alloc_id(2)],
            unhealthy: vec![alloc_id(2)],
            update: None,
            job: None,
            eval: None,
            now: NOW,
        });
        assert!(err.contains("both healthy and unhealthy"), "{err}");
        let err = h.refused(Command::DeploymentAllocHealth {
            deployment_id: deployment_id(),
            healthy: vec![AllocId::from_u128(0xdead)],
            unhealthy: vec![],
            update: None,
            job: None,
            eval: Some(eval(10)),
            now: NOW,
        });
        assert!(
            err.contains(&AllocId::from_u128(0xdead).to_string()),
            "{err}"
        );

        h.ok(Command::DeploymentAllocHealth {
            deployment_id: deployment_id(),
            healthy: vec![],
            unhealthy: vec![alloc_id(2)],
            update: Some(status(
                DeploymentStatus::Failed,
                "Failed due to unhealthy allocations",
            )),
            job: None,
            eval: None,
            now: NOW,
        });
        let d = h.deployment();
        assert_eq!(d.status, DeploymentStatus::Failed);
        assert_eq!(
            (
                d.task_groups[GROUP].healthy_allocs,
                d.task_groups[GROUP].unhealthy_allocs
            ),
            (2, 1)
        );
        let err = h.refused(Command::DeploymentAllocHealth {
            deployment_id: deployment_id(),
            healthy: vec![alloc_id(2)],
            unhealthy: vec![],
            update: None,
            job: None,
            eval: None,
            now: NOW,
        });
        assert!(err.contains("terminal deployment"), "{err}");
    }

    #[test]
    fn pause_and_resume() {
        let mut h = Harness::new(group(3, 0), 3, 0);
        h.ok(Command::DeploymentPause {
            deployment_id: deployment_id(),
            pause: true,
            eval: None,
            now: NOW,
        });
        let d = h.deployment();
        assert_eq!(
            (d.status, d.status_description.as_str()),
            (DeploymentStatus::Paused, "Deployment is paused")
        );
        h.ok(Command::DeploymentPause {
            deployment_id: deployment_id(),
            pause: false,
            eval: Some(eval(9)),
            now: NOW,
        });
        let d = h.deployment();
        assert_eq!(
            (d.status, d.status_description.as_str()),
            (DeploymentStatus::Running, "Deployment is running")
        );
        assert!(h.s().eval(&EvalId::from_u128(9)).is_some());
        h.ok(Command::DeploymentStatusUpdate {
            update: status(
                DeploymentStatus::Cancelled,
                "Cancelled due to newer version of job",
            ),
            job: None,
            eval: None,
            now: NOW,
        });
        let err = h.refused(Command::DeploymentPause {
            deployment_id: deployment_id(),
            pause: true,
            eval: None,
            now: NOW,
        });
        assert!(err.contains("can't pause terminal deployment"), "{err}");
    }

    #[test]
    fn progress_moves_deadlines_of_known_groups_only() {
        let mut h = Harness::new(group(3, 0), 3, 0);
        let by = rfc3339(NOW + 60_000_000_000);
        h.ok(Command::DeploymentProgress {
            deployment_id: deployment_id(),
            require_progress_by: BTreeMap::from([(GROUP.to_string(), by.clone())]),
            eval: Some(eval(9)),
        });
        assert_eq!(
            h.deployment().task_groups[GROUP].require_progress_by,
            Some(by)
        );
        assert!(h.s().eval(&EvalId::from_u128(9)).is_some());
        let err = h.refused(Command::DeploymentProgress {
            deployment_id: deployment_id(),
            require_progress_by: BTreeMap::from([("db".to_string(), rfc3339(NOW))]),
            eval: Some(eval(10)),
        });
        assert!(err.contains("no task group \"db\""), "{err}");
    }
}

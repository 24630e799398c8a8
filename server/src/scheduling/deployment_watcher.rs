//! The deployment watcher: while this server leads, it moves every running
//! deployment along as its allocations report health, like Nomad's
//! `deploymentwatcher`.
//!
//! For each running deployment it decides, from one state snapshot and the
//! cluster's clock, at most one of: fail it (an allocation reported
//! unhealthy in a group without a progress deadline or with no reschedule
//! attempt left, or a group's progress deadline passed), reverting the job to
//! its latest stable version when the group asks for `auto_revert`; push
//! progress deadlines forward and create an evaluation when allocations
//! became healthy since the job's latest evaluation, so the scheduler
//! places the next batch; promote canaries when every canary group has
//! `auto_promote` and all its canaries are healthy; mark it successful
//! (and its job version stable) once every group has enough healthy
//! allocations.
//!
//! It keeps no state of its own: "new since the last evaluation" is read
//! from the allocation's deployment-status index against the job's newest
//! evaluation, so a new leader picks up exactly where the old one stopped.
//! What it remembers between looks ([`Seen`]) only lets it skip the
//! deployments it found idle and that have not changed since, so a look
//! after each committed plan costs the changed deployments, not every
//! running one with all its allocations.
//! Every change goes through a deployment command, which the FSM refuses
//! if the deployment moved on meanwhile. It does not place or stop
//! allocations (the scheduler does, from the evaluations it creates).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::DateTime;
use sched_core::model::{
    Allocation, Deployment, DeploymentId, DeploymentState, DeploymentStatus,
    DeploymentStatusUpdate, Evaluation, Job,
};
use tokio::sync::watch;

use super::Cluster;
use crate::evals::{new_eval, trigger};
use crate::fsm::{Command, spec_changed};
use crate::state::{StateSnapshot, Table};

/// Nomad's `DeploymentStatusDescriptionRunning`.
pub const DESC_RUNNING: &str = "Deployment is running";
/// Nomad's `DeploymentStatusDescriptionPaused`.
pub const DESC_PAUSED: &str = "Deployment is paused";
/// Nomad's `DeploymentStatusDescriptionSuccessful`.
pub const DESC_SUCCESSFUL: &str = "Deployment completed successfully";
/// Nomad's `DeploymentStatusDescriptionFailedAllocations`.
pub const DESC_FAILED_ALLOCS: &str = "Failed due to unhealthy allocations";
/// Nomad's `DeploymentStatusDescriptionProgressDeadline`.
pub const DESC_PROGRESS_DEADLINE: &str = "Failed due to progress deadline";
/// Nomad's `DeploymentStatusDescriptionFailedByUser`.
pub const DESC_FAILED_BY_USER: &str = "Deployment marked as failed";
/// Nomad's `DeploymentStatusDescriptionRunningNeedsPromotion`.
pub const DESC_NEEDS_PROMOTION: &str = "Deployment is running but requires manual promotion";

/// Longest sleep between looks at the state (deployment changes and
/// progress deadlines wake it sooner).
const IDLE: Duration = Duration::from_secs(30);
/// Wait before looking again after a change was refused or not committed.
const RETRY: i64 = 1_000_000_000;

/// What one look at the state decided.
#[derive(Debug, Default)]
pub struct Step {
    /// Commands to apply, in order (at most one per deployment).
    pub commands: Vec<Command>,
    /// The earliest progress deadline still ahead (Unix nanoseconds).
    pub wake: Option<i64>,
}

/// Unix nanoseconds of an RFC 3339 time.
fn parse_time(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s).ok()?.timestamp_nanos_opt()
}

fn healthy(a: &Allocation) -> Option<bool> {
    a.deployment_status.as_ref()?.healthy
}

/// How many of the group's placed canaries are healthy.
fn healthy_canaries(group: &DeploymentState, allocs: &[Arc<Allocation>]) -> i64 {
    let n = allocs
        .iter()
        .filter(|a| group.placed_canaries.contains(&a.id) && healthy(a) == Some(true))
        .count();
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Whether a group has nothing left to prove before its deadline: all its
/// allocations are healthy, or its canaries are and it waits for promotion.
fn group_done(group: &DeploymentState, allocs: &[Arc<Allocation>]) -> bool {
    if group.desired_canaries > 0 && !group.promoted {
        healthy_canaries(group, allocs) >= group.desired_canaries
    } else {
        group.healthy_allocs >= group.desired_total
    }
}

/// Nomad's `shouldFailEarly` for an unhealthy allocation: its group is not
/// progress based (no progress deadline), or the allocation may not be
/// rescheduled again (its policy's attempts are used up, or it has none).
fn fails_early(snap: &StateSnapshot, d: &Deployment, a: &Allocation) -> bool {
    use sched_scheduler::job_view::{GroupView, JobView};
    let Some(g) = d.task_groups.get(&a.task_group) else {
        return true;
    };
    if g.progress_deadline.0 <= 0 {
        return true;
    }
    let current = snap.job(&d.namespace, &d.job_id);
    let policy = a
        .job
        .as_deref()
        .or(current.as_deref())
        .and_then(|job| job.group(&a.task_group)?.reschedule(job));
    !policy.is_some_and(|p| {
        sched_scheduler::reconcile::reschedule_eligible(
            a,
            &p,
            sched_scheduler::reconcile::failure_time(a),
        )
    })
}

/// The description and job of a failure that asks to revert: the latest
/// stable version older than the deployment's is registered again as a
/// new version, unless it equals the current job's spec (Nomad's wording
/// for each case).
pub fn rollback(snap: &StateSnapshot, d: &Deployment, desc: &str) -> (String, Option<Job>) {
    let target = snap
        .job_versions(&d.namespace, &d.job_id)
        .into_iter()
        .find(|j| j.stable == Some(true) && j.version.unwrap_or(0) < d.job_version);
    let Some(target) = target else {
        return (
            format!("{desc} - no stable job version to auto revert to"),
            None,
        );
    };
    let version = target.version.unwrap_or(0);
    if let Some(current) = snap.job(&d.namespace, &d.job_id)
        && !spec_changed(&current, &target)
    {
        return (
            format!(
                "{desc} - not rolling back to stable job version {version} as current job has same specification"
            ),
            None,
        );
    }
    let mut job = (*target).clone();
    job.version = None;
    job.stable = Some(false);
    (
        format!("{desc} - rolling back to job version {version}"),
        Some(job),
    )
}

/// An evaluation of the deployment's job, marked as the watcher's.
pub fn deployment_eval(snap: &StateSnapshot, d: &Deployment, now: i64) -> Option<Evaluation> {
    let job = snap.job(&d.namespace, &d.job_id)?;
    let mut e = new_eval(&job, trigger::DEPLOYMENT_WATCHER, now);
    e.deployment_id = Some(d.id.clone());
    Some(e)
}

/// The command that fails `d` with `desc`, reverting when `revert`.
pub fn fail(snap: &StateSnapshot, d: &Deployment, desc: &str, revert: bool, now: i64) -> Command {
    let (status_description, job) = if revert {
        rollback(snap, d, desc)
    } else {
        (desc.to_owned(), None)
    };
    Command::DeploymentStatusUpdate {
        update: DeploymentStatusUpdate {
            deployment_id: d.id.clone(),
            status: DeploymentStatus::Failed,
            status_description,
        },
        job: job.map(Box::new),
        eval: deployment_eval(snap, d, now),
        now,
    }
}

/// Deployments an earlier look found nothing to do for, so the next look
/// can skip them: a deployment's decision depends only on the deployment,
/// its allocations and the time, and every allocation change that matters
/// (placed, healthy, unhealthy) also changes the deployment's modify index.
/// Only a shortcut: an empty one (a new leader's) costs one full look.
#[derive(Debug, Default)]
pub struct Seen {
    /// Deployment → (modify index when looked at, time until which the
    /// look stays valid: its next progress deadline).
    idle: HashMap<DeploymentId, (u64, i64)>,
}

/// Decides what to do about every running deployment at `now`, skipping
/// those `seen` idle and unchanged since.
pub fn step(snap: &StateSnapshot, now: i64, seen: &mut Seen) -> Step {
    let mut out = Step::default();
    let mut idle = HashMap::with_capacity(seen.idle.len());
    for d in snap.deployments("") {
        if d.status != DeploymentStatus::Running {
            continue;
        }
        if let Some(&(index, until)) = seen.idle.get(&d.id)
            && index == d.modify_index
            && now < until
        {
            if until < i64::MAX {
                out.wake = Some(out.wake.map_or(until, |w| w.min(until)));
            }
            idle.insert(d.id.clone(), (index, until));
            continue;
        }
        let allocs: Vec<Arc<Allocation>> = snap
            .allocs_by_job(&d.namespace, &d.job_id)
            .into_iter()
            .filter(|a| a.deployment_id.as_ref() == Some(&d.id))
            .collect();
        let mut wake = None;
        match watch_one(snap, &d, &allocs, now, &mut wake) {
            Some(cmd) => out.commands.push(cmd),
            None => {
                idle.insert(d.id.clone(), (d.modify_index, wake.unwrap_or(i64::MAX)));
            }
        }
        if let Some(w) = wake {
            out.wake = Some(out.wake.map_or(w, |o| o.min(w)));
        }
    }
    seen.idle = idle;
    out
}

fn watch_one(
    snap: &StateSnapshot,
    d: &Deployment,
    allocs: &[Arc<Allocation>],
    now: i64,
    wake: &mut Option<i64>,
) -> Option<Command> {
    // An unhealthy allocation fails the deployment at once when nothing
    // else could still make the group healthy in time; otherwise it is
    // replaced by its reschedule policy and the progress deadline decides.
    if let Some(bad) = allocs
        .iter()
        .find(|a| healthy(a) == Some(false) && fails_early(snap, d, a))
    {
        let revert = d
            .task_groups
            .get(&bad.task_group)
            .is_some_and(|g| g.auto_revert);
        tracing::info!(deployment_id = %d.id, job_id = %d.job_id, alloc_id = %bad.id, "deployment failed: unhealthy allocation");
        return Some(fail(snap, d, DESC_FAILED_ALLOCS, revert, now));
    }
    // A group past its deadline without finishing fails it too.
    let mut expired = Vec::new();
    for (name, g) in &d.task_groups {
        if g.progress_deadline.0 <= 0 || group_done(g, allocs) {
            continue;
        }
        let Some(by) = g.require_progress_by.as_deref().and_then(parse_time) else {
            continue;
        };
        if by <= now {
            expired.push(g.auto_revert);
        } else {
            *wake = Some(wake.map_or(by, |w| w.min(by)));
        }
        tracing::trace!(deployment_id = %d.id, group = %name, by, "progress deadline");
    }
    if !expired.is_empty() {
        tracing::info!(deployment_id = %d.id, job_id = %d.job_id, "deployment failed: progress deadline passed");
        return Some(fail(
            snap,
            d,
            DESC_PROGRESS_DEADLINE,
            expired.contains(&true),
            now,
        ));
    }
    // Allocations healthy since the job's newest evaluation: the scheduler
    // may place the next batch, and the groups' deadlines move.
    let latest_eval = snap
        .evals_by_job(&d.namespace, &d.job_id)
        .iter()
        .map(|e| e.create_index)
        .max()
        .unwrap_or(0);
    let progressed: BTreeSet<&str> = allocs
        .iter()
        .filter(|a| {
            a.deployment_status
                .as_ref()
                .is_some_and(|s| s.healthy == Some(true) && s.modify_index > latest_eval)
        })
        .map(|a| a.task_group.as_str())
        .collect();
    let deadlines: BTreeMap<String, String> = d
        .task_groups
        .iter()
        .filter(|(name, g)| {
            g.progress_deadline.0 > 0
                && (progressed.contains(name.as_str()) || g.require_progress_by.is_none())
        })
        .map(|(name, g)| {
            let by = now.saturating_add(g.progress_deadline.0);
            (name.clone(), crate::fsm::rfc3339(by))
        })
        .collect();
    if !progressed.is_empty() || !deadlines.is_empty() {
        let eval = if progressed.is_empty() {
            None
        } else {
            deployment_eval(snap, d, now)
        };
        tracing::debug!(deployment_id = %d.id, job_id = %d.job_id, groups = ?progressed, "deployment progressed");
        return Some(Command::DeploymentProgress {
            deployment_id: d.id.clone(),
            require_progress_by: deadlines,
            eval,
        });
    }
    // Canaries all healthy in groups that promote themselves.
    let waiting: Vec<&DeploymentState> = d
        .task_groups
        .values()
        .filter(|g| g.desired_canaries > 0 && !g.promoted)
        .collect();
    if !waiting.is_empty()
        && waiting
            .iter()
            .all(|g| g.auto_promote && healthy_canaries(g, allocs) >= g.desired_canaries)
    {
        tracing::info!(deployment_id = %d.id, job_id = %d.job_id, "promoting canaries automatically");
        return Some(Command::DeploymentPromote {
            deployment_id: d.id.clone(),
            groups: None,
            eval: deployment_eval(snap, d, now),
            now,
        });
    }
    let complete = !d.task_groups.is_empty()
        && d.task_groups.values().all(|g| {
            (g.desired_canaries == 0 || g.promoted) && g.healthy_allocs >= g.desired_total
        });
    if complete {
        tracing::info!(deployment_id = %d.id, job_id = %d.job_id, version = d.job_version, "deployment completed");
        return Some(Command::DeploymentStatusUpdate {
            update: DeploymentStatusUpdate {
                deployment_id: d.id.clone(),
                status: DeploymentStatus::Successful,
                status_description: DESC_SUCCESSFUL.to_owned(),
            },
            job: None,
            eval: None,
            now,
        });
    }
    None
}

/// Looks once and applies what it decided; answers when to look again
/// (Unix nanoseconds) unless a deployment changes first: at once after a
/// change, so one look's step leads to the next.
pub async fn run_once(cluster: &dyn Cluster, seen: &mut Seen) -> i64 {
    let snap = cluster.state().snapshot();
    let now = cluster.now();
    let decided = step(&snap, now, seen);
    let mut wake = decided
        .wake
        .unwrap_or(i64::MAX)
        .min(now.saturating_add(IDLE.as_nanos() as i64));
    for cmd in decided.commands {
        match cluster.apply(cmd).await {
            Ok(resp) => match resp.error {
                // The deployment moved on since the snapshot: look again.
                Some(err) => {
                    tracing::debug!(error = %err, "deployment change refused");
                    wake = wake.min(now.saturating_add(RETRY));
                }
                // A change may enable the next step (an eval created does
                // not touch the deployments table the loop waits on).
                None => wake = wake.min(now),
            },
            Err(err) => {
                tracing::warn!(error = %err, "deployment change not committed; retrying");
                wake = wake.min(now.saturating_add(RETRY));
            }
        }
    }
    wake
}

/// Runs the watcher until `shutdown` turns true; it works only while
/// `leader` is true.
pub async fn run_deployment_watcher(
    cluster: Arc<dyn Cluster>,
    mut leader: watch::Receiver<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let reader = cluster.state();
    let mut memo = Seen::default();
    loop {
        if *shutdown.borrow() {
            return;
        }
        if !*leader.borrow_and_update() {
            memo = Seen::default();
            tokio::select! {
                r = leader.changed() => if r.is_err() { return },
                _ = shutdown.wait_for(|s| *s) => return,
            }
            continue;
        }
        let seen = reader.snapshot().table_index(Table::Deployments);
        let wake = run_once(cluster.as_ref(), &mut memo).await;
        let sleep =
            Duration::from_nanos(u64::try_from(wake.saturating_sub(cluster.now())).unwrap_or(0));
        tokio::select! {
            _ = reader.wait_for_change(&[Table::Deployments], seen, sleep) => {}
            r = leader.changed() => if r.is_err() { return },
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use sched_core::model::{Duration as Span, EvalStatus};

    use super::*;
    use crate::fsm::Fsm;
    use crate::fsm::deployment_fixture::{self as fixture, GROUP, JOB, deployment_id};
    use crate::scheduling::broker::Clock;
    use crate::scheduling::local_cluster::LocalCluster;

    const T0: i64 = 1_700_000_000_000_000_000;
    const MINUTE: i64 = 60_000_000_000;

    /// The real FSM behind a cluster whose clock the test moves.
    struct World {
        cluster: LocalCluster,
        clock: Arc<AtomicI64>,
        /// Kept across looks, as the watcher task keeps it.
        seen: tokio::sync::Mutex<Seen>,
        _dir: tempfile::TempDir,
    }

    impl World {
        fn new(group: DeploymentState, allocs: usize, canaries: usize) -> World {
            World::set_up(fixture::setup(group, allocs, canaries, T0))
        }

        fn set_up(commands: Vec<Command>) -> World {
            let dir = tempfile::tempdir().expect("tempdir");
            let db = sled::open(dir.path()).expect("sled");
            let (fsm, reader) = Fsm::open(&db).expect("open");
            let clock = Arc::new(AtomicI64::new(T0));
            let c = clock.clone();
            let cluster = LocalCluster::new(
                Box::new(fsm),
                reader,
                Clock::new(move || c.load(Ordering::SeqCst)),
            );
            let w = World {
                cluster,
                clock,
                seen: tokio::sync::Mutex::new(Seen::default()),
                _dir: dir,
            };
            for cmd in commands {
                w.apply(cmd);
            }
            w
        }

        fn apply(&self, cmd: Command) {
            let r = self.cluster.apply_now(&cmd).expect("applied");
            assert_eq!(r.error, None, "command refused");
        }

        fn advance(&self, by: i64) {
            self.clock.fetch_add(by, Ordering::SeqCst);
        }

        /// One look by the watcher; answers when it wants to look again.
        async fn watch(&self) -> i64 {
            run_once(&self.cluster, &mut *self.seen.lock().await).await
        }

        fn snap(&self) -> StateSnapshot {
            self.cluster.state().snapshot()
        }

        fn deployment(&self) -> Arc<Deployment> {
            self.snap()
                .deployment(&deployment_id())
                .expect("deployment")
        }

        fn watcher_evals(&self) -> Vec<Arc<Evaluation>> {
            self.snap()
                .evals_by_job("default", JOB)
                .into_iter()
                .filter(|e| e.triggered_by == trigger::DEPLOYMENT_WATCHER)
                .collect()
        }
    }

    fn group(total: i64, canaries: i64) -> DeploymentState {
        DeploymentState {
            desired_total: total,
            desired_canaries: canaries,
            progress_deadline: Span(10 * MINUTE),
            ..DeploymentState::default()
        }
    }

    /// A group that reverts to the stable version when it fails.
    fn reverting(g: DeploymentState) -> DeploymentState {
        DeploymentState {
            auto_revert: true,
            ..g
        }
    }

    /// A group without a progress deadline: the first unhealthy allocation
    /// fails the deployment.
    fn not_progress_based(g: DeploymentState) -> DeploymentState {
        DeploymentState {
            progress_deadline: Span(0),
            ..g
        }
    }

    #[tokio::test]
    async fn an_unhealthy_allocation_fails_and_reverts_to_the_stable_version() {
        let w = World::new(not_progress_based(reverting(group(3, 0))), 3, 0);
        w.watch().await;
        w.apply(fixture::report(&[1], false, T0));
        w.watch().await;
        let d = w.deployment();
        assert_eq!(d.status, DeploymentStatus::Failed);
        assert_eq!(
            d.status_description,
            "Failed due to unhealthy allocations - rolling back to job version 0"
        );
        let s = w.snap();
        let job = s.job("default", JOB).expect("job");
        assert_eq!(job.version, Some(2), "the revert is a new version");
        assert_eq!(job.priority, fixture::job(0).priority, "with v0's spec");
        let evals = w.watcher_evals();
        assert_eq!(evals.len(), 1);
        assert_eq!(evals[0].deployment_id, Some(deployment_id()));
        assert_eq!(evals[0].status, EvalStatus::Pending);
        // Failed is terminal: the watcher leaves it alone from now on.
        let before = s.index();
        w.watch().await;
        assert_eq!(w.snap().index(), before);
    }

    #[tokio::test]
    async fn without_auto_revert_or_a_stable_version_nothing_is_rolled_back() {
        let w = World::new(not_progress_based(group(3, 0)), 3, 0);
        w.apply(fixture::report(&[0], false, T0));
        w.watch().await;
        let d = w.deployment();
        assert_eq!(d.status_description, "Failed due to unhealthy allocations");
        assert_eq!(w.snap().job("default", JOB).expect("job").version, Some(1));

        let w = World::new(not_progress_based(reverting(group(3, 0))), 3, 0);
        w.apply(Command::JobStability {
            namespace: "default".into(),
            job_id: JOB.into(),
            version: 0,
            stable: false,
        });
        w.apply(fixture::report(&[0], false, T0));
        w.watch().await;
        assert_eq!(
            w.deployment().status_description,
            "Failed due to unhealthy allocations - no stable job version to auto revert to"
        );
    }

    #[tokio::test]
    async fn with_a_progress_deadline_an_unhealthy_allocation_is_replaced_not_failed() {
        let w = World::new(reverting(group(3, 0)), 3, 0);
        w.watch().await;
        // The service default reschedule policy (unlimited) may replace it:
        // the deployment goes on until its deadline.
        w.apply(fixture::report(&[1], false, T0));
        w.watch().await;
        assert_eq!(w.deployment().status, DeploymentStatus::Running);
        w.advance(11 * MINUTE);
        w.watch().await;
        let d = w.deployment();
        assert_eq!(d.status, DeploymentStatus::Failed);
        assert_eq!(
            d.status_description,
            "Failed due to progress deadline - rolling back to job version 0"
        );
    }

    #[tokio::test]
    async fn an_unhealthy_allocation_out_of_reschedule_attempts_fails_at_once() {
        let mut commands = fixture::setup(group(3, 0), 3, 0, T0);
        let none_left = sched_core::model::ReschedulePolicy {
            attempts: Some(0),
            unlimited: Some(false),
            ..Default::default()
        };
        for cmd in &mut commands {
            match cmd {
                Command::JobRegister { job, .. } if job.priority == fixture::job(1).priority => {
                    job.reschedule = Some(none_left.clone());
                }
                Command::ApplyPlanResult { job: Some(job), .. } => {
                    job.reschedule = Some(none_left.clone());
                }
                _ => {}
            }
        }
        let w = World::set_up(commands);
        w.watch().await;
        w.apply(fixture::report(&[2], false, T0));
        w.watch().await;
        let d = w.deployment();
        assert_eq!(d.status, DeploymentStatus::Failed);
        assert_eq!(d.status_description, "Failed due to unhealthy allocations");
    }

    #[tokio::test]
    async fn the_progress_deadline_fails_a_deployment_that_stalls() {
        let w = World::new(reverting(group(3, 0)), 3, 0);
        // The first look starts the clock.
        w.watch().await;
        let by = w.deployment().task_groups[GROUP]
            .require_progress_by
            .clone()
            .expect("deadline set");
        assert_eq!(parse_time(&by), Some(T0 + 10 * MINUTE));
        w.advance(10 * MINUTE - 10_000_000_000);
        assert_eq!(w.watch().await, T0 + 10 * MINUTE, "wakes at the deadline");
        assert_eq!(w.deployment().status, DeploymentStatus::Running);
        w.advance(10_000_000_000);
        w.watch().await;
        let d = w.deployment();
        assert_eq!(d.status, DeploymentStatus::Failed);
        assert_eq!(
            d.status_description,
            "Failed due to progress deadline - rolling back to job version 0"
        );
        assert_eq!(w.snap().job("default", JOB).expect("job").version, Some(2));
    }

    #[tokio::test]
    async fn a_healthy_allocation_moves_the_deadline_and_creates_one_eval() {
        let w = World::new(group(3, 0), 3, 0);
        w.watch().await;
        assert!(w.watcher_evals().is_empty(), "no progress yet");
        w.advance(5 * MINUTE);
        w.apply(fixture::report(&[0], true, T0 + 5 * MINUTE));
        assert_eq!(w.watch().await, T0 + 5 * MINUTE, "looks again at once");
        let evals = w.watcher_evals();
        assert_eq!(evals.len(), 1, "{evals:?}");
        assert_eq!(
            w.deployment().task_groups[GROUP].require_progress_by,
            Some(crate::fsm::rfc3339(T0 + 15 * MINUTE))
        );
        // Seen once: no second eval for the same health.
        w.watch().await;
        assert_eq!(w.watcher_evals().len(), 1);
        // The deadline now is 15 minutes after the start, not 10.
        w.advance(6 * MINUTE);
        w.watch().await;
        assert_eq!(w.deployment().status, DeploymentStatus::Running);
    }

    #[tokio::test]
    async fn canaries_promote_themselves_when_all_are_healthy() {
        let w = World::new(
            DeploymentState {
                auto_promote: true,
                ..group(3, 2)
            },
            2,
            2,
        );
        w.apply(fixture::report(&[0], true, T0));
        w.watch().await;
        w.watch().await;
        assert!(!w.deployment().task_groups[GROUP].promoted, "one of two");
        w.apply(fixture::report(&[1], true, T0));
        w.watch().await;
        w.watch().await;
        assert!(w.deployment().task_groups[GROUP].promoted);
        assert_eq!(w.deployment().status, DeploymentStatus::Running);
    }

    #[tokio::test]
    async fn canaries_without_auto_promote_wait_for_an_operator() {
        let w = World::new(group(3, 2), 2, 2);
        w.apply(fixture::report(&[0, 1], true, T0));
        for _ in 0..3 {
            w.watch().await;
        }
        let d = w.deployment();
        assert!(!d.task_groups[GROUP].promoted);
        // Waiting for promotion is not a stall.
        w.advance(20 * MINUTE);
        w.watch().await;
        assert_eq!(w.deployment().status, DeploymentStatus::Running);
    }

    #[tokio::test]
    async fn all_healthy_completes_and_marks_the_version_stable() {
        let w = World::new(group(3, 0), 3, 0);
        w.apply(fixture::report(&[0, 1], true, T0));
        w.watch().await;
        w.watch().await;
        assert_eq!(w.deployment().status, DeploymentStatus::Running);
        w.apply(fixture::report(&[2], true, T0));
        w.watch().await;
        w.watch().await;
        let d = w.deployment();
        assert_eq!(
            (d.status, d.status_description.as_str()),
            (
                DeploymentStatus::Successful,
                "Deployment completed successfully"
            )
        );
        let s = w.snap();
        assert_eq!(s.job("default", JOB).expect("job").stable, Some(true));
        assert_eq!(
            s.job_version("default", JOB, 1).expect("v1").stable,
            Some(true)
        );
    }

    #[tokio::test]
    async fn paused_deployments_are_left_alone() {
        let w = World::new(group(3, 0), 3, 0);
        w.apply(Command::DeploymentPause {
            deployment_id: deployment_id(),
            pause: true,
            eval: None,
            now: T0,
        });
        w.apply(fixture::report(&[0], false, T0));
        let before = w.snap().index();
        w.watch().await;
        assert_eq!(w.snap().index(), before);
        assert_eq!(w.deployment().status, DeploymentStatus::Paused);
    }

    #[tokio::test]
    async fn the_watcher_task_completes_deployments_once_it_leads() {
        let w = Arc::new(World::new(group(3, 0), 3, 0));
        w.apply(fixture::report(&[0, 1, 2], true, T0));
        let (lead_tx, lead_rx) = watch::channel(false);
        let (stop_tx, stop_rx) = watch::channel(false);
        let cluster: Arc<dyn Cluster> = Arc::new(Shared(w.clone()));
        let task = tokio::spawn(run_deployment_watcher(cluster, lead_rx, stop_rx));
        lead_tx.send_replace(true);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while w.deployment().status != DeploymentStatus::Successful {
            assert!(tokio::time::Instant::now() < deadline, "never completed");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop_tx.send_replace(true);
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("stops")
            .expect("no panic");
    }

    /// Lends a test's world to the watcher task.
    struct Shared(Arc<World>);

    impl Cluster for Shared {
        fn state(&self) -> crate::state::StateReader {
            self.0.cluster.state()
        }
        fn apply(
            &self,
            cmd: Command,
        ) -> futures::future::BoxFuture<
            '_,
            Result<crate::fsm::CommandResponse, super::super::ClusterError>,
        > {
            self.0.cluster.apply(cmd)
        }
        fn now(&self) -> i64 {
            self.0.cluster.now()
        }
    }
}

//! Deployments as the reconciler sees them (Nomad's rolling updates and
//! canaries): which deployment is current for the job version, which older
//! one must be cancelled, whether the current one lets destructive updates
//! proceed, how many replacements may start now, and the shape of a new
//! deployment.
//!
//! This module owns those decisions only. The server owns everything that
//! happens between evaluations: judging allocation health, failing a
//! deployment past its progress deadline, promotion, auto-revert, and
//! creating the evaluation that moves a rollout on when allocations turn
//! healthy.

use std::collections::BTreeMap;

use sched_core::model::{
    Allocation, Deployment, DeploymentState, DeploymentStatus, DeploymentStatusUpdate, Duration,
    Job, TaskGroup, UpdateStrategy,
};

use crate::job_view::JobView;

/// Status descriptions, as Nomad words them.
pub mod descriptions {
    /// A deployment rolling out without canaries.
    pub const RUNNING: &str = "Deployment is running";
    /// Canaries placed, waiting for an operator.
    pub const NEEDS_PROMOTION: &str = "Deployment is running but requires manual promotion";
    /// Canaries placed, promoted once healthy.
    pub const AUTO_PROMOTION: &str = "Deployment is running pending automatic promotion";
    /// Superseded by a newer job version.
    pub const NEWER_JOB: &str = "Cancelled due to newer version of job";
    /// The job was stopped or purged.
    pub const STOPPED_JOB: &str = "Cancelled because job is stopped";
    /// Every group placed and healthy.
    pub const SUCCESSFUL: &str = "Deployment completed successfully";
}

/// The group's update strategy when it takes part in deployments: service
/// jobs whose strategy has `max_parallel > 0`. Batch and system jobs and a
/// `max_parallel` of 0 (or less) replace everything at once, as in Nomad.
pub fn rolling_strategy<'g>(job: &Job, group: &'g TaskGroup) -> Option<&'g UpdateStrategy> {
    if job.job_type() != "service" {
        return None;
    }
    group
        .update
        .as_ref()
        .filter(|u| u.max_parallel.unwrap_or(0) > 0)
}

/// How many drain migrations a group may have in flight: its migrate
/// strategy's `max_parallel`, 1 by default. Values below 1 count as 1 so a
/// drain cannot stall forever on a bad setting.
pub fn migrate_max_parallel(group: &TaskGroup) -> usize {
    group
        .migrate
        .as_ref()
        .and_then(|m| m.max_parallel)
        .unwrap_or(1)
        .max(1) as usize
}

/// Whether an allocation was placed as a canary.
pub fn is_canary(a: &Allocation) -> bool {
    a.deployment_status.as_ref().is_some_and(|s| s.canary)
}

/// The client's health verdict on an allocation, unset until judged.
pub fn health(a: &Allocation) -> Option<bool> {
    a.deployment_status.as_ref().and_then(|s| s.healthy)
}

/// The job's deployments as one reconciliation sees them.
#[derive(Debug, Clone, Default)]
pub struct Rollout {
    /// The deployment of this job version unless it succeeded (running,
    /// paused, failed or cancelled); `None` when there is none yet.
    pub current: Option<Deployment>,
    /// The latest deployment when it belongs to an older job version (or is
    /// finished): its unpromoted canaries are stopped.
    pub old: Option<Deployment>,
    /// The current deployment is paused (or pending): no new work.
    pub paused: bool,
    /// The current deployment failed or was cancelled: no new work except
    /// replacing lost and failed allocations that are not its own.
    pub failed: bool,
    /// Status changes for existing deployments.
    pub updates: Vec<DeploymentStatusUpdate>,
}

impl Rollout {
    /// Nomad's `cancelUnneededDeployments`: the latest deployment stays
    /// current only while it rolls out this very job (version and create
    /// index); an active one of an older version is cancelled, as is any
    /// active one once the job is stopped or gone.
    pub fn new(job: Option<&Job>, latest: Option<&Deployment>) -> Rollout {
        let mut r = Rollout::default();
        let Some(d) = latest else {
            return r;
        };
        let Some(job) = job.filter(|j| !j.stopped()) else {
            if d.status.is_active() {
                r.updates.push(cancel(d, descriptions::STOPPED_JOB));
            }
            r.old = Some(d.clone());
            return r;
        };
        let same_job =
            d.job_version == job.ver() && job.create_index.is_none_or(|c| c == d.job_create_index);
        if !same_job {
            if d.status.is_active() {
                r.updates.push(cancel(d, descriptions::NEWER_JOB));
            }
            r.old = Some(d.clone());
            return r;
        }
        if d.status == DeploymentStatus::Successful {
            r.old = Some(d.clone());
            return r;
        }
        r.paused = matches!(
            d.status,
            DeploymentStatus::Paused | DeploymentStatus::Pending
        );
        // A cancelled deployment of this very version halts like a failed
        // one: the version is not rolled out again until a newer one comes.
        r.failed = matches!(
            d.status,
            DeploymentStatus::Failed | DeploymentStatus::Cancelled
        );
        r.current = Some(d.clone());
        r
    }

    /// The current deployment's state for a group, if it tracks the group.
    pub fn group_state(&self, group: &str) -> Option<&DeploymentState> {
        self.current.as_ref()?.task_groups.get(group)
    }

    /// Whether a canary must be stopped because its deployment was
    /// superseded or failed before promoting it (Nomad's
    /// `cancelUnneededCanaries`).
    pub fn canary_unneeded(&self, a: &Allocation) -> bool {
        let unpromoted_of = |d: &Deployment| {
            a.deployment_id.as_ref() == Some(&d.id)
                && d.task_groups.get(&a.task_group).is_none_or(|s| !s.promoted)
        };
        self.old.as_ref().is_some_and(unpromoted_of)
            || (self.failed && self.current.as_ref().is_some_and(unpromoted_of))
    }

    /// Whether the allocation belongs to the current deployment.
    pub fn owns(&self, a: &Allocation) -> bool {
        self.current
            .as_ref()
            .is_some_and(|d| a.deployment_id.as_ref() == Some(&d.id))
    }

    /// Nomad's limit on new replacements for a group (before placements of
    /// missing allocations take their share): everything when nothing is
    /// being replaced or migrated; `max_parallel` without a deployment yet;
    /// nothing while the deployment is paused, failed or waiting for canary
    /// promotion; otherwise `max_parallel` less the current deployment's
    /// allocations not yet healthy — and nothing at all once one of them is
    /// unhealthy.
    pub fn replacement_limit(
        &self,
        strategy: &UpdateStrategy,
        count: usize,
        kept: &[Allocation],
        replacing: bool,
        canarying: bool,
    ) -> usize {
        if !replacing {
            return count;
        }
        let max_parallel = strategy.max_parallel.unwrap_or(0).max(0) as usize;
        if self.current.is_none() {
            return max_parallel;
        }
        if self.paused || self.failed || canarying {
            return 0;
        }
        let mut in_flight = 0usize;
        for a in kept.iter().filter(|a| self.owns(a)) {
            match health(a) {
                Some(false) => return 0,
                Some(true) => {}
                None => in_flight += 1,
            }
        }
        max_parallel.saturating_sub(in_flight)
    }
}

fn cancel(d: &Deployment, why: &str) -> DeploymentStatusUpdate {
    DeploymentStatusUpdate {
        deployment_id: d.id.clone(),
        status: DeploymentStatus::Cancelled,
        status_description: why.to_owned(),
    }
}

/// A group's state in a new deployment: the strategy's revert, promotion and
/// progress settings, `desired_total` allocations of which
/// `desired_canaries` canaries first. The progress deadline runs from `now`
/// (Unix nanoseconds).
pub fn new_group_state(
    strategy: &UpdateStrategy,
    desired_total: usize,
    desired_canaries: usize,
    now: i64,
) -> DeploymentState {
    let deadline = strategy.progress_deadline.unwrap_or(Duration::ZERO);
    DeploymentState {
        auto_revert: strategy.auto_revert.unwrap_or(false),
        auto_promote: strategy.auto_promote.unwrap_or(false),
        progress_deadline: deadline,
        require_progress_by: (deadline.as_nanos() > 0)
            .then(|| rfc3339(now.saturating_add(deadline.as_nanos()))),
        desired_total: desired_total as i64,
        desired_canaries: desired_canaries as i64,
        ..Default::default()
    }
}

/// A running deployment of `job` over `groups`, without an ID yet (the
/// scheduler draws one from the evaluation's seeded source).
pub fn new_deployment(job: &Job, groups: BTreeMap<String, DeploymentState>) -> Deployment {
    let canaries = groups.values().any(|g| g.desired_canaries > 0);
    let auto = groups
        .values()
        .filter(|g| g.desired_canaries > 0)
        .all(|g| g.auto_promote);
    let description = match (canaries, auto) {
        (false, _) => descriptions::RUNNING,
        (true, true) => descriptions::AUTO_PROMOTION,
        (true, false) => descriptions::NEEDS_PROMOTION,
    };
    Deployment {
        namespace: job.ns().to_owned(),
        job_id: job.job_id().to_owned(),
        job_version: job.ver(),
        job_modify_index: job.job_modify_index.unwrap_or(0),
        job_spec_modify_index: job.job_modify_index.unwrap_or(0),
        job_create_index: job.create_index.unwrap_or(0),
        task_groups: groups,
        status: DeploymentStatus::Running,
        status_description: description.to_owned(),
        ..Default::default()
    }
}

/// Whether a group of the current deployment is done: placed in full,
/// healthy, and promoted when it has canaries (Nomad's
/// `isDeploymentComplete` final check).
pub fn group_state_complete(s: &DeploymentState) -> bool {
    s.healthy_allocs >= s.desired_total.max(s.desired_canaries)
        && (s.desired_canaries == 0 || s.promoted)
}

/// RFC 3339 with nanoseconds, UTC, the way Nomad serialises times.
pub fn rfc3339(nanos: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(nanos)
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sched_core::model::DeploymentId;

    fn job(version: u64) -> Job {
        let mut j = crate::mock::service_job("web", 3, 100, 128);
        j.canonicalize();
        j.version = Some(version);
        j.create_index = Some(5);
        j
    }

    fn deployment(version: u64, status: DeploymentStatus) -> Deployment {
        Deployment {
            id: DeploymentId::from_u128(9),
            job_id: "web".into(),
            job_version: version,
            job_create_index: 5,
            status,
            ..Default::default()
        }
    }

    #[test]
    fn older_active_deployment_is_cancelled() {
        let r = Rollout::new(
            Some(&job(2)),
            Some(&deployment(1, DeploymentStatus::Running)),
        );
        assert!(r.current.is_none());
        assert_eq!(r.updates.len(), 1);
        assert_eq!(r.updates[0].status, DeploymentStatus::Cancelled);
        assert_eq!(r.updates[0].status_description, descriptions::NEWER_JOB);
        // A finished one is left alone.
        let r = Rollout::new(
            Some(&job(2)),
            Some(&deployment(1, DeploymentStatus::Failed)),
        );
        assert!(r.updates.is_empty() && r.current.is_none() && r.old.is_some());
    }

    #[test]
    fn stopped_job_cancels_and_same_version_stays_current() {
        let mut stopped = job(1);
        stopped.stop = Some(true);
        let r = Rollout::new(
            Some(&stopped),
            Some(&deployment(1, DeploymentStatus::Paused)),
        );
        assert_eq!(r.updates[0].status_description, descriptions::STOPPED_JOB);
        let r = Rollout::new(None, Some(&deployment(1, DeploymentStatus::Running)));
        assert_eq!(r.updates.len(), 1);
        let r = Rollout::new(
            Some(&job(1)),
            Some(&deployment(1, DeploymentStatus::Paused)),
        );
        assert!(r.current.is_some() && r.paused && !r.failed && r.updates.is_empty());
        let r = Rollout::new(
            Some(&job(1)),
            Some(&deployment(1, DeploymentStatus::Failed)),
        );
        assert!(r.current.is_some() && r.failed);
        let r = Rollout::new(
            Some(&job(1)),
            Some(&deployment(1, DeploymentStatus::Successful)),
        );
        assert!(r.current.is_none());
        let r = Rollout::new(
            Some(&job(1)),
            Some(&deployment(1, DeploymentStatus::Cancelled)),
        );
        assert!(r.current.is_some() && r.failed && r.updates.is_empty());
    }

    #[test]
    fn which_groups_roll_and_how_many_migrate() {
        let mut j = job(1);
        let mut g = j.task_groups.as_ref().expect("group")[0].clone();
        assert!(
            rolling_strategy(&j, &g).is_some(),
            "service default: max_parallel 1"
        );
        g.update.as_mut().expect("canonical").max_parallel = Some(0);
        assert!(rolling_strategy(&j, &g).is_none());
        g.update.as_mut().expect("canonical").max_parallel = Some(-2);
        assert!(rolling_strategy(&j, &g).is_none());
        g.update.as_mut().expect("canonical").max_parallel = Some(3);
        j.r#type = Some("batch".into());
        assert!(rolling_strategy(&j, &g).is_none());
        assert_eq!(migrate_max_parallel(&g), 1, "service default");
        for (set, want) in [(Some(4), 4), (Some(0), 1), (Some(-5), 1), (None, 1)] {
            g.migrate = Some(sched_core::model::MigrateStrategy {
                max_parallel: set,
                ..Default::default()
            });
            assert_eq!(migrate_max_parallel(&g), want, "{set:?}");
        }
        g.migrate = None;
        assert_eq!(migrate_max_parallel(&g), 1);
    }

    #[test]
    fn group_state_and_times() {
        let s = UpdateStrategy {
            max_parallel: Some(2),
            progress_deadline: Some(Duration::from_mins(10)),
            auto_revert: Some(true),
            ..Default::default()
        };
        let g = new_group_state(&s, 4, 1, 0);
        assert_eq!(
            g.require_progress_by.as_deref(),
            Some("1970-01-01T00:10:00.000000000Z")
        );
        assert!(g.auto_revert && !g.auto_promote);
        assert_eq!((g.desired_total, g.desired_canaries), (4, 1));
        assert!(!group_state_complete(&g));
        let done = DeploymentState {
            healthy_allocs: 4,
            desired_total: 4,
            desired_canaries: 1,
            promoted: true,
            ..Default::default()
        };
        assert!(group_state_complete(&done));
        // Without a deadline nothing is due.
        let none = UpdateStrategy {
            progress_deadline: Some(Duration::ZERO),
            ..s
        };
        assert!(
            new_group_state(&none, 1, 0, 0)
                .require_progress_by
                .is_none()
        );
    }
}

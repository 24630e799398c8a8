//! Deployment health of one allocation, judged on the client (Nomad's
//! allochealth tracker).
//!
//! An allocation placed by a deployment whose group has an `update` block
//! is judged once: healthy when every task that must keep running (main
//! tasks and sidecars; not the prestart, poststart and poststop tasks that
//! run to completion) has run without a break for `min_healthy_time`;
//! unhealthy when one of them fails, restarts or stops first, or when
//! `healthy_deadline` passes. `health_check = "manual"` is never judged here
//! (an operator sets the health through the API).
//!
//! `health_check = "checks"` is judged like `"task_states"`: Nomad adds the
//! Consul and Nomad service checks to it, and this client runs no checks (it
//! registers no services), so the task states are all there is to judge.
//!
//! The tracker is pure: the caller passes the time with every observation,
//! so the decisions are tested with a clock the test controls. It does not
//! persist anything; the alloc runner stores the verdict in the local state
//! so a restarted client reports it again instead of judging anew.

use std::collections::BTreeMap;
use std::time::Duration;

use sched_core::model::{AllocDeploymentStatus, Allocation, TaskGroup, TaskState};

use super::Phase;
use crate::taskrunner::events::rfc3339;
use crate::taskrunner::state_names::RUNNING;

/// What to judge for one allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthSpec {
    /// How long every counted task must run without a break.
    pub min_healthy_time: Duration,
    /// How long the allocation has to become healthy.
    pub healthy_deadline: Duration,
    /// The tasks that must be running (main tasks and sidecars).
    pub tasks: Vec<String>,
}

impl HealthSpec {
    /// What to judge for `alloc` of `group`; `None` when it is not judged
    /// here: no deployment, no update strategy (or `max_parallel = 0`),
    /// manual health, or no task that keeps running.
    pub fn of(alloc: &Allocation, group: &TaskGroup) -> Option<HealthSpec> {
        alloc.deployment_id.as_ref()?;
        let update = group.update.as_ref()?;
        if update.max_parallel == Some(0) {
            return None;
        }
        match update.health_check.as_deref() {
            None | Some("checks" | "task_states") => {}
            Some(_) => return None,
        }
        let tasks: Vec<String> = group
            .tasks
            .iter()
            .flatten()
            .filter(|t| {
                matches!(
                    Phase::of(t),
                    Phase::Main | Phase::PrestartSidecar | Phase::PoststartSidecar
                )
            })
            .filter_map(|t| t.name.clone())
            .collect();
        if tasks.is_empty() {
            return None;
        }
        let or = |d: Option<sched_core::model::Duration>, default: Duration| {
            d.map_or(default, sched_core::model::Duration::to_std)
        };
        Some(HealthSpec {
            min_healthy_time: or(update.min_healthy_time, Duration::from_secs(10)),
            healthy_deadline: or(update.healthy_deadline, Duration::from_secs(300)),
            tasks,
        })
    }
}

/// The judgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every counted task ran for `min_healthy_time`.
    Healthy,
    /// Why it is not.
    Unhealthy(String),
}

impl Verdict {
    /// The allocation's deployment status for this verdict, reached at
    /// `now` (Unix ns); `canary` is kept from what the servers set.
    pub fn status(&self, now: i64, canary: bool) -> AllocDeploymentStatus {
        AllocDeploymentStatus {
            healthy: Some(matches!(self, Verdict::Healthy)),
            timestamp: Some(rfc3339(now)),
            canary,
            modify_index: 0,
        }
    }
}

/// Follows one allocation's tasks until it can judge them.
#[derive(Debug, Clone)]
pub struct HealthTracker {
    spec: HealthSpec,
    /// When tracking began (Unix ns): the deadline counts from here.
    started: i64,
    /// Each counted task's restart count when tracking began.
    baseline: BTreeMap<String, u64>,
    /// Since when each counted task has been seen running (Unix ns).
    running_since: BTreeMap<String, i64>,
    verdict: Option<Verdict>,
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl HealthTracker {
    /// Starts tracking at `now` (Unix ns) from the tasks' `states` then:
    /// restarts that happened before (a client restart rebuilds the
    /// tracker) do not count against the allocation.
    pub fn new(spec: HealthSpec, states: &BTreeMap<String, TaskState>, now: i64) -> Self {
        let baseline = spec
            .tasks
            .iter()
            .map(|t| (t.clone(), states.get(t).map_or(0, |s| s.restarts)))
            .collect();
        HealthTracker {
            spec,
            started: now,
            baseline,
            running_since: BTreeMap::new(),
            verdict: None,
        }
    }

    /// The verdict, once reached.
    pub fn verdict(&self) -> Option<&Verdict> {
        self.verdict.as_ref()
    }

    /// Looks at the tasks' `states` at `now` (Unix ns); answers the verdict
    /// when this observation reaches it. Once judged, it never changes.
    pub fn observe(&mut self, states: &BTreeMap<String, TaskState>, now: i64) -> Option<&Verdict> {
        if self.verdict.is_some() {
            return None;
        }
        for task in &self.spec.tasks {
            let Some(s) = states.get(task) else {
                continue;
            };
            let why = if s.failed {
                Some(format!("task {task:?} failed"))
            } else if s.restarts > self.baseline.get(task).copied().unwrap_or(0) {
                Some(format!("task {task:?} restarted"))
            } else if s.state == crate::taskrunner::state_names::DEAD {
                Some(format!("task {task:?} stopped"))
            } else {
                None
            };
            if let Some(why) = why {
                self.verdict = Some(Verdict::Unhealthy(why));
                return self.verdict.as_ref();
            }
            if s.state == RUNNING {
                self.running_since.entry(task.clone()).or_insert(now);
            } else {
                self.running_since.remove(task);
            }
        }
        let min = nanos(self.spec.min_healthy_time);
        let healthy = self.spec.tasks.iter().all(|t| {
            self.running_since
                .get(t)
                .is_some_and(|since| now.saturating_sub(*since) >= min)
        });
        if healthy {
            self.verdict = Some(Verdict::Healthy);
        } else if now.saturating_sub(self.started) >= nanos(self.spec.healthy_deadline) {
            self.verdict = Some(Verdict::Unhealthy(format!(
                "not healthy within the healthy deadline of {:?}",
                self.spec.healthy_deadline
            )));
        }
        self.verdict.as_ref()
    }

    /// When (Unix ns) the next observation can reach a verdict without any
    /// task changing: the earliest of the deadline and the moment every
    /// running task has run long enough. `None` once judged.
    pub fn wake_at(&self) -> Option<i64> {
        if self.verdict.is_some() {
            return None;
        }
        let deadline = self
            .started
            .saturating_add(nanos(self.spec.healthy_deadline));
        let min = nanos(self.spec.min_healthy_time);
        let all_running = self
            .spec
            .tasks
            .iter()
            .all(|t| self.running_since.contains_key(t));
        let healthy_at = all_running
            .then(|| {
                self.running_since
                    .values()
                    .map(|s| s.saturating_add(min))
                    .max()
            })
            .flatten();
        Some(healthy_at.map_or(deadline, |h| h.min(deadline)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::taskrunner::state_names::{DEAD, PENDING};
    use sched_core::model::{DeploymentId, Task, TaskLifecycle, UpdateStrategy};

    const S: i64 = 1_000_000_000;

    fn st(state: &str, restarts: u64, failed: bool) -> TaskState {
        TaskState {
            state: state.into(),
            restarts,
            failed,
            ..TaskState::default()
        }
    }

    fn states(v: &[(&str, TaskState)]) -> BTreeMap<String, TaskState> {
        v.iter()
            .map(|(n, s)| ((*n).to_string(), s.clone()))
            .collect()
    }

    fn spec(min: u64, deadline: u64, tasks: &[&str]) -> HealthSpec {
        HealthSpec {
            min_healthy_time: Duration::from_secs(min),
            healthy_deadline: Duration::from_secs(deadline),
            tasks: tasks.iter().map(|t| (*t).to_string()).collect(),
        }
    }

    fn task(name: &str, hook: Option<&str>, sidecar: bool) -> Task {
        Task {
            name: Some(name.into()),
            lifecycle: hook.map(|h| TaskLifecycle {
                hook: Some(h.into()),
                sidecar: Some(sidecar),
            }),
            ..Task::default()
        }
    }

    fn group(health_check: &str, max_parallel: i64) -> TaskGroup {
        TaskGroup {
            name: Some("web".into()),
            tasks: Some(vec![
                task("init", Some("prestart"), false),
                task("proxy", Some("prestart"), true),
                task("app", None, false),
                task("announce", Some("poststart"), false),
                task("log", Some("poststart"), true),
                task("cleanup", Some("poststop"), false),
            ]),
            update: Some(UpdateStrategy {
                max_parallel: Some(max_parallel),
                health_check: Some(health_check.into()),
                min_healthy_time: Some(sched_core::model::Duration::from_secs(3)),
                healthy_deadline: Some(sched_core::model::Duration::from_secs(60)),
                ..UpdateStrategy::default()
            }),
            ..TaskGroup::default()
        }
    }

    fn deployed() -> Allocation {
        Allocation {
            deployment_id: Some(DeploymentId::generate()),
            ..Allocation::default()
        }
    }

    #[test]
    fn main_tasks_and_sidecars_count_ephemeral_tasks_do_not() {
        let s = HealthSpec::of(&deployed(), &group("task_states", 1)).unwrap();
        assert_eq!(s.tasks, vec!["proxy", "app", "log"]);
        assert_eq!(s.min_healthy_time, Duration::from_secs(3));
        assert_eq!(s.healthy_deadline, Duration::from_secs(60));
        let checks = HealthSpec::of(&deployed(), &group("checks", 1)).unwrap();
        assert_eq!(checks, s);
    }

    #[test]
    fn no_deployment_no_update_manual_or_zero_parallel_is_not_judged() {
        assert_eq!(
            HealthSpec::of(&Allocation::default(), &group("task_states", 1)),
            None
        );
        assert_eq!(HealthSpec::of(&deployed(), &group("manual", 1)), None);
        assert_eq!(HealthSpec::of(&deployed(), &group("task_states", 0)), None);
        let mut g = group("task_states", 1);
        g.update = None;
        assert_eq!(HealthSpec::of(&deployed(), &g), None);
    }

    #[test]
    fn healthy_once_every_task_ran_for_min_healthy_time() {
        let mut t = HealthTracker::new(spec(10, 60, &["a", "b"]), &BTreeMap::new(), 0);
        let pending = states(&[("a", st(PENDING, 0, false)), ("b", st(PENDING, 0, false))]);
        assert_eq!(t.observe(&pending, 0), None);
        assert_eq!(t.wake_at(), Some(60 * S), "only the deadline is due");
        let one = states(&[("a", st(RUNNING, 0, false)), ("b", st(PENDING, 0, false))]);
        assert_eq!(t.observe(&one, S), None);
        let both = states(&[("a", st(RUNNING, 0, false)), ("b", st(RUNNING, 0, false))]);
        assert_eq!(t.observe(&both, 4 * S), None);
        assert_eq!(t.wake_at(), Some(14 * S), "the later task sets the time");
        assert_eq!(t.observe(&both, 13 * S), None);
        assert_eq!(t.observe(&both, 14 * S), Some(&Verdict::Healthy));
        assert_eq!(t.wake_at(), None);
        // Judged once: a later failure changes nothing.
        let failed = states(&[("a", st(DEAD, 0, true)), ("b", st(RUNNING, 0, false))]);
        assert_eq!(t.observe(&failed, 15 * S), None);
        assert_eq!(t.verdict(), Some(&Verdict::Healthy));
    }

    #[test]
    fn a_failure_or_restart_before_that_is_unhealthy() {
        let running = states(&[("a", st(RUNNING, 0, false))]);
        let mut t = HealthTracker::new(spec(10, 60, &["a"]), &running, 0);
        assert_eq!(t.observe(&running, 0), None);
        let v = t.observe(&states(&[("a", st(DEAD, 0, true))]), 5 * S);
        assert_eq!(v, Some(&Verdict::Unhealthy("task \"a\" failed".into())));

        let mut t = HealthTracker::new(spec(10, 60, &["a"]), &running, 0);
        t.observe(&running, 0);
        let v = t.observe(&states(&[("a", st(PENDING, 1, false))]), 5 * S);
        assert_eq!(v, Some(&Verdict::Unhealthy("task \"a\" restarted".into())));

        let mut t = HealthTracker::new(spec(10, 60, &["a"]), &running, 0);
        t.observe(&running, 0);
        let v = t.observe(&states(&[("a", st(DEAD, 0, false))]), 5 * S);
        assert_eq!(v, Some(&Verdict::Unhealthy("task \"a\" stopped".into())));
    }

    #[test]
    fn restarts_before_tracking_began_do_not_count() {
        let restored = states(&[("a", st(RUNNING, 2, false))]);
        let mut t = HealthTracker::new(spec(1, 60, &["a"]), &restored, 100 * S);
        assert_eq!(t.observe(&restored, 100 * S), None);
        assert_eq!(t.observe(&restored, 101 * S), Some(&Verdict::Healthy));
    }

    #[test]
    fn the_deadline_passing_first_is_unhealthy() {
        let mut t = HealthTracker::new(spec(10, 30, &["a"]), &BTreeMap::new(), 0);
        let pending = states(&[("a", st(PENDING, 0, false))]);
        assert_eq!(t.observe(&pending, 29 * S), None);
        let running = states(&[("a", st(RUNNING, 0, false))]);
        assert_eq!(t.observe(&running, 25 * S), None);
        assert_eq!(t.wake_at(), Some(30 * S), "the deadline comes first");
        let v = t.observe(&running, 30 * S).cloned();
        assert!(
            matches!(&v, Some(Verdict::Unhealthy(why)) if why.contains("healthy deadline")),
            "{v:?}"
        );
    }

    #[test]
    fn the_status_carries_the_verdict_time_and_canary_flag() {
        let s = Verdict::Healthy.status(0, true);
        assert_eq!(s.healthy, Some(true));
        assert_eq!(s.timestamp.as_deref(), Some("1970-01-01T00:00:00Z"));
        assert!(s.canary);
        let s = Verdict::Unhealthy("x".into()).status(0, false);
        assert_eq!(s.healthy, Some(false));
        assert!(!s.canary);
    }
}

//! The alloc runner: one allocation on this node, its directory and its
//! tasks in lifecycle order.
//!
//! It owns the ordering: prestart tasks first (the main tasks start once
//! every non-sidecar prestart task completed; prestart sidecars keep
//! running), then the main tasks, poststart tasks once the main tasks run,
//! and poststop tasks once everything else ended. A failed task kills its
//! siblings, a dead leader kills the rest, and when the main tasks are done
//! the sidecars are stopped. It reports the allocation's status into the
//! [`UpdateSink`]. The decisions are made from the tasks' states alone, so
//! an alloc runner rebuilt after a client restart carries on where the old
//! one was. Running one task is the [`crate::taskrunner`]'s business.
//! An allocation placed by a deployment also gets its health judged
//! ([`health`]) and reported with its status.
//!
//! It also publishes each task runner's [`TaskOps`] as the runner starts,
//! so the client can signal, restart or exec in a task without going
//! through this loop.

pub mod dir;
pub mod health;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sched_core::model::{Allocation, ClientStatus, Job, Node, Task, TaskGroup, TaskState};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::conn::AllocUpdate;
use crate::driver_host::TaskUsage;
use crate::state::LocalTask;
use crate::taskrunner::state_names::{DEAD, PENDING, RUNNING};
use crate::taskrunner::{self, RunnerServices, TaskOps, TaskRunnerHandle, TaskSpec, events};
use crate::updates::UpdateSink;
use dir::AllocDir;

/// The longest the runner goes without re-checking its tasks.
const RECHECK: Duration = Duration::from_secs(5);

/// What the owner wants of an alloc runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AllocControl {
    Run,
    Stop,
    Detach,
}

/// A task's place in the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Runs to completion before the main tasks.
    Prestart,
    /// Starts before the main tasks and runs beside them.
    PrestartSidecar,
    /// The main tasks.
    Main,
    /// Starts once the main tasks run.
    Poststart,
    /// Starts once the main tasks run, and runs beside them.
    PoststartSidecar,
    /// Runs after everything else ended.
    Poststop,
}

impl Phase {
    /// The phase of `task` from its `lifecycle` block.
    pub fn of(task: &Task) -> Phase {
        let Some(l) = &task.lifecycle else {
            return Phase::Main;
        };
        let sidecar = l.sidecar.unwrap_or(false);
        match (l.hook.as_deref(), sidecar) {
            (Some("prestart"), false) => Phase::Prestart,
            (Some("prestart"), true) => Phase::PrestartSidecar,
            (Some("poststart"), false) => Phase::Poststart,
            (Some("poststart"), true) => Phase::PoststartSidecar,
            (Some("poststop"), _) => Phase::Poststop,
            _ => Phase::Main,
        }
    }

    fn is_sidecar(self) -> bool {
        matches!(self, Phase::PrestartSidecar | Phase::PoststartSidecar)
    }
}

/// What the allocation looks like now.
#[derive(Debug, Clone, Default)]
pub struct AllocView {
    /// The report for the servers.
    pub update: AllocUpdate,
    /// Usage of the running tasks, by task.
    pub usage: BTreeMap<String, TaskUsage>,
    /// Whether the runner is done (every task ended).
    pub done: bool,
}

/// The owner's side of an alloc runner.
#[derive(Debug)]
pub struct AllocRunnerHandle {
    alloc: Arc<Allocation>,
    alloc_dir: AllocDir,
    control: watch::Sender<AllocControl>,
    view: watch::Receiver<AllocView>,
    ops: TaskOpsMap,
    join: JoinHandle<()>,
}

/// The user's operations of each started task runner, by task name.
type TaskOpsMap = Arc<RwLock<BTreeMap<String, TaskOps>>>;

impl AllocRunnerHandle {
    /// The allocation as last received.
    pub fn alloc(&self) -> &Arc<Allocation> {
        &self.alloc
    }

    /// Records a newer copy of the allocation from the servers. Its tasks
    /// keep running as they are: a change that needs new tasks comes as a
    /// new allocation.
    pub fn set_alloc(&mut self, alloc: Arc<Allocation>) {
        self.alloc = alloc;
    }

    /// The allocation's directory.
    pub fn alloc_dir(&self) -> &AllocDir {
        &self.alloc_dir
    }

    /// The allocation's state now.
    pub fn view(&self) -> AllocView {
        self.view.borrow().clone()
    }

    /// A receiver of the allocation's state, to wait for changes.
    pub fn watch(&self) -> watch::Receiver<AllocView> {
        self.view.clone()
    }

    /// Stops the allocation: kills its tasks, then runs its poststop tasks.
    pub fn stop(&self) {
        self.control.send_if_modified(|c| {
            if *c == AllocControl::Run {
                *c = AllocControl::Stop;
                true
            } else {
                false
            }
        });
    }

    /// The user's operations on the tasks whose runners started, by name
    /// (the latest runner of each).
    pub fn task_ops(&self) -> BTreeMap<String, TaskOps> {
        self.ops.read().map(|m| m.clone()).unwrap_or_default()
    }

    /// The names of the allocation's tasks, from its group.
    pub fn task_names(&self) -> Vec<String> {
        job_and_group(&self.alloc)
            .map(|(_, g)| {
                g.tasks
                    .iter()
                    .flatten()
                    .filter_map(|t| t.name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Ends the runner, leaving the tasks running (client shutdown).
    pub fn detach(&self) {
        self.control.send_replace(AllocControl::Detach);
    }

    /// Whether every task ended (or the runner was detached).
    pub fn is_finished(&self) -> bool {
        self.join.is_finished()
    }

    /// Waits for the runner to end.
    pub async fn join(self) {
        if let Err(e) = self.join.await {
            tracing::error!(alloc_id = %self.alloc.id, error = %e, "alloc runner panicked");
        }
    }
}

/// Everything an alloc runner needs.
#[derive(Debug, Clone)]
pub struct AllocContext {
    /// The node.
    pub node: Arc<Node>,
    /// The client's region.
    pub region: String,
    /// Where allocation directories go.
    pub alloc_root: std::path::PathBuf,
    /// The task runners' services.
    pub services: RunnerServices,
    /// The outbox.
    pub sink: Arc<UpdateSink>,
}

/// The allocation's job and group; `None` when it cannot run at all.
fn job_and_group(alloc: &Allocation) -> Option<(Arc<Job>, TaskGroup)> {
    let job = alloc.job.clone()?;
    let group = job
        .task_groups
        .iter()
        .flatten()
        .find(|g| g.name.as_deref() == Some(alloc.task_group.as_str()))?
        .clone();
    Some((job, group))
}

/// Starts the runner of `alloc` (also for an allocation restored from the
/// local state: its tasks' stored records decide what is recovered).
pub fn spawn(alloc: Arc<Allocation>, cx: AllocContext) -> AllocRunnerHandle {
    let alloc_dir = AllocDir::new(&cx.alloc_root, alloc.id.as_str());
    let (control_tx, control_rx) = watch::channel(AllocControl::Run);
    let (view_tx, view_rx) = watch::channel(AllocView::default());
    let ops = TaskOpsMap::default();
    let join = tokio::spawn(run(
        Arc::clone(&alloc),
        alloc_dir.clone(),
        cx,
        control_rx,
        view_tx,
        Arc::clone(&ops),
    ));
    AllocRunnerHandle {
        alloc,
        alloc_dir,
        control: control_tx,
        view: view_rx,
        ops,
        join,
    }
}

struct Slot {
    task: Task,
    phase: Phase,
    leader: bool,
    runner: Option<TaskRunnerHandle>,
    /// The state while no runner exists (not started yet, or ended).
    idle: TaskState,
}

impl Slot {
    fn state(&self) -> TaskState {
        self.runner
            .as_ref()
            .map_or_else(|| self.idle.clone(), TaskRunnerHandle::state)
    }
}

/// The allocation's client status from its tasks' states (Nomad's rules).
pub fn client_status(states: &BTreeMap<String, TaskState>) -> (ClientStatus, &'static str) {
    if states.values().any(|s| s.failed) {
        return (ClientStatus::Failed, "Failed tasks");
    }
    if states.values().any(|s| s.state == RUNNING) {
        return (ClientStatus::Running, "Tasks are running");
    }
    if states
        .values()
        .any(|s| s.state == PENDING || s.state.is_empty())
    {
        return (ClientStatus::Pending, "No tasks have started");
    }
    (ClientStatus::Complete, "All tasks have completed")
}

async fn run(
    alloc: Arc<Allocation>,
    alloc_dir: AllocDir,
    cx: AllocContext,
    mut control: watch::Receiver<AllocControl>,
    view_tx: watch::Sender<AllocView>,
    ops: TaskOpsMap,
) {
    // Each allocation wakes on its own tasks' changes only.
    let mut cx = cx;
    cx.services.changed = Arc::new(Notify::new());
    let changed: Arc<Notify> = Arc::clone(&cx.services.changed);
    let mut slots: BTreeMap<String, Slot> = BTreeMap::new();
    let Some((job, group)) = job_and_group(&alloc) else {
        // No job or no such group: nothing can run. Report it failed.
        let update = AllocUpdate {
            alloc_id: alloc.id.clone(),
            client_status: ClientStatus::Failed,
            client_description: format!("allocation has no job or no group {:?}", alloc.task_group),
            task_states: BTreeMap::new(),
            deployment_status: None,
        };
        cx.sink.push(update.clone());
        view_tx.send_replace(AllocView {
            update,
            usage: BTreeMap::new(),
            done: true,
        });
        return;
    };
    for task in group.tasks.iter().flatten() {
        let name = task.name.clone().unwrap_or_default();
        let local = cx.services.state.task(&alloc.id, &name).ok().flatten();
        let mut slot = Slot {
            phase: Phase::of(task),
            leader: task.leader.unwrap_or(false),
            task: task.clone(),
            runner: None,
            idle: TaskState::default(),
        };
        match local {
            // Running when the client stopped, or a record to carry on from.
            Some(l) if l.handle.is_some() || (l.state.state != DEAD && l.state.restarts > 0) => {
                slot.runner = Some(spawn_task(
                    &alloc, &job, &group, &slot.task, &alloc_dir, &cx, l, &ops,
                ));
            }
            Some(l) => slot.idle = l.state,
            None => {
                slot.idle.state = PENDING.into();
                slot.idle
                    .events
                    .push(events::event(events::RECEIVED, "Task received by client"));
            }
        }
        slots.insert(name, slot);
    }
    let phases: BTreeMap<String, (Phase, bool)> = slots
        .iter()
        .map(|(n, s)| (n.clone(), (s.phase, s.leader)))
        .collect();
    // Deployment health is judged once: a verdict stored before a client
    // restart is reported as it is, never judged again.
    let mut judged = cx.services.state.health(&alloc.id).unwrap_or_else(|e| {
        tracing::warn!(alloc_id = %alloc.id, error = %e, "reading the stored deployment health");
        None
    });
    let mut tracker = if judged.is_none() {
        let states: BTreeMap<String, TaskState> =
            slots.iter().map(|(n, s)| (n.clone(), s.state())).collect();
        health::HealthSpec::of(&alloc, &group)
            .map(|spec| health::HealthTracker::new(spec, &states, events::now_nanos()))
    } else {
        None
    };
    let mut stopping = false;
    let mut killed_for: Option<String> = None;
    let mut last_sent: Option<AllocUpdate> = None;
    loop {
        let ctl = *control.borrow_and_update();
        if ctl == AllocControl::Detach {
            for s in slots.values() {
                if let Some(r) = &s.runner {
                    r.detach();
                }
            }
            for (_, s) in std::mem::take(&mut slots) {
                if let Some(r) = s.runner {
                    r.join().await;
                }
            }
            return;
        }
        if ctl == AllocControl::Stop && !stopping {
            stopping = true;
            for s in slots.values_mut() {
                if s.phase == Phase::Poststop {
                    continue;
                }
                match &s.runner {
                    Some(r) => r.kill("", None),
                    None if s.idle.state != DEAD => {
                        s.idle.state = DEAD.into();
                        s.idle.finished_at = Some(events::rfc3339(events::now_nanos()));
                    }
                    None => {}
                }
            }
        }
        let states: BTreeMap<String, TaskState> =
            slots.iter().map(|(n, s)| (n.clone(), s.state())).collect();
        let dead = |n: &str| states.get(n).is_some_and(|s| s.state == DEAD);
        let of = |p: Phase| {
            phases
                .iter()
                .filter(move |(_, (ph, _))| *ph == p)
                .map(|(n, _)| n.clone())
        };

        // A failure or the leader's end kills every other task (once).
        if killed_for.is_none() {
            let failed = states
                .iter()
                .find(|(n, s)| s.failed && phases.get(*n).is_some_and(|x| x.0 != Phase::Poststop));
            let leader_dead = phases.iter().find(|(n, (_, leader))| *leader && dead(n));
            let why = failed
                .map(|(n, _)| {
                    (
                        n.clone(),
                        events::SIBLING_FAILED,
                        format!("Task's sibling {n:?} failed"),
                    )
                })
                .or_else(|| {
                    leader_dead.map(|(n, _)| {
                        (
                            n.clone(),
                            events::LEADER_DEAD,
                            "Leader Task in Group dead".to_string(),
                        )
                    })
                });
            if let Some((culprit, kind, msg)) = why {
                killed_for = Some(culprit.clone());
                for (n, s) in slots.iter_mut() {
                    if *n == culprit || s.phase == Phase::Poststop {
                        continue;
                    }
                    match &s.runner {
                        Some(r) => r.kill(&msg, Some(events::event(kind, msg.clone()))),
                        None if s.idle.state != DEAD => {
                            s.idle.events.push(events::event(kind, msg.clone()));
                            s.idle.state = DEAD.into();
                        }
                        None => {}
                    }
                }
            }
        }
        let halted = stopping || killed_for.is_some();

        let prestart_ok = of(Phase::Prestart).all(|n| dead(&n) && !states[&n].failed);
        let main_names: Vec<String> = of(Phase::Main).collect();
        let main_done = main_names.iter().all(|n| dead(n));
        let mut to_start: Vec<String> = Vec::new();
        if !halted {
            to_start.extend(of(Phase::Prestart).chain(of(Phase::PrestartSidecar)));
            if prestart_ok {
                to_start.extend(main_names.iter().cloned());
                let main_up = main_names
                    .iter()
                    .all(|n| states[n].state == RUNNING || dead(n));
                if main_up {
                    to_start.extend(of(Phase::Poststart).chain(of(Phase::PoststartSidecar)));
                }
            }
        }
        // Sidecars end with the main tasks.
        if main_done && !main_names.is_empty() {
            for s in slots.values_mut().filter(|s| s.phase.is_sidecar()) {
                match &s.runner {
                    Some(r) => r.kill("Main tasks in the group died", None),
                    None if s.idle.state != DEAD => s.idle.state = DEAD.into(),
                    None => {}
                }
            }
        }
        // Poststop once everything else ended.
        let others_dead = phases
            .iter()
            .filter(|(_, (p, _))| *p != Phase::Poststop)
            .all(|(n, _)| dead(n));
        if others_dead {
            to_start.extend(of(Phase::Poststop));
        }
        for n in to_start {
            if dead(&n) || slots.get(&n).is_some_and(|s| s.runner.is_some()) {
                continue;
            }
            if let Some(s) = slots.get_mut(&n) {
                let local = LocalTask {
                    state: s.idle.clone(),
                    ..LocalTask::default()
                };
                s.runner = Some(spawn_task(
                    &alloc, &job, &group, &s.task, &alloc_dir, &cx, local, &ops,
                ));
            }
        }

        let states: BTreeMap<String, TaskState> =
            slots.iter().map(|(n, s)| (n.clone(), s.state())).collect();
        let all_dead = states.values().all(|s| s.state == DEAD);
        let all_runners_ended = slots
            .values()
            .all(|s| s.runner.as_ref().is_none_or(TaskRunnerHandle::is_finished));
        if stopping {
            // A stopped allocation is no longer part of any rollout.
            tracker = None;
        }
        if let Some(t) = tracker.as_mut() {
            let now = events::now_nanos();
            if let Some(v) = t.observe(&states, now) {
                let canary = alloc.deployment_status.as_ref().is_some_and(|d| d.canary);
                let status = v.status(now, canary);
                tracing::info!(alloc_id = %alloc.id, verdict = ?v, "deployment health judged");
                if let Err(e) = cx.services.state.put_health(&alloc.id, &status) {
                    tracing::warn!(alloc_id = %alloc.id, error = %e, "storing the deployment health");
                }
                judged = Some(status);
                tracker = None;
            }
        }
        let (status, description) = client_status(&states);
        let update = AllocUpdate {
            alloc_id: alloc.id.clone(),
            client_status: status,
            client_description: description.to_string(),
            task_states: states,
            deployment_status: judged.clone(),
        };
        if last_sent.as_ref() != Some(&update) {
            cx.sink.push(update.clone());
            last_sent = Some(update.clone());
        }
        let usage = slots
            .iter()
            .filter_map(|(n, s)| Some((n.clone(), s.runner.as_ref()?.usage()?)))
            .collect();
        let done = all_dead && all_runners_ended;
        view_tx.send_replace(AllocView {
            update,
            usage,
            done,
        });
        if done {
            tracing::info!(alloc_id = %alloc.id, status = ?status, "allocation finished");
            return;
        }
        tokio::select! {
            _ = changed.notified() => {}
            r = control.changed() => {
                if r.is_err() {
                    // The owner is gone without a word: keep the tasks.
                    for s in slots.values() {
                        if let Some(r) = &s.runner { r.detach(); }
                    }
                    return;
                }
            }
            _ = tokio::time::sleep(recheck(tracker.as_ref())) => {}
        }
    }
}

/// How long to sleep before looking at the tasks again: at most
/// [`RECHECK`], less when the health tracker can reach a verdict sooner.
fn recheck(tracker: Option<&health::HealthTracker>) -> Duration {
    tracker
        .and_then(health::HealthTracker::wake_at)
        .map_or(RECHECK, |at| {
            let wait = at.saturating_sub(events::now_nanos()).max(0);
            RECHECK.min(Duration::from_nanos(u64::try_from(wait).unwrap_or(0)))
        })
}

#[allow(clippy::too_many_arguments)]
fn spawn_task(
    alloc: &Arc<Allocation>,
    job: &Arc<Job>,
    group: &TaskGroup,
    task: &Task,
    alloc_dir: &AllocDir,
    cx: &AllocContext,
    local: LocalTask,
    ops: &TaskOpsMap,
) -> TaskRunnerHandle {
    let spec = TaskSpec {
        alloc: Arc::clone(alloc),
        job: Arc::clone(job),
        group: group.clone(),
        task: task.clone(),
        node: Arc::clone(&cx.node),
        region: cx.region.clone(),
        alloc_dir: alloc_dir.clone(),
        trace_id: alloc.eval_id.to_string(),
    };
    let runner = taskrunner::spawn(spec, cx.services.clone(), local);
    if let Ok(mut m) = ops.write() {
        m.insert(runner.name().to_string(), runner.ops());
    }
    runner
}

#[cfg(test)]
mod tests {
    use super::*;
    use sched_core::model::TaskLifecycle;

    #[test]
    fn phases_from_lifecycle_blocks() {
        let t = |hook: Option<&str>, sidecar: Option<bool>| Task {
            lifecycle: Some(TaskLifecycle {
                hook: hook.map(str::to_string),
                sidecar,
            }),
            ..Task::default()
        };
        assert_eq!(Phase::of(&Task::default()), Phase::Main);
        assert_eq!(Phase::of(&t(Some("prestart"), None)), Phase::Prestart);
        assert_eq!(
            Phase::of(&t(Some("prestart"), Some(true))),
            Phase::PrestartSidecar
        );
        assert_eq!(Phase::of(&t(Some("poststart"), None)), Phase::Poststart);
        assert_eq!(Phase::of(&t(Some("poststop"), None)), Phase::Poststop);
    }

    #[test]
    fn status_follows_nomad() {
        let st = |state: &str, failed: bool| TaskState {
            state: state.into(),
            failed,
            ..TaskState::default()
        };
        let m = |v: Vec<TaskState>| -> BTreeMap<String, TaskState> {
            v.into_iter()
                .enumerate()
                .map(|(i, s)| (i.to_string(), s))
                .collect()
        };
        assert_eq!(
            client_status(&m(vec![st(DEAD, false), st(RUNNING, false)])).0,
            ClientStatus::Running
        );
        assert_eq!(
            client_status(&m(vec![st(DEAD, true), st(RUNNING, false)])).0,
            ClientStatus::Failed
        );
        assert_eq!(
            client_status(&m(vec![st(DEAD, false)])).0,
            ClientStatus::Complete
        );
        assert_eq!(
            client_status(&m(vec![st(PENDING, false)])).0,
            ClientStatus::Pending
        );
    }
}

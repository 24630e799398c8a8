//! The task runner: one task of one allocation, from its first start to its
//! end, through the driver host (the real WASM drivers).
//!
//! It owns the task's run loop: the hooks ([`hooks`]), the environment
//! ([`env`](mod@env)), starting through the driver, polling for the exit, the
//! restart policy ([`restart`]) with Nomad's task events ([`events`]),
//! kills (signal, timeout, shutdown delay, `max_run_duration`), log
//! rotation, and re-attaching after a client restart. It persists the
//! driver's handle before it reports the task running, so a client that dies
//! right after a start finds the task again. It does not decide when a task
//! starts relative to its siblings; the alloc runner does.
//!
//! A running task also takes a user's operations ([`TaskOps`]): a signal,
//! a restart in place (Nomad's "Restart Signaled", not counted against the
//! restart policy) and a one-shot command in the task's context. They reach
//! the run loop through a channel, so they never race the loop's own use of
//! the driver handle.

pub mod artifact;
pub mod env;
pub mod events;
pub mod hooks;
pub mod restart;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sched_core::model::{Allocation, Job, Node, Task, TaskEvent, TaskGroup, TaskState};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::allocrunner::dir::AllocDir;
use crate::driver_host::{
    DriverError, DriverHandle, DriverHost, ExecOutput, ExitResult, PortMapping, Resources,
    TaskConfig, TaskHandle, TaskUsage,
};
use crate::logs::LogRotator;
use crate::state::{LocalState, LocalTask, StoredHandle};
use env::{EnvInputs, TaskEnv};
use hooks::{HookContext, Hooks};
use restart::{Decision, Policy, RestartTracker};

/// The default time between the kill signal and a forced kill.
pub const DEFAULT_KILL_TIMEOUT: Duration = Duration::from_secs(5);
/// Events kept per task: the oldest go first, so a task that restarts
/// forever does not grow its state (and every update) without bound.
pub const MAX_TASK_EVENTS: usize = 50;
/// Consecutive failed driver polls after which the task counts as lost.
const MAX_POLL_ERRORS: u32 = 5;
/// User operations queued for one task at most; more are refused.
const MAX_PENDING_OPS: usize = 16;
/// How long an operation may wait for the run loop beyond its own time (a
/// task between restarts takes it up when it runs again).
const OP_QUEUE_WAIT: Duration = Duration::from_secs(30);

/// `pending`, `running` and `dead`, Nomad's task states.
pub mod state_names {
    /// Not running yet, or between restarts.
    pub const PENDING: &str = "pending";
    /// Running.
    pub const RUNNING: &str = "running";
    /// Finished for good.
    pub const DEAD: &str = "dead";
}
use state_names::{DEAD, PENDING, RUNNING};

/// What the owner wants of a task runner.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// Keep the task running.
    Run,
    /// Kill the task and end; `event` (e.g. "Sibling Task Failed") is
    /// recorded first, `reason` prefixes the "Killing" event.
    Kill {
        /// An event explaining the kill.
        event: Option<Box<TaskEvent>>,
        /// Why, for the "Killing" event.
        reason: String,
    },
    /// Leave the task running and end (the client is shutting down).
    Detach,
}

/// Which task of which allocation.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    /// The allocation.
    pub alloc: Arc<Allocation>,
    /// Its job.
    pub job: Arc<Job>,
    /// Its group.
    pub group: TaskGroup,
    /// The task.
    pub task: Task,
    /// The node.
    pub node: Arc<Node>,
    /// The client's region.
    pub region: String,
    /// The allocation's directory.
    pub alloc_dir: AllocDir,
    /// The trace id for the task's logs and `SCHED_TRACE_ID`.
    pub trace_id: String,
}

impl TaskSpec {
    /// The task's name.
    pub fn name(&self) -> String {
        self.task.name.clone().unwrap_or_default()
    }
}

/// The services a task runner uses.
#[derive(Debug, Clone)]
pub struct RunnerServices {
    /// The driver host.
    pub drivers: DriverHost,
    /// The local state.
    pub state: LocalState,
    /// How soon the driver is first asked about a started task.
    pub poll_interval: Duration,
    /// The longest interval between asks (the interval doubles up to it).
    pub poll_max_interval: Duration,
    /// How often the task's usage is sampled.
    pub stats_interval: Duration,
    /// Notified on every change of the task's state.
    pub changed: Arc<Notify>,
}

/// The owner's side of a running task runner.
#[derive(Debug)]
pub struct TaskRunnerHandle {
    name: String,
    state: watch::Receiver<TaskState>,
    usage: watch::Receiver<Option<TaskUsage>>,
    control: watch::Sender<Control>,
    ops: mpsc::Sender<TaskOp>,
    join: JoinHandle<()>,
}

impl TaskRunnerHandle {
    /// The task's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The task's state now.
    pub fn state(&self) -> TaskState {
        self.state.borrow().clone()
    }

    /// The task's last sampled usage, if it runs.
    pub fn usage(&self) -> Option<TaskUsage> {
        *self.usage.borrow()
    }

    /// Asks the runner to kill the task (a second kill is ignored).
    pub fn kill(&self, reason: &str, event: Option<TaskEvent>) {
        self.control.send_if_modified(|c| {
            if *c == Control::Run {
                *c = Control::Kill {
                    event: event.map(Box::new),
                    reason: reason.to_string(),
                };
                true
            } else {
                false
            }
        });
    }

    /// The user's operations on the task.
    pub fn ops(&self) -> TaskOps {
        TaskOps {
            name: self.name.clone(),
            tx: self.ops.clone(),
            state: self.state.clone(),
        }
    }

    /// Asks the runner to end, leaving the task running.
    pub fn detach(&self) {
        self.control.send_replace(Control::Detach);
    }

    /// Whether the runner has ended.
    pub fn is_finished(&self) -> bool {
        self.join.is_finished()
    }

    /// Waits for the runner to end.
    pub async fn join(self) {
        if let Err(e) = self.join.await {
            tracing::error!(task = %self.name, error = %e, "task runner panicked");
        }
    }
}

/// Why a user's operation on a task failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskOpError {
    /// The task is not running (not started yet, between restarts, or dead).
    #[error("task {0:?} is not running")]
    NotRunning(String),
    /// Too many operations wait for the task already.
    #[error("task {0:?} has too many operations pending; try again")]
    Busy(String),
    /// The task did not take the operation up in time.
    #[error("task {0:?} did not answer in time")]
    Timeout(String),
    /// The driver failed the operation.
    #[error(transparent)]
    Driver(#[from] DriverError),
}

/// A user's operation on a running task, answered on `reply`.
enum TaskOp {
    Signal {
        signal: String,
        reply: oneshot::Sender<Result<(), TaskOpError>>,
    },
    Restart {
        reply: oneshot::Sender<Result<(), TaskOpError>>,
    },
    Exec {
        argv: Vec<String>,
        timeout: Duration,
        reply: oneshot::Sender<Result<ExecOutput, TaskOpError>>,
    },
}

/// The user's side of a task runner: signal, restart or exec in the task
/// while it runs. Cheap to clone; outlives the runner harmlessly (its
/// operations then fail with [`TaskOpError::NotRunning`]).
#[derive(Debug, Clone)]
pub struct TaskOps {
    name: String,
    tx: mpsc::Sender<TaskOp>,
    state: watch::Receiver<TaskState>,
}

impl TaskOps {
    /// The task's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The task's state now.
    pub fn state(&self) -> TaskState {
        self.state.borrow().clone()
    }

    /// Whether the task runs now.
    pub fn is_running(&self) -> bool {
        self.state.borrow().state == RUNNING
    }

    /// Sends `signal` (a name such as `SIGUSR1`, or a number) to the task
    /// through its driver, recording a "Signaling" event.
    pub async fn signal(&self, signal: &str) -> Result<(), TaskOpError> {
        let signal = signal.to_string();
        self.ask(Duration::ZERO, |reply| TaskOp::Signal { signal, reply })
            .await
    }

    /// Kills the task and starts it again at once ("Restart Signaled"); the
    /// restart policy's attempts are left as they are. Answers once the old
    /// process is gone.
    pub async fn restart(&self, kill_timeout: Duration) -> Result<(), TaskOpError> {
        self.ask(kill_timeout, |reply| TaskOp::Restart { reply })
            .await
    }

    /// Runs `argv` in the task's context (its environment, directory and,
    /// for isolating drivers, its isolation) for at most `timeout`.
    pub async fn exec(
        &self,
        argv: Vec<String>,
        timeout: Duration,
    ) -> Result<ExecOutput, TaskOpError> {
        self.ask(timeout, |reply| TaskOp::Exec {
            argv,
            timeout,
            reply,
        })
        .await
    }

    async fn ask<T>(
        &self,
        takes: Duration,
        op: impl FnOnce(oneshot::Sender<Result<T, TaskOpError>>) -> TaskOp,
    ) -> Result<T, TaskOpError> {
        if !self.is_running() {
            return Err(TaskOpError::NotRunning(self.name.clone()));
        }
        let (reply, answer) = oneshot::channel();
        self.tx.try_send(op(reply)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => TaskOpError::Busy(self.name.clone()),
            mpsc::error::TrySendError::Closed(_) => TaskOpError::NotRunning(self.name.clone()),
        })?;
        match tokio::time::timeout(takes + OP_QUEUE_WAIT, answer).await {
            Ok(Ok(r)) => r,
            // The runner ended with the operation still queued.
            Ok(Err(_)) => Err(TaskOpError::NotRunning(self.name.clone())),
            Err(_) => Err(TaskOpError::Timeout(self.name.clone())),
        }
    }
}

/// How a watched run ended.
enum RunEnd {
    Exited(ExitResult),
    /// The exit could not be known (the task died while the client was down).
    Lost(String),
    Killed,
    Detached,
    /// A user restarted the task; it starts again at once.
    Restarted,
}

struct Runner {
    spec: TaskSpec,
    name: String,
    svc: RunnerServices,
    local: LocalTask,
    tracker: RestartTracker,
    hooks: Hooks,
    rotators: Arc<(LogRotator, LogRotator)>,
    state_tx: watch::Sender<TaskState>,
    usage_tx: watch::Sender<Option<TaskUsage>>,
    control: watch::Receiver<Control>,
    ops: mpsc::Receiver<TaskOp>,
    started: Option<Instant>,
}

/// Starts a task runner with the task's stored record (a fresh one for a
/// new task: it records "Received" then).
pub fn spawn(spec: TaskSpec, svc: RunnerServices, mut local: LocalTask) -> TaskRunnerHandle {
    let name = spec.name();
    if local.state.state.is_empty() {
        local.state.state = PENDING.into();
        local
            .state
            .events
            .push(events::event(events::RECEIVED, "Task received by client"));
    }
    let batch = matches!(spec.job.r#type.as_deref(), Some("batch" | "sysbatch"));
    let policy = Policy::resolve(
        spec.group.restart_policy.as_ref(),
        spec.task.restart_policy.as_ref(),
        batch,
    );
    let tracker = RestartTracker::new(policy, batch, local.restart_window);
    let hooks = Hooks::new(&spec.task, spec.group.shutdown_delay.map(|d| d.to_std()));
    let rotators = Arc::new(hooks::rotators(&spec.alloc_dir, &spec.task));
    let (state_tx, state_rx) = watch::channel(local.state.clone());
    let (usage_tx, usage_rx) = watch::channel(None);
    let (control_tx, control_rx) = watch::channel(Control::Run);
    let (ops_tx, ops_rx) = mpsc::channel(MAX_PENDING_OPS);
    let runner = Runner {
        name: name.clone(),
        spec,
        svc,
        local,
        tracker,
        hooks,
        rotators,
        state_tx,
        usage_tx,
        control: control_rx,
        ops: ops_rx,
        started: None,
    };
    // The owner learns the runner ended (not only that the task died).
    let ended = Arc::clone(&runner.svc.changed);
    let join = tokio::spawn(async move {
        runner.run().await;
        ended.notify_one();
    });
    TaskRunnerHandle {
        name,
        state: state_rx,
        usage: usage_rx,
        control: control_tx,
        ops: ops_tx,
        join,
    }
}

/// A hostname from an allocation name (`web.api[0]` → `web-api-0`).
fn hostname(alloc_name: &str) -> String {
    let mut h: String = alloc_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    h = h.trim_matches('-').to_string();
    h.truncate(63);
    h
}

/// Whether a start error may go away on a retry: sandbox stops and host
/// trouble may; a bad config, a missing binary or a refused capability
/// will not.
fn recoverable(e: &DriverError) -> bool {
    matches!(
        e,
        DriverError::Trap { .. }
            | DriverError::TimeBudget { .. }
            | DriverError::MemoryLimit { .. }
            | DriverError::Host { .. }
    )
}

impl Runner {
    fn publish(&mut self) {
        self.local.restart_window = self.tracker.state();
        if let Err(e) = self
            .svc
            .state
            .put_task(&self.spec.alloc.id, &self.name, &self.local)
        {
            tracing::error!(alloc_id = %self.spec.alloc.id, task = %self.name, error = %e, "persisting task state");
        }
        self.state_tx.send_replace(self.local.state.clone());
        self.svc.changed.notify_one();
    }

    fn push(&mut self, e: TaskEvent) {
        tracing::info!(
            alloc_id = %self.spec.alloc.id,
            task = %self.name,
            trace_id = %self.spec.trace_id,
            event = %e.r#type,
            message = %e.display_message,
            "task event"
        );
        self.local.state.events.push(e);
        let over = self
            .local
            .state
            .events
            .len()
            .saturating_sub(MAX_TASK_EVENTS);
        if over > 0 {
            self.local.state.events.drain(..over);
        }
    }

    fn control_now(&mut self) -> Control {
        self.control.borrow_and_update().clone()
    }

    fn driver(&self, name: &str) -> Result<DriverHandle, DriverError> {
        self.svc.drivers.driver(name)
    }

    async fn run(mut self) {
        if self.local.state.state == DEAD {
            self.state_tx.send_replace(self.local.state.clone());
            return;
        }
        let mut recovered = None;
        if let Some(stored) = self.local.handle.clone() {
            match self.recover(&stored).await {
                Ok(h) => recovered = Some(h),
                Err(end) => {
                    if !self.after_run(end).await {
                        return;
                    }
                }
            }
        }
        self.publish();
        loop {
            let (handle, driver) = match recovered.take() {
                Some(hd) => hd,
                None => {
                    match self.control_now() {
                        Control::Run => {}
                        Control::Kill { event, .. } => {
                            if let Some(e) = event {
                                self.push(*e);
                            }
                            self.finish(false);
                            return;
                        }
                        Control::Detach => return,
                    }
                    match self.start().await {
                        Ok(hd) => hd,
                        Err((event, recoverable)) => {
                            self.push(event);
                            let d = self
                                .tracker
                                .on_start_error(recoverable, events::now_nanos());
                            if !self.apply(d).await {
                                return;
                            }
                            continue;
                        }
                    }
                }
            };
            let end = self.watch(&driver, &handle).await;
            if !self.after_run(end).await {
                return;
            }
        }
    }

    /// Handles the end of one run; whether to start again.
    async fn after_run(&mut self, end: RunEnd) -> bool {
        self.usage_tx.send_replace(None);
        match end {
            RunEnd::Detached => false,
            RunEnd::Killed => false,
            RunEnd::Restarted => {
                // Nomad's user restart: at once, and outside the policy's
                // count of attempts.
                self.local.handle = None;
                self.push(events::restarting("", Duration::ZERO));
                self.local.state.state = PENDING.into();
                self.local.state.restarts += 1;
                self.local.state.last_restart = Some(events::rfc3339(events::now_nanos()));
                self.publish();
                true
            }
            RunEnd::Exited(exit) => {
                self.push(events::terminated(
                    exit.exit_code,
                    exit.signal,
                    exit.oom_killed,
                ));
                self.local.handle = None;
                let ok = exit.exit_code == 0 && exit.signal == 0;
                let d = self.tracker.on_exit(ok, events::now_nanos());
                self.apply(d).await
            }
            RunEnd::Lost(message) => {
                let mut e = events::event(events::TERMINATED, message);
                e.exit_code = -1;
                self.push(e);
                self.local.handle = None;
                let d = self.tracker.on_exit(false, events::now_nanos());
                self.apply(d).await
            }
        }
    }

    /// Applies a restart decision; whether to start again.
    async fn apply(&mut self, d: Decision) -> bool {
        match d {
            Decision::Restart { delay, reason } => {
                self.push(events::restarting(&reason, delay));
                self.local.state.state = PENDING.into();
                self.local.state.restarts += 1;
                self.local.state.last_restart = Some(events::rfc3339(events::now_nanos()));
                self.publish();
                let deadline = tokio::time::Instant::now() + delay;
                loop {
                    match self.control_now() {
                        Control::Run => {}
                        Control::Kill { event, .. } => {
                            if let Some(e) = event {
                                self.push(*e);
                            }
                            self.finish(false);
                            return false;
                        }
                        Control::Detach => return false,
                    }
                    tokio::select! {
                        _ = tokio::time::sleep_until(deadline) => return true,
                        r = self.control.changed() => if r.is_err() { return false },
                    }
                }
            }
            Decision::Stop { reason, failed } => {
                if !reason.is_empty() {
                    self.push(events::not_restarting(&reason, failed));
                }
                self.finish(failed);
                false
            }
        }
    }

    fn finish(&mut self, failed: bool) {
        self.local.state.state = DEAD.into();
        self.local.state.failed = failed;
        self.local.state.finished_at = Some(events::rfc3339(events::now_nanos()));
        self.local.handle = None;
        self.publish();
    }

    /// Re-attaches to a task started before the client restarted.
    async fn recover(
        &mut self,
        stored: &StoredHandle,
    ) -> Result<(TaskHandle, DriverHandle), RunEnd> {
        let handle = TaskHandle::from(stored);
        self.svc
            .drivers
            .remember_trace(&handle.id, &self.spec.trace_id);
        let driver = match self.driver(&stored.driver) {
            Ok(d) => d,
            Err(e) => {
                return Err(RunEnd::Lost(format!(
                    "cannot re-attach after the client restarted: {e}"
                )));
            }
        };
        let (d, h) = (driver.clone(), handle.clone());
        let r = tokio::task::spawn_blocking(move || d.recover_task(&h)).await;
        match r {
            Ok(Ok(())) => {
                tracing::info!(alloc_id = %self.spec.alloc.id, task = %self.name, "re-attached to running task");
                self.local.state.state = RUNNING.into();
                self.started = Some(Instant::now());
                Ok((handle, driver))
            }
            other => {
                let why = match other {
                    Ok(Err(e)) => e.to_string(),
                    Err(e) => e.to_string(),
                    Ok(Ok(())) => String::new(),
                };
                // It ended while the client was away; the driver may still
                // know how.
                let (d, h) = (driver.clone(), handle.clone());
                let exit =
                    tokio::task::spawn_blocking(move || d.wait_task(&h, Duration::ZERO)).await;
                let (d, h) = (driver, handle);
                let _ = tokio::task::spawn_blocking(move || d.destroy_task(&h, true)).await;
                match exit {
                    Ok(Ok(Some(exit))) => Err(RunEnd::Exited(exit)),
                    _ => Err(RunEnd::Lost(format!(
                        "Task exited while the client was down; its exit code is unknown ({why})"
                    ))),
                }
            }
        }
    }

    /// Runs the prestart hooks and starts the task.
    async fn start(&mut self) -> Result<(TaskHandle, DriverHandle), (TaskEvent, bool)> {
        let driver_name = self.spec.task.driver.clone().unwrap_or_default();
        let driver = self
            .driver(&driver_name)
            .map_err(|e| (events::driver_failure(&e.to_string()), false))?;
        let payload = match self.spec.job.payload.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => {
                use base64::Engine;
                Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(p)
                        .map_err(|e| {
                            (
                                events::event(
                                    events::SETUP_FAILURE,
                                    format!("dispatch payload is not base64: {e}"),
                                ),
                                false,
                            )
                        })?,
                )
            }
            None => None,
        };
        let (hooks, alloc_dir, task, name, rotators) = (
            self.hooks.clone(),
            self.spec.alloc_dir.clone(),
            self.spec.task.clone(),
            self.name.clone(),
            Arc::clone(&self.rotators),
        );
        let out = tokio::task::spawn_blocking(move || {
            hooks.prestart(&HookContext {
                alloc_dir: &alloc_dir,
                task: &task,
                task_name: &name,
                payload: payload.as_deref(),
                logs: &rotators,
            })
        })
        .await
        .map_err(|e| {
            (
                events::event(events::SETUP_FAILURE, format!("prestart hooks: {e}")),
                true,
            )
        })?;
        let out = match out {
            Ok(out) => out,
            Err(failed) => {
                let (out, failure) = *failed;
                for e in out.events {
                    self.push(e);
                }
                self.publish();
                return Err((*failure.event, failure.recoverable));
            }
        };
        for e in out.events {
            self.push(e);
        }
        self.publish();
        let (Some(task_dir), Some((stdout, stderr))) = (out.task_dir, out.log_paths) else {
            return Err((
                events::event(
                    events::SETUP_FAILURE,
                    "the task directory or logs were not prepared",
                ),
                false,
            ));
        };
        let spec = &self.spec;
        let env = TaskEnv::build(EnvInputs {
            alloc: &spec.alloc,
            job: &spec.job,
            group: &spec.group,
            task: &spec.task,
            node: &spec.node,
            region: &spec.region,
            alloc_dir: &spec.alloc_dir,
            task_dir: &task_dir,
            trace_id: &spec.trace_id,
        });
        let config = spec
            .task
            .config
            .as_ref()
            .map(|c| {
                serde_json::Value::Object(c.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            })
            .unwrap_or(serde_json::Value::Object(Default::default()));
        let config = env.interpolate_json(&config);
        let res = spec.alloc.allocated_resources.tasks.get(&self.name);
        let task_res = spec.task.resources.clone().unwrap_or_default();
        let resources = Resources {
            cpu_mhz: res
                .map(|r| r.cpu.cpu_shares)
                .or(task_res.cpu)
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(100),
            cores: res.map_or(0, |r| {
                u32::try_from(r.cpu.reserved_cores.len()).unwrap_or(0)
            }),
            memory_mb: res
                .map(|r| r.memory.memory_mb)
                .or(task_res.memory_mb)
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(300),
            memory_max_mb: res
                .map(|r| r.memory.memory_max_mb)
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(0),
        };
        let ports = spec
            .alloc
            .allocated_resources
            .shared
            .ports
            .iter()
            .map(|p| PortMapping {
                label: p.label.clone(),
                host_ip: p.host_ip.clone(),
                host_port: u16::try_from(p.value).unwrap_or(0),
                task_port: u16::try_from(p.to).unwrap_or(0),
            })
            .collect();
        let network_mode = spec
            .group
            .networks
            .as_ref()
            .and_then(|n| n.first())
            .and_then(|n| n.mode.clone())
            .unwrap_or_else(|| "host".into());
        let cfg = TaskConfig {
            id: format!("{}/{}", spec.alloc.id, self.name),
            name: self.name.clone(),
            alloc_id: spec.alloc.id.to_string(),
            job_id: spec.alloc.job_id.clone(),
            group_name: spec.group.name.clone().unwrap_or_default(),
            driver_config: config.to_string(),
            env: env.pairs(),
            user: spec.task.user.clone().filter(|u| !u.is_empty()),
            task_dir: task_dir.dir.display().to_string(),
            alloc_dir: spec.alloc_dir.shared().display().to_string(),
            stdout_path: stdout.display().to_string(),
            stderr_path: stderr.display().to_string(),
            resources,
            ports,
            network_mode,
            hostname: hostname(&spec.alloc.name),
            trace_id: spec.trace_id.clone(),
        };
        let d = driver.clone();
        let started = tokio::task::spawn_blocking(move || d.start_task(&cfg))
            .await
            .map_err(|e| (events::driver_failure(&e.to_string()), true))?;
        match started {
            Ok(handle) => {
                self.local.handle = Some(StoredHandle::from(&handle));
                self.local.state.state = RUNNING.into();
                self.local.state.failed = false;
                self.local.state.started_at = Some(events::rfc3339(events::now_nanos()));
                self.push(events::event(events::STARTED, "Task started by client"));
                self.publish();
                self.started = Some(Instant::now());
                Ok((handle, driver))
            }
            Err(e) => Err((events::driver_failure(&e.to_string()), recoverable(&e))),
        }
    }

    /// Polls the running task until it exits or the owner intervenes.
    async fn watch(&mut self, driver: &DriverHandle, handle: &TaskHandle) -> RunEnd {
        let max_run = self
            .spec
            .group
            .max_run_duration
            .map(|d| d.to_std())
            .filter(|d| !d.is_zero());
        let mut errors = 0u32;
        let mut last_stats: Option<Instant> = None;
        let mut interval = self.svc.poll_interval;
        loop {
            match self.control_now() {
                Control::Run => {}
                Control::Kill { event, reason } => {
                    self.kill(driver, handle, event, &reason, false).await;
                    return RunEnd::Killed;
                }
                Control::Detach => return RunEnd::Detached,
            }
            if let (Some(max), Some(started)) = (max_run, self.started)
                && started.elapsed() >= max
            {
                let reason = format!("max_run_duration of {max:?} reached");
                self.kill(driver, handle, None, &reason, true).await;
                return RunEnd::Killed;
            }
            for r in [&self.rotators.0, &self.rotators.1] {
                if let Err(e) = r.rotate_if_needed() {
                    tracing::warn!(task = %self.name, error = %e, "log rotation failed");
                }
            }
            let (d, h) = (driver.clone(), handle.clone());
            let sample = last_stats.is_none_or(|t| t.elapsed() >= self.svc.stats_interval);
            if sample {
                last_stats = Some(Instant::now());
            }
            let polled = tokio::task::spawn_blocking(move || {
                let exit = d.wait_task(&h, Duration::ZERO);
                let usage = match exit {
                    Ok(None) if sample => d.task_stats(&h).ok(),
                    _ => None,
                };
                (exit, usage)
            })
            .await;
            match polled {
                Ok((Ok(Some(exit)), _)) => {
                    let (d, h) = (driver.clone(), handle.clone());
                    if let Ok(Err(e)) =
                        tokio::task::spawn_blocking(move || d.destroy_task(&h, true)).await
                    {
                        tracing::warn!(task = %self.name, error = %e, "destroying the exited task");
                    }
                    return RunEnd::Exited(exit);
                }
                Ok((Ok(None), usage)) => {
                    errors = 0;
                    if usage.is_some() {
                        self.usage_tx.send_replace(usage);
                    }
                }
                Ok((Err(e), _)) => {
                    errors += 1;
                    tracing::warn!(task = %self.name, error = %e, errors, "polling the task failed");
                    if errors >= MAX_POLL_ERRORS {
                        return RunEnd::Lost(format!("the driver lost the task: {e}"));
                    }
                }
                Err(e) => {
                    errors += 1;
                    if errors >= MAX_POLL_ERRORS {
                        return RunEnd::Lost(format!("polling the task failed: {e}"));
                    }
                }
            }
            let mut control = self.control.clone();
            let ops_open = !self.ops.is_closed();
            let op = tokio::select! {
                _ = tokio::time::sleep(interval) => None,
                _ = control.changed() => None,
                op = self.ops.recv(), if ops_open => op,
            };
            if let Some(op) = op
                && let Some(end) = self.take_op(op, driver, handle).await
            {
                return end;
            }
            interval = (interval * 2).min(self.svc.poll_max_interval.max(self.svc.poll_interval));
        }
    }

    /// Carries out a user's operation on the running task; a restart ends
    /// the run.
    async fn take_op(
        &mut self,
        op: TaskOp,
        driver: &DriverHandle,
        handle: &TaskHandle,
    ) -> Option<RunEnd> {
        match op {
            TaskOp::Signal { signal, reply } => {
                self.push(events::event(
                    events::SIGNALING,
                    format!("Task being sent signal {signal}"),
                ));
                self.publish();
                let (d, h) = (driver.clone(), handle.clone());
                let r = tokio::task::spawn_blocking(move || d.signal_task(&h, &signal))
                    .await
                    .unwrap_or_else(|e| {
                        Err(DriverError::Host {
                            message: e.to_string(),
                        })
                    });
                let _ = reply.send(r.map_err(TaskOpError::from));
                None
            }
            TaskOp::Exec {
                argv,
                timeout,
                reply,
            } => {
                // A command may run long: the loop keeps watching the task.
                let (d, h) = (driver.clone(), handle.clone());
                tokio::spawn(async move {
                    let r = tokio::task::spawn_blocking(move || d.exec_task(&h, &argv, timeout))
                        .await
                        .unwrap_or_else(|e| {
                            Err(DriverError::Host {
                                message: e.to_string(),
                            })
                        });
                    let _ = reply.send(r.map_err(TaskOpError::from));
                });
                None
            }
            TaskOp::Restart { reply } => {
                self.push(events::event(
                    events::RESTART_SIGNALED,
                    "User requested restart",
                ));
                self.publish();
                let (r, exit) = self.stop_task(driver, handle).await;
                match r {
                    Ok(()) => {
                        if let Some(exit) = exit {
                            self.push(events::terminated(
                                exit.exit_code,
                                exit.signal,
                                exit.oom_killed,
                            ));
                        }
                        let _ = reply.send(Ok(()));
                        Some(RunEnd::Restarted)
                    }
                    Err(e) => {
                        tracing::warn!(task = %self.name, error = %e, "stopping the task for a restart failed");
                        let _ = reply.send(Err(e));
                        None
                    }
                }
            }
        }
    }

    /// The task's kill timeout.
    fn kill_timeout(&self) -> Duration {
        self.spec
            .task
            .kill_timeout
            .map(|d| d.to_std())
            .unwrap_or(DEFAULT_KILL_TIMEOUT)
    }

    /// Stops the task with its kill signal and timeout, and frees it; the
    /// exit when the driver knows it.
    async fn stop_task(
        &self,
        driver: &DriverHandle,
        handle: &TaskHandle,
    ) -> (Result<(), TaskOpError>, Option<ExitResult>) {
        let timeout = self.kill_timeout();
        let signal = self.spec.task.kill_signal.clone().filter(|s| !s.is_empty());
        let (d, h) = (driver.clone(), handle.clone());
        let stopped = tokio::task::spawn_blocking(move || {
            let r = d.stop_task(&h, timeout, signal.as_deref());
            let exit = d.wait_task(&h, Duration::ZERO).ok().flatten();
            let destroyed = d.destroy_task(&h, true);
            (r, exit, destroyed)
        })
        .await;
        match stopped {
            Ok((Ok(()), exit, destroyed)) => {
                if let Err(e) = destroyed {
                    tracing::warn!(task = %self.name, error = %e, "destroying the stopped task");
                }
                (Ok(()), exit)
            }
            Ok((Err(e), _, _)) => (Err(e.into()), None),
            Err(e) => (
                Err(TaskOpError::Driver(DriverError::Host {
                    message: e.to_string(),
                })),
                None,
            ),
        }
    }

    /// Kills the task: shutdown delay, the kill signal, the timeout, then
    /// force; records "Killing" and "Killed".
    async fn kill(
        &mut self,
        driver: &DriverHandle,
        handle: &TaskHandle,
        event: Option<Box<TaskEvent>>,
        reason: &str,
        failed: bool,
    ) {
        if let Some(e) = event {
            self.push(*e);
        }
        let delay = self.hooks.stop_delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        self.push(events::killing(self.kill_timeout(), reason));
        self.publish();
        match self.stop_task(driver, handle).await {
            (Ok(()), exit) => {
                if let Some(exit) = exit {
                    self.push(events::terminated(
                        exit.exit_code,
                        exit.signal,
                        exit.oom_killed,
                    ));
                }
                self.push(events::event(events::KILLED, "Task successfully killed"));
            }
            (Err(e), _) => {
                let mut ev =
                    events::event(events::KILLED, format!("Task failed to be killed: {e}"));
                ev.driver_error = e.to_string();
                self.push(ev);
            }
        }
        self.finish(failed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn operations_need_a_running_task_and_a_live_runner() {
        let (tx, rx) = mpsc::channel(1);
        let (state_tx, state) = watch::channel(TaskState {
            state: PENDING.into(),
            ..TaskState::default()
        });
        let ops = TaskOps {
            name: "web".into(),
            tx,
            state,
        };
        assert!(matches!(
            ops.signal("SIGUSR1").await,
            Err(TaskOpError::NotRunning(t)) if t == "web"
        ));
        // Running, but the runner is gone: refused, not waited for.
        state_tx.send_replace(TaskState {
            state: RUNNING.into(),
            ..TaskState::default()
        });
        drop(rx);
        assert!(matches!(
            ops.restart(Duration::ZERO).await,
            Err(TaskOpError::NotRunning(_))
        ));
    }

    #[test]
    fn hostnames_from_alloc_names() {
        assert_eq!(hostname("web.api[0]"), "web-api-0");
        assert_eq!(hostname("X_Y"), "x-y");
    }
}

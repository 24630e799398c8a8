//! The [`Client`]: the node agent's top level. It fingerprints the node
//! (and again every `fingerprint_interval`, re-registering on a change),
//! registers it and keeps it alive with heartbeats, watches the servers for
//! the node's allocations and turns them into alloc runners, sends their
//! status in batches, samples usage, and removes finished allocations'
//! directories. Talking to servers is the [`ServerConn`]'s business
//! (including failover); running an allocation is the alloc runner's.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use sched_core::model::{AllocId, Allocation, ClientStatus, Node, NodeId, NodeStatus};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::allocrunner::{self, AllocContext, AllocRunnerHandle, AllocView};
use crate::config::ClientConfig;
use crate::conn::{ConnError, ServerConn};
use crate::driver_host::{DriverHost, ExecOutput};
use crate::fingerprint::{self, FingerprintError};
use crate::logs::{LogError, LogReader, Stream};
use crate::state::{LocalState, StateError};
use crate::taskrunner::{RunnerServices, TaskOps};
use crate::updates::UpdateSink;

/// Why the client could not start or answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The local state could not be opened or read.
    #[error(transparent)]
    State(#[from] StateError),
    /// The node could not be fingerprinted.
    #[error(transparent)]
    Fingerprint(#[from] FingerprintError),
    /// The servers did not accept the registration in time.
    #[error("registering the node: {0}")]
    Register(ConnError),
    /// No such allocation on this client.
    #[error("unknown allocation {0}")]
    UnknownAlloc(String),
    /// No such task in the allocation.
    #[error("allocation {alloc} has no task {task:?}")]
    UnknownTask {
        /// The allocation.
        alloc: String,
        /// The task asked for.
        task: String,
    },
    /// Logs could not be read.
    #[error(transparent)]
    Logs(#[from] LogError),
    /// The allocation ended; nothing in it can be signalled, restarted or
    /// exec'd into.
    #[error("allocation {0} is terminal: its tasks no longer run")]
    AllocTerminal(String),
    /// No task of the allocation runs.
    #[error("no task of allocation {0} is running")]
    NothingRunning(String),
    /// The allocation has several tasks and none was named.
    #[error("allocation {alloc} has several tasks ({tasks}): name one")]
    TaskRequired {
        /// The allocation.
        alloc: String,
        /// Its tasks, comma separated.
        tasks: String,
    },
    /// A signal, restart or exec failed.
    #[error(transparent)]
    TaskOp(#[from] crate::taskrunner::TaskOpError),
}

/// The node's usage at the last sample.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeStats {
    /// Unix nanoseconds of the sample.
    pub timestamp: i64,
    /// CPU busy across all cores, percent of one core times the cores.
    pub cpu_percent: f64,
    /// Memory in use, bytes.
    pub memory_used: u64,
    /// Memory in total, bytes.
    pub memory_total: u64,
}

struct Inner {
    config: ClientConfig,
    conn: Arc<dyn ServerConn>,
    state: LocalState,
    node: RwLock<Arc<Node>>,
    allocs: Mutex<BTreeMap<AllocId, AllocRunnerHandle>>,
    /// Allocations the servers no longer list, or list as terminal: removable once finished.
    collectable: Mutex<BTreeSet<AllocId>>,
    sink: Arc<UpdateSink>,
    services: RunnerServices,
    stats: RwLock<NodeStats>,
    stop: watch::Receiver<bool>,
}

/// The running node agent.
pub struct Client {
    inner: Arc<Inner>,
    stop_tx: watch::Sender<bool>,
    loops: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("node_id", &self.node_id())
            .finish_non_exhaustive()
    }
}

/// Sleeps `d` unless `stop` turns true first; whether it was stopped.
async fn sleep_or_stop(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        r = stop.changed() => r.is_err() || *stop.borrow(),
    }
}

impl Client {
    /// Starts the client: opens the local state, re-attaches to the tasks
    /// it ran before, fingerprints and registers the node, and starts the
    /// heartbeat, alloc watch, update, GC and stats loops. `shutdown`
    /// turning true stops them, leaving the tasks running (as
    /// [`Client::shutdown`] does).
    pub async fn start(
        config: ClientConfig,
        conn: Arc<dyn ServerConn>,
        driver_host: DriverHost,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Client, ClientError> {
        let state = LocalState::open(&config.state_dir)?;
        let node_id = state.node_id()?;
        let host = driver_host.clone();
        let cfg = config.clone();
        let id = node_id.clone();
        let mut node =
            tokio::task::spawn_blocking(move || fingerprint::fingerprint(&id, &cfg, &host))
                .await
                .map_err(|e| FingerprintError::System(e.to_string()))??;
        node.status = NodeStatus::Ready;
        tracing::info!(node_id = %node.id, name = %node.name, class = %node.computed_class, "node fingerprinted");
        let (stop_tx, stop_rx) = watch::channel(false);
        let inner = Arc::new(Inner {
            services: RunnerServices {
                drivers: driver_host,
                state: state.clone(),
                poll_interval: config.task_poll_interval,
                poll_max_interval: config.task_poll_max_interval,
                stats_interval: config.stats_interval,
                changed: Arc::new(Notify::new()),
            },
            config,
            conn,
            state,
            node: RwLock::new(Arc::new(node)),
            allocs: Mutex::new(BTreeMap::new()),
            collectable: Mutex::new(BTreeSet::new()),
            sink: Arc::new(UpdateSink::default()),
            stats: RwLock::new(NodeStats::default()),
            stop: stop_rx,
        });
        // Re-attach first: tasks keep being watched even while no server answers.
        inner.restore()?;
        let mut loops = Vec::new();
        // The outside shutdown signal ends the loops and detaches the
        // runners, like Client::shutdown.
        {
            let mut outside = shutdown;
            let tx = stop_tx.clone();
            let mut inner_stop = inner.stop.clone();
            let me = Arc::clone(&inner);
            loops.push(tokio::spawn(async move {
                loop {
                    if *outside.borrow() {
                        tx.send_replace(true);
                        for r in lock(&me.allocs).values() {
                            r.detach();
                        }
                        return;
                    }
                    tokio::select! {
                        r = outside.changed() => if r.is_err() { return },
                        _ = inner_stop.changed() => return,
                    }
                }
            }));
        }
        let ttl = inner.register_until(inner.config.register_timeout).await?;
        loops.push(tokio::spawn(Arc::clone(&inner).heartbeat_loop(ttl)));
        loops.push(tokio::spawn(Arc::clone(&inner).watch_loop()));
        loops.push(tokio::spawn(Arc::clone(&inner).update_loop()));
        loops.push(tokio::spawn(Arc::clone(&inner).gc_loop()));
        loops.push(tokio::spawn(Arc::clone(&inner).stats_loop()));
        loops.push(tokio::spawn(Arc::clone(&inner).fingerprint_loop()));
        Ok(Client {
            inner,
            stop_tx,
            loops,
        })
    }

    /// The node's id.
    pub fn node_id(&self) -> NodeId {
        self.node().id.clone()
    }

    /// The node as last registered.
    pub fn node(&self) -> Arc<Node> {
        self.inner
            .node
            .read()
            .map(|n| Arc::clone(&n))
            .unwrap_or_default()
    }

    /// One allocation's state on this client.
    pub fn alloc(&self, id: &AllocId) -> Option<AllocView> {
        lock(&self.inner.allocs)
            .get(id)
            .map(AllocRunnerHandle::view)
    }

    /// A receiver of one allocation's state, to wait for changes.
    pub fn watch_alloc(&self, id: &AllocId) -> Option<watch::Receiver<AllocView>> {
        lock(&self.inner.allocs)
            .get(id)
            .map(AllocRunnerHandle::watch)
    }

    /// Every allocation on this client.
    pub fn allocs(&self) -> Vec<(AllocId, AllocView)> {
        lock(&self.inner.allocs)
            .iter()
            .map(|(k, r)| (k.clone(), r.view()))
            .collect()
    }

    /// A reader of one task's logs (`/v1/client/fs/logs`).
    pub fn logs(
        &self,
        alloc: &AllocId,
        task: &str,
        stream: Stream,
    ) -> Result<LogReader, ClientError> {
        let map = lock(&self.inner.allocs);
        let r = map
            .get(alloc)
            .ok_or_else(|| ClientError::UnknownAlloc(alloc.to_string()))?;
        let known = r
            .alloc()
            .job
            .as_ref()
            .and_then(|j| j.task_groups.as_ref())
            .into_iter()
            .flatten()
            .filter(|g| g.name.as_deref() == Some(r.alloc().task_group.as_str()))
            .flat_map(|g| g.tasks.iter().flatten())
            .any(|t| t.name.as_deref() == Some(task));
        if !known {
            return Err(ClientError::UnknownTask {
                alloc: alloc.to_string(),
                task: task.to_string(),
            });
        }
        Ok(LogReader::new(&r.alloc_dir().logs(), task, stream))
    }

    /// The tasks of `alloc` an operation applies to: `task` alone (which
    /// must exist), else every running one.
    fn task_ops(
        &self,
        alloc: &AllocId,
        task: Option<&str>,
    ) -> Result<(Vec<TaskOps>, Arc<Allocation>), ClientError> {
        let map = lock(&self.inner.allocs);
        let r = map
            .get(alloc)
            .ok_or_else(|| ClientError::UnknownAlloc(alloc.to_string()))?;
        if let Some(t) = task
            && !r.task_names().iter().any(|n| n == t)
        {
            return Err(ClientError::UnknownTask {
                alloc: alloc.to_string(),
                task: t.to_string(),
            });
        }
        if r.view().done || r.is_finished() {
            return Err(ClientError::AllocTerminal(alloc.to_string()));
        }
        let ops = r.task_ops();
        let picked: Vec<TaskOps> = match task {
            Some(t) => match ops.get(t) {
                Some(o) => vec![o.clone()],
                None => {
                    return Err(crate::taskrunner::TaskOpError::NotRunning(t.to_string()).into());
                }
            },
            None => ops.into_values().filter(TaskOps::is_running).collect(),
        };
        if picked.is_empty() {
            return Err(ClientError::NothingRunning(alloc.to_string()));
        }
        Ok((picked, Arc::clone(r.alloc())))
    }

    /// Sends `signal` to one task of `alloc`, or to each of its running
    /// tasks (`alloc signal`). The signal name is the driver's to check.
    /// The lookup happens now; the returned future does the rest without
    /// borrowing the client.
    pub fn signal(
        &self,
        alloc: &AllocId,
        task: Option<&str>,
        signal: &str,
    ) -> impl Future<Output = Result<(), ClientError>> + Send + use<> {
        let picked = self.task_ops(alloc, task);
        let (alloc, signal) = (alloc.clone(), signal.to_string());
        async move {
            let (ops, _) = picked?;
            for o in ops {
                tracing::info!(alloc_id = %alloc, task = o.name(), signal = %signal, "signalling task");
                o.signal(&signal).await?;
            }
            Ok(())
        }
    }

    /// Restarts one task of `alloc` in place, or each of its running tasks
    /// (`alloc restart`). Tasks that already ended (finished lifecycle
    /// hooks) are not run again.
    pub fn restart(
        &self,
        alloc: &AllocId,
        task: Option<&str>,
    ) -> impl Future<Output = Result<(), ClientError>> + Send + use<> {
        let picked = self.task_ops(alloc, task);
        let alloc = alloc.clone();
        async move {
            let (ops, a) = picked?;
            for o in ops {
                tracing::info!(alloc_id = %alloc, task = o.name(), "restarting task");
                o.restart(kill_timeout(&a, o.name())).await?;
            }
            Ok(())
        }
    }

    /// Runs `argv` in a running task of `alloc` (`alloc exec`): `task`, or
    /// the group's only task.
    pub fn exec(
        &self,
        alloc: &AllocId,
        task: Option<&str>,
        argv: Vec<String>,
        timeout: Duration,
    ) -> impl Future<Output = Result<ExecOutput, ClientError>> + Send + use<> {
        let picked = self.exec_target(alloc, task);
        let alloc = alloc.clone();
        async move {
            let (ops, _) = picked?;
            let Some(o) = ops.into_iter().next() else {
                return Err(ClientError::NothingRunning(alloc.to_string()));
            };
            tracing::info!(alloc_id = %alloc, task = o.name(), command = ?argv.first(), "exec in task");
            Ok(o.exec(argv, timeout).await?)
        }
    }

    /// The task an exec goes to: the one named, else the group's only task.
    fn exec_target(
        &self,
        alloc: &AllocId,
        task: Option<&str>,
    ) -> Result<(Vec<TaskOps>, Arc<Allocation>), ClientError> {
        if task.is_some() {
            return self.task_ops(alloc, task);
        }
        let names = lock(&self.inner.allocs)
            .get(alloc)
            .map(AllocRunnerHandle::task_names)
            .ok_or_else(|| ClientError::UnknownAlloc(alloc.to_string()))?;
        match names.as_slice() {
            [only] => self.task_ops(alloc, Some(only)),
            _ => Err(ClientError::TaskRequired {
                alloc: alloc.to_string(),
                tasks: names.join(", "),
            }),
        }
    }

    /// The node's usage at the last sample.
    pub fn stats(&self) -> NodeStats {
        self.inner
            .stats
            .read()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Stops the client and leaves its tasks running: a new client on the
    /// same state dir re-attaches to them. Pending updates get one last try
    /// (bounded by the update interval plus 5 s).
    pub async fn shutdown(self) {
        self.stop_tx.send_replace(true);
        for l in self.loops {
            let _ = l.await;
        }
        let runners: Vec<AllocRunnerHandle> = std::mem::take(&mut *lock(&self.inner.allocs))
            .into_values()
            .collect();
        for r in &runners {
            r.detach();
        }
        for r in runners {
            r.join().await;
        }
        let batch = self.inner.sink.take();
        if !batch.is_empty() {
            let _ =
                tokio::time::timeout(Duration::from_secs(5), self.inner.conn.update_allocs(batch))
                    .await;
        }
        if let Err(e) = self.inner.state.flush() {
            tracing::error!(error = %e, "flushing the local state");
        }
        tracing::info!("client stopped; tasks left running");
    }
}

impl Inner {
    fn context(&self) -> AllocContext {
        AllocContext {
            node: self.node.read().map(|n| Arc::clone(&n)).unwrap_or_default(),
            region: self.config.region.clone(),
            alloc_root: self.config.alloc_dir.clone(),
            services: self.services.clone(),
            sink: Arc::clone(&self.sink),
        }
    }

    /// Rebuilds the alloc runners of the stored allocations.
    fn restore(&self) -> Result<(), ClientError> {
        let allocs = self.state.allocs()?;
        let mut map = lock(&self.allocs);
        for a in allocs {
            tracing::info!(alloc_id = %a.id, "restoring allocation");
            let id = a.id.clone();
            map.insert(id, allocrunner::spawn(Arc::new(a), self.context()));
        }
        Ok(())
    }

    async fn register_until(&self, within: Duration) -> Result<Duration, ClientError> {
        let deadline = Instant::now() + within;
        let mut backoff = Duration::from_millis(250);
        let mut stop = self.stop.clone();
        loop {
            let node = (*self.node.read().map(|n| Arc::clone(&n)).unwrap_or_default()).clone();
            match self.conn.register(node).await {
                Ok(r) => {
                    tracing::info!(
                        ttl_ms = r.heartbeat_ttl.as_millis() as u64,
                        "node registered"
                    );
                    return Ok(r.heartbeat_ttl);
                }
                Err(e @ ConnError::Rejected(_)) => return Err(ClientError::Register(e)),
                Err(e) => {
                    if Instant::now() + backoff > deadline {
                        return Err(ClientError::Register(e));
                    }
                    tracing::warn!(error = %e, "registration failed; retrying");
                    if sleep_or_stop(&mut stop, backoff).await {
                        return Err(ClientError::Register(e));
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Fingerprints again every `fingerprint_interval`; when something the
    /// servers schedule against changed (a driver turned healthy, a disk
    /// was resized, an attribute moved), keeps the fresh node and registers
    /// it again, which updates it on the servers.
    async fn fingerprint_loop(self: Arc<Self>) {
        let mut stop = self.stop.clone();
        loop {
            if sleep_or_stop(&mut stop, self.config.fingerprint_interval).await {
                return;
            }
            let current = self.node.read().map(|n| Arc::clone(&n)).unwrap_or_default();
            let (id, cfg, host) = (
                current.id.clone(),
                self.config.clone(),
                self.services.drivers.clone(),
            );
            let fresh =
                tokio::task::spawn_blocking(move || fingerprint::fingerprint(&id, &cfg, &host))
                    .await;
            let mut fresh = match fresh {
                Ok(Ok(node)) => node,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "fingerprinting again failed");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "fingerprinting again failed");
                    continue;
                }
            };
            let changes = fingerprint::changes(&current, &fresh);
            if changes.is_empty() {
                continue;
            }
            tracing::info!(node_id = %current.id, changes = ?changes, "the node changed; updating it on the servers");
            fresh.status = current.status;
            if let Ok(mut n) = self.node.write() {
                *n = Arc::new(fresh);
            }
            if let Err(e) = self.register_until(self.config.fingerprint_interval).await {
                tracing::warn!(error = %e, "updating the node failed; the next fingerprint retries");
                // Forget the fresh node so the next round sees the change again.
                if let Ok(mut n) = self.node.write() {
                    *n = current;
                }
            }
        }
    }

    async fn heartbeat_loop(self: Arc<Self>, mut ttl: Duration) {
        let mut stop = self.stop.clone();
        let node_id = self.node.read().map(|n| n.id.clone()).unwrap_or_default();
        let mut last_ok = Instant::now();
        loop {
            // Half the TTL leaves room for one retry before the servers give up.
            let wait = (ttl / 2).max(Duration::from_millis(100));
            if sleep_or_stop(&mut stop, wait).await {
                return;
            }
            self.stop_after_disconnect(last_ok.elapsed());
            match self.conn.heartbeat(&node_id).await {
                Ok(r) => {
                    ttl = r.heartbeat_ttl;
                    last_ok = Instant::now();
                }
                Err(ConnError::UnknownNode(_)) => {
                    tracing::warn!("servers forgot the node; registering again");
                    match self.register_until(ttl).await {
                        Ok(t) => ttl = t,
                        Err(e) => tracing::error!(error = %e, "re-registration failed"),
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "heartbeat failed");
                    ttl = (ttl / 2).max(Duration::from_millis(500));
                }
            }
        }
    }

    /// Stops the allocations whose group wants them stopped once the client
    /// has been out of touch with the servers for `away`
    /// (`disconnect.stop_on_client_after`, `stop_after_client_disconnect`).
    fn stop_after_disconnect(&self, away: Duration) {
        for (id, r) in lock(&self.allocs).iter() {
            let alloc = r.alloc();
            let Some(group) = alloc.job.as_ref().and_then(|j| {
                j.task_groups
                    .iter()
                    .flatten()
                    .find(|g| g.name.as_deref() == Some(alloc.task_group.as_str()))
            }) else {
                continue;
            };
            let after = group
                .disconnect
                .as_ref()
                .and_then(|d| d.stop_on_client_after)
                .or(group.stop_after_client_disconnect);
            if after.is_some_and(|after| away >= after.to_std()) && !r.view().done {
                tracing::warn!(alloc_id = %id, away_ms = away.as_millis() as u64, "out of touch with the servers too long; stopping the allocation");
                r.stop();
            }
        }
    }

    async fn watch_loop(self: Arc<Self>) {
        let mut stop = self.stop.clone();
        let node_id = self.node.read().map(|n| n.id.clone()).unwrap_or_default();
        let mut index = 0u64;
        let mut backoff = Duration::from_millis(250);
        loop {
            let asked = Instant::now();
            let r = tokio::select! {
                r = tokio::time::timeout(
                    self.config.alloc_watch_wait + Duration::from_secs(10),
                    self.conn.allocations(&node_id, index, self.config.alloc_watch_wait),
                ) => r,
                _ = stop.changed() => return,
            };
            match r {
                Ok(Ok((allocs, new_index))) => {
                    backoff = Duration::from_millis(250);
                    let same = new_index == index;
                    // An index going back means the servers' state was rebuilt.
                    index = if new_index < index { 0 } else { new_index };
                    self.diff(allocs);
                    // A server that answers at once with nothing new must not spin us.
                    if same
                        && asked.elapsed() < Duration::from_millis(100)
                        && sleep_or_stop(&mut stop, Duration::from_secs(1)).await
                    {
                        return;
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "watching allocations failed");
                    if sleep_or_stop(&mut stop, backoff).await {
                        return;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
                Err(_) => tracing::warn!("allocation watch timed out"),
            }
        }
    }

    /// Turns the servers' view of the node's allocations into runners.
    fn diff(&self, allocs: Vec<Allocation>) {
        let mut map = lock(&self.allocs);
        let mut collectable = lock(&self.collectable);
        let mut seen = BTreeSet::new();
        for mut a in allocs {
            seen.insert(a.id.clone());
            match map.get_mut(&a.id) {
                None => {
                    if a.is_terminal() {
                        continue;
                    }
                    if let Err(e) = self.state.put_alloc(&a) {
                        tracing::error!(alloc_id = %a.id, error = %e, "persisting allocation");
                        continue;
                    }
                    tracing::info!(alloc_id = %a.id, job = %a.job_id, "starting allocation");
                    let id = a.id.clone();
                    map.insert(id, allocrunner::spawn(Arc::new(a), self.context()));
                }
                Some(r) => {
                    if a.is_terminal() {
                        collectable.insert(a.id.clone());
                    }
                    // The servers lost track while the node was away: tell
                    // them again how it is.
                    if a.client_status == ClientStatus::Unknown {
                        self.sink.push(r.view().update);
                    }
                    if matches!(
                        a.desired_status,
                        sched_core::model::DesiredStatus::Stop
                            | sched_core::model::DesiredStatus::Evict
                    ) {
                        r.stop();
                    }
                    if a.alloc_modify_index != r.alloc().alloc_modify_index
                        || a.desired_status != r.alloc().desired_status
                    {
                        if a.job.is_none() {
                            a.job = r.alloc().job.clone();
                        }
                        if let Err(e) = self.state.put_alloc(&a) {
                            tracing::error!(alloc_id = %a.id, error = %e, "persisting allocation");
                        }
                        r.set_alloc(Arc::new(a));
                    }
                }
            }
        }
        for (id, r) in map.iter() {
            if !seen.contains(id) {
                r.stop();
                collectable.insert(id.clone());
            }
        }
    }

    async fn update_loop(self: Arc<Self>) {
        let mut stop = self.stop.clone();
        let mut backoff = self.config.update_interval;
        loop {
            tokio::select! {
                _ = self.sink.notified() => {}
                _ = stop.changed() => return,
            }
            // Gather what else changes within the interval into this batch.
            if sleep_or_stop(&mut stop, self.config.update_interval).await {
                return;
            }
            let batch = self.sink.take();
            if batch.is_empty() {
                continue;
            }
            let n = batch.len();
            match tokio::time::timeout(
                Duration::from_secs(30),
                self.conn.update_allocs(batch.clone()),
            )
            .await
            {
                Ok(Ok(())) => {
                    backoff = self.config.update_interval;
                    tracing::debug!(allocs = n, "sent allocation updates");
                }
                other => {
                    let why = match other {
                        Ok(Err(e)) => e.to_string(),
                        _ => "timed out".into(),
                    };
                    tracing::warn!(allocs = n, error = %why, "sending allocation updates failed; will retry");
                    self.sink.requeue(batch);
                    if sleep_or_stop(&mut stop, backoff).await {
                        return;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    async fn gc_loop(self: Arc<Self>) {
        let mut stop = self.stop.clone();
        loop {
            if sleep_or_stop(&mut stop, self.config.gc_interval).await {
                return;
            }
            self.collect_garbage();
        }
    }

    /// Removes finished allocations the servers are done with (they list
    /// them as terminal, or no longer list them), oldest first: those beyond
    /// the newest `gc_max_allocs`, and more while the disk is fuller than
    /// the threshold.
    fn collect_garbage(&self) {
        let mut map = lock(&self.allocs);
        let mut collectable = lock(&self.collectable);
        // Finished allocations, oldest first; the newest `gc_max_allocs`
        // stay unless the disk is too full.
        let mut finished: Vec<(u64, AllocId)> = map
            .iter()
            .filter(|(_, r)| r.view().done)
            .map(|(id, r)| (r.alloc().create_index, id.clone()))
            .collect();
        finished.sort();
        let keep_from = finished.len().saturating_sub(self.config.gc_max_allocs);
        for (i, (_, id)) in finished.into_iter().enumerate() {
            if !collectable.contains(&id) {
                continue;
            }
            let over_count = i < keep_from;
            let disk_full = disk_usage_percent(&self.config.alloc_dir)
                .is_some_and(|p| p > self.config.gc_disk_usage_threshold);
            if !over_count && !disk_full {
                continue;
            }
            if let Some(r) = map.remove(&id) {
                if let Err(e) = r.alloc_dir().destroy() {
                    tracing::warn!(alloc_id = %id, error = %e, "removing the allocation directory");
                }
                if let Err(e) = self.state.delete_alloc(&id) {
                    tracing::warn!(alloc_id = %id, error = %e, "removing the allocation's state");
                }
                collectable.remove(&id);
                tracing::info!(alloc_id = %id, disk_full, "garbage collected allocation");
            }
        }
    }

    async fn stats_loop(self: Arc<Self>) {
        let mut stop = self.stop.clone();
        let Ok(mut sys) = sysinfo::System::new() else {
            tracing::warn!("usage sampling unavailable: sysinfo could not read the system");
            return;
        };
        loop {
            sys.refresh_cpu_usage();
            sys.refresh_memory();
            let cores = sys.cpus().len().max(1) as f64;
            let s = NodeStats {
                timestamp: crate::taskrunner::events::now_nanos(),
                cpu_percent: f64::from(sys.global_cpu_usage()) * cores,
                memory_used: sys.used_memory(),
                memory_total: sys.total_memory(),
            };
            if let Ok(mut w) = self.stats.write() {
                *w = s;
            }
            if sleep_or_stop(&mut stop, self.config.stats_interval).await {
                return;
            }
        }
    }
}

/// Locks a mutex; a panic elsewhere while it was held leaves the data
/// usable (every change to it is a single insert or remove), so the data
/// is taken as it is.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The kill timeout of `task` in `alloc`'s group (Nomad's default when unset).
fn kill_timeout(alloc: &Allocation, task: &str) -> Duration {
    alloc
        .job
        .as_ref()
        .and_then(|j| j.task_groups.as_ref())
        .into_iter()
        .flatten()
        .filter(|g| g.name.as_deref() == Some(alloc.task_group.as_str()))
        .flat_map(|g| g.tasks.iter().flatten())
        .find(|t| t.name.as_deref() == Some(task))
        .and_then(|t| t.kill_timeout)
        .map_or(crate::taskrunner::DEFAULT_KILL_TIMEOUT, |d| d.to_std())
}

/// How full the file system of `dir` is, in percent.
fn disk_usage_percent(dir: &std::path::Path) -> Option<f64> {
    let st = nix::sys::statvfs::statvfs(dir).ok()?;
    let total = st.blocks() as f64;
    if total <= 0.0 {
        return None;
    }
    Some(100.0 * (total - st.blocks_available() as f64) / total)
}

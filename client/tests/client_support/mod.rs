//! Test support for driving a real `Client`: servers kept in memory (they
//! hold allocations, answer the long poll, and record registrations,
//! heartbeats and updates), jobs and allocations for raw_exec tasks, and
//! polling with a deadline. The client, its runners, the driver host and the
//! raw_exec driver under test are the real ones.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use sched_client::driver_host::{DriverHost, HostConfig};
use sched_client::{
    AllocUpdate, Client, ClientConfig, ConnError, HeartbeatResponse, RegisterResponse, ServerConn,
};
use sched_core::model::{
    AllocId, Allocation, DesiredStatus, EvalId, Job, Node, NodeId, RestartPolicy, Task, TaskGroup,
    TaskState,
};
use tokio::sync::watch;

/// Servers in memory, for tests of the client.
pub struct InMemoryServers {
    allocs: Mutex<BTreeMap<AllocId, Allocation>>,
    index: watch::Sender<u64>,
    pub registrations: Mutex<Vec<Node>>,
    pub heartbeats: Mutex<u64>,
    pub updates: Mutex<Vec<AllocUpdate>>,
    pub update_calls: Mutex<u64>,
    pub ttl: Duration,
}

impl InMemoryServers {
    pub fn new() -> Arc<Self> {
        Arc::new(InMemoryServers {
            allocs: Mutex::new(BTreeMap::new()),
            index: watch::channel(1).0,
            registrations: Mutex::new(Vec::new()),
            heartbeats: Mutex::new(0),
            updates: Mutex::new(Vec::new()),
            update_calls: Mutex::new(0),
            ttl: Duration::from_secs(2),
        })
    }

    fn bump(&self) -> u64 {
        let mut n = 0;
        self.index.send_modify(|i| {
            *i += 1;
            n = *i;
        });
        n
    }

    /// Adds or replaces an allocation, as a plan commit would.
    pub fn put_alloc(&self, mut a: Allocation) {
        let i = *self.index.borrow() + 1;
        a.alloc_modify_index = i;
        a.modify_index = i;
        if a.create_index == 0 {
            a.create_index = i;
        }
        self.allocs.lock().unwrap().insert(a.id.clone(), a);
        self.bump();
    }

    /// Sets an allocation's desired status to stop.
    pub fn stop_alloc(&self, id: &AllocId) {
        let mut a = self.allocs.lock().unwrap().get(id).cloned().unwrap();
        a.desired_status = DesiredStatus::Stop;
        self.put_alloc(a);
    }

    /// The newest update the client sent for `id`.
    pub fn latest(&self, id: &AllocId) -> Option<AllocUpdate> {
        self.updates
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|u| &u.alloc_id == id)
            .cloned()
    }
}

impl ServerConn for InMemoryServers {
    fn register(&self, node: Node) -> BoxFuture<'_, Result<RegisterResponse, ConnError>> {
        Box::pin(async move {
            self.registrations.lock().unwrap().push(node);
            Ok(RegisterResponse {
                heartbeat_ttl: self.ttl,
            })
        })
    }

    fn heartbeat(&self, _node_id: &NodeId) -> BoxFuture<'_, Result<HeartbeatResponse, ConnError>> {
        Box::pin(async move {
            *self.heartbeats.lock().unwrap() += 1;
            Ok(HeartbeatResponse {
                heartbeat_ttl: self.ttl,
            })
        })
    }

    fn allocations(
        &self,
        node_id: &NodeId,
        index: u64,
        wait: Duration,
    ) -> BoxFuture<'_, Result<(Vec<Allocation>, u64), ConnError>> {
        let node_id = node_id.clone();
        Box::pin(async move {
            let mut rx = self.index.subscribe();
            let _ = tokio::time::timeout(wait, rx.wait_for(|i| *i > index)).await;
            let now = *self.index.borrow();
            let allocs = self
                .allocs
                .lock()
                .unwrap()
                .values()
                .filter(|a| a.node_id == node_id)
                .cloned()
                .collect();
            Ok((allocs, now))
        })
    }

    fn update_allocs(&self, updates: Vec<AllocUpdate>) -> BoxFuture<'_, Result<(), ConnError>> {
        Box::pin(async move {
            *self.update_calls.lock().unwrap() += 1;
            // Like the servers' state machine: the allocation takes the
            // client's view.
            {
                let mut allocs = self.allocs.lock().unwrap();
                for u in &updates {
                    if let Some(a) = allocs.get_mut(&u.alloc_id) {
                        a.client_status = u.client_status;
                        a.task_states = u.task_states.clone().into_iter().collect();
                        if u.deployment_status.is_some() {
                            a.deployment_status = u.deployment_status.clone();
                        }
                    }
                }
            }
            self.updates.lock().unwrap().extend(updates);
            self.bump();
            Ok(())
        })
    }
}

/// The compiled-driver cache every test shares.
pub fn driver_host() -> DriverHost {
    DriverHost::new(HostConfig {
        cache_dir: std::env::temp_dir().join("sched-test-driver-cache"),
        ..HostConfig::default()
    })
    .unwrap()
}

/// A client config with short intervals in `dir`.
pub fn config(dir: &Path) -> ClientConfig {
    let mut c = ClientConfig::new(dir.join("state"), dir.join("alloc"));
    c.task_poll_interval = Duration::from_millis(100);
    c.task_poll_max_interval = Duration::from_millis(200);
    c.update_interval = Duration::from_millis(50);
    c.alloc_watch_wait = Duration::from_secs(1);
    c.stats_interval = Duration::from_millis(500);
    c.gc_interval = Duration::from_secs(3600);
    c
}

/// A client on `dir` against `servers`, with its shutdown sender.
pub async fn start(
    dir: &Path,
    servers: &Arc<InMemoryServers>,
    host: &DriverHost,
) -> (Client, watch::Sender<bool>) {
    start_with(config(dir), servers, host).await
}

/// A client with `cfg` against `servers`, with its shutdown sender.
pub async fn start_with(
    cfg: ClientConfig,
    servers: &Arc<InMemoryServers>,
    host: &DriverHost,
) -> (Client, watch::Sender<bool>) {
    let (tx, rx) = watch::channel(false);
    let conn: Arc<dyn ServerConn> = Arc::clone(servers) as Arc<dyn ServerConn>;
    let c = Client::start(cfg, conn, host.clone(), rx).await.unwrap();
    (c, tx)
}

/// A raw_exec task running `sh -c script`.
pub fn sh_task(name: &str, script: &str) -> Task {
    Task {
        name: Some(name.into()),
        driver: Some("raw_exec".into()),
        config: Some(
            [
                ("command".to_string(), serde_json::json!("/bin/sh")),
                ("args".to_string(), serde_json::json!(["-c", script])),
            ]
            .into_iter()
            .collect(),
        ),
        kill_timeout: Some(sched_core::model::Duration::from_secs(1)),
        ..Task::default()
    }
}

/// A restart policy.
pub fn restart(attempts: i64, interval: Duration, delay: Duration, mode: &str) -> RestartPolicy {
    RestartPolicy {
        attempts: Some(attempts),
        interval: Some(sched_core::model::Duration::from_nanos(
            interval.as_nanos() as i64
        )),
        delay: Some(sched_core::model::Duration::from_nanos(
            delay.as_nanos() as i64
        )),
        mode: Some(mode.into()),
        render_templates: None,
    }
}

/// One allocation of a one-group job with `tasks`, for `node`.
pub fn alloc(
    node: &NodeId,
    job_type: &str,
    tasks: Vec<Task>,
    policy: Option<RestartPolicy>,
) -> Allocation {
    let job = Job {
        id: Some("job1".into()),
        name: Some("job1".into()),
        namespace: Some("default".into()),
        region: Some("global".into()),
        r#type: Some(job_type.into()),
        meta: Some(
            [("owner".to_string(), "team-a".to_string())]
                .into_iter()
                .collect(),
        ),
        task_groups: Some(vec![TaskGroup {
            name: Some("grp".into()),
            tasks: Some(tasks),
            restart_policy: policy
                .or_else(|| Some(restart(0, Duration::from_secs(60), Duration::ZERO, "fail"))),
            ..TaskGroup::default()
        }]),
        ..Job::default()
    };
    Allocation {
        id: AllocId::generate(),
        namespace: "default".into(),
        eval_id: EvalId::generate(),
        name: "job1.grp[2]".into(),
        node_id: node.clone(),
        job_id: "job1".into(),
        job: Some(Arc::new(job)),
        task_group: "grp".into(),
        ..Allocation::default()
    }
}

/// Polls `f` every 50 ms until it gives a value or `within` passes.
pub async fn eventually<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One task's state as the client reports it.
pub fn task_state(c: &Client, id: &AllocId, task: &str) -> Option<TaskState> {
    c.alloc(id)?.update.task_states.get(task).cloned()
}

/// The event types of a task, in order.
pub fn event_types(s: &TaskState) -> Vec<String> {
    s.events.iter().map(|e| e.r#type.clone()).collect()
}

/// A fresh temporary directory.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("sched-client-test")
        .tempdir()
        .unwrap()
}

/// The allocation's directory on the client.
pub fn alloc_dir(dir: &Path, id: &AllocId) -> PathBuf {
    dir.join("alloc").join(id.as_str())
}

/// A small tmpfs mounted on a directory for the life of the guard
/// (unmounted on drop, even when the test fails).
pub struct Tmpfs {
    pub path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size_kb` on `path` (created), or says why it
    /// cannot: mounting needs root. Without root the test is skipped with
    /// the reason printed, unless `SCHED_REQUIRE_ROOT=1`, which fails it.
    pub fn mount(path: &Path, size_kb: u64, test: &str) -> Option<Tmpfs> {
        if !nix::unistd::geteuid().is_root() {
            let why = format!("{test} needs root to mount a tmpfs");
            if std::env::var("SCHED_REQUIRE_ROOT").as_deref() == Ok("1") {
                panic!("{why}, and SCHED_REQUIRE_ROOT=1");
            }
            eprintln!("skipped: {why}");
            return None;
        }
        std::fs::create_dir_all(path).unwrap();
        let opts = format!("size={size_kb}k,mode=0755");
        nix::mount::mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some(opts.as_str()),
        )
        .unwrap_or_else(|e| panic!("mounting a tmpfs on {}: {e}", path.display()));
        Some(Tmpfs {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily: a task still holding a file there must not keep it mounted.
        if let Err(e) = nix::mount::umount2(&self.path, nix::mount::MntFlags::MNT_DETACH) {
            eprintln!("unmounting {}: {e}", self.path.display());
        }
    }
}

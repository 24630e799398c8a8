//! The driver host: runs task drivers as sandboxed WebAssembly components.
//!
//! A driver is a component of the `sched:driver@0.1.0` world `task-driver`
//! (`plugins/wit/driver.wit`, the one contract). The host
//!
//! - compiles each component once, caching the machine code on disk by the
//!   component's sha256 and the engine's configuration ([`cache`]), and
//!   checks at load time that it matches the world (imports and exports);
//! - runs every call in a fresh [`wasmtime::Store`] instantiated from a
//!   cached `InstancePre`, under the limits of [`limits`]: a memory cap per
//!   store and a guest time budget per call enforced with epoch interruption
//!   (a background thread advances the epoch). A driver that loops, hogs
//!   memory or traps fails that one call with a clear [`DriverError`]; the
//!   host and the client carry on;
//! - backs the world's imports with [`capabilities`], granted per driver
//!   (deny by default).
//!
//! # Using it
//!
//! ```no_run
//! use sched_client::driver_host::{Capability, DriverGrant, DriverHost, HostConfig};
//! # fn main() -> Result<(), sched_client::driver_host::DriverError> {
//! let host = DriverHost::new(HostConfig {
//!     cache_dir: "/var/lib/sched/driver-cache".into(),
//!     plugin_dir: Some("/etc/sched/plugins".into()),
//!     grants: vec![DriverGrant::new("raw_exec", [Capability::Process, Capability::Log])],
//!     ..HostConfig::default()
//! })?;
//! let raw_exec = host.driver("raw_exec")?;
//! let info = raw_exec.info()?;
//! # let config: sched_client::driver_host::TaskConfig = todo!();
//! let handle = raw_exec.start_task(&config)?;
//! let exit = raw_exec.wait_task(&handle, std::time::Duration::from_millis(500))?;
//! # Ok(()) }
//! ```
//!
//! Drivers keep no memory between calls: each call gets a new instance, so
//! whatever a driver needs later goes into the [`TaskHandle`]'s state, which
//! the client persists and hands back (also to a new host after a restart,
//! through [`DriverHandle::recover_task`]).
//!
//! This module does not parse the agent config (it takes [`HostConfig`]) and
//! does not decide when to call a driver (that is the task runner).

mod bindings;
mod builtin;
pub mod cache;
pub mod capabilities;
mod engine;
mod error;
mod grants;
mod imports;
pub mod limits;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Engine, Store, UpdateDeadline};

use bindings::exports::sched::driver::driver::Guest;
use bindings::sched::driver::types::DriverError as WitDriverError;
use bindings::{TaskDriver, TaskDriverPre};
pub use cache::CacheOutcome;
use cache::ComponentCache;
use capabilities::CallContext;
pub use capabilities::{Capability, CapabilitySet, DriverGrant};
use engine::EpochTicker;
pub use error::DriverError;
use error::chain_message;
pub use grants::{GrantError, grants_from_agent_config};
use imports::StoreState;
pub use limits::Limits;
use limits::{CallClock, LimitHit, Verdict};

pub use bindings::sched::driver::types::{
    DriverCapabilities, DriverFingerprint, DriverInfo, ExecOutput, ExitResult, FsIsolation, Health,
    Pairs, PortMapping, Resources, TaskConfig, TaskHandle, TaskState, TaskStatus, TaskUsage,
};

/// How to set up a [`DriverHost`].
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Where compiled components are cached (created, mode 0700).
    pub cache_dir: PathBuf,
    /// A directory of third-party driver components (`*.wasm`), each
    /// registered under its file stem; `None` for none.
    pub plugin_dir: Option<PathBuf>,
    /// What each driver may use. An embedded built-in driver without an
    /// entry gets [`DriverGrant::builtin`]; any other driver without one
    /// (including a plugin file named like a built-in) gets nothing.
    pub grants: Vec<DriverGrant>,
    /// Whether to load the built-in drivers embedded in the client.
    pub builtins: bool,
    /// The sandbox limits.
    pub limits: Limits,
    /// The capability implementations.
    pub capabilities: CapabilitySet,
}

impl Default for HostConfig {
    /// A cache under the system's temp directory, no plugin directory, no
    /// grants, the built-ins, default limits and capabilities.
    fn default() -> Self {
        HostConfig {
            cache_dir: std::env::temp_dir()
                .join(format!("sched-driver-cache-{}", nix::unistd::geteuid())),
            plugin_dir: None,
            grants: Vec::new(),
            builtins: true,
            limits: Limits::default(),
            capabilities: CapabilitySet::default(),
        }
    }
}

/// What loading one component gave.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The name the driver is registered under.
    pub name: String,
    /// Compiled now or taken from the cache.
    pub outcome: CacheOutcome,
    /// How long loading took (compile or map, plus the world check).
    pub elapsed: Duration,
}

/// What loading a directory gave.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// The drivers loaded.
    pub loaded: Vec<Loaded>,
    /// The files that could not be loaded, each error naming its file.
    pub failed: Vec<DriverError>,
}

/// The WebAssembly driver host: one engine, its loaded drivers and their
/// grants. Cheap to clone; the epoch thread stops when the last clone (and
/// the last [`DriverHandle`]) is dropped.
#[derive(Debug, Clone)]
pub struct DriverHost {
    inner: Arc<HostInner>,
}

struct HostInner {
    engine: Engine,
    linker: Linker<StoreState>,
    cache: ComponentCache,
    limits: Limits,
    caps: Arc<CapabilitySet>,
    grants: BTreeMap<String, Arc<DriverGrant>>,
    drivers: RwLock<BTreeMap<String, Arc<LoadedDriver>>>,
    /// Trace ids of tasks started through this host, by task id.
    traces: Mutex<HashMap<String, String>>,
    /// The one process each task's start (or recovery) spawned through the
    /// `process` capability, by task id: while it runs, `wait_task` is
    /// answered without a driver call.
    followed: Mutex<HashMap<String, u32>>,
    failures: Mutex<Vec<String>>,
    _ticker: EpochTicker,
}

impl std::fmt::Debug for HostInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriverHost")
            .field("limits", &self.limits)
            .field("grants", &self.grants)
            .field(
                "drivers",
                &self
                    .drivers
                    .read()
                    .map(|d| d.keys().cloned().collect::<Vec<_>>())
                    .unwrap_or_default(),
            )
            .finish_non_exhaustive()
    }
}

/// One loaded driver.
struct LoadedDriver {
    name: Arc<str>,
    pre: TaskDriverPre<StoreState>,
    grant: Arc<DriverGrant>,
    source: String,
}

impl DriverHost {
    /// Creates the engine and its epoch thread, opens the cache, and loads
    /// the built-in drivers and every `*.wasm` of the plugin directory.
    ///
    /// A component that fails to load is logged and skipped (see
    /// [`DriverHost::load_failures`]); only a host that cannot set itself up
    /// (engine, cache directory) is an error.
    pub fn new(config: HostConfig) -> Result<Self, DriverError> {
        let engine = engine::new_engine()?;
        let mut linker: Linker<StoreState> = Linker::new(&engine);
        TaskDriver::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(|e| {
            DriverError::Host {
                message: format!("linking the host imports: {}", chain_message(&e)),
            }
        })?;
        let cache = ComponentCache::open(&config.cache_dir, &engine)?;
        let ticker = EpochTicker::start(engine.clone(), config.limits.epoch_tick)?;
        let grants = config
            .grants
            .into_iter()
            .map(|g| (g.name.clone(), Arc::new(g)))
            .collect();
        let host = DriverHost {
            inner: Arc::new(HostInner {
                engine,
                linker,
                cache,
                limits: config.limits,
                caps: Arc::new(config.capabilities),
                grants,
                drivers: RwLock::new(BTreeMap::new()),
                traces: Mutex::new(HashMap::new()),
                followed: Mutex::new(HashMap::new()),
                failures: Mutex::new(Vec::new()),
                _ticker: ticker,
            }),
        };
        if config.builtins {
            for (name, bytes) in builtin::BUILTIN {
                if let Err(e) = host.load(name, bytes, &format!("built-in {name}"), true) {
                    host.record_failure(&e);
                }
            }
        }
        if let Some(dir) = &config.plugin_dir {
            let report = host.load_dir(dir);
            for e in &report.failed {
                host.record_failure(e);
            }
        }
        Ok(host)
    }

    fn record_failure(&self, e: &DriverError) {
        tracing::error!(error = %e, "driver not loaded");
        if let Ok(mut f) = self.inner.failures.lock() {
            f.push(e.to_string());
        }
    }

    /// The load errors [`DriverHost::new`] logged and skipped.
    pub fn load_failures(&self) -> Vec<String> {
        self.inner
            .failures
            .lock()
            .map(|f| f.clone())
            .unwrap_or_default()
    }

    /// Loads every `*.wasm` in `dir`, each under its file stem. Errors are
    /// per file: one bad plugin does not keep the others out.
    pub fn load_dir(&self, dir: &Path) -> LoadReport {
        let mut report = LoadReport::default();
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(source) => {
                report.failed.push(DriverError::Io {
                    path: dir.to_path_buf(),
                    source,
                });
                return report;
            }
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
            .collect();
        files.sort();
        for path in files {
            match self.load_file(&path) {
                Ok(l) => report.loaded.push(l),
                Err(e) => report.failed.push(e),
            }
        }
        report
    }

    /// Loads one component file, registered under its file stem (replacing
    /// a driver of that name).
    pub fn load_file(&self, path: &Path) -> Result<Loaded, DriverError> {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| DriverError::Load {
                source_name: path.display().to_string(),
                message: "the file name is not a valid driver name".into(),
            })?;
        let bytes = std::fs::read(path).map_err(|source| DriverError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.load_component(name, &bytes, &path.display().to_string())
    }

    /// Loads a component from its bytes under `name` (replacing a driver of
    /// that name). `source_name` names it in errors and logs.
    ///
    /// The component is compiled (or taken from the cache), then checked
    /// against the `task-driver` world: every import must be one the host
    /// provides, with the right types, and the `driver` export must be there
    /// with every function.
    pub fn load_component(
        &self,
        name: &str,
        bytes: &[u8],
        source_name: &str,
    ) -> Result<Loaded, DriverError> {
        self.load(name, bytes, source_name, false)
    }

    /// Loads a component; an embedded built-in (`builtin`) without a grant
    /// in the config gets [`DriverGrant::builtin`], anything else nothing.
    fn load(
        &self,
        name: &str,
        bytes: &[u8],
        source_name: &str,
        builtin: bool,
    ) -> Result<Loaded, DriverError> {
        let started = Instant::now();
        let load_err = |message: String| DriverError::Load {
            source_name: source_name.to_string(),
            message,
        };
        let (component, outcome) = self
            .inner
            .cache
            .load(&self.inner.engine, bytes, source_name)?;
        let pre = self.inner.linker.instantiate_pre(&component).map_err(|e| {
            load_err(format!(
                "its imports do not match the sched:driver@0.1.0 task-driver world: {}",
                chain_message(&e)
            ))
        })?;
        let pre = TaskDriverPre::new(pre).map_err(|e| {
            load_err(format!(
                "its exports do not match the sched:driver@0.1.0 task-driver world: {}",
                chain_message(&e)
            ))
        })?;
        let grant = self
            .inner
            .grants
            .get(name)
            .cloned()
            .or_else(|| {
                builtin
                    .then(|| DriverGrant::builtin(name).map(Arc::new))
                    .flatten()
            })
            .unwrap_or_else(|| Arc::new(DriverGrant::none(name)));
        let elapsed = started.elapsed();
        tracing::info!(
            driver = name,
            source = source_name,
            cached = outcome == CacheOutcome::Cached,
            elapsed_ms = elapsed.as_millis() as u64,
            capabilities = ?grant.capabilities,
            "driver loaded"
        );
        let driver = Arc::new(LoadedDriver {
            name: Arc::from(name),
            pre,
            grant,
            source: source_name.to_string(),
        });
        let replaced = self
            .inner
            .drivers
            .write()
            .map_err(|_| DriverError::Host {
                message: "driver table lock poisoned".into(),
            })?
            .insert(name.to_string(), driver);
        if let Some(previous) = replaced {
            tracing::warn!(
                driver = name,
                source = source_name,
                replaced = %previous.source,
                "a driver of this name was already loaded; the new one replaces it"
            );
        }
        Ok(Loaded {
            name: name.to_string(),
            outcome,
            elapsed,
        })
    }

    /// A handle to call the driver `name`.
    pub fn driver(&self, name: &str) -> Result<DriverHandle, DriverError> {
        let driver = self
            .inner
            .drivers
            .read()
            .ok()
            .and_then(|d| d.get(name).cloned())
            .ok_or_else(|| DriverError::NotLoaded {
                driver: name.to_string(),
            })?;
        Ok(DriverHandle {
            host: Arc::clone(&self.inner),
            driver,
        })
    }

    /// The names of the loaded drivers.
    pub fn drivers(&self) -> Vec<String> {
        self.inner
            .drivers
            .read()
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The sandbox limits in force.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Records the trace id of a task, so the driver's logs for calls about
    /// it carry it (done by [`DriverHandle::start_task`]; a client that
    /// recovers tasks after a restart calls this before `recover_task`).
    pub fn remember_trace(&self, task_id: &str, trace_id: &str) {
        if let Ok(mut t) = self.inner.traces.lock() {
            t.insert(task_id.to_string(), trace_id.to_string());
        }
    }
}

/// One driver of a [`DriverHost`]: its calls, one per export of the WIT
/// `driver` interface. Each call runs in a fresh sandbox; none blocks longer
/// than the timeout it is given plus the driver's time budget.
#[derive(Clone)]
pub struct DriverHandle {
    host: Arc<HostInner>,
    driver: Arc<LoadedDriver>,
}

impl std::fmt::Debug for DriverHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriverHandle")
            .field("name", &self.driver.name)
            .field("source", &self.driver.source)
            .finish_non_exhaustive()
    }
}

/// The message of a caught panic.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// Milliseconds of a duration for the WIT, saturating.
fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

impl DriverHandle {
    /// The name the driver is registered under.
    pub fn name(&self) -> &str {
        &self.driver.name
    }

    /// What the driver was granted.
    pub fn grant(&self) -> &DriverGrant {
        &self.driver.grant
    }

    /// Name, version and capabilities.
    pub fn info(&self) -> Result<DriverInfo, DriverError> {
        self.call("info", None, Duration::ZERO, |s, g| g.call_info(s).map(Ok))
    }

    /// JSON schema of the task `config` block.
    pub fn config_schema(&self) -> Result<String, DriverError> {
        self.call("config-schema", None, Duration::ZERO, |s, g| {
            g.call_config_schema(s).map(Ok)
        })
    }

    /// Whether the driver works on this node, and its node attributes.
    pub fn fingerprint(&self) -> Result<DriverFingerprint, DriverError> {
        self.call("fingerprint", None, Duration::ZERO, |s, g| {
            g.call_fingerprint(s).map(Ok)
        })
    }

    /// Starts a task; returns the handle to persist.
    pub fn start_task(&self, config: &TaskConfig) -> Result<TaskHandle, DriverError> {
        if !config.trace_id.is_empty()
            && let Ok(mut t) = self.host.traces.lock()
        {
            t.insert(config.id.clone(), config.trace_id.clone());
        }
        let (handle, followed) = self.call_following(
            "start-task",
            Some(config.trace_id.clone()),
            Duration::ZERO,
            |s, g| g.call_start_task(s, config),
        );
        if let Ok(h) = &handle {
            self.follow(h, followed);
        }
        handle
    }

    /// Remembers the task's one process, if its start made exactly one.
    fn follow(&self, handle: &TaskHandle, followed: Vec<u32>) {
        if let Ok(mut f) = self.host.followed.lock() {
            match followed.as_slice() {
                [pid] => {
                    f.insert(handle.id.clone(), *pid);
                }
                _ => {
                    f.remove(&handle.id);
                }
            }
        }
    }

    /// Whether the host knows the task still runs, without asking the
    /// driver: its one process is followed and has not exited.
    fn known_running(&self, handle: &TaskHandle) -> bool {
        let Some(pid) = self
            .host
            .followed
            .lock()
            .ok()
            .and_then(|f| f.get(&handle.id).copied())
        else {
            return false;
        };
        if !self.driver.grant.allows(Capability::Process) {
            return false;
        }
        let cx = CallContext {
            driver: &self.driver.name,
            call: "wait-task",
            trace_id: None,
            config: &self.driver.grant.config,
        };
        self.host.caps.process.running(&cx, pid) == Some(true)
    }

    /// Waits up to `timeout` for the task to exit; `None` if it still runs.
    pub fn wait_task(
        &self,
        handle: &TaskHandle,
        timeout: Duration,
    ) -> Result<Option<ExitResult>, DriverError> {
        // A running task needs no driver call (instantiating the driver
        // for every poll of every idle task is most of an idle client's
        // work); an exited one is asked, so the driver reports its end.
        if timeout.is_zero() && self.known_running(handle) {
            return Ok(None);
        }
        self.call("wait-task", self.trace_of(handle), timeout, |s, g| {
            g.call_wait_task(s, handle, millis(timeout))
        })
    }

    /// Sends `signal` (the driver's default, SIGTERM, if `None`), waits up to
    /// `timeout`, then kills.
    pub fn stop_task(
        &self,
        handle: &TaskHandle,
        timeout: Duration,
        signal: Option<&str>,
    ) -> Result<(), DriverError> {
        self.call("stop-task", self.trace_of(handle), timeout, |s, g| {
            g.call_stop_task(s, handle, millis(timeout), signal)
        })
    }

    /// Frees what the task held; `force` kills it first if it still runs.
    pub fn destroy_task(&self, handle: &TaskHandle, force: bool) -> Result<(), DriverError> {
        let r = self.call(
            "destroy-task",
            self.trace_of(handle),
            Duration::ZERO,
            |s, g| g.call_destroy_task(s, handle, force),
        );
        if r.is_ok()
            && let Ok(mut t) = self.host.traces.lock()
        {
            t.remove(&handle.id);
        }
        if r.is_ok()
            && let Ok(mut f) = self.host.followed.lock()
        {
            f.remove(&handle.id);
        }
        r
    }

    /// The task's state, exit and attributes.
    pub fn inspect_task(&self, handle: &TaskHandle) -> Result<TaskStatus, DriverError> {
        self.call(
            "inspect-task",
            self.trace_of(handle),
            Duration::ZERO,
            |s, g| g.call_inspect_task(s, handle),
        )
    }

    /// Sends a signal (by name) to the task.
    pub fn signal_task(&self, handle: &TaskHandle, signal: &str) -> Result<(), DriverError> {
        self.call(
            "signal-task",
            self.trace_of(handle),
            Duration::ZERO,
            |s, g| g.call_signal_task(s, handle, signal),
        )
    }

    /// Runs a command in the task's context, for at most `timeout`.
    pub fn exec_task(
        &self,
        handle: &TaskHandle,
        argv: &[String],
        timeout: Duration,
    ) -> Result<ExecOutput, DriverError> {
        self.call("exec-task", self.trace_of(handle), timeout, |s, g| {
            g.call_exec_task(s, handle, argv, millis(timeout))
        })
    }

    /// The task's resource usage now.
    pub fn task_stats(&self, handle: &TaskHandle) -> Result<TaskUsage, DriverError> {
        self.call(
            "task-stats",
            self.trace_of(handle),
            Duration::ZERO,
            |s, g| g.call_task_stats(s, handle),
        )
    }

    /// Re-attaches to a task after the client restarted; `NotFound` if it is
    /// gone.
    pub fn recover_task(&self, handle: &TaskHandle) -> Result<(), DriverError> {
        let (r, followed) = self.call_following(
            "recover-task",
            self.trace_of(handle),
            Duration::ZERO,
            |s, g| g.call_recover_task(s, handle),
        );
        if r.is_ok() {
            self.follow(handle, followed);
        }
        r
    }

    fn trace_of(&self, handle: &TaskHandle) -> Option<String> {
        self.host
            .traces
            .lock()
            .ok()
            .and_then(|t| t.get(&handle.id).cloned())
    }

    /// Runs one export in a fresh store, under the sandbox limits.
    fn call<R>(
        &self,
        call: &'static str,
        trace_id: Option<String>,
        timeout: Duration,
        f: impl FnOnce(&mut Store<StoreState>, &Guest) -> wasmtime::Result<Result<R, WitDriverError>>,
    ) -> Result<R, DriverError> {
        self.call_following(call, trace_id, timeout, f).0
    }

    /// [`Self::call`], also giving the processes the call spawned or
    /// adopted through the `process` capability.
    fn call_following<R>(
        &self,
        call: &'static str,
        trace_id: Option<String>,
        timeout: Duration,
        f: impl FnOnce(&mut Store<StoreState>, &Guest) -> wasmtime::Result<Result<R, WitDriverError>>,
    ) -> (Result<R, DriverError>, Vec<u32>) {
        let host = &self.host;
        let limits = &host.limits;
        let started = Instant::now();
        let state = StoreState {
            driver: Arc::clone(&self.driver.name),
            call,
            grant: Arc::clone(&self.driver.grant),
            caps: Arc::clone(&host.caps),
            trace_id: trace_id.filter(|t| !t.is_empty()),
            limiter: limits::SandboxLimiter::new(limits),
            clock: CallClock::start(limits, timeout),
            denied: None,
            stopped: None,
            followed: Vec::new(),
        };
        let mut store = Store::new(&host.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(limits.ticks(limits.call_budget));
        let tick_limits = limits.clone();
        store.epoch_deadline_callback(move |mut cx| match cx.data().clock.check() {
            Verdict::Continue(left) => Ok(UpdateDeadline::Continue(tick_limits.ticks(left))),
            Verdict::Stop(hit) => {
                cx.data_mut().stopped = Some(hit);
                Ok(UpdateDeadline::Interrupt)
            }
        });
        // A panic in a host function (a bug a driver might provoke) must not
        // take the caller down: it fails this call, and the store goes.
        let pre = &self.driver.pre;
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pre.instantiate(&mut store)
                .and_then(|bindings| f(&mut store, bindings.sched_driver_driver()))
        }));
        let result = match run {
            Ok(outcome) => self.outcome(call, store.data(), outcome),
            Err(panic) => Err(DriverError::Trap {
                driver: self.driver.name.to_string(),
                call,
                message: format!("the host panicked serving it: {}", panic_message(&*panic)),
            }),
        };
        let elapsed_us = started.elapsed().as_micros() as u64;
        let trace_id = store.data().trace_id.as_deref().unwrap_or("");
        match &result {
            Ok(_) => {
                tracing::debug!(driver = %self.driver.name, call, trace_id, elapsed_us, "driver call")
            }
            Err(e) if e.is_sandbox_stop() => {
                tracing::warn!(driver = %self.driver.name, call, trace_id, elapsed_us, error = %e, "driver call stopped by the sandbox")
            }
            Err(e) => {
                tracing::debug!(driver = %self.driver.name, call, trace_id, elapsed_us, error = %e, "driver call failed")
            }
        }
        let followed = std::mem::take(&mut store.data_mut().followed);
        (result, followed)
    }

    /// Turns what a call returned into the host's result.
    fn outcome<R>(
        &self,
        call: &'static str,
        state: &StoreState,
        outcome: wasmtime::Result<Result<R, WitDriverError>>,
    ) -> Result<R, DriverError> {
        let driver = self.driver.name.to_string();
        match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(match e {
                WitDriverError::InvalidConfig(message) => {
                    DriverError::InvalidConfig { driver, message }
                }
                WitDriverError::NotFound(message) => DriverError::NotFound { driver, message },
                WitDriverError::CapabilityDenied(message) => {
                    DriverError::CapabilityDenied { driver, message }
                }
                WitDriverError::Unsupported(message) => {
                    DriverError::Unsupported { driver, message }
                }
                WitDriverError::Failed(message) => match state.denied {
                    Some(cap) => DriverError::Denied {
                        driver,
                        call,
                        capability: cap.to_string(),
                        message,
                    },
                    None => DriverError::Failed { driver, message },
                },
            }),
            Err(trap) => Err(self.trap_error(call, state, &trap)),
        }
    }

    /// Explains a trap: a time or memory limit, a refused capability, or the
    /// guest's own fault.
    fn trap_error(
        &self,
        call: &'static str,
        state: &StoreState,
        trap: &wasmtime::Error,
    ) -> DriverError {
        let driver = self.driver.name.to_string();
        match state.stopped {
            Some(LimitHit::GuestTime) => {
                return DriverError::TimeBudget {
                    driver,
                    call,
                    budget: state.clock.budget(),
                };
            }
            Some(LimitHit::WallTime) => {
                return DriverError::Trap {
                    driver,
                    call,
                    message: format!(
                        "interrupted after {:?}, its wall-clock allowance (time in host calls included)",
                        state.clock.wall_limit()
                    ),
                };
            }
            _ => {}
        }
        match state.limiter.hit {
            Some(LimitHit::Memory { desired }) => {
                return DriverError::MemoryLimit {
                    driver,
                    call,
                    message: format!(
                        "asked for {desired} bytes of linear memory, the limit is {} bytes",
                        self.host.limits.memory_bytes
                    ),
                };
            }
            Some(LimitHit::Table) => {
                return DriverError::MemoryLimit {
                    driver,
                    call,
                    message: format!(
                        "a table would grow past {} elements",
                        self.host.limits.table_elements
                    ),
                };
            }
            _ => {}
        }
        let message = chain_message(trap);
        match state.denied {
            Some(cap) => DriverError::Denied {
                driver,
                call,
                capability: cap.to_string(),
                message: format!("then trapped: {message}"),
            },
            None => DriverError::Trap {
                driver,
                call,
                message,
            },
        }
    }
}

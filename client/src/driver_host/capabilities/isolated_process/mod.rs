//! The `isolated-process` capability: processes in fresh namespaces, a
//! pivoted root and cgroup limits, the way Nomad's exec driver runs tasks.
//!
//! A driver (a WebAssembly component) only *describes* the sandbox
//! ([`SpawnSpec`] + [`SandboxSpec`]); [`IsolatedProcesses`] does the
//! privileged work on the host and hands back the pid of the sandbox's init
//! as the host sees it. The WIT bindings (`plugins/wit/driver.wit`,
//! interface `isolated-process`) map one to one onto this API.
//!
//! What it owns:
//! - building the sandbox ([`namespaces`], [`mounts`], [`cgroups`],
//!   [`capabilities`], [`user`]) and the sandbox's processes ([`init`]:
//!   the pid-namespace init and why it exists);
//! - waiting, signalling, killing, usage and liveness of those processes,
//!   and `exec` of commands inside a running sandbox.
//!
//! What it does not own: the task directory's layout and which host
//! directories are bound (the driver decides; the client lays out the
//! directories), the network inside an isolated network namespace, log
//! rotation of the stdout/stderr files, and persistence across client
//! restarts: the driver keeps the pid in its handle. A sandbox an earlier
//! client instance started is found again through `/proc/<pid>/cgroup`
//! (its `sched/<name>` cgroup): `wait`, `signal`, `usage`, `is_alive` and
//! `kill_tree` work on it; `exec` does not (the task's user and
//! capabilities are not known). Its exit status, which only its parent
//! could read, comes from its exit record (`exit_record`), which
//! the init writes besides the status pipe; a sandbox that ended while no
//! client ran is adopted by `is_alive` on its record, like a zombie that
//! exists until waited for.
//!
//! Everything needs root (`CAP_SYS_ADMIN` and friends): on a non-root
//! client `spawn` fails with the first step the kernel refused.

pub mod capabilities;
pub mod cgroups;
mod error;
pub mod init;
pub mod mounts;
pub mod namespaces;
mod provider;
pub mod user;

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::fd::RawFd;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sched::CloneFlags;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, pipe2};

pub use error::IsolationError;

use super::exit_record::{ExitRecords, Record, RecordState};
use capabilities::CapabilitySet;
use cgroups::{Cgroups, TaskCgroup};
use init::{Ended, InitSteps, Program, Steps, TaskSteps, raw_fork, read_report};
use mounts::RootPlan;
use namespaces::SandboxEntry;
use user::Credentials;

/// Longest single `wait` call, whatever timeout the driver asks for.
pub const MAX_WAIT_MS: u32 = 1000;
/// Longest `exec` call.
pub const MAX_EXEC_MS: u32 = 10 * 60 * 1000;
/// Bytes of stdout and of stderr kept from an `exec`; the rest is read and
/// dropped so the command never blocks on a full pipe.
pub const EXEC_OUTPUT_LIMIT: usize = 1 << 20;
/// How far a process's start time may be from the `started_at` a driver
/// recorded for it and still be the same process (the kernel's boot time
/// is known to the second only).
const START_TOLERANCE_NS: u64 = 2_000_000_000;

/// A process to start (WIT `process.spawn-spec`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpawnSpec {
    /// `argv[0]` is the program, looked up in `env`'s PATH inside the sandbox
    /// if it has no '/'.
    pub argv: Vec<String>,
    /// The whole environment, in order.
    pub env: Vec<(String, String)>,
    /// Working directory inside the sandbox ("" means "/").
    pub cwd: String,
    /// User to run as, resolved on the host; `None`: root.
    pub user: Option<String>,
    /// Host file stdout is appended to.
    pub stdout_path: String,
    /// Host file stderr is appended to.
    pub stderr_path: String,
}

/// A bind mount into the sandbox (WIT `bind-mount`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    /// Absolute host path.
    pub host_path: String,
    /// Absolute path inside the sandbox.
    pub sandbox_path: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// cgroup limits (WIT `types.resources`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU shares in MHz.
    pub cpu_mhz: u32,
    /// Whole cores reserved (not enforced here: see [`cgroups`]).
    pub cores: u32,
    /// Guaranteed memory in MB (0: no memory limit).
    pub memory_mb: u32,
    /// Memory the task may burst to, in MB (0: same as `memory_mb`).
    pub memory_max_mb: u32,
}

/// The sandbox around a process (WIT `sandbox-spec`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxSpec {
    /// Host directory that becomes the sandbox's root (the task dir).
    pub root: String,
    /// Mounts added to the root.
    pub mounts: Vec<BindMount>,
    /// Hostname inside the sandbox ("" keeps the host's name).
    pub hostname: String,
    /// A new, empty network namespace.
    pub isolate_network: bool,
    /// cgroup limits.
    pub resources: Resources,
    /// Capabilities kept ("CAP_CHOWN"); all others are dropped.
    pub keep_capabilities: Vec<String>,
}

/// How a process ended (WIT `types.exit-result`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExitResult {
    /// Exit code (0 when killed by a signal).
    pub exit_code: i32,
    /// The signal that killed it, 0 if none.
    pub signal: i32,
    /// Whether the kernel's OOM killer killed a process of the task.
    pub oom_killed: bool,
}

/// Resource usage at one moment (WIT `types.task-usage`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Unix nanoseconds.
    pub timestamp: u64,
    /// CPU time, user + system, in nanoseconds.
    pub cpu_total_ns: u64,
    /// Resident memory in bytes.
    pub memory_rss: u64,
    /// Memory charged to the cgroup in bytes.
    pub memory_usage: u64,
    /// Processes in the sandbox.
    pub pids: u32,
}

/// What an `exec` printed and how it ended (WIT `types.exec-output`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Standard output (at most [`EXEC_OUTPUT_LIMIT`] bytes).
    pub stdout: Vec<u8>,
    /// Standard error (at most [`EXEC_OUTPUT_LIMIT`] bytes).
    pub stderr: Vec<u8>,
    /// How the command ended.
    pub exit: ExitResult,
}

/// A sandbox this host started.
#[derive(Debug)]
struct Sandbox {
    cgroup: TaskCgroup,
    /// Read end of the pipe the init writes the task's end on.
    status: File,
    creds: Option<Credentials>,
    caps: CapabilitySet,
    exit: Option<ExitResult>,
    /// The cgroup was removed by `kill_tree`.
    removed: bool,
    /// The exit record the init also writes, removed once read.
    record: Option<Record>,
}

/// A sandbox an earlier client instance started, adopted by `is_alive`.
#[derive(Debug)]
struct Adopted {
    record: Record,
    exit: Option<ExitResult>,
}

/// The host side of the `isolated-process` capability.
#[derive(Debug)]
pub struct IsolatedProcesses {
    cgroups: Result<Cgroups, String>,
    last_cap: u8,
    sandboxes: Mutex<HashMap<u32, Sandbox>>,
    /// Where exit records are kept (`None`: unusable, see the warning).
    records: Option<ExitRecords>,
    /// Sandboxes of an earlier client instance that have an exit record.
    adopted: Mutex<HashMap<u32, Adopted>>,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn c_string(what: &str, s: &str) -> Result<CString, IsolationError> {
    CString::new(s)
        .map_err(|_| IsolationError::InvalidSpec(format!("{what} {s:?} contains a NUL byte")))
}

fn pipe() -> Result<(File, OwnedFd), IsolationError> {
    let (r, w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| IsolationError::sys("create a pipe", e))?;
    Ok((File::from(r), w))
}

fn open_log(path: &str) -> Result<File, IsolationError> {
    mounts::absolute("log file", path)?;
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| IsolationError::io(format!("open {path}"), e))
}

/// A signal by name: "SIGTERM", "TERM" or "term".
pub fn parse_signal(name: &str) -> Result<Signal, IsolationError> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    full.parse::<Signal>()
        .map_err(|_| IsolationError::UnknownSignal(name.to_owned()))
}

impl Ended {
    fn result(self, oom_killed: bool) -> ExitResult {
        match self {
            Self::Exited(code) => ExitResult {
                exit_code: code,
                signal: 0,
                oom_killed,
            },
            Self::Signaled(signal) => ExitResult {
                exit_code: 0,
                signal,
                oom_killed,
            },
        }
    }
}

impl Sandbox {
    /// Turns the init's wait status into the task's result and keeps it.
    fn ended(&mut self, init: WaitStatus) -> ExitResult {
        let mut buf = Vec::with_capacity(8);
        // The init wrote the task's end before exiting; nothing to read
        // means it was killed (kill_tree, or the OOM killer despite -1000).
        let _ = (&self.status).take(8).read_to_end(&mut buf);
        let ended = Ended::decode(&buf)
            .or_else(|| Ended::from_wait(init))
            .unwrap_or(Ended::Exited(-1));
        let exit = ended.result(self.cgroup.oom_killed());
        self.exit = Some(exit);
        if let Some(record) = self.record.take() {
            record.remove();
        }
        exit
    }

    /// Reaps the init if it ended (blocking: waits for it).
    fn reap(&mut self, pid: u32, block: bool) -> Option<ExitResult> {
        if let Some(exit) = self.exit {
            return Some(exit);
        }
        let flags = (!block).then_some(WaitPidFlag::WNOHANG);
        loop {
            match waitpid(Pid::from_raw(pid as i32), flags) {
                Ok(WaitStatus::StillAlive) => return None,
                Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => {
                    return Some(self.ended(status));
                }
                Ok(_) | Err(Errno::EINTR) => {}
                // Reaped by someone else: the status is all we have.
                Err(_) => return Some(self.ended(WaitStatus::StillAlive)),
            }
        }
    }
}

impl IsolatedProcesses {
    /// A service using the machine's cgroups (detected now; if detection
    /// fails, every `spawn` reports why).
    pub fn new() -> Self {
        Self::with_cgroups(Cgroups::detect().map_err(|e| e.to_string()))
    }

    /// A service using the given cgroups.
    pub fn with_cgroups(cgroups: Result<Cgroups, String>) -> Self {
        Self::with_cgroups_and_records(cgroups, &ExitRecords::default_dir())
    }

    /// A service using the given cgroups, keeping exit records in
    /// `record_dir`.
    pub fn with_cgroups_and_records(cgroups: Result<Cgroups, String>, record_dir: &Path) -> Self {
        let records = ExitRecords::open(record_dir)
            .inspect_err(|e| {
                tracing::warn!(error = %e, "exit records are off: a sandbox that ends while no client runs is reported with an unknown exit code");
            })
            .ok();
        Self {
            cgroups,
            last_cap: capabilities::kernel_last_cap(),
            sandboxes: Mutex::new(HashMap::new()),
            records,
            adopted: Mutex::new(HashMap::new()),
        }
    }

    /// The cgroups in use.
    pub fn cgroups(&self) -> Result<&Cgroups, IsolationError> {
        self.cgroups
            .as_ref()
            .map_err(|e| IsolationError::Cgroup(e.clone()))
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u32, Sandbox>> {
        self.sandboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts `spec` inside the sandbox `sandbox`; returns the pid of the
    /// sandbox's init in the host's pid namespace. On error nothing is left
    /// behind: no process, no cgroup.
    pub fn spawn(&self, spec: &SpawnSpec, sandbox: &SandboxSpec) -> Result<u32, IsolationError> {
        // Everything that can be checked is checked before anything is made.
        let root = mounts::validate(&sandbox.root, &sandbox.mounts)?;
        if !sandbox.hostname.is_empty() {
            namespaces::validate_hostname(&sandbox.hostname)?;
        }
        let creds = spec.user.as_deref().map(user::resolve).transpose()?;
        let caps = CapabilitySet::parse(&sandbox.keep_capabilities, self.last_cap)?;
        let cwd = if spec.cwd.is_empty() {
            PathBuf::from("/")
        } else {
            mounts::absolute("working directory", &spec.cwd)?
        };
        mounts::absolute("stdout path", &spec.stdout_path)?;
        mounts::absolute("stderr path", &spec.stderr_path)?;
        let cgroups = self.cgroups()?;
        let mut steps = Steps::default();
        let program = Program::new(&spec.argv, &spec.env, &mut steps)?;
        let cwd_c = c_string("working directory", &cwd.to_string_lossy())?;
        let stdout = open_log(&spec.stdout_path)?;
        let stderr = open_log(&spec.stderr_path)?;
        let plan = RootPlan::prepare(&root, &sandbox.mounts, &mut steps)?;
        let name = cgroups::name_for_root(&root);
        let cgroup = cgroups.create(&name, &sandbox.resources)?;
        let mut record = match &self.records {
            Some(records) => match records.create() {
                Ok(r) => Some(r),
                Err(e) => {
                    let _ = cgroup.remove();
                    return Err(IsolationError::InvalidSpec(e));
                }
            },
            None => None,
        };
        let spawned_ns = now_ns();
        match self.start(
            &mut steps,
            program,
            cwd_c,
            &stdout,
            &stderr,
            &plan,
            &cgroup,
            creds.clone(),
            caps,
            sandbox,
            record.as_ref().map_or(-1, Record::fd),
        ) {
            Ok((pid, status)) => {
                if let (Some(records), Some(r)) = (&self.records, record.as_mut())
                    && let Err(e) = records.name(r, pid, spawned_ns)
                {
                    tracing::warn!(pid, error = %e, "the sandbox's exit record is unnamed: its end is lost if no client runs then");
                }
                tracing::info!(pid, cgroup = %name, root = %root.display(), argv0 = %spec.argv[0], "sandbox started");
                self.lock().insert(
                    pid,
                    Sandbox {
                        cgroup,
                        status,
                        creds,
                        caps,
                        exit: None,
                        removed: false,
                        record,
                    },
                );
                Ok(pid)
            }
            Err(e) => {
                if let Some(r) = record {
                    r.remove();
                }
                if let Err(cleanup) = cgroup.remove() {
                    tracing::warn!(cgroup = %name, error = %cleanup, "could not remove the cgroup of a failed sandbox");
                }
                tracing::warn!(root = %root.display(), error = %e, "sandbox failed to start");
                Err(e)
            }
        }
    }

    /// Clones the init and waits until the task's program runs (or a step
    /// failed). Returns the init's pid and the status pipe.
    #[allow(clippy::too_many_arguments)]
    fn start(
        &self,
        steps: &mut Steps,
        program: Program,
        cwd: CString,
        stdout: &File,
        stderr: &File,
        plan: &RootPlan,
        cgroup: &TaskCgroup,
        creds: Option<Credentials>,
        caps: CapabilitySet,
        sandbox: &SandboxSpec,
        record_fd: RawFd,
    ) -> Result<(u32, File), IsolationError> {
        let mut procs = Vec::new();
        for path in cgroup.procs_files() {
            let file = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| IsolationError::io(format!("open {}", path.display()), e))?;
            let step = steps.add(format!("join cgroup {}", path.display()));
            procs.push((file, step));
        }
        let (mut report_r, report_w) = pipe()?;
        let (status_r, status_w) = pipe()?;
        // Read once the init is reaped; it writes before it exits, so there
        // is nothing to wait for (and no reason to ever block).
        set_nonblocking(&status_r)?;
        let oom_score_adj = std::fs::read_to_string("/proc/self/oom_score_adj")
            .ok()
            .and_then(|s| CString::new(s.trim()).ok())
            .or_else(|| CString::new("0").ok());
        let task = TaskSteps {
            program,
            cwd_step: steps.add(format!(
                "enter the working directory {}",
                cwd.to_string_lossy()
            )),
            cwd,
            dev_null: c_string("path", "/dev/null")?,
            stdin_step: steps.add("open /dev/null as stdin"),
            stdout: stdout.as_raw_fd(),
            stderr: stderr.as_raw_fd(),
            stdio_step: steps.add("attach stdout and stderr"),
            creds_step: steps.add(match &creds {
                Some(c) => format!("switch to user {} (uid {}, gid {})", c.name, c.uid, c.gid),
                None => String::new(),
            }),
            creds,
            caps,
            bounding_step: steps.add("drop capabilities from the bounding set"),
            caps_step: steps.add("set the kept capabilities"),
            oom_score_adj,
            oom_path: c_string("path", "/proc/self/oom_score_adj")?,
            oom_step: steps.add("reset the task's oom_score_adj"),
            die_with_parent: false,
            setsid_step: steps.add("start a new session"),
        };
        let init = InitSteps {
            cgroup_procs: procs.iter().map(|(f, s)| (f.as_raw_fd(), *s)).collect(),
            oom_path: c_string("path", "/proc/self/oom_score_adj")?,
            hostname: if sandbox.hostname.is_empty() {
                None
            } else {
                let step = steps.add(format!("set the hostname to {}", sandbox.hostname));
                Some((c_string("hostname", &sandbox.hostname)?, step))
            },
            root: plan,
            name: c_string("name", "sched-init")?,
            fork_step: steps.add("start the task under the sandbox's init"),
            task,
            err_fd: report_w.as_raw_fd(),
            status_fd: status_w.as_raw_fd(),
            record_fd,
            dev_null: c_string("path", "/dev/null")?,
        };
        let flags = namespaces::spawn_flags(sandbox.isolate_network);
        let pid = match raw_fork(flags)
            .map_err(|e| IsolationError::sys("clone the sandbox's init", e))?
        {
            None => init.run(),
            Some(pid) => pid,
        };
        drop(report_w);
        drop(status_w);
        let report = read_report(&mut report_r);
        if !matches!(report, Ok(None)) {
            // A failed init exits right after reporting (or after its task
            // did); SIGKILL also ends a namespace whose report was garbled.
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
        match report {
            Ok(None) => {}
            Ok(Some(failure)) => return Err(steps.error(failure)),
            Err(e) => return Err(IsolationError::io("read the sandbox's setup report", e)),
        }
        Ok((pid.as_raw() as u32, status_r))
    }

    /// Waits up to `timeout_ms` (at most [`MAX_WAIT_MS`]) for the sandbox
    /// `pid` to end; `None` if it still runs. For a sandbox an earlier
    /// client instance started (not a child of this process, so its exit
    /// status is out of reach) it answers `None` while it runs and
    /// [`IsolationError::NotFound`] once it is gone.
    pub fn wait(&self, pid: u32, timeout_ms: u32) -> Result<Option<ExitResult>, IsolationError> {
        let deadline =
            Instant::now() + Duration::from_millis(u64::from(timeout_ms.min(MAX_WAIT_MS)));
        loop {
            {
                let mut map = self.lock();
                match map.get_mut(&pid) {
                    Some(sandbox) => {
                        if let Some(exit) = sandbox.reap(pid, false) {
                            return Ok(Some(exit));
                        }
                    }
                    // Started by an earlier client instance: not our child;
                    // once it is gone its record (if adopted) has its end.
                    None => {
                        if self.cgroup_of(pid).is_err() {
                            match self.adopted_exit(pid) {
                                Some(Some(exit)) => return Ok(Some(exit)),
                                Some(None) => {}
                                None => return Err(IsolationError::NotFound(pid)),
                            }
                        }
                    }
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(10)));
        }
    }

    /// Sends `signal` (a name like "SIGTERM") to the task: the init
    /// forwards it. SIGKILL hits the init itself, which ends the whole
    /// sandbox; SIGSTOP, which cannot be forwarded, goes to every process
    /// of the sandbox but the init.
    pub fn signal(&self, pid: u32, signal: &str) -> Result<(), IsolationError> {
        let sig = parse_signal(signal)?;
        let cgroup = {
            let mut map = self.lock();
            match map.get_mut(&pid) {
                Some(sandbox) => {
                    if sandbox.reap(pid, false).is_some() {
                        return Ok(());
                    }
                    sandbox.cgroup.clone()
                }
                None => self.cgroup_of(pid)?,
            }
        };
        tracing::debug!(pid, signal = %sig, "signalling sandbox");
        if sig == Signal::SIGSTOP {
            for p in cgroup.pids().into_iter().filter(|p| *p != pid) {
                let _ = kill(Pid::from_raw(p as i32), sig);
            }
            return Ok(());
        }
        kill(Pid::from_raw(pid as i32), sig)
            .map_err(|e| IsolationError::sys(format!("send {sig} to {pid}"), e))
    }

    /// Kills every process of the sandbox and removes its cgroup. Works for
    /// a sandbox another instance started (after a client restart) as long
    /// as its init is alive: its cgroup is found through /proc.
    pub fn kill_tree(&self, pid: u32) -> Result<(), IsolationError> {
        let cgroup = {
            let mut map = self.lock();
            match map.get_mut(&pid) {
                Some(sandbox) => {
                    if sandbox.exit.is_none() {
                        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
                        sandbox.reap(pid, true);
                    }
                    if sandbox.removed {
                        return Ok(());
                    }
                    sandbox.removed = true;
                    sandbox.cgroup.clone()
                }
                None => {
                    let cgroup = self.cgroup_of(pid)?;
                    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
                    cgroup
                }
            }
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = cgroup.pids();
            if left.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(IsolationError::Cgroup(format!(
                    "processes {left:?} survived SIGKILL"
                )));
            }
            for p in left {
                let _ = kill(Pid::from_raw(p as i32), Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        cgroup.remove()?;
        tracing::info!(pid, "sandbox killed and its cgroup removed");
        Ok(())
    }

    /// The cgroup of a sandbox this instance did not start, from
    /// /proc/<pid>/cgroup.
    fn cgroup_of(&self, pid: u32) -> Result<TaskCgroup, IsolationError> {
        let path = format!("/proc/{pid}/cgroup");
        let text = std::fs::read_to_string(&path).map_err(|_| IsolationError::NotFound(pid))?;
        let prefix = format!("/{}/", cgroups::PARENT);
        let name = text
            .lines()
            .filter_map(|l| l.rsplit(':').next())
            .find_map(|p| p.strip_prefix(&prefix))
            .filter(|n| !n.is_empty() && !n.contains('/'))
            .ok_or(IsolationError::NotFound(pid))?;
        Ok(self.cgroups()?.task(name))
    }

    /// The sandbox's resource usage, from its cgroup.
    pub fn usage(&self, pid: u32) -> Result<Usage, IsolationError> {
        let known = self.lock().get(&pid).map(|s| s.cgroup.clone());
        let cgroup = match known {
            Some(cgroup) => cgroup,
            None => self.cgroup_of(pid)?,
        };
        let u = cgroup.usage();
        Ok(Usage {
            timestamp: now_ns(),
            cpu_total_ns: u.cpu_total_ns,
            memory_rss: u.memory_rss,
            memory_usage: u.memory_usage,
            pids: u.pids,
        })
    }

    /// Whether `pid` is still the running sandbox started at `started_at_ns`
    /// (Unix nanoseconds; 0 skips the check of the start time).
    pub fn is_alive(&self, pid: u32, started_at_ns: u64) -> bool {
        let known = {
            let mut map = self.lock();
            match map.get_mut(&pid) {
                Some(sandbox) => {
                    if sandbox.reap(pid, false).is_some() {
                        return false;
                    }
                    true
                }
                None => false,
            }
        };
        if let Some(adopted) = self.adopted_lock().get(&pid)
            && adopted.exit.is_some()
        {
            return false;
        }
        let running = process_start_ns(pid).is_some_and(|start| {
            started_at_ns == 0 || start.abs_diff(started_at_ns) <= START_TOLERANCE_NS
        });
        if known {
            return running;
        }
        // An earlier instance's sandbox: adopt its record, if it has one
        // that holds (or is about to hold) its end.
        let mut adopted = self.adopted_lock();
        if !adopted.contains_key(&pid)
            && let Some(record) = self
                .records
                .as_ref()
                .and_then(|r| r.find(pid, started_at_ns))
            && (running || record.state() != RecordState::Lost)
        {
            tracing::info!(
                pid,
                running,
                "adopted a sandbox's exit record after recovery"
            );
            adopted.insert(pid, Adopted { record, exit: None });
            return true;
        }
        running || adopted.contains_key(&pid)
    }

    fn adopted_lock(&self) -> MutexGuard<'_, HashMap<u32, Adopted>> {
        self.adopted.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// For an adopted sandbox whose init is gone: `Some(Some(exit))` once
    /// its record holds its end, `Some(None)` while its init is about to
    /// write it, `None` if it was not adopted or its end is lost.
    fn adopted_exit(&self, pid: u32) -> Option<Option<ExitResult>> {
        let mut adopted = self.adopted_lock();
        let entry = adopted.get_mut(&pid)?;
        if let Some(exit) = entry.exit {
            return Some(Some(exit));
        }
        match entry.record.state() {
            RecordState::Ended(ended) => {
                let exit = ended.result(false);
                entry.exit = Some(exit);
                let _ = std::fs::remove_file(entry.record.path());
                Some(Some(exit))
            }
            RecordState::Pending => Some(None),
            RecordState::Lost => None,
        }
    }

    /// Runs `argv` with `env` inside the running sandbox `pid`: its
    /// namespaces, cgroup, root, user and capabilities. Output is capped at
    /// [`EXEC_OUTPUT_LIMIT`] per stream; past `timeout_ms` (at most
    /// [`MAX_EXEC_MS`]) the command is killed.
    pub fn exec(
        &self,
        pid: u32,
        argv: &[String],
        env: &[(String, String)],
        timeout_ms: u32,
    ) -> Result<ExecOutput, IsolationError> {
        let (cgroup, creds, caps) = {
            let mut map = self.lock();
            let sandbox = map.get_mut(&pid).ok_or(IsolationError::NotFound(pid))?;
            if sandbox.reap(pid, false).is_some() {
                return Err(IsolationError::NotFound(pid));
            }
            (sandbox.cgroup.clone(), sandbox.creds.clone(), sandbox.caps)
        };
        let mut steps = Steps::default();
        let program = Program::new(argv, env, &mut steps)?;
        let entry = SandboxEntry::open(pid, &mut steps)?;
        let mut procs = Vec::new();
        for path in cgroup.procs_files() {
            let file = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| IsolationError::io(format!("open {}", path.display()), e))?;
            let step = steps.add(format!("join cgroup {}", path.display()));
            procs.push((file, step));
        }
        let (mut report_r, report_w) = pipe()?;
        let (status_r, status_w) = pipe()?;
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        for file in [&out_r, &err_r, &status_r] {
            set_nonblocking(file)?;
        }
        let slash = c_string("path", "/")?;
        let fork_step = steps.add("start the command in the sandbox's pid namespace");
        let task = TaskSteps {
            program,
            cwd: slash.clone(),
            cwd_step: steps.add("enter /"),
            dev_null: c_string("path", "/dev/null")?,
            stdin_step: steps.add("open /dev/null as stdin"),
            stdout: out_w.as_raw_fd(),
            stderr: err_w.as_raw_fd(),
            stdio_step: steps.add("attach stdout and stderr"),
            creds_step: steps.add("switch user"),
            creds,
            caps,
            bounding_step: steps.add("drop capabilities from the bounding set"),
            caps_step: steps.add("set the kept capabilities"),
            oom_score_adj: None,
            oom_path: c_string("path", "/proc/self/oom_score_adj")?,
            oom_step: 0,
            die_with_parent: true,
            setsid_step: steps.add("start a new session"),
        };
        let cgroup_procs: Vec<_> = procs.iter().map(|(f, s)| (f.as_raw_fd(), *s)).collect();
        let (report_fd, status_fd) = (report_w.as_raw_fd(), status_w.as_raw_fd());
        let helper = match raw_fork(CloneFlags::empty())
            .map_err(|e| IsolationError::sys("fork the exec helper", e))?
        {
            None => exec_helper(
                &cgroup_procs,
                &entry,
                &slash,
                fork_step,
                &task,
                report_fd,
                status_fd,
            ),
            Some(pid) => pid,
        };
        drop((report_w, status_w, out_w, err_w));
        let report = read_report(&mut report_r);
        if !matches!(report, Ok(None)) {
            let _ = kill(helper, Signal::SIGKILL);
            let _ = waitpid(helper, None);
        }
        match report {
            Ok(None) => {}
            Ok(Some(failure)) => return Err(steps.error(failure)),
            Err(e) => return Err(IsolationError::io("read the exec's setup report", e)),
        }
        let timeout = Duration::from_millis(u64::from(timeout_ms.min(MAX_EXEC_MS)));
        let (stdout, stderr, ended) = collect(out_r, err_r, status_r, Instant::now() + timeout);
        let Some(ended) = ended else {
            let _ = kill(helper, Signal::SIGKILL);
            let _ = waitpid(helper, None);
            return Err(IsolationError::Timeout {
                argv0: argv.first().cloned().unwrap_or_default(),
                timeout_ms,
            });
        };
        let _ = waitpid(helper, None);
        let exit = ended.result(false);
        Ok(ExecOutput {
            stdout,
            stderr,
            exit,
        })
    }
}

impl Default for IsolatedProcesses {
    fn default() -> Self {
        Self::new()
    }
}

/// The exec helper (a child of the host): joins the sandbox, forks the
/// command into its pid namespace, waits for it and reports how it ended.
fn exec_helper(
    cgroup_procs: &[(std::os::fd::RawFd, u32)],
    entry: &SandboxEntry,
    slash: &CString,
    fork_step: u32,
    task: &TaskSteps,
    report_fd: std::os::fd::RawFd,
    status_fd: std::os::fd::RawFd,
) -> ! {
    use init::AtStep;
    let forked = init::join_cgroups(cgroup_procs)
        .and_then(|()| entry.enter(slash))
        .and_then(|()| raw_fork(CloneFlags::empty()).at(fork_step));
    let command = match forked {
        Err(failure) => {
            init::report(report_fd, failure);
            init::exit_now(127)
        }
        Ok(None) => task.run(report_fd),
        Ok(Some(pid)) => pid,
    };
    init::close_all_but(&[status_fd]);
    let ended = loop {
        match waitpid(command, None) {
            Ok(status) => {
                if let Some(ended) = Ended::from_wait(status) {
                    break ended;
                }
            }
            Err(Errno::EINTR) => {}
            Err(_) => break Ended::Exited(-1),
        }
    };
    let _ = init::write_fd(status_fd, &ended.encode());
    init::exit_now(0)
}

/// Makes reads of `file` return at once when there is nothing to read.
fn set_nonblocking(file: &File) -> Result<(), IsolationError> {
    use nix::fcntl::{FcntlArg, fcntl};
    let flags =
        fcntl(file, FcntlArg::F_GETFL).map_err(|e| IsolationError::sys("read pipe flags", e))?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    fcntl(file, FcntlArg::F_SETFL(flags))
        .map(drop)
        .map_err(|e| IsolationError::sys("make a pipe non-blocking", e))
}

/// Reads what a non-blocking pipe holds into `buf` (up to `limit` bytes
/// kept, the rest dropped); false once the pipe is closed.
fn drain(file: &mut File, buf: &mut Vec<u8>, limit: usize) -> bool {
    let mut chunk = [0u8; 8192];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => return false,
            Ok(n) => {
                let room = limit.saturating_sub(buf.len());
                buf.extend_from_slice(&chunk[..n.min(room)]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(_) => return false,
        }
    }
}

/// Collects an exec'd command's stdout and stderr (non-blocking pipes, at
/// most [`EXEC_OUTPUT_LIMIT`] bytes each) until the helper reports the
/// command's end on `done`, or until `deadline` (then `None`). The end is
/// what counts, not the pipes' closing: a command may leave a background
/// process holding them.
fn collect(
    mut out: File,
    mut err: File,
    mut done: File,
    deadline: Instant,
) -> (Vec<u8>, Vec<u8>, Option<Ended>) {
    let (mut out_buf, mut err_buf) = (Vec::new(), Vec::new());
    let (mut out_open, mut err_open) = (true, true);
    let mut status = Vec::with_capacity(8);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (out_buf, err_buf, None);
        }
        let timeout = PollTimeout::try_from(left.min(Duration::from_millis(100)))
            .unwrap_or(PollTimeout::ZERO);
        let mut fds = vec![PollFd::new(done.as_fd(), PollFlags::POLLIN)];
        if out_open {
            fds.push(PollFd::new(out.as_fd(), PollFlags::POLLIN));
        }
        if err_open {
            fds.push(PollFd::new(err.as_fd(), PollFlags::POLLIN));
        }
        if poll(&mut fds, timeout).is_err() {
            continue;
        }
        let finished = fds[0].revents().is_some_and(|r| !r.is_empty());
        drop(fds);
        if out_open {
            out_open = drain(&mut out, &mut out_buf, EXEC_OUTPUT_LIMIT);
        }
        if err_open {
            err_open = drain(&mut err, &mut err_buf, EXEC_OUTPUT_LIMIT);
        }
        if finished {
            drain(&mut done, &mut status, 8);
            let ended = Ended::decode(&status).unwrap_or(Ended::Exited(-1));
            return (out_buf, err_buf, Some(ended));
        }
    }
}

/// When process `pid` started, in Unix nanoseconds (None: no such
/// process, or a zombie).
fn process_start_ns(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
        return None;
    }
    // Field 22 (starttime) is the 20th after the name.
    let ticks: u64 = fields.get(19)?.parse().ok()?;
    let boot: u64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|v| u64::try_from(v).ok())
        .filter(|v| *v > 0)
        .unwrap_or(100);
    Some(boot * 1_000_000_000 + ticks * (1_000_000_000 / hz))
}

/// The path of `p` relative to nothing: used by tests to build specs.
#[cfg(test)]
fn s(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests;

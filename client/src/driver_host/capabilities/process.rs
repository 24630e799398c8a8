//! The `process` capability: plain child processes on the host.
//!
//! [`HostProcesses`] starts each task under a supervisor
//! (`supervisor`) that waits for it and writes its end into an
//! exit record (`exit_record`). The task gets a new process group,
//! a cleared environment (set from the spec), the spec's working directory,
//! stdout and stderr appended to the given files, and optionally another
//! user (which needs root). The table of processes is keyed by the task's
//! own pid:
//!
//! - tasks it spawned hold their supervisor (our child), so `wait` reaps the
//!   supervisor without blocking and reads the record;
//! - tasks it did not spawn (recovered after a client restart) are
//!   *adopted* by a successful `is-alive`, and then followed through
//!   `/proc/<pid>/stat` until gone, when their record gives the exit status.
//!   A task that ended while no client ran is adopted too if its record
//!   holds its end (or its supervisor is about to write it): like a zombie,
//!   it exists until the driver has waited for it. Without a record (its
//!   supervisor was killed) `wait` reports exit code -1.
//!
//! Every entry belongs to the driver that spawned or adopted it: a driver can
//! wait for, signal, kill and measure only its own processes, never another
//! driver's or an arbitrary pid. Signals go to the process group
//! (`killpg`), usage is summed over the group and the process's descendants
//! from `/proc`.
//!
//! It does not create cgroups (that is `isolated-process`) and does not know
//! which task a process belongs to (that is the driver's handle).

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, SysconfVar, User, geteuid, sysconf};

use super::clock::unix_nanos;
use super::exit_record::{ExitRecords, Record, RecordState};
use super::isolated_process::init::{Ended, Program, Steps};
use super::isolated_process::user::Credentials;
use super::supervisor;
use super::{CallContext, ProcessProvider, SpawnSpec};
use crate::driver_host::bindings::sched::driver::types::{ExecOutput, ExitResult, TaskUsage};

/// PATH used to resolve a program when the spec's environment has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Longest one `wait` call blocks, whatever the driver asks.
pub const MAX_WAIT: Duration = Duration::from_millis(1000);
/// Longest one `run` call may take, whatever the driver asks.
pub const MAX_RUN: Duration = Duration::from_secs(300);
/// Output `run` keeps of each stream, in bytes; the rest is read and dropped.
pub const MAX_RUN_OUTPUT: usize = 1 << 20;
/// How far a recorded start time may be from the one `/proc` gives (boot
/// time there has a resolution of one second).
const START_TOLERANCE_NS: u64 = 2_000_000_000;
/// Exit code reported for a process whose exit status could not be known
/// (its supervisor died before writing it).
pub const UNKNOWN_EXIT_CODE: i32 = -1;
/// Exited entries are kept this long so repeated waits see the same result.
const KEEP_EXITED: Duration = Duration::from_secs(600);

/// One process the table follows.
#[derive(Debug)]
struct Entry {
    /// The driver that spawned or adopted it.
    owner: String,
    /// The task's supervisor (our child), while it has not been reaped.
    supervisor: Option<Pid>,
    /// The task's exit record, while its end has not been taken.
    record: Option<Record>,
    /// Its start time in clock ticks since boot, from `/proc/<pid>/stat`,
    /// to tell it from a later process with the same pid.
    start_ticks: Option<u64>,
    /// How it ended, once known, and when we learnt it.
    exit: Option<(ExitResult, Instant)>,
}

/// The host's processes, keyed by pid.
#[derive(Debug)]
pub struct HostProcesses {
    table: Mutex<HashMap<u32, Entry>>,
    /// Where exit records are kept; `None` if the directory is unusable
    /// (tasks then run, but an exit while no client runs is unknown).
    records: Option<ExitRecords>,
    /// The last scan of `/proc`, shared by usage questions.
    scan: Mutex<Option<Scan>>,
}

impl Default for HostProcesses {
    fn default() -> Self {
        Self::new()
    }
}

impl HostProcesses {
    /// An empty process table keeping exit records in the machine's
    /// default directory (`ExitRecords::default_dir`).
    pub fn new() -> Self {
        Self::with_record_dir(&ExitRecords::default_dir())
    }

    /// An empty process table keeping exit records in `dir`.
    pub fn with_record_dir(dir: &Path) -> Self {
        let records = ExitRecords::open(dir)
            .inspect_err(|e| {
                tracing::warn!(error = %e, "exit records are off: a task that ends while no client runs is reported with an unknown exit code");
            })
            .ok();
        HostProcesses {
            table: Mutex::new(HashMap::new()),
            records,
            scan: Mutex::new(None),
        }
    }

    fn table(&self) -> MutexGuard<'_, HashMap<u32, Entry>> {
        // A panic while holding the lock leaves the table consistent (each
        // operation is one insert or update), so a poisoned lock is usable.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The entry for `pid` if `driver` owns it, else the error to return.
    fn owned<'t>(
        table: &'t mut HashMap<u32, Entry>,
        driver: &str,
        pid: u32,
    ) -> Result<&'t mut Entry, String> {
        match table.get_mut(&pid) {
            Some(e) if e.owner == driver => Ok(e),
            _ => Err(format!(
                "pid {pid} is not a process driver {driver} started or recovered"
            )),
        }
    }

    /// Checks once whether the entry's process has ended, recording how.
    fn poll_exit(pid: u32, e: &mut Entry) -> Result<Option<ExitResult>, String> {
        if let Some((exit, _)) = e.exit {
            return Ok(Some(exit));
        }
        let exit = if let Some(sup) = e.supervisor {
            match waitpid(sup, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => return Ok(None),
                Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) | Err(Errno::ECHILD) => {
                    e.supervisor = None;
                    match e.record.as_ref().and_then(Record::ended) {
                        Some(ended) => Some(ended_result(ended)),
                        // The supervisor was killed: follow the task alone.
                        None => poll_orphan(pid, e)?,
                    }
                }
                Ok(_) | Err(Errno::EINTR) => return Ok(None),
                Err(err) => return Err(format!("waiting for the supervisor of pid {pid}: {err}")),
            }
        } else {
            poll_orphan(pid, e)?
        };
        if let Some(exit) = exit {
            if let Some(record) = e.record.take() {
                record.remove();
            }
            e.exit = Some((exit, Instant::now()));
        }
        Ok(exit)
    }

    fn insert(&self, pid: u32, entry: Entry) {
        let mut table = self.table();
        if table.len() > 1024 {
            table.retain(|_, e| e.exit.is_none_or(|(_, at)| at.elapsed() < KEEP_EXITED));
        }
        table.insert(pid, entry);
    }

    /// Sends `sig` to the group of a process `driver` owns.
    ///
    /// The group outlives its leader while members remain, and Linux does
    /// not hand out a pid that still names a group, so the group is
    /// signalled even after the leader exited, unless `/proc` shows the pid
    /// now belongs to a different process (the group is gone then).
    fn signal_owned(&self, driver: &str, pid: u32, sig: Signal) -> Result<(), String> {
        let mut table = self.table();
        let e = Self::owned(&mut table, driver, pid)?;
        if let Some(s) = proc_stat(pid)
            && e.start_ticks.is_some_and(|t| t != s.start_ticks)
        {
            return Ok(());
        }
        send_group(pid, sig)
    }
}

impl ProcessProvider for HostProcesses {
    fn spawn(&self, cx: &CallContext<'_>, spec: SpawnSpec) -> Result<u32, String> {
        let plan = plan(&spec)?;
        let mut record = match &self.records {
            Some(records) => Some(records.create()?),
            None => None,
        };
        let spawned_ns = unix_nanos(SystemTime::now());
        let spawned = supervisor::spawn(plan, record.as_ref().map_or(-1, Record::fd));
        let spawned = match spawned {
            Ok(s) => s,
            Err(e) => {
                if let Some(r) = record {
                    r.remove();
                }
                return Err(format!(
                    "spawning {:?}: {e}",
                    spec.argv.first().map_or("", |s| s.as_str())
                ));
            }
        };
        let pid = spawned.task;
        if let (Some(records), Some(r)) = (&self.records, record.as_mut())
            && let Err(e) = records.name(r, pid, spawned_ns)
        {
            tracing::warn!(driver = cx.driver, pid, error = %e, "the task's exit record is unnamed: its end is lost if no client runs then");
        }
        tracing::debug!(
            driver = cx.driver,
            trace_id = cx.trace_id.unwrap_or(""),
            pid,
            supervisor = spawned.supervisor.as_raw(),
            program = spec.argv.first().map_or("", |s| s.as_str()),
            "spawned process"
        );
        self.insert(
            pid,
            Entry {
                owner: cx.driver.to_string(),
                supervisor: Some(spawned.supervisor),
                record,
                start_ticks: proc_stat(pid).map(|s| s.start_ticks),
                exit: None,
            },
        );
        Ok(pid)
    }

    fn wait(
        &self,
        cx: &CallContext<'_>,
        pid: u32,
        timeout_ms: u32,
    ) -> Result<Option<ExitResult>, String> {
        let deadline = Instant::now() + Duration::from_millis(u64::from(timeout_ms)).min(MAX_WAIT);
        let mut pause = Duration::from_millis(1);
        loop {
            {
                let mut table = self.table();
                let e = Self::owned(&mut table, cx.driver, pid)?;
                if let Some(exit) = Self::poll_exit(pid, e)? {
                    return Ok(Some(exit));
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    fn signal(&self, cx: &CallContext<'_>, pid: u32, signal: &str) -> Result<(), String> {
        let sig = parse_signal(signal)?;
        self.signal_owned(cx.driver, pid, sig)
    }

    fn kill_tree(&self, cx: &CallContext<'_>, pid: u32) -> Result<(), String> {
        self.signal_owned(cx.driver, pid, Signal::SIGKILL)
    }

    fn usage(&self, cx: &CallContext<'_>, pid: u32) -> Result<TaskUsage, String> {
        {
            let mut table = self.table();
            let e = Self::owned(&mut table, cx.driver, pid)?;
            Self::poll_exit(pid, e)?;
        }
        Ok(tree_usage(pid, &scan_procs(&self.scan)))
    }

    fn is_alive(&self, cx: &CallContext<'_>, pid: u32, started_at: u64) -> bool {
        {
            let mut table = self.table();
            match table.get_mut(&pid) {
                Some(e) if e.owner != cx.driver => return false,
                Some(e) => return matches!(Self::poll_exit(pid, e), Ok(None)),
                None => {}
            }
        }
        // Not in the table: a task from before a client restart. Adopt it
        // if it is a live group leader started when the driver says, or if
        // it ended and its record holds (or is about to hold) its end.
        if pid <= 1 {
            return false;
        }
        let record = self.records.as_ref().and_then(|r| r.find(pid, started_at));
        let running = proc_stat(pid).filter(|stat| {
            stat.state != 'Z'
                && stat.state != 'X'
                && stat.pgrp == pid
                && start_unix_nanos(stat.start_ticks)
                    .is_some_and(|start| start.abs_diff(started_at) <= START_TOLERANCE_NS)
        });
        let start_ticks = match (running, &record) {
            (Some(stat), _) => Some(stat.start_ticks),
            (None, Some(r)) if r.state() != RecordState::Lost => None,
            _ => return false,
        };
        tracing::info!(
            driver = cx.driver,
            pid,
            running = start_ticks.is_some(),
            exit_recorded = record.is_some(),
            "adopted a process after recovery"
        );
        self.insert(
            pid,
            Entry {
                owner: cx.driver.to_string(),
                supervisor: None,
                record,
                start_ticks,
                exit: None,
            },
        );
        true
    }

    fn running(&self, cx: &CallContext<'_>, pid: u32) -> Option<bool> {
        let mut table = self.table();
        let e = Self::owned(&mut table, cx.driver, pid).ok()?;
        match Self::poll_exit(pid, e) {
            Ok(None) => Some(true),
            Ok(Some(_)) => Some(false),
            Err(_) => None,
        }
    }

    fn run(
        &self,
        cx: &CallContext<'_>,
        spec: SpawnSpec,
        timeout_ms: u32,
    ) -> Result<ExecOutput, String> {
        let timeout = Duration::from_millis(u64::from(timeout_ms)).min(MAX_RUN);
        let mut cmd = command(&spec)?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| {
            format!(
                "running {:?}: {e}",
                spec.argv.first().map_or("", |s| s.as_str())
            )
        })?;
        let pid = child.id();
        tracing::debug!(
            driver = cx.driver,
            trace_id = cx.trace_id.unwrap_or(""),
            pid,
            "running command"
        );
        let out = child.stdout.take().map(capture);
        let err = child.stderr.take().map(capture);
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(1);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(e) => return Err(format!("waiting for pid {pid}: {e}")),
            }
            let now = Instant::now();
            if now >= deadline {
                // Timed out: kill the group, then reap.
                let _ = send_group(pid, Signal::SIGKILL);
                break child
                    .wait()
                    .map_err(|e| format!("waiting for pid {pid}: {e}"))?;
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(20));
        };
        // Whatever the command left behind in its group would hold the pipes
        // open: a command run to completion takes its group with it.
        let _ = send_group(pid, Signal::SIGKILL);
        let stdout = out.map(join_capture).unwrap_or_default();
        let stderr = err.map(join_capture).unwrap_or_default();
        Ok(ExecOutput {
            stdout,
            stderr,
            exit: exit_result(status),
        })
    }
}

/// The command a spec describes, without its standard streams.
fn command(spec: &SpawnSpec) -> Result<Command, String> {
    let Some(argv0) = spec.argv.first() else {
        return Err("argv is empty".to_string());
    };
    let cwd = Path::new(&spec.cwd);
    if !spec.cwd.is_empty() && !cwd.is_dir() {
        return Err(format!("working directory {} does not exist", spec.cwd));
    }
    let program = resolve_program(argv0, &spec.env, cwd)?;
    let mut cmd = Command::new(&program);
    cmd.arg0(argv0)
        .args(&spec.argv[1..])
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .process_group(0);
    if !spec.cwd.is_empty() {
        cmd.current_dir(cwd);
    }
    if let Some(name) = spec.user.as_deref().filter(|u| !u.is_empty()) {
        let user = User::from_name(name)
            .map_err(|e| format!("looking up user {name}: {e}"))?
            .ok_or_else(|| format!("no such user {name}"))?;
        let me = geteuid();
        if user.uid != me {
            if !me.is_root() {
                return Err(format!(
                    "cannot run as user {name}: switching users needs root, and the client runs as uid {me}"
                ));
            }
            // std drops supplementary groups when root switches uid.
            cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        }
    }
    Ok(cmd)
}

/// What the supervisor needs to start a spec's task, checked and prepared
/// before the fork (the children may not allocate).
fn plan(spec: &SpawnSpec) -> Result<supervisor::Plan, String> {
    let Some(argv0) = spec.argv.first() else {
        return Err("argv is empty".to_string());
    };
    let cwd = Path::new(&spec.cwd);
    if !spec.cwd.is_empty() && !cwd.is_dir() {
        return Err(format!("working directory {} does not exist", spec.cwd));
    }
    let program = resolve_program(argv0, &spec.env, cwd)?;
    let mut steps = Steps::default();
    let exec_step = steps.add(format!("execute {}", program.display()));
    let program =
        Program::at_path(&program, &spec.argv, &spec.env, exec_step).map_err(|e| e.to_string())?;
    let cwd = if spec.cwd.is_empty() {
        None
    } else {
        Some(
            CString::new(spec.cwd.as_str())
                .map_err(|_| format!("working directory {:?} contains a NUL byte", spec.cwd))?,
        )
    };
    let creds = match spec.user.as_deref().filter(|u| !u.is_empty()) {
        None => None,
        Some(name) => {
            let user = User::from_name(name)
                .map_err(|e| format!("looking up user {name}: {e}"))?
                .ok_or_else(|| format!("no such user {name}"))?;
            let me = geteuid();
            if user.uid == me {
                None
            } else if !me.is_root() {
                return Err(format!(
                    "cannot run as user {name}: switching users needs root, and the client runs as uid {me}"
                ));
            } else {
                Some(Credentials {
                    name: name.to_string(),
                    uid: user.uid.as_raw(),
                    gid: user.gid.as_raw(),
                    // The user's primary group only, as before.
                    groups: vec![user.gid.as_raw()],
                })
            }
        }
    };
    Ok(supervisor::Plan {
        program,
        cwd,
        stdout: append_file(&spec.stdout_path)?,
        stderr: append_file(&spec.stderr_path)?,
        creds,
        steps,
    })
}

/// Resolves `argv0` the way a shell would, with the spec's PATH: a name with
/// a slash is taken as a path (relative to `cwd`), any other is looked up in
/// PATH.
pub fn resolve_program(
    argv0: &str,
    env: &[(String, String)],
    cwd: &Path,
) -> Result<PathBuf, String> {
    if argv0.is_empty() {
        return Err("argv[0] is empty".to_string());
    }
    if argv0.contains('/') {
        let p = Path::new(argv0);
        return Ok(if p.is_absolute() {
            p.to_path_buf()
        } else {
            cwd.join(p)
        });
    }
    let path = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map_or(DEFAULT_PATH, |(_, v)| v.as_str());
    for dir in path.split(':') {
        let dir = if dir.is_empty() {
            Path::new(".")
        } else {
            Path::new(dir)
        };
        let dir = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            cwd.join(dir)
        };
        let candidate = dir.join(argv0);
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    Err(format!("{argv0}: not found in PATH {path}"))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A file opened for appending (created if missing); `None` (/dev/null)
/// for an empty path.
fn append_file(path: &str) -> Result<Option<File>, String> {
    if path.is_empty() {
        return Ok(None);
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(Some)
        .map_err(|e| format!("opening {path}: {e}"))
}

/// Parses a signal name: `SIGTERM`, `TERM`, `sigterm` or a number.
pub fn parse_signal(name: &str) -> Result<Signal, String> {
    let s = name.trim();
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| format!("unknown signal {name:?}"));
    }
    let upper = s.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    full.parse::<Signal>()
        .map_err(|_| format!("unknown signal {name:?}"))
}

/// Signals a process group; a group that is gone is not an error.
fn send_group(pgid: u32, sig: Signal) -> Result<(), String> {
    let Ok(raw) = i32::try_from(pgid) else {
        return Err(format!("pid {pgid} is out of range"));
    };
    if raw <= 1 {
        return Err(format!("refusing to signal process group {pgid}"));
    }
    match killpg(Pid::from_raw(raw), sig) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(e) => Err(format!("sending {sig} to process group {pgid}: {e}")),
    }
}

/// The exit result of a status.
fn exit_result(status: ExitStatus) -> ExitResult {
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitResult {
            exit_code: code,
            signal: 0,
            oom_killed: false,
        },
        (None, Some(sig)) => ExitResult {
            exit_code: 128 + sig,
            signal: sig,
            oom_killed: false,
        },
        (None, None) => ExitResult {
            exit_code: UNKNOWN_EXIT_CODE,
            signal: 0,
            oom_killed: false,
        },
    }
}

/// The exit result of how a supervisor saw its task end.
fn ended_result(ended: Ended) -> ExitResult {
    match ended {
        Ended::Exited(code) => ExitResult {
            exit_code: code,
            signal: 0,
            oom_killed: false,
        },
        Ended::Signaled(sig) => ExitResult {
            exit_code: 128 + sig,
            signal: sig,
            oom_killed: false,
        },
    }
}

/// Checks a task no supervisor of ours reaps (recovered, or its
/// supervisor was killed): running while `/proc` shows it, then its record
/// says how it ended.
fn poll_orphan(pid: u32, e: &Entry) -> Result<Option<ExitResult>, String> {
    // Without a start time the pid cannot be told from a later process's.
    let running = e.start_ticks.is_some()
        && proc_stat(pid).is_some_and(|s| {
            s.state != 'Z' && s.state != 'X' && Some(s.start_ticks) == e.start_ticks
        });
    if running {
        return Ok(None);
    }
    Ok(match e.record.as_ref().map(Record::state) {
        Some(RecordState::Ended(ended)) => Some(ended_result(ended)),
        Some(RecordState::Pending) => None,
        Some(RecordState::Lost) | None => Some(ExitResult {
            exit_code: UNKNOWN_EXIT_CODE,
            signal: 0,
            oom_killed: false,
        }),
    })
}

/// The fields of `/proc/<pid>/stat` the capability uses.
#[derive(Debug, Clone, Copy)]
struct ProcStat {
    state: char,
    ppid: u32,
    pgrp: u32,
    /// utime + stime + cutime + cstime, in clock ticks.
    cpu_ticks: u64,
    start_ticks: u64,
    rss_pages: u64,
}

fn proc_stat(pid: u32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Parses one `/proc/<pid>/stat` line (the command name may hold spaces and
/// parentheses, so fields are counted from the last `)`).
fn parse_stat(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok());
    let signed = |i: usize| {
        f.get(i)
            .and_then(|s| s.parse::<i64>().ok())
            .map(|v| v.max(0) as u64)
    };
    Some(ProcStat {
        state: f.first()?.chars().next()?,
        ppid: u32::try_from(num(1)?).ok()?,
        pgrp: u32::try_from(num(2)?).ok()?,
        cpu_ticks: num(11)? + num(12)? + signed(13)? + signed(14)?,
        start_ticks: num(19)?,
        rss_pages: signed(21)?,
    })
}

fn clock_ticks_per_second() -> u64 {
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t as u64,
        _ => 100,
    }
}

fn page_size() -> u64 {
    match sysconf(SysconfVar::PAGE_SIZE) {
        Ok(Some(p)) if p > 0 => p as u64,
        _ => 4096,
    }
}

/// Boot time in unix seconds, from `/proc/stat`.
fn boot_time() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// A start time in clock ticks since boot as unix nanoseconds.
fn start_unix_nanos(start_ticks: u64) -> Option<u64> {
    let hz = clock_ticks_per_second();
    let since_boot_ns = u128::from(start_ticks) * 1_000_000_000 / u128::from(hz);
    let ns = u128::from(boot_time()?) * 1_000_000_000 + since_boot_ns;
    u64::try_from(ns).ok()
}

/// How long one scan of `/proc` serves usage questions: the stats of
/// every task come from the same scan instead of one scan per task (each
/// reads the stat file of every process on the machine).
const SCAN_TTL: Duration = Duration::from_secs(1);

/// The last scan of `/proc` and when it was made.
type Scan = (Instant, Arc<HashMap<u32, ProcStat>>);

/// Every process's stat, from a scan at most [`SCAN_TTL`] old.
fn scan_procs(cache: &Mutex<Option<Scan>>) -> Arc<HashMap<u32, ProcStat>> {
    let mut cached = cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((at, procs)) = cached.as_ref()
        && at.elapsed() < SCAN_TTL
    {
        return Arc::clone(procs);
    }
    let mut procs: HashMap<u32, ProcStat> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for ent in dir.flatten() {
            let Some(pid) = ent.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(s) = proc_stat(pid) {
                procs.insert(pid, s);
            }
        }
    }
    let procs = Arc::new(procs);
    *cached = Some((Instant::now(), Arc::clone(&procs)));
    procs
}

/// Usage summed over `root`'s process group and its descendants, in `procs`.
fn tree_usage(root: u32, procs: &HashMap<u32, ProcStat>) -> TaskUsage {
    let mut members: HashSet<u32> = HashSet::new();
    for (&pid, s) in procs {
        if s.state == 'Z' || s.state == 'X' {
            continue;
        }
        // In the group, or a descendant of the root.
        let mut cur = pid;
        let mut hops = 0;
        let inside = loop {
            if cur == root || procs.get(&cur).is_some_and(|p| p.pgrp == root) {
                break true;
            }
            match procs.get(&cur) {
                Some(p) if p.ppid > 1 && hops < 64 => {
                    cur = p.ppid;
                    hops += 1;
                }
                _ => break false,
            }
        };
        if inside {
            members.insert(pid);
        }
    }
    let hz = clock_ticks_per_second();
    let page = page_size();
    let (mut ticks, mut pages) = (0u64, 0u64);
    for pid in &members {
        if let Some(s) = procs.get(pid) {
            ticks = ticks.saturating_add(s.cpu_ticks);
            pages = pages.saturating_add(s.rss_pages);
        }
    }
    TaskUsage {
        timestamp: unix_nanos(SystemTime::now()),
        cpu_total_ns: u64::try_from(u128::from(ticks) * 1_000_000_000 / u128::from(hz))
            .unwrap_or(u64::MAX),
        memory_rss: pages.saturating_mul(page),
        memory_usage: 0,
        pids: u32::try_from(members.len()).unwrap_or(u32::MAX),
    }
}

/// Reads a pipe to its end on a thread, keeping at most [`MAX_RUN_OUTPUT`].
fn capture<R: Read + Send + 'static>(mut r: R) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = MAX_RUN_OUTPUT.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        kept
    })
}

fn join_capture(h: std::thread::JoinHandle<Vec<u8>>) -> Vec<u8> {
    h.join().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> CallContext<'static> {
        static CONFIG: serde_json::Value = serde_json::Value::Null;
        CallContext {
            driver: "test",
            call: "start-task",
            trace_id: None,
            config: &CONFIG,
        }
    }

    fn spec(argv: &[&str], dir: &Path) -> SpawnSpec {
        SpawnSpec {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            env: vec![
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("GREETING".into(), "hi".into()),
            ],
            cwd: dir.display().to_string(),
            user: None,
            stdout_path: dir.join("out").display().to_string(),
            stderr_path: dir.join("err").display().to_string(),
        }
    }

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sched-process-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn parses_stat_with_odd_command_names() {
        let line = "1234 (a (b) c) S 1 1234 1234 0 -1 4194304 100 0 0 0 7 3 0 0 20 0 1 0 5555 1000000 250 18446744073709551615";
        let s = parse_stat(line).unwrap();
        assert_eq!(
            (
                s.state,
                s.ppid,
                s.pgrp,
                s.cpu_ticks,
                s.start_ticks,
                s.rss_pages
            ),
            ('S', 1, 1234, 10, 5555, 250)
        );
    }

    #[test]
    fn signals_parse_in_every_spelling() {
        for s in ["SIGTERM", "TERM", "sigterm", "15"] {
            assert_eq!(parse_signal(s), Ok(Signal::SIGTERM));
        }
        assert!(parse_signal("SIGNOPE").is_err());
    }

    #[test]
    fn resolves_programs_with_the_specs_path() {
        let env = vec![("PATH".to_string(), "/nonexistent:/bin".to_string())];
        assert_eq!(
            resolve_program("sh", &env, Path::new("/")).unwrap(),
            PathBuf::from("/bin/sh")
        );
        assert!(resolve_program("no-such-program-here", &env, Path::new("/")).is_err());
        assert_eq!(
            resolve_program("./x", &env, Path::new("/tmp")).unwrap(),
            PathBuf::from("/tmp/./x")
        );
    }

    #[test]
    fn spawn_wait_and_output_with_a_clean_environment() {
        let d = tmpdir("spawn");
        let p = HostProcesses::new();
        let pid = p
            .spawn(
                &cx(),
                spec(
                    &["sh", "-c", "echo $GREETING $HOME; echo oops >&2; exit 3"],
                    &d,
                ),
            )
            .unwrap();
        let mut exit = None;
        for _ in 0..20 {
            exit = p.wait(&cx(), pid, 1000).unwrap();
            if exit.is_some() {
                break;
            }
        }
        assert_eq!(exit.unwrap().exit_code, 3);
        assert_eq!(std::fs::read_to_string(d.join("out")).unwrap(), "hi\n");
        assert_eq!(std::fs::read_to_string(d.join("err")).unwrap(), "oops\n");
        // The same answer again.
        assert_eq!(p.wait(&cx(), pid, 0).unwrap().unwrap().exit_code, 3);
    }

    #[test]
    fn signal_reaches_the_group_and_other_drivers_are_refused() {
        let d = tmpdir("signal");
        let p = HostProcesses::new();
        let pid = p.spawn(&cx(), spec(&["sleep", "30"], &d)).unwrap();
        assert!(p.wait(&cx(), pid, 10).unwrap().is_none());
        assert!(p.usage(&cx(), pid).unwrap().pids >= 1);
        let other = CallContext {
            driver: "other",
            ..cx()
        };
        assert!(p.signal(&other, pid, "SIGTERM").is_err());
        assert!(!p.is_alive(&other, pid, 0));
        p.signal(&cx(), pid, "SIGTERM").unwrap();
        let exit = p.wait(&cx(), pid, 1000).unwrap().unwrap();
        assert_eq!(exit.signal, 15);
        // Signalling an exited task is not an error.
        p.kill_tree(&cx(), pid).unwrap();
    }

    #[test]
    fn run_captures_output_and_kills_on_timeout() {
        let d = tmpdir("run");
        let p = HostProcesses::new();
        let out = p
            .run(
                &cx(),
                spec(&["sh", "-c", "echo out; echo err >&2"], &d),
                5000,
            )
            .unwrap();
        assert_eq!(
            (
                out.stdout.as_slice(),
                out.stderr.as_slice(),
                out.exit.exit_code
            ),
            (&b"out\n"[..], &b"err\n"[..], 0)
        );
        let t = Instant::now();
        let out = p.run(&cx(), spec(&["sleep", "30"], &d), 100).unwrap();
        assert_eq!(out.exit.signal, 9);
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_recovered_process_is_adopted_by_its_start_time() {
        let d = tmpdir("adopt");
        let first = HostProcesses::new();
        let pid = first.spawn(&cx(), spec(&["sleep", "30"], &d)).unwrap();
        let started = unix_nanos(SystemTime::now());
        // A new table, as after a client restart.
        let second = HostProcesses::new();
        assert!(!second.is_alive(&cx(), pid, started - 3_600_000_000_000));
        assert!(second.is_alive(&cx(), pid, started));
        second.kill_tree(&cx(), pid).unwrap();
        let exit = second.wait(&cx(), pid, 1000).unwrap().unwrap();
        // Still our child in this test process, so the status is known.
        assert_eq!(exit.signal, 9);
        assert!(!second.is_alive(&cx(), pid, started));
        drop(first);
    }

    fn wait_long(p: &HostProcesses, pid: u32) -> ExitResult {
        for _ in 0..30 {
            if let Some(exit) = p.wait(&cx(), pid, 1000).unwrap() {
                return exit;
            }
        }
        panic!("pid {pid} did not end within 30s");
    }

    #[test]
    fn the_task_runs_under_a_supervisor_with_its_own_pid_and_group() {
        let d = tmpdir("supervised");
        let p = HostProcesses::with_record_dir(&d.join("records"));
        let pid = p.spawn(&cx(), spec(&["sleep", "30"], &d)).unwrap();
        let stat = proc_stat(pid).unwrap();
        // The pid handed out is the program's, leading its own group; its
        // parent is the supervisor, in a session of its own.
        assert_eq!(stat.pgrp, pid);
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
        assert_eq!(comm.trim(), "sleep");
        let sup = proc_stat(stat.ppid).unwrap();
        assert_ne!(stat.ppid, std::process::id());
        assert_eq!(sup.ppid, std::process::id());
        assert_eq!(sup.pgrp, stat.ppid, "the supervisor leads its own session");
        let comm = std::fs::read_to_string(format!("/proc/{}/comm", stat.ppid)).unwrap();
        assert_eq!(comm.trim(), "sched-supervise");
        // A signal to the task's group ends the task, not the supervisor,
        // which records how it ended.
        p.signal(&cx(), pid, "SIGTERM").unwrap();
        let exit = wait_long(&p, pid);
        assert_eq!((exit.exit_code, exit.signal), (128 + 15, 15));
        // Taken: the record is gone.
        let left = std::fs::read_dir(d.join("records")).unwrap().count();
        assert_eq!(left, 0);
    }

    #[test]
    fn a_program_that_cannot_be_executed_fails_naming_the_step() {
        let d = tmpdir("noexec");
        let prog = d.join("not-a-program");
        std::fs::write(&prog, b"\x7fELF garbage").unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = HostProcesses::with_record_dir(&d.join("records"));
        let err = p
            .spawn(&cx(), spec(&[prog.to_str().unwrap()], &d))
            .unwrap_err();
        assert!(
            err.contains("execute") && err.contains("not-a-program"),
            "{err}"
        );
        assert!(err.contains("Exec format error"), "{err}");
        assert_eq!(std::fs::read_dir(d.join("records")).unwrap().count(), 0);
    }

    #[test]
    fn an_exit_while_no_client_runs_is_read_from_the_record() {
        let d = tmpdir("recorded");
        let records = d.join("records");
        let first = HostProcesses::with_record_dir(&records);
        let script = "while [ ! -e go ]; do sleep 0.02; done; exit 3";
        let started = unix_nanos(SystemTime::now());
        let ends_later = first.spawn(&cx(), spec(&["sh", "-c", script], &d)).unwrap();
        let quick = first
            .spawn(&cx(), spec(&["sh", "-c", "exit 4"], &d))
            .unwrap();
        // The client goes away: its table (and its descriptors) with it.
        drop(first);
        let second = HostProcesses::with_record_dir(&records);
        // Ended already: adopted on its record, which holds its end (or is
        // about to), like a zombie until waited for.
        assert!(second.is_alive(&cx(), quick, started));
        assert_eq!(wait_long(&second, quick).exit_code, 4);
        assert!(!second.is_alive(&cx(), quick, started));
        // Still running: adopted, and its end is read once it exits.
        assert!(second.is_alive(&cx(), ends_later, started));
        assert!(second.wait(&cx(), ends_later, 10).unwrap().is_none());
        std::fs::write(d.join("go"), b"").unwrap();
        assert_eq!(wait_long(&second, ends_later).exit_code, 3);
        // A pid with no record and no process is not adopted.
        let third = HostProcesses::with_record_dir(&records);
        assert!(!third.is_alive(&cx(), quick, started));
    }

    #[test]
    fn without_a_record_the_exit_is_unknown() {
        let d = tmpdir("lost");
        let first = HostProcesses::with_record_dir(&d.join("records"));
        let started = unix_nanos(SystemTime::now());
        let pid = first.spawn(&cx(), spec(&["sleep", "30"], &d)).unwrap();
        drop(first);
        // Another record directory: as if the record were lost.
        let second = HostProcesses::with_record_dir(&d.join("elsewhere"));
        assert!(second.is_alive(&cx(), pid, started));
        second.kill_tree(&cx(), pid).unwrap();
        assert_eq!(wait_long(&second, pid).exit_code, UNKNOWN_EXIT_CODE);
    }

    #[test]
    fn switching_users_without_root_is_refused_clearly() {
        if geteuid().is_root() {
            return;
        }
        let d = tmpdir("user");
        let mut s = spec(&["true"], &d);
        s.user = Some("root".into());
        let err = HostProcesses::new().spawn(&cx(), s).unwrap_err();
        assert!(err.contains("needs root"), "{err}");
    }
}

//! The processes a sandbox is made of, and the code that runs in them
//! between `clone` and `execve`.
//!
//! # Shape of a sandbox
//!
//! ```text
//! client ── clone(NEWPID|NEWNS|NEWUTS|NEWIPC[|NEWNET]) ──▶ init (pid 1 inside)
//!                                                          └─ fork ──▶ task (pid 2 inside, execs argv)
//! ```
//!
//! The pid the host API hands out is the init's (as the host sees it). The
//! init joins the task's cgroups first (so nothing it starts escapes them),
//! sets the hostname, builds the root ([`super::mounts`]) with a fresh
//! /proc for the new pid namespace, pivots into it, blocks every signal and
//! forks the task. Then it loops on `sigwait`: it reaps every zombie
//! re-parented to it, forwards every other signal to the task, and when the
//! task is reaped it writes the task's wait status into a pipe the host reads
//! and exits. Its exit makes the kernel kill whatever the task left in the
//! namespace. `ps` inside shows the init (pid 1, a copy of the client that
//! never `exec`s, named `sched-init`) and the task's processes, nothing else.
//!
//! Why not let the task be pid 1: a namespace's init ignores every signal it
//! has no handler for, so `SIGTERM` would not stop a plain program, and a
//! task that does not reap would pile up zombies. Why not `unshare` plus a
//! fork inside `Command::pre_exec`: the process `Command` execs would stay
//! outside the new pid namespace, and the pid handed back would not be the
//! sandbox's.
//!
//! The init asks for an `oom_score_adj` of -1000 (where the kernel allows
//! it) so that the OOM killer picks the task, and the task gets the
//! client's value back. Its cost: it is a copy-on-write image of the client
//! that never execs, so its page tables are a copy of the client's. A
//! small dedicated init binary would avoid that; the client has none yet.
//!
//! Killing: when the init dies the kernel kills every process of its pid
//! namespace, which nothing inside can leave; `kill_tree` then SIGKILLs
//! whatever the cgroup still lists (exec helpers) before removing it.
//!
//! # Rules for code in here
//!
//! The client is multi-threaded. A child of it may only make
//! async-signal-safe calls until `execve`: no allocation, no locks, no
//! logging. Everything (paths, argv, environment, pointer arrays, step
//! descriptions) is prepared by the host before the clone; the child works on
//! borrowed, pre-built data and reports a failure as two integers (the
//! index of the step that failed and the errno) on a close-on-exec pipe,
//! which the host turns into a message. Children are created with the raw
//! `clone` system call, never glibc's `fork`, so no `atfork` handler (which
//! take malloc's locks) runs in a copy of a multi-threaded process.

use std::ffi::{CString, c_char};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sched::CloneFlags;
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, chdir, setsid, write};

use super::capabilities::CapabilitySet;
use super::error::IsolationError;
use super::user::Credentials;

/// A failed step in a child: the step's index and the kernel's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failure {
    pub step: u32,
    pub errno: Errno,
}

/// Turns a `nix::Result` into a step result.
pub(crate) trait AtStep<T> {
    /// Tags an error with the step it happened in.
    fn at(self, step: u32) -> Result<T, Failure>;
}

impl<T> AtStep<T> for nix::Result<T> {
    fn at(self, step: u32) -> Result<T, Failure> {
        self.map_err(|errno| Failure { step, errno })
    }
}

/// Descriptions of the steps a child takes, by index; kept on the host.
#[derive(Debug, Default)]
pub(crate) struct Steps(pub(crate) Vec<String>);

impl Steps {
    /// Registers a step and returns its index.
    pub fn add(&mut self, description: impl Into<String>) -> u32 {
        self.0.push(description.into());
        u32::try_from(self.0.len() - 1).unwrap_or(u32::MAX)
    }

    /// The error for a failure a child reported.
    pub fn error(&self, failure: Failure) -> IsolationError {
        let step = self
            .0
            .get(failure.step as usize)
            .cloned()
            .unwrap_or_else(|| format!("sandbox setup step {}", failure.step));
        IsolationError::Setup {
            step,
            errno: failure.errno,
        }
    }
}

/// Writes a failure on the error pipe (child side; async-signal-safe).
pub(crate) fn report(fd: RawFd, failure: Failure) {
    let mut buf = [0u8; 8];
    buf[..4].copy_from_slice(&failure.step.to_le_bytes());
    buf[4..].copy_from_slice(&(failure.errno as i32).to_le_bytes());
    let _ = write_fd(fd, &buf);
}

/// Reads the error pipe to its end (host side): `None` when every child
/// closed it without a word, i.e. the program was exec'd.
pub(crate) fn read_report(pipe: &mut File) -> std::io::Result<Option<Failure>> {
    let mut buf = Vec::with_capacity(8);
    pipe.read_to_end(&mut buf)?;
    if buf.len() < 8 {
        return Ok(None);
    }
    let step = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let errno = i32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    Ok(Some(Failure {
        step,
        errno: Errno::from_raw(errno),
    }))
}

/// How the task ended, as the init (or the exec helper) saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// Exited with a code.
    Exited(i32),
    /// Killed by a signal.
    Signaled(i32),
}

impl Ended {
    pub(crate) fn encode(self) -> [u8; 8] {
        let (kind, value) = match self {
            Self::Exited(code) => (0u32, code),
            Self::Signaled(sig) => (1u32, sig),
        };
        let mut buf = [0u8; 8];
        buf[..4].copy_from_slice(&kind.to_le_bytes());
        buf[4..].copy_from_slice(&value.to_le_bytes());
        buf
    }

    /// Decodes what a child wrote on a status pipe.
    pub fn decode(buf: &[u8]) -> Option<Self> {
        let kind = u32::from_le_bytes(buf.get(..4)?.try_into().ok()?);
        let value = i32::from_le_bytes(buf.get(4..8)?.try_into().ok()?);
        match kind {
            0 => Some(Self::Exited(value)),
            1 => Some(Self::Signaled(value)),
            _ => None,
        }
    }

    /// From a wait status, if the process ended.
    pub fn from_wait(status: WaitStatus) -> Option<Self> {
        match status {
            WaitStatus::Exited(_, code) => Some(Self::Exited(code)),
            WaitStatus::Signaled(_, sig, _) => Some(Self::Signaled(sig as i32)),
            _ => None,
        }
    }
}

/// `write(2)` to a descriptor the calling child holds (by number: the
/// child works on the host's pre-opened descriptors). Async-signal-safe.
#[allow(unsafe_code)]
pub(crate) fn write_fd(fd: RawFd, buf: &[u8]) -> Result<usize, Errno> {
    // SAFETY: write(2) reads `buf.len()` bytes from a live slice; a bad
    // descriptor number is reported as EBADF, nothing else is touched.
    let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    Errno::result(n).map(|n| n.unsigned_abs())
}

/// `clone(2)` with fork semantics (no new stack: the child continues here on
/// a copy of this one) plus `flags`; `None` in the child.
#[allow(unsafe_code)]
pub(crate) fn raw_fork(flags: CloneFlags) -> Result<Option<Pid>, Errno> {
    let flags = flags.bits() as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
    // SAFETY: the raw system call with a null stack behaves like fork(2):
    // the child gets a copy of this address space and continues on its copy
    // of this stack. Callers make only async-signal-safe calls in the child
    // until they exec or `_exit`.
    let rc = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    match rc {
        -1 => Err(Errno::last()),
        0 => Ok(None),
        pid => Ok(Some(Pid::from_raw(pid as libc::pid_t))),
    }
}

/// Makes `new` a copy of `old` (without close-on-exec).
#[allow(unsafe_code)]
pub(crate) fn dup_onto(old: RawFd, new: RawFd) -> Result<(), Errno> {
    // SAFETY: dup2/fcntl on integers; no memory involved.
    let rc = unsafe {
        if old == new {
            // dup2 would keep close-on-exec; clear it instead.
            libc::fcntl(old, libc::F_SETFD, 0)
        } else {
            libc::dup2(old, new)
        }
    };
    Errno::result(rc).map(drop)
}

/// Closes every descriptor from 3 up except those in `keep` (at most four;
/// negative numbers are ignored). Async-signal-safe: sorts on the stack.
#[allow(unsafe_code)]
pub(crate) fn close_all_but(keep: &[RawFd]) {
    let mut kept = [libc::c_uint::MAX; 4];
    let mut n = 0;
    for &fd in keep.iter().take(4) {
        if fd >= 3 {
            kept[n] = fd as libc::c_uint;
            n += 1;
        }
    }
    kept[..n].sort_unstable();
    let mut from: libc::c_uint = 3;
    for &fd in &kept[..n] {
        if fd > from {
            // SAFETY: close_range on integers; only descriptors this process
            // owns are affected, and nothing in this (single-threaded) child
            // uses them.
            unsafe { libc::close_range(from, fd - 1, 0) };
        }
        from = from.max(fd.saturating_add(1));
    }
    // SAFETY: as above.
    unsafe { libc::close_range(from, libc::c_uint::MAX, 0) };
}

/// Marks every descriptor from 3 up close-on-exec, so that the program
/// gets stdin, stdout and stderr only, whatever the client left without
/// the flag (the error pipe must stay usable until `execve`). Kernels
/// before 5.11 lack the flag; there only std's own close-on-exec holds.
#[allow(unsafe_code)]
pub(crate) fn cloexec_above_stdio() {
    // SAFETY: close_range on integers with CLOSE_RANGE_CLOEXEC only sets a
    // flag on this process's own descriptors.
    unsafe {
        libc::close_range(
            3,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_int,
        );
    }
}

/// Puts every catchable signal back to its default action (the client's
/// handlers are meaningless here and SIGPIPE is ignored by Rust programs).
#[allow(unsafe_code)]
pub(crate) fn reset_signal_handlers() {
    for sig in Signal::iterator() {
        if matches!(sig, Signal::SIGKILL | Signal::SIGSTOP) {
            continue;
        }
        // SAFETY: installing SIG_DFL runs no Rust code in a handler.
        let _ = unsafe { nix::sys::signal::signal(sig, SigHandler::SigDfl) };
    }
}

/// Sets the process name shown by `ps` (comm) to `name`.
#[allow(unsafe_code)]
pub(crate) fn set_name(name: &std::ffi::CStr) {
    // SAFETY: PR_SET_NAME reads at most 16 bytes of a NUL-terminated string.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, name.as_ptr(), 0, 0, 0);
    }
}

/// Dies with the parent (exec helper's command).
#[allow(unsafe_code)]
fn die_with_parent() -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments only.
    Errno::result(unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    })
    .map(drop)
}

/// `execve` with pre-built NULL-terminated pointer arrays.
#[allow(unsafe_code)]
fn execve(path: &CString, argv: &[*const c_char], envp: &[*const c_char]) -> Errno {
    // SAFETY: `argv` and `envp` are NULL-terminated arrays of pointers into
    // CStrings owned by the same `Program`, alive for the whole call.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    Errno::last()
}

/// A program to `execve`, fully prepared.
#[derive(Debug)]
pub(crate) struct Program {
    /// Paths to try, in order (argv[0] itself, or argv[0] in each PATH dir).
    candidates: Vec<CString>,
    _argv: Vec<CString>,
    _env: Vec<CString>,
    argv_ptrs: Vec<*const c_char>,
    env_ptrs: Vec<*const c_char>,
    step: u32,
}

/// The PATH used when the environment has none (as execvp's default).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn cstring(what: &str, s: &str) -> Result<CString, IsolationError> {
    CString::new(s)
        .map_err(|_| IsolationError::InvalidSpec(format!("{what} {s:?} contains a NUL byte")))
}

impl Program {
    /// Prepares `argv` with `env`; a relative argv[0] is looked up in
    /// `env`'s PATH inside the sandbox, as `execvp` would.
    pub fn new(
        argv: &[String],
        env: &[(String, String)],
        steps: &mut Steps,
    ) -> Result<Self, IsolationError> {
        let Some(argv0) = argv.first().filter(|a| !a.is_empty()) else {
            return Err(IsolationError::InvalidSpec("argv is empty".into()));
        };
        let candidates = if argv0.contains('/') {
            vec![cstring("program", argv0)?]
        } else {
            let path = env
                .iter()
                .rev()
                .find(|(k, _)| k == "PATH")
                .map_or(DEFAULT_PATH, |(_, v)| v.as_str());
            path.split(':')
                .map(|dir| if dir.is_empty() { "." } else { dir })
                .map(|dir| cstring("program", &format!("{}/{argv0}", dir.trim_end_matches('/'))))
                .collect::<Result<Vec<_>, _>>()?
        };
        let step = steps.add(format!("execute {argv0:?} in the sandbox"));
        Self::with_candidates(candidates, argv, env, step)
    }

    /// Prepares `argv` with `env` to run the program at `path` (already
    /// looked up by the caller), failing as `step`.
    pub fn at_path(
        path: &std::path::Path,
        argv: &[String],
        env: &[(String, String)],
        step: u32,
    ) -> Result<Self, IsolationError> {
        let candidate = cstring("program", &path.to_string_lossy())?;
        Self::with_candidates(vec![candidate], argv, env, step)
    }

    fn with_candidates(
        candidates: Vec<CString>,
        argv: &[String],
        env: &[(String, String)],
        step: u32,
    ) -> Result<Self, IsolationError> {
        if argv.first().is_none_or(|a| a.is_empty()) {
            return Err(IsolationError::InvalidSpec("argv is empty".into()));
        }
        let c_argv = argv
            .iter()
            .map(|a| cstring("argument", a))
            .collect::<Result<Vec<_>, _>>()?;
        let mut c_env = Vec::with_capacity(env.len());
        for (key, value) in env {
            if key.is_empty() || key.contains('=') {
                return Err(IsolationError::InvalidSpec(format!(
                    "environment variable name {key:?} is invalid"
                )));
            }
            c_env.push(cstring("environment variable", &format!("{key}={value}"))?);
        }
        let argv_ptrs = c_argv
            .iter()
            .map(|a| a.as_ptr())
            .chain([std::ptr::null()])
            .collect();
        let env_ptrs = c_env
            .iter()
            .map(|a| a.as_ptr())
            .chain([std::ptr::null()])
            .collect();
        Ok(Self {
            candidates,
            _argv: c_argv,
            _env: c_env,
            argv_ptrs,
            env_ptrs,
            step,
        })
    }

    /// Tries every candidate; returns only on failure (async-signal-safe).
    pub(crate) fn exec(&self) -> Failure {
        let mut errno = Errno::ENOENT;
        for path in &self.candidates {
            let e = execve(path, &self.argv_ptrs, &self.env_ptrs);
            match e {
                // Keep looking, as execvp does; remember a permission error.
                Errno::ENOENT | Errno::ENOTDIR => {}
                Errno::EACCES => errno = e,
                _ => {
                    return Failure {
                        step: self.step,
                        errno: e,
                    };
                }
            }
        }
        Failure {
            step: self.step,
            errno,
        }
    }
}

/// The last steps of the task (or of an exec'd command): stdio, signals,
/// capabilities, identity, working directory, `execve`.
#[derive(Debug)]
pub(crate) struct TaskSteps {
    pub program: Program,
    pub cwd: CString,
    pub cwd_step: u32,
    pub dev_null: CString,
    pub stdin_step: u32,
    pub stdout: RawFd,
    pub stderr: RawFd,
    pub stdio_step: u32,
    pub creds: Option<Credentials>,
    pub creds_step: u32,
    pub caps: CapabilitySet,
    pub bounding_step: u32,
    pub caps_step: u32,
    /// Written to /proc/self/oom_score_adj (undoing the init's -1000).
    pub oom_score_adj: Option<CString>,
    pub oom_path: CString,
    pub oom_step: u32,
    /// Die with the parent (an exec'd command whose helper is killed).
    pub die_with_parent: bool,
    pub setsid_step: u32,
}

impl TaskSteps {
    /// Runs the steps and execs; never returns. Async-signal-safe.
    pub fn run(&self, err_fd: RawFd) -> ! {
        let failure = match self.prepare() {
            Ok(()) => self.program.exec(),
            Err(f) => f,
        };
        report(err_fd, failure);
        exit_now(127)
    }

    fn prepare(&self) -> Result<(), Failure> {
        reset_signal_handlers();
        sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None).at(self.setsid_step)?;
        if let Some(adj) = &self.oom_score_adj {
            // Raising it back is always allowed.
            let fd = open(
                self.oom_path.as_c_str(),
                OFlag::O_WRONLY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .at(self.oom_step)?;
            write(&fd, adj.as_bytes()).at(self.oom_step)?;
        }
        setsid().at(self.setsid_step)?;
        let null = open(
            self.dev_null.as_c_str(),
            OFlag::O_RDWR | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .at(self.stdin_step)?;
        dup_onto(null.as_raw_fd(), 0).at(self.stdin_step)?;
        drop(null);
        dup_onto(self.stdout, 1).at(self.stdio_step)?;
        dup_onto(self.stderr, 2).at(self.stdio_step)?;
        cloexec_above_stdio();
        self.caps.drop_bounding().at(self.bounding_step)?;
        if let Some(creds) = &self.creds {
            CapabilitySet::keep_across_setuid().at(self.creds_step)?;
            creds
                .apply()
                .map_err(|(_, errno)| errno)
                .at(self.creds_step)?;
        }
        let ambient = self.creds.as_ref().is_some_and(|c| c.uid != 0);
        self.caps.apply(ambient).at(self.caps_step)?;
        // After the identity change, which clears the parent-death signal.
        if self.die_with_parent {
            die_with_parent().at(self.setsid_step)?;
        }
        chdir(self.cwd.as_c_str()).at(self.cwd_step)?;
        Ok(())
    }
}

/// Writes "0" (the writer itself) into each cgroup's `cgroup.procs`.
pub(crate) fn join_cgroups(procs: &[(RawFd, u32)]) -> Result<(), Failure> {
    for &(fd, step) in procs {
        write_fd(fd, b"0").at(step)?;
    }
    Ok(())
}

/// What the init does, prepared by the host.
#[derive(Debug)]
pub(crate) struct InitSteps<'a> {
    /// Open `cgroup.procs` of each of the task's cgroups, with its step.
    pub cgroup_procs: Vec<(RawFd, u32)>,
    pub oom_path: CString,
    pub hostname: Option<(CString, u32)>,
    pub root: &'a super::mounts::RootPlan,
    pub name: CString,
    pub fork_step: u32,
    pub task: TaskSteps,
    pub err_fd: RawFd,
    pub status_fd: RawFd,
    /// The task's exit record (-1: none), written like the status pipe so
    /// that a client started after the task ended still learns its end.
    pub record_fd: RawFd,
    pub dev_null: CString,
}

impl InitSteps<'_> {
    /// Runs the init; never returns. Async-signal-safe.
    pub fn run(&self) -> ! {
        let task = match self.prepare() {
            Ok(pid) => pid,
            Err(failure) => {
                report(self.err_fd, failure);
                exit_now(127)
            }
        };
        let ended = self.supervise(task);
        let _ = write_fd(self.status_fd, &ended.encode());
        if self.record_fd >= 0 {
            let _ = write_fd(self.record_fd, &ended.encode());
        }
        exit_now(match ended {
            Ended::Exited(code) => code,
            Ended::Signaled(sig) => 128 + sig,
        })
    }

    fn prepare(&self) -> Result<Pid, Failure> {
        join_cgroups(&self.cgroup_procs)?;
        // Best effort: some kernels (and sandboxes) refuse to lower it; the
        // host then falls back to the init's own wait status.
        if let Ok(fd) = open(
            self.oom_path.as_c_str(),
            OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            let _ = write(&fd, b"-1000");
        }
        if let Some((name, step)) = &self.hostname {
            nix::unistd::sethostname(std::ffi::OsStr::from_bytes_compat(name.as_bytes()))
                .at(*step)?;
        }
        self.root.apply()?;
        set_name(&self.name);
        // SIGCHLD must not be ignored (or children would be reaped
        // unseen); every signal is blocked and taken with sigwait.
        reset_signal_handlers();
        sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::all()), None).at(self.fork_step)?;
        match raw_fork(CloneFlags::empty()).at(self.fork_step)? {
            None => self.task.run(self.err_fd),
            Some(pid) => Ok(pid),
        }
    }

    /// Reaps, forwards signals, and returns how the task ended.
    fn supervise(&self, task: Pid) -> Ended {
        // The init needs nothing of the client's: only the status pipe.
        if let Ok(null) = open(
            self.dev_null.as_c_str(),
            OFlag::O_RDWR | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            for fd in 0..=2 {
                let _ = dup_onto(null.as_raw_fd(), fd);
            }
        }
        close_all_but(&[self.status_fd, self.record_fd]);
        let all = SigSet::all();
        loop {
            let Ok(sig) = all.wait() else { continue };
            if sig != Signal::SIGCHLD {
                let _ = kill(task, sig);
                continue;
            }
            loop {
                match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(status) => {
                        if status.pid() == Some(task)
                            && let Some(ended) = Ended::from_wait(status)
                        {
                            return ended;
                        }
                    }
                }
            }
        }
    }
}

/// Byte strings as `OsStr` without allocating.
trait OsStrCompat {
    fn from_bytes_compat(bytes: &[u8]) -> &std::ffi::OsStr;
}

impl OsStrCompat for std::ffi::OsStr {
    fn from_bytes_compat(bytes: &[u8]) -> &std::ffi::OsStr {
        std::os::unix::ffi::OsStrExt::from_bytes(bytes)
    }
}

/// Ends the calling child at once: no atexit handlers, no destructors, no
/// flushing of buffers that belong to the parent's copy.
#[allow(unsafe_code)]
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit(2) only ends the process.
    unsafe { libc::_exit(code) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reported_failure_becomes_a_message_naming_the_step() {
        let mut steps = Steps::default();
        steps.add("make every mount private");
        let step = steps.add("mount /usr onto /t/usr");
        let (r, w) = nix::unistd::pipe().unwrap();
        report(
            w.as_raw_fd(),
            Failure {
                step,
                errno: Errno::EPERM,
            },
        );
        drop(w);
        let failure = read_report(&mut File::from(r)).unwrap().unwrap();
        assert_eq!(
            steps.error(failure).to_string(),
            "mount /usr onto /t/usr: EPERM: Operation not permitted"
        );
        let (r, w) = nix::unistd::pipe().unwrap();
        drop(w);
        assert_eq!(
            read_report(&mut File::from(r)).unwrap(),
            None,
            "silence means exec'd"
        );
    }

    #[test]
    fn ends_round_trip_through_the_status_pipe() {
        for ended in [Ended::Exited(0), Ended::Exited(3), Ended::Signaled(9)] {
            assert_eq!(Ended::decode(&ended.encode()), Some(ended));
        }
        assert_eq!(Ended::decode(&[1, 2]), None);
    }

    #[test]
    fn relative_programs_are_looked_up_in_the_task_path() {
        let env = vec![("PATH".to_string(), "/opt/bin:/usr/bin/".to_string())];
        let p = Program::new(&["tool".into(), "-x".into()], &env, &mut Steps::default()).unwrap();
        let candidates: Vec<&str> = p.candidates.iter().map(|c| c.to_str().unwrap()).collect();
        assert_eq!(candidates, ["/opt/bin/tool", "/usr/bin/tool"]);
        assert_eq!(p.argv_ptrs.len(), 3, "NULL-terminated");
        let p = Program::new(&["./run".into()], &[], &mut Steps::default()).unwrap();
        assert_eq!(p.candidates.len(), 1);
        let err = Program::new(
            &["x".into()],
            &[("A=B".into(), "1".into())],
            &mut Steps::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("\"A=B\""), "{err}");
        assert!(Program::new(&["a\0b".into()], &[], &mut Steps::default()).is_err());
    }
}

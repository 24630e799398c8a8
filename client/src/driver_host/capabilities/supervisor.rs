//! The supervisor of a host task: the process between the client and the
//! task that waits for the task and writes how it ended into the task's
//! exit record ([`super::exit_record`]), so that the exit status survives
//! a client that is gone when the task ends.
//!
//! ```text
//! client ── clone ──▶ supervisor (own session, every signal blocked)
//!                      └─ clone ──▶ task (own process group, execs argv)
//! ```
//!
//! The pid handed to the driver is the task's own: its process group is the
//! one `kill_signal` and `kill_tree` reach, and `/proc` shows it as the
//! program. The supervisor is in a session of its own, so neither a signal
//! to the task's group nor a terminal's signal to the client's group ends
//! it; it blocks every signal besides (only SIGKILL stops it). It keeps no
//! descriptor of the client's but the record, so a listening socket or a
//! database file of a killed client is not held open by it.
//!
//! Both children are copies of the multi-threaded client: like the sandbox
//! init ([`super::isolated_process::init`], whose rules apply here) they make
//! only async-signal-safe calls on data prepared before the clone, and
//! report a failed step as two integers on a close-on-exec pipe.
//!
//! The client learns the task's pid from a second pipe, and its end by
//! reaping the supervisor (its child) and reading the record; a client
//! started later reads the record alone.

use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::{Pid, chdir, pipe2, setpgid, setsid};

use super::isolated_process::init::{
    AtStep, Ended, Failure, Program, Steps, cloexec_above_stdio, close_all_but, dup_onto, exit_now,
    raw_fork, read_report, report, reset_signal_handlers, set_name, write_fd,
};
use super::isolated_process::user::Credentials;

/// Everything both children need, prepared by the client.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The program to exec, resolved.
    pub program: Program,
    /// Working directory (`None`: the client's).
    pub cwd: Option<CString>,
    /// Where stdout and stderr go (`None`: /dev/null).
    pub stdout: Option<File>,
    /// See `stdout`.
    pub stderr: Option<File>,
    /// Identity to switch to, if another than the client's.
    pub creds: Option<Credentials>,
    /// Descriptions of the steps, by index.
    pub steps: Steps,
}

/// What a successful spawn gives the client.
#[derive(Debug)]
pub(crate) struct Spawned {
    /// The supervisor (the client's child).
    pub supervisor: Pid,
    /// The task (the supervisor's child).
    pub task: u32,
}

/// The step indices and C strings the children use.
struct Prepared<'a> {
    plan: &'a Plan,
    dev_null: CString,
    name: CString,
    session_step: u32,
    fork_step: u32,
    group_step: u32,
    stdio_step: u32,
    creds_step: u32,
    cwd_step: u32,
}

/// Starts `plan` under a supervisor that writes the task's end to
/// `record_fd`. Returns once the program runs (or a step failed: then the
/// error names the step, and the supervisor is reaped).
pub(crate) fn spawn(mut plan: Plan, record_fd: RawFd) -> Result<Spawned, String> {
    let session_step = plan.steps.add("start the supervisor's session");
    let fork_step = plan.steps.add("fork the task from its supervisor");
    let group_step = plan.steps.add("make the task a process group leader");
    let stdio_step = plan.steps.add("attach stdin, stdout and stderr");
    let creds_step = plan.steps.add(match &plan.creds {
        Some(c) => format!("switch to user {} (uid {}, gid {})", c.name, c.uid, c.gid),
        None => String::new(),
    });
    let cwd_step = plan.steps.add(match &plan.cwd {
        Some(c) => format!("enter the working directory {}", c.to_string_lossy()),
        None => String::new(),
    });
    let prepared = Prepared {
        plan: &plan,
        dev_null: c"/dev/null".to_owned(),
        name: c"sched-supervise".to_owned(),
        session_step,
        fork_step,
        group_step,
        stdio_step,
        creds_step,
        cwd_step,
    };
    let (mut report_r, report_w) = pipe()?;
    let (mut pid_r, pid_w) = pipe()?;
    let supervisor = match raw_fork(CloneFlags::empty()) {
        Err(e) => return Err(format!("forking the task's supervisor: {e}")),
        Ok(None) => prepared.supervise(report_w.as_raw_fd(), pid_w.as_raw_fd(), record_fd),
        Ok(Some(pid)) => pid,
    };
    drop(report_w);
    drop(pid_w);
    // Both children close their copies: the supervisor once the task is
    // forked, the task when it execs (or exits after reporting).
    let report = read_report(&mut report_r);
    let mut pid = Vec::with_capacity(4);
    let _ = pid_r.read_to_end(&mut pid);
    let failure = match report {
        Ok(None) => None,
        Ok(Some(failure)) => Some(plan.steps.0.get(failure.step as usize).map_or_else(
            || format!("step {}: {}", failure.step, failure.errno.desc()),
            |step| format!("{step}: {}", failure.errno.desc()),
        )),
        Err(e) => Some(format!("reading the task's start report: {e}")),
    };
    let task = <[u8; 4]>::try_from(pid.as_slice())
        .ok()
        .map(u32::from_le_bytes);
    match (failure, task) {
        (None, Some(task)) => Ok(Spawned { supervisor, task }),
        (failure, _) => {
            // The supervisor reaps the failed task and exits by itself.
            let _ = waitpid(supervisor, None);
            Err(failure.unwrap_or_else(|| "the task's supervisor ended before the task ran".into()))
        }
    }
}

fn pipe() -> Result<(File, OwnedFd), String> {
    let (r, w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("creating a pipe: {e}"))?;
    Ok((File::from(r), w))
}

impl Prepared<'_> {
    /// The supervisor: forks the task, tells the client its pid, waits
    /// for it and records its end. Never returns; async-signal-safe.
    fn supervise(&self, report_fd: RawFd, pid_fd: RawFd, record_fd: RawFd) -> ! {
        reset_signal_handlers();
        if let Err(errno) = setsid() {
            report(
                report_fd,
                Failure {
                    step: self.session_step,
                    errno,
                },
            );
            exit_now(127);
        }
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::all()), None);
        set_name(&self.name);
        let task = match raw_fork(CloneFlags::empty()) {
            Err(errno) => {
                report(
                    report_fd,
                    Failure {
                        step: self.fork_step,
                        errno,
                    },
                );
                exit_now(127)
            }
            Ok(None) => self.task(report_fd),
            Ok(Some(task)) => task,
        };
        let _ = write_fd(pid_fd, &(task.as_raw() as u32).to_le_bytes());
        if let Ok(null) = open(
            self.dev_null.as_c_str(),
            OFlag::O_RDWR | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            for fd in 0..=2 {
                let _ = dup_onto(null.as_raw_fd(), fd);
            }
        }
        close_all_but(&[record_fd]);
        loop {
            match waitpid(task, None) {
                Ok(status) => {
                    if let Some(ended) = Ended::from_wait(status) {
                        let _ = write_fd(record_fd, &ended.encode());
                        exit_now(0);
                    }
                }
                Err(Errno::EINTR) => {}
                Err(_) => exit_now(1),
            }
        }
    }

    /// The task: its own process group, stdio, identity, working
    /// directory, exec. Never returns; async-signal-safe.
    fn task(&self, report_fd: RawFd) -> ! {
        let failure = match self.prepare_task() {
            Ok(()) => self.plan.program.exec(),
            Err(failure) => failure,
        };
        report(report_fd, failure);
        exit_now(127)
    }

    fn prepare_task(&self) -> Result<(), Failure> {
        sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None).at(self.group_step)?;
        setpgid(Pid::from_raw(0), Pid::from_raw(0)).at(self.group_step)?;
        let null = open(
            self.dev_null.as_c_str(),
            OFlag::O_RDWR | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .at(self.stdio_step)?;
        dup_onto(null.as_raw_fd(), 0).at(self.stdio_step)?;
        let out = self
            .plan
            .stdout
            .as_ref()
            .map_or(null.as_raw_fd(), |f| f.as_raw_fd());
        let err = self
            .plan
            .stderr
            .as_ref()
            .map_or(null.as_raw_fd(), |f| f.as_raw_fd());
        dup_onto(out, 1).at(self.stdio_step)?;
        dup_onto(err, 2).at(self.stdio_step)?;
        drop(null);
        cloexec_above_stdio();
        if let Some(creds) = &self.plan.creds {
            creds
                .apply()
                .map_err(|(_, errno)| errno)
                .at(self.creds_step)?;
        }
        if let Some(cwd) = &self.plan.cwd {
            chdir(cwd.as_c_str()).at(self.cwd_step)?;
        }
        Ok(())
    }
}

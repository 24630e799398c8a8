//! What can go wrong while building, running or inspecting a sandbox.
//!
//! Every message names the operation and its object (a path, a pid, a
//! controller) so that it can go straight into a task's events.

use nix::errno::Errno;

/// Why an isolated-process call failed.
#[derive(Debug, thiserror::Error)]
pub enum IsolationError {
    /// The spawn or sandbox spec is wrong (relative path, missing root, ...).
    #[error("invalid sandbox spec: {0}")]
    InvalidSpec(String),
    /// A user name that the host's /etc/passwd does not know.
    #[error("unknown user {0:?} (not in the host's /etc/passwd)")]
    UnknownUser(String),
    /// A capability name that Linux does not know.
    #[error("unknown capability {0:?}")]
    UnknownCapability(String),
    /// A signal name that Linux does not know.
    #[error("unknown signal {0:?}")]
    UnknownSignal(String),
    /// No sandboxed process with this pid was started by this host.
    #[error("no sandboxed process with pid {0}")]
    NotFound(u32),
    /// A step of building the sandbox failed in the new process, before the
    /// task's program ran; `step` says which ("mount /usr onto /x/usr").
    #[error("{step}: {errno}")]
    Setup {
        /// The step, with its objects.
        step: String,
        /// What the kernel said.
        errno: Errno,
    },
    /// A system call made by the host itself failed.
    #[error("{what}: {errno}")]
    Sys {
        /// The call, with its objects.
        what: String,
        /// What the kernel said.
        errno: Errno,
    },
    /// A file operation made by the host failed (cgroup files, /proc, ...).
    #[error("{what}: {source}")]
    Io {
        /// The operation, with its path.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The machine's cgroups cannot be used (no controller mounted, ...).
    #[error("cgroups: {0}")]
    Cgroup(String),
    /// `exec` ran out of time; the command was killed.
    #[error("command {argv0:?} did not finish within {timeout_ms} ms and was killed")]
    Timeout {
        /// The command.
        argv0: String,
        /// The time it was given.
        timeout_ms: u32,
    },
}

impl IsolationError {
    /// An [`IsolationError::Io`] for `what`.
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }

    /// An [`IsolationError::Sys`] for `what`.
    pub(crate) fn sys(what: impl Into<String>, errno: Errno) -> Self {
        Self::Sys {
            what: what.into(),
            errno,
        }
    }
}

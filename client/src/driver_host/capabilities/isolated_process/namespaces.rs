//! Which namespaces a sandbox gets, and how `exec` enters them.
//!
//! A sandbox is created with new mount, UTS, IPC and pid namespaces, plus a
//! network namespace when the spec asks for it (bridge and none modes; the
//! network itself is set up by whoever owns the group's network). User
//! namespaces are not used: the host is root and the task's identity is a
//! plain uid/gid switch, as in Nomad's exec driver.
//!
//! `exec` joins a running sandbox through `/proc/<init>/ns/*`: the helper
//! process `setns`es into each namespace (mount last, as it changes what
//! paths mean), then `fchdir`s to the init's root and `chroot`s there. A pid
//! namespace only applies to children, so the command itself is a child of
//! the helper.

use std::fs::File;
use std::os::fd::AsFd;

use nix::sched::{CloneFlags, setns};

use super::error::IsolationError;
use super::init::{AtStep, Failure, Steps};

/// The namespaces a new sandbox gets.
pub fn spawn_flags(isolate_network: bool) -> CloneFlags {
    let mut flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWPID;
    if isolate_network {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    flags
}

/// Checks a hostname: 1 to 64 bytes of letters, digits, '-' and '.'.
pub fn validate_hostname(hostname: &str) -> Result<(), IsolationError> {
    let ok = !hostname.is_empty()
        && hostname.len() <= 64
        && hostname
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(IsolationError::InvalidSpec(format!(
            "hostname {hostname:?} is not a valid host name"
        )))
    }
}

/// Namespaces entered by `exec`, in order: (file name in /proc/<pid>/ns, type).
const JOINED: &[(&str, CloneFlags)] = &[
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// A running sandbox's namespaces and root, opened by the host for `exec`.
#[derive(Debug)]
pub(crate) struct SandboxEntry {
    namespaces: Vec<(File, CloneFlags, u32)>,
    root: File,
    root_step: u32,
}

impl SandboxEntry {
    /// Opens the namespaces and root of the sandbox whose init is `pid`.
    pub fn open(pid: u32, steps: &mut Steps) -> Result<Self, IsolationError> {
        let mut namespaces = Vec::new();
        for (name, kind) in JOINED {
            let path = format!("/proc/{pid}/ns/{name}");
            let file =
                File::open(&path).map_err(|e| IsolationError::io(format!("open {path}"), e))?;
            namespaces.push((
                file,
                *kind,
                steps.add(format!("enter the {name} namespace of sandbox {pid}")),
            ));
        }
        let path = format!("/proc/{pid}/root");
        let root = File::open(&path).map_err(|e| IsolationError::io(format!("open {path}"), e))?;
        Ok(Self {
            namespaces,
            root,
            root_step: steps.add(format!("chroot into the root of sandbox {pid}")),
        })
    }

    /// Joins the namespaces and the root (child side; async-signal-safe).
    pub fn enter(&self, slash: &std::ffi::CStr) -> Result<(), Failure> {
        for (file, kind, step) in &self.namespaces {
            setns(file.as_fd(), *kind).at(*step)?;
        }
        nix::unistd::fchdir(self.root.as_fd()).at(self.root_step)?;
        nix::unistd::chroot(c".").at(self.root_step)?;
        nix::unistd::chdir(slash).at(self.root_step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_namespace_only_when_asked() {
        assert!(!spawn_flags(false).contains(CloneFlags::CLONE_NEWNET));
        assert!(spawn_flags(true).contains(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWPID));
    }

    #[test]
    fn hostnames_are_checked() {
        assert!(validate_hostname("web-1.alloc").is_ok());
        assert!(validate_hostname("").is_err());
        assert!(validate_hostname("a b").is_err());
        assert!(validate_hostname(&"x".repeat(65)).is_err());
    }
}

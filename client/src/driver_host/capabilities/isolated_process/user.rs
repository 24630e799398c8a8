//! Who the task runs as: a user name resolved on the host, as Nomad does.
//!
//! The name is looked up in the host's `/etc/passwd` (not the sandbox's: the
//! sandbox usually binds the host's `/etc` anyway, and the host is the one
//! that must not be fooled by a task-writable file). Supplementary groups
//! come from the host's `/etc/group`. Switching identity happens in the
//! child with raw system calls (`Credentials::apply`).

use std::fs;

use nix::errno::Errno;

use super::error::IsolationError;

/// The identity a task runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user's name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups (the primary group first).
    pub groups: Vec<u32>,
}

/// Resolves `name` against the host's `/etc/passwd` and `/etc/group`.
pub fn resolve(name: &str) -> Result<Credentials, IsolationError> {
    let passwd =
        fs::read_to_string("/etc/passwd").map_err(|e| IsolationError::io("read /etc/passwd", e))?;
    // A missing /etc/group only means no supplementary groups.
    let group = fs::read_to_string("/etc/group").unwrap_or_default();
    resolve_in(name, &passwd, &group)
}

/// Resolves `name` from the text of a passwd and a group file.
pub fn resolve_in(name: &str, passwd: &str, group: &str) -> Result<Credentials, IsolationError> {
    if name.is_empty() || name.contains([':', '\n', '\0']) {
        return Err(IsolationError::UnknownUser(name.to_owned()));
    }
    let (uid, gid) = passwd
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && f[0] == name)
        .and_then(|f| Some((f[2].parse::<u32>().ok()?, f[3].parse::<u32>().ok()?)))
        .ok_or_else(|| IsolationError::UnknownUser(name.to_owned()))?;
    let mut groups = vec![gid];
    for line in group.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 4 {
            continue;
        }
        let Ok(id) = fields[2].parse::<u32>() else {
            continue;
        };
        if fields[3].split(',').any(|member| member == name) && !groups.contains(&id) {
            groups.push(id);
        }
    }
    Ok(Credentials {
        name: name.to_owned(),
        uid,
        gid,
        groups,
    })
}

impl Credentials {
    /// Sets groups, gid and uid of the calling process, in that order.
    ///
    /// Raw system calls on purpose: glibc's `setuid` & co. broadcast the
    /// change to every thread glibc believes exists, and in a child cloned
    /// from a multi-threaded client that list names threads that are not
    /// there. The raw calls change exactly the calling (only) thread.
    /// Async-signal-safe: no allocation.
    #[allow(unsafe_code)]
    pub(crate) fn apply(&self) -> Result<(), (&'static str, Errno)> {
        // SAFETY: plain system calls on valid pointers (`groups` outlives
        // the call); they touch no memory of ours besides reading `groups`.
        unsafe {
            if libc::syscall(libc::SYS_setgroups, self.groups.len(), self.groups.as_ptr()) != 0 {
                return Err(("setgroups", Errno::last()));
            }
            if libc::syscall(libc::SYS_setresgid, self.gid, self.gid, self.gid) != 0 {
                return Err(("setgid", Errno::last()));
            }
            if libc::syscall(libc::SYS_setresuid, self.uid, self.uid, self.uid) != 0 {
                return Err(("setuid", Errno::last()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n# comment\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\napp:x:1001:1002::/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\ndocker:x:999:app,other\nwheel:x:10:other\napp:x:1002:\n";

    #[test]
    fn resolves_uid_gid_and_supplementary_groups() {
        let c = resolve_in("app", PASSWD, GROUP).unwrap();
        assert_eq!((c.uid, c.gid), (1001, 1002));
        assert_eq!(c.groups, vec![1002, 999]);
    }

    #[test]
    fn unknown_user_is_an_error_naming_it() {
        let err = resolve_in("ghost", PASSWD, GROUP).unwrap_err();
        assert!(err.to_string().contains("\"ghost\""), "{err}");
        assert!(resolve_in("", PASSWD, GROUP).is_err());
        assert!(resolve_in("root:x", PASSWD, GROUP).is_err());
    }

    #[test]
    fn resolves_on_this_host() {
        let c = resolve("root").unwrap();
        assert_eq!((c.uid, c.gid), (0, 0));
    }
}

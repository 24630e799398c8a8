//! The sandbox's file system: the task directory as root, bind mounts into
//! it, a minimal /dev and a fresh /proc, then `pivot_root`.
//!
//! The host validates the spec and prepares a `RootPlan`: mount points are
//! created inside the root (and checked to stay inside it after resolving
//! symlinks), every path becomes a C string. The init applies the plan in
//! its new mount namespace (`RootPlan::apply`):
//!
//! 1. every mount becomes private (nothing propagates back to the host);
//! 2. the root is bound onto itself (`pivot_root` wants a mount point);
//! 3. each bind mount, in order of depth; a read-only one is bound and then
//!    remounted `MS_BIND|MS_REMOUNT|MS_RDONLY` (a bind ignores `MS_RDONLY`),
//!    keeping the source's nosuid/nodev/noexec (mounts below the source
//!    come along with `MS_REC` but keep their own flags: only the top of a
//!    bind is made read-only);
//! 4. /dev: a small tmpfs holding binds of the host's null, zero, full,
//!    random, urandom and tty, a tmpfs /dev/shm and the fd/std* links;
//! 5. /proc, mounted fresh: the init is pid 1 of the new pid namespace, so it
//!    shows the task's processes only;
//! 6. `pivot_root(".", ".")` from inside the root and a lazy unmount of the
//!    old root stacked below, so no path leads back to the host. Where
//!    `pivot_root` is refused (a root on the initial ramfs) it falls back
//!    to `chroot`.
//!
//! It does not manage images, overlays, or what is inside the task
//! directory (the client lays out local/, secrets/, tmp/).

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::stat::Mode;
use nix::sys::statvfs::{FsFlags, statvfs};
use nix::unistd::{chdir, chroot, mkdir, pivot_root, symlinkat};

use super::BindMount;
use super::error::IsolationError;
use super::init::{AtStep, Failure, Steps};

/// Device nodes bound from the host into the sandbox's /dev.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// Links created in the sandbox's /dev: (link, target).
const DEV_LINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

/// One file system operation of the plan.
#[derive(Debug)]
enum FsOp {
    Mount {
        source: Option<CString>,
        target: CString,
        fstype: Option<CString>,
        flags: MsFlags,
        data: Option<CString>,
        step: u32,
    },
    /// Create an empty file (a mount point for a device).
    Touch {
        path: CString,
        step: u32,
    },
    Mkdir {
        path: CString,
        step: u32,
    },
    Symlink {
        target: CString,
        link: CString,
        step: u32,
    },
}

/// Everything the init does to the file system, prepared on the host.
#[derive(Debug)]
pub(crate) struct RootPlan {
    ops: Vec<FsOp>,
    root: CString,
    dot: CString,
    slash: CString,
    chdir_step: u32,
    pivot_step: u32,
    detach_step: u32,
}

fn c_path(path: &Path) -> Result<CString, IsolationError> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        IsolationError::InvalidSpec(format!("path {} contains a NUL byte", path.display()))
    })
}

fn c_str(s: &str) -> CString {
    // Only called on constants without NUL bytes.
    CString::new(s).unwrap_or_default()
}

/// Checks that `path` is absolute and has no `..`; returns it.
pub(crate) fn absolute(what: &str, path: &str) -> Result<PathBuf, IsolationError> {
    let p = PathBuf::from(path);
    if !p.is_absolute() {
        return Err(IsolationError::InvalidSpec(format!(
            "{what} {path:?} is not an absolute path"
        )));
    }
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(IsolationError::InvalidSpec(format!(
            "{what} {path:?} contains \"..\""
        )));
    }
    Ok(p)
}

/// `path` inside `root` (`/usr` in `/t` is `/t/usr`).
fn inside(root: &Path, sandbox_path: &Path) -> PathBuf {
    let rel: PathBuf = sandbox_path
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    root.join(rel)
}

/// The source's nosuid/nodev/noexec, which a read-only remount must keep.
fn locked_flags(source: &Path) -> MsFlags {
    let Ok(st) = statvfs(source) else {
        return MsFlags::empty();
    };
    let mut flags = MsFlags::empty();
    let f = st.flags();
    if f.contains(FsFlags::ST_NOSUID) {
        flags |= MsFlags::MS_NOSUID;
    }
    if f.contains(FsFlags::ST_NODEV) {
        flags |= MsFlags::MS_NODEV;
    }
    if f.contains(FsFlags::ST_NOEXEC) {
        flags |= MsFlags::MS_NOEXEC;
    }
    flags
}

/// Creates the mount point `target` (a directory, or a file when the source
/// is one) and checks that it resolves inside `root`.
fn mount_point(root: &Path, target: &Path, file: bool) -> Result<(), IsolationError> {
    let parent = target.parent().unwrap_or(root);
    fs::create_dir_all(parent)
        .map_err(|e| IsolationError::io(format!("create mount point {}", parent.display()), e))?;
    if file {
        if !target.exists() {
            fs::File::create(target).map_err(|e| {
                IsolationError::io(format!("create mount point {}", target.display()), e)
            })?;
        }
    } else {
        fs::create_dir_all(target).map_err(|e| {
            IsolationError::io(format!("create mount point {}", target.display()), e)
        })?;
    }
    let resolved = target
        .canonicalize()
        .map_err(|e| IsolationError::io(format!("resolve mount point {}", target.display()), e))?;
    if !resolved.starts_with(root) {
        return Err(IsolationError::InvalidSpec(format!(
            "mount point {} resolves to {}, outside the sandbox root",
            target.display(),
            resolved.display()
        )));
    }
    Ok(())
}

/// Checks the root and the mounts without touching anything; returns the
/// canonical root.
pub(crate) fn validate(root: &str, mounts: &[BindMount]) -> Result<PathBuf, IsolationError> {
    let root_path = absolute("sandbox root", root)?;
    let meta = fs::metadata(&root_path)
        .map_err(|e| IsolationError::io(format!("sandbox root {root}"), e))?;
    if !meta.is_dir() {
        return Err(IsolationError::InvalidSpec(format!(
            "sandbox root {root} is not a directory"
        )));
    }
    if root_path == Path::new("/") {
        return Err(IsolationError::InvalidSpec(
            "sandbox root cannot be /".into(),
        ));
    }
    for m in mounts {
        let host = absolute("mount source", &m.host_path)?;
        absolute("mount target", &m.sandbox_path)?;
        if m.sandbox_path.trim_end_matches('/').is_empty() {
            return Err(IsolationError::InvalidSpec(format!(
                "mount {} onto / is not allowed",
                m.host_path
            )));
        }
        fs::metadata(&host)
            .map_err(|e| IsolationError::io(format!("mount source {}", m.host_path), e))?;
    }
    root_path
        .canonicalize()
        .map_err(|e| IsolationError::io(format!("resolve sandbox root {root}"), e))
}

impl RootPlan {
    /// Validates `mounts`, creates their mount points under `root` (the
    /// canonical root from [`validate`]) and prepares the plan.
    pub fn prepare(
        root: &Path,
        mounts: &[BindMount],
        steps: &mut Steps,
    ) -> Result<Self, IsolationError> {
        let mut ops = Vec::new();
        let root_c = c_path(root)?;
        let slash = c_str("/");
        ops.push(FsOp::Mount {
            source: None,
            target: slash.clone(),
            fstype: None,
            flags: MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            data: None,
            step: steps.add("make every mount private"),
        });
        ops.push(FsOp::Mount {
            source: Some(root_c.clone()),
            target: root_c.clone(),
            fstype: None,
            flags: MsFlags::MS_BIND | MsFlags::MS_REC,
            data: None,
            step: steps.add(format!("bind {} onto itself", root.display())),
        });

        let mut ordered: Vec<&BindMount> = mounts.iter().collect();
        ordered.sort_by_key(|m| Path::new(&m.sandbox_path).components().count());
        let mut own_dev = false;
        for m in ordered {
            let host = Path::new(&m.host_path);
            let sandbox = Path::new(&m.sandbox_path);
            own_dev |= sandbox == Path::new("/dev");
            let target = inside(root, sandbox);
            let is_file = !fs::metadata(host)
                .map_err(|e| IsolationError::io(format!("mount source {}", m.host_path), e))?
                .is_dir();
            mount_point(root, &target, is_file)?;
            let (source_c, target_c) = (c_path(host)?, c_path(&target)?);
            ops.push(FsOp::Mount {
                source: Some(source_c.clone()),
                target: target_c.clone(),
                fstype: None,
                flags: MsFlags::MS_BIND | MsFlags::MS_REC,
                data: None,
                step: steps.add(format!(
                    "mount {} onto {}",
                    host.display(),
                    target.display()
                )),
            });
            if m.read_only {
                ops.push(FsOp::Mount {
                    source: Some(source_c),
                    target: target_c,
                    fstype: None,
                    flags: MsFlags::MS_BIND
                        | MsFlags::MS_REMOUNT
                        | MsFlags::MS_RDONLY
                        | locked_flags(host),
                    data: None,
                    step: steps.add(format!("remount {} read-only", target.display())),
                });
            }
        }

        if !own_dev {
            Self::dev(root, &mut ops, steps)?;
        }

        let proc_dir = root.join("proc");
        mount_point(root, &proc_dir, false)?;
        ops.push(FsOp::Mount {
            source: Some(c_str("proc")),
            target: c_path(&proc_dir)?,
            fstype: Some(c_str("proc")),
            flags: MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            data: None,
            step: steps.add(format!("mount a new /proc onto {}", proc_dir.display())),
        });

        Ok(Self {
            ops,
            root: root_c,
            dot: c_str("."),
            slash,
            chdir_step: steps.add(format!("enter {}", root.display())),
            pivot_step: steps.add(format!("pivot_root into {}", root.display())),
            detach_step: steps.add("detach the host's root"),
        })
    }

    /// The minimal /dev: tmpfs, device binds, /dev/shm, links.
    fn dev(root: &Path, ops: &mut Vec<FsOp>, steps: &mut Steps) -> Result<(), IsolationError> {
        let dev = root.join("dev");
        mount_point(root, &dev, false)?;
        ops.push(FsOp::Mount {
            source: Some(c_str("tmpfs")),
            target: c_path(&dev)?,
            fstype: Some(c_str("tmpfs")),
            flags: MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            data: Some(c_str("mode=755,size=65536k")),
            step: steps.add(format!("mount a tmpfs onto {}", dev.display())),
        });
        for name in DEVICES {
            let host = Path::new("/dev").join(name);
            if !host.exists() {
                continue;
            }
            let target = dev.join(name);
            let target_c = c_path(&target)?;
            ops.push(FsOp::Touch {
                path: target_c.clone(),
                step: steps.add(format!("create {}", target.display())),
            });
            ops.push(FsOp::Mount {
                source: Some(c_path(&host)?),
                target: target_c,
                fstype: None,
                flags: MsFlags::MS_BIND,
                data: None,
                step: steps.add(format!(
                    "mount {} onto {}",
                    host.display(),
                    target.display()
                )),
            });
        }
        let shm = dev.join("shm");
        let shm_c = c_path(&shm)?;
        ops.push(FsOp::Mkdir {
            path: shm_c.clone(),
            step: steps.add(format!("create {}", shm.display())),
        });
        ops.push(FsOp::Mount {
            source: Some(c_str("shm")),
            target: shm_c,
            fstype: Some(c_str("tmpfs")),
            flags: MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            data: Some(c_str("mode=1777,size=65536k")),
            step: steps.add(format!("mount a tmpfs onto {}", shm.display())),
        });
        for (link, target) in DEV_LINKS {
            let link = dev.join(link);
            ops.push(FsOp::Symlink {
                target: c_str(target),
                link: c_path(&link)?,
                step: steps.add(format!("link {} to {target}", link.display())),
            });
        }
        Ok(())
    }

    /// Applies the plan in the init (new mount namespace) and moves into
    /// the root. Async-signal-safe: no allocation.
    pub fn apply(&self) -> Result<(), Failure> {
        for op in &self.ops {
            match op {
                FsOp::Mount {
                    source,
                    target,
                    fstype,
                    flags,
                    data,
                    step,
                } => mount(
                    source.as_deref(),
                    target.as_c_str(),
                    fstype.as_deref(),
                    *flags,
                    data.as_deref(),
                )
                .at(*step)?,
                FsOp::Touch { path, step } => {
                    let fd = nix::fcntl::open(
                        path.as_c_str(),
                        nix::fcntl::OFlag::O_CREAT
                            | nix::fcntl::OFlag::O_WRONLY
                            | nix::fcntl::OFlag::O_CLOEXEC,
                        Mode::from_bits_truncate(0o644),
                    )
                    .at(*step)?;
                    drop(fd);
                }
                FsOp::Mkdir { path, step } => {
                    mkdir(path.as_c_str(), Mode::from_bits_truncate(0o1777)).at(*step)?
                }
                FsOp::Symlink { target, link, step } => {
                    symlinkat(target.as_c_str(), nix::fcntl::AT_FDCWD, link.as_c_str()).at(*step)?
                }
            }
        }
        chdir(self.root.as_c_str()).at(self.chdir_step)?;
        match pivot_root(self.dot.as_c_str(), self.dot.as_c_str()) {
            Ok(()) => umount2(self.dot.as_c_str(), MntFlags::MNT_DETACH).at(self.detach_step)?,
            // The root is on a file system pivot_root refuses (initramfs).
            Err(nix::errno::Errno::EINVAL) => chroot(self.dot.as_c_str()).at(self.pivot_step)?,
            Err(e) => return Err(e).at(self.pivot_step),
        }
        chdir(self.slash.as_c_str()).at(self.chdir_step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(host: &str, sandbox: &str) -> BindMount {
        BindMount {
            host_path: host.into(),
            sandbox_path: sandbox.into(),
            read_only: true,
        }
    }

    #[test]
    fn relative_and_parent_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let err = validate("relative/root", &[]).unwrap_err();
        assert!(err.to_string().contains("not an absolute path"), "{err}");
        let err = validate(root, &[bind("usr", "/usr")]).unwrap_err();
        assert!(err.to_string().contains("mount source \"usr\""), "{err}");
        let err = validate(root, &[bind("/usr", "/../usr")]).unwrap_err();
        assert!(err.to_string().contains("\"..\""), "{err}");
        let err = validate(root, &[bind("/nonexistent-source", "/x")]).unwrap_err();
        assert!(
            err.to_string().contains("mount source /nonexistent-source"),
            "{err}"
        );
        let err = validate("/nonexistent-root", &[]).unwrap_err();
        assert!(
            err.to_string().contains("sandbox root /nonexistent-root"),
            "{err}"
        );
    }

    #[test]
    fn mount_points_may_not_leave_the_root_through_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("escape")).unwrap();
        let root = validate(dir.path().to_str().unwrap(), &[]).unwrap();
        let err = RootPlan::prepare(&root, &[bind("/usr", "/escape")], &mut Steps::default())
            .unwrap_err();
        assert!(
            err.to_string().contains("outside the sandbox root"),
            "{err}"
        );
    }

    #[test]
    fn plan_orders_parents_first_and_remounts_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = validate(dir.path().to_str().unwrap(), &[]).unwrap();
        let mut steps = Steps::default();
        let mut rw = bind("/tmp", "/usr/local/x");
        rw.read_only = false;
        let plan = RootPlan::prepare(&root, &[rw, bind("/usr", "/usr")], &mut steps).unwrap();
        let described: Vec<&str> = steps.0.iter().map(String::as_str).collect();
        let usr = described
            .iter()
            .position(|s| s.starts_with("mount /usr onto"))
            .unwrap();
        let local = described
            .iter()
            .position(|s| s.starts_with("mount /tmp onto"))
            .unwrap();
        assert!(usr < local, "{described:?}");
        assert_eq!(
            described
                .iter()
                .filter(|s| s.starts_with("remount"))
                .count(),
            1
        );
        assert!(
            root.join("usr/local/x").is_dir()
                && root.join("proc").is_dir()
                && root.join("dev").is_dir()
        );
        assert!(!plan.ops.is_empty());
    }
}

//! Linux capabilities the task keeps; every other one is dropped.
//!
//! Names are parsed on the host with the `caps` crate (which knows every
//! capability by name and number); the drop itself runs in the child right
//! before `execve`, with raw `prctl`/`capset` calls that allocate nothing.
//! All five sets are cut down to the keep list: the bounding set (so that
//! nothing can regain a dropped capability, not even a set-uid root binary),
//! effective, permitted and inheritable, and the ambient set, which is
//! raised for the kept ones when the task runs as a non-root user (without
//! it a non-root program loses everything at `execve`).

use std::str::FromStr;

use nix::errno::Errno;

use super::error::IsolationError;

/// The capabilities a task keeps, as a bit mask over capability numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapabilitySet {
    mask: u64,
    /// The highest capability number the running kernel knows.
    last_cap: u8,
}

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Parses one capability name: `CAP_CHOWN`, `cap_chown` or `chown`.
pub fn parse_name(name: &str) -> Result<caps::Capability, IsolationError> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    caps::Capability::from_str(&full)
        .map_err(|_| IsolationError::UnknownCapability(name.to_owned()))
}

/// The running kernel's highest capability number
/// (`/proc/sys/kernel/cap_last_cap`), 40 if it cannot be read.
pub fn kernel_last_cap() -> u8 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u8>().ok())
        .map_or(40, |n| n.min(63))
}

impl CapabilitySet {
    /// The set of `names`, for a kernel whose last capability is `last_cap`.
    pub fn parse(names: &[String], last_cap: u8) -> Result<Self, IsolationError> {
        let mut mask = 0u64;
        for name in names {
            let cap = parse_name(name)?;
            if cap.index() <= last_cap {
                mask |= 1u64 << cap.index();
            }
        }
        Ok(Self { mask, last_cap })
    }

    /// Whether capability number `index` is kept.
    pub fn contains(&self, index: u8) -> bool {
        index < 64 && self.mask & (1u64 << index) != 0
    }

    /// The kept set as a bit mask.
    pub fn mask(&self) -> u64 {
        self.mask
    }

    /// Drops every capability not kept from the bounding set.
    /// Async-signal-safe; needs CAP_SETPCAP, so runs before the uid change.
    #[allow(unsafe_code)]
    pub(crate) fn drop_bounding(&self) -> Result<(), Errno> {
        for cap in 0..=self.last_cap {
            if self.contains(cap) {
                continue;
            }
            // SAFETY: prctl with integer arguments only.
            let rc =
                unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) };
            // EINVAL: the kernel does not know this capability; nothing to drop.
            if rc != 0 && Errno::last() != Errno::EINVAL {
                return Err(Errno::last());
            }
        }
        Ok(())
    }

    /// Asks the kernel to keep the permitted set across the coming uid
    /// change (`PR_SET_KEEPCAPS`). Async-signal-safe.
    #[allow(unsafe_code)]
    pub(crate) fn keep_across_setuid() -> Result<(), Errno> {
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1 as libc::c_ulong, 0, 0, 0) };
        Errno::result(rc).map(drop)
    }

    /// Sets effective, permitted and inheritable to the kept set, clears the
    /// ambient set and, when `ambient`, raises the kept ones in it.
    /// Async-signal-safe.
    #[allow(unsafe_code)]
    pub(crate) fn apply(&self, ambient: bool) -> Result<(), Errno> {
        let low = (self.mask & 0xffff_ffff) as u32;
        let high = (self.mask >> 32) as u32;
        let mut header = CapHeader {
            version: CAPABILITY_VERSION_3,
            pid: 0,
        };
        let data = [
            CapData {
                effective: low,
                permitted: low,
                inheritable: low,
            },
            CapData {
                effective: high,
                permitted: high,
                inheritable: high,
            },
        ];
        // SAFETY: capset reads one header and two data structs, which are
        // #[repr(C)] and live on this stack frame for the whole call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_capset,
                &mut header as *mut CapHeader,
                data.as_ptr(),
            )
        };
        if rc != 0 {
            return Err(Errno::last());
        }
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                0,
                0,
                0,
            )
        };
        // EINVAL: a kernel without ambient capabilities (< 4.3).
        if rc != 0 && Errno::last() != Errno::EINVAL {
            return Err(Errno::last());
        }
        if ambient {
            for cap in (0..=self.last_cap).filter(|c| self.contains(*c)) {
                // SAFETY: prctl with integer arguments only.
                let rc = unsafe {
                    libc::prctl(
                        libc::PR_CAP_AMBIENT,
                        libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                        libc::c_ulong::from(cap),
                        0,
                        0,
                    )
                };
                if rc != 0 {
                    return Err(Errno::last());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_in_any_spelling() {
        let set = CapabilitySet::parse(
            &[
                "CAP_CHOWN".into(),
                "net_bind_service".into(),
                "cap_kill".into(),
            ],
            40,
        )
        .unwrap();
        assert!(set.contains(caps::Capability::CAP_CHOWN.index()));
        assert!(set.contains(caps::Capability::CAP_NET_BIND_SERVICE.index()));
        assert!(set.contains(caps::Capability::CAP_KILL.index()));
        assert!(!set.contains(caps::Capability::CAP_SYS_ADMIN.index()));
    }

    #[test]
    fn unknown_name_is_an_error_naming_it() {
        let err = CapabilitySet::parse(&["CAP_FLY".into()], 40).unwrap_err();
        assert_eq!(err.to_string(), "unknown capability \"CAP_FLY\"");
    }

    #[test]
    fn capabilities_beyond_the_kernel_are_ignored() {
        let set = CapabilitySet::parse(&["CAP_CHECKPOINT_RESTORE".into()], 37).unwrap();
        assert_eq!(set.mask(), 0);
    }
}

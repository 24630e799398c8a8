//! Time: the host's clock, which a sandbox has no other way to read.

use crate::bindings::sched::driver::clock as raw;

/// Unix time in nanoseconds.
pub fn now() -> u64 {
    raw::now()
}

/// Nanoseconds elapsed since `since` (Unix nanoseconds), 0 if `since` is in
/// the future.
pub fn elapsed_since(since: u64) -> u64 {
    now().saturating_sub(since)
}

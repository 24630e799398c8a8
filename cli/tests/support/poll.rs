//! Waiting for a condition without sleeping blindly: poll it until it holds
//! or a deadline passes, and fail with the last reason it did not hold.

use std::time::{Duration, Instant};

/// How often a condition is checked.
const INTERVAL: Duration = Duration::from_millis(100);

/// Polls `check` until it answers `Ok` or `timeout` passes.
///
/// # Panics
///
/// When the deadline passes: the message names `what` and the last `Err`.
pub fn until<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    match within(timeout, &mut check) {
        Ok(v) => v,
        Err(last) => panic!("{what}: not within {timeout:?}; last: {last}"),
    }
}

/// Polls `check` until it answers `Ok` or `timeout` passes, answering the
/// last `Err` then.
pub fn within<T>(
    timeout: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> Result<T, String> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match check() {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(last);
        }
        std::thread::sleep(INTERVAL.min(deadline - now));
    }
}

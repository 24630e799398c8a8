//! The `clock` capability: unix time in nanoseconds from the system clock.
//!
//! It owns nothing else; every driver has it (see [`super`]).

use std::time::{SystemTime, UNIX_EPOCH};

use super::ClockProvider;

/// The system's real-time clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl ClockProvider for SystemClock {
    fn now(&self) -> u64 {
        unix_nanos(SystemTime::now())
    }
}

/// `t` as unix nanoseconds (0 before 1970, saturating far in the future).
pub fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_after_2020() {
        assert!(SystemClock.now() > 1_577_836_800_000_000_000);
    }
}

//! Durations as Nomad's JSON carries them: integer nanoseconds.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A Go `time.Duration`: signed nanoseconds, serialised as a bare integer so
/// job JSON matches Nomad's byte for byte.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Duration(pub i64);

const NANOS_PER_MICRO: i64 = 1_000;
const NANOS_PER_MILLI: i64 = 1_000_000;
const NANOS_PER_SEC: i64 = 1_000_000_000;

impl Duration {
    /// The zero duration.
    pub const ZERO: Duration = Duration(0);

    /// A duration of whole nanoseconds.
    pub const fn from_nanos(nanos: i64) -> Self {
        Duration(nanos)
    }

    /// A duration of whole milliseconds (saturating).
    pub const fn from_millis(millis: i64) -> Self {
        Duration(millis.saturating_mul(NANOS_PER_MILLI))
    }

    /// A duration of whole seconds (saturating).
    pub const fn from_secs(secs: i64) -> Self {
        Duration(secs.saturating_mul(NANOS_PER_SEC))
    }

    /// A duration of whole minutes (saturating).
    pub const fn from_mins(mins: i64) -> Self {
        Duration(mins.saturating_mul(60 * NANOS_PER_SEC))
    }

    /// A duration of whole hours (saturating).
    pub const fn from_hours(hours: i64) -> Self {
        Duration(hours.saturating_mul(3600 * NANOS_PER_SEC))
    }

    /// The length in nanoseconds.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Whether the duration is below zero (Go allows negative durations).
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// A `std::time::Duration`; negative durations become zero because std
    /// cannot represent them.
    pub fn to_std(self) -> std::time::Duration {
        if self.0 <= 0 {
            std::time::Duration::ZERO
        } else {
            std::time::Duration::from_nanos(self.0.unsigned_abs())
        }
    }
}

impl From<std::time::Duration> for Duration {
    /// Converts, saturating at `i64::MAX` nanoseconds.
    fn from(d: std::time::Duration) -> Self {
        Duration(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }
}

/// Writes `v` as `int[.frac]` where `frac` is the `digits` low decimal digits
/// of `v` with trailing zeros dropped, as Go's `fmtFrac`/`fmtInt` do.
fn write_frac(f: &mut fmt::Formatter<'_>, v: u64, digits: u32) -> fmt::Result {
    let scale = 10u64.pow(digits);
    let int = v / scale;
    let mut frac = v % scale;
    write!(f, "{int}")?;
    if frac != 0 {
        let mut width = digits as usize;
        while frac.is_multiple_of(10) {
            frac /= 10;
            width -= 1;
        }
        write!(f, ".{frac:0width$}")?;
    }
    Ok(())
}

impl fmt::Display for Duration {
    /// Formats like Go's `time.Duration.String()`: `0s`, `1.5µs`, `10ms`,
    /// `10s`, `1m30s`, `2h0m0s`, with a leading `-` for negatives.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.0 < 0;
        let u = self.0.unsigned_abs();
        if neg {
            f.write_str("-")?;
        }
        if u == 0 {
            return f.write_str("0s");
        }
        if u < NANOS_PER_SEC as u64 {
            return if u < NANOS_PER_MICRO as u64 {
                write!(f, "{u}ns")
            } else if u < NANOS_PER_MILLI as u64 {
                write_frac(f, u, 3)?;
                f.write_str("µs")
            } else {
                write_frac(f, u, 6)?;
                f.write_str("ms")
            };
        }
        let secs_total = u / NANOS_PER_SEC as u64;
        let hours = secs_total / 3600;
        let mins = (secs_total / 60) % 60;
        let sub_minute = u % (60 * NANOS_PER_SEC as u64);
        if hours > 0 {
            write!(f, "{hours}h{mins}m")?;
        } else if mins > 0 {
            write!(f, "{mins}m")?;
        }
        write_frac(f, sub_minute, 9)?;
        f.write_str("s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_matches_go() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (10 * NANOS_PER_MILLI, "10ms"),
            (NANOS_PER_SEC, "1s"),
            (10 * NANOS_PER_SEC, "10s"),
            (1_500_000_000, "1.5s"),
            (90 * NANOS_PER_SEC, "1m30s"),
            (60 * NANOS_PER_SEC, "1m0s"),
            (2 * 3600 * NANOS_PER_SEC, "2h0m0s"),
            (
                3600 * NANOS_PER_SEC + 61 * NANOS_PER_SEC + 500 * NANOS_PER_MILLI,
                "1h1m1.5s",
            ),
            (-90 * NANOS_PER_SEC, "-1m30s"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for (nanos, want) in cases {
            assert_eq!(Duration(nanos).to_string(), want, "{nanos}");
        }
    }

    #[test]
    fn constructors_and_std() {
        assert_eq!(Duration::from_secs(5).as_nanos(), 5_000_000_000);
        assert_eq!(Duration::from_millis(5).as_nanos(), 5_000_000);
        assert_eq!(Duration::from_mins(2), Duration::from_secs(120));
        assert_eq!(Duration::from_hours(1), Duration::from_secs(3600));
        assert_eq!(Duration::from_secs(-3).to_std(), std::time::Duration::ZERO);
        assert_eq!(
            Duration::from_secs(3).to_std(),
            std::time::Duration::from_secs(3)
        );
        assert_eq!(
            Duration::from(std::time::Duration::from_millis(7)),
            Duration::from_millis(7)
        );
        assert_eq!(Duration::from_secs(i64::MAX).as_nanos(), i64::MAX);
    }

    #[test]
    fn serde_is_integer_nanoseconds() {
        let d = Duration::from_secs(5);
        assert_eq!(
            serde_json::to_string(&d).ok().as_deref(),
            Some("5000000000")
        );
        let back: Duration = serde_json::from_str("5000000000").unwrap_or_default();
        assert_eq!(back, d);
        assert!(serde_json::from_str::<Duration>("\"5s\"").is_err());
    }
}

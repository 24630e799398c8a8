//! Go-style duration strings (`"10s"`, `"250ms"`, `"1h30m"`, `"1.5s"`), as
//! Nomad job specs write them.
//!
//! Units: `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`; a bare `0` is zero.
//! Negative durations are refused. For serde fields use
//! `#[serde(default, deserialize_with = "sched_driver_sdk::duration::deserialize_opt")]`;
//! an integer is read as nanoseconds (Nomad's JSON form).

use std::time::Duration;

use serde::Deserialize;

/// Parses a Go-style duration string.
pub fn parse(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".to_string());
    }
    if s.starts_with('-') {
        return Err(format!("negative duration {text:?}"));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(num_len);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(format!("invalid duration {text:?}"));
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("missing unit in duration {text:?}")),
            other => return Err(format!("unknown unit {other:?} in duration {text:?}")),
        };
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole
                .parse()
                .map_err(|_| format!("invalid duration {text:?}"))?
        };
        let mut nanos = whole
            .checked_mul(scale)
            .ok_or_else(|| format!("duration {text:?} overflows"))?;
        // Fractional digits beyond nanosecond precision are dropped.
        let mut place = scale;
        for digit in frac.chars() {
            place /= 10;
            if place == 0 {
                break;
            }
            nanos += u128::from(digit.to_digit(10).unwrap_or(0)) * place;
        }
        total = total
            .checked_add(nanos)
            .ok_or_else(|| format!("duration {text:?} overflows"))?;
        rest = next;
    }
    let secs =
        u64::try_from(total / 1_000_000_000).map_err(|_| format!("duration {text:?} overflows"))?;
    // The remainder is below 10^9 and fits a u32.
    let sub = (total % 1_000_000_000) as u32;
    Ok(Duration::new(secs, sub))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Repr {
    Text(String),
    Nanos(u64),
}

/// Deserializes a duration from a Go-style string or an integer of nanoseconds.
pub fn deserialize<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
    match Repr::deserialize(de) {
        Ok(Repr::Text(s)) => parse(&s).map_err(serde::de::Error::custom),
        Ok(Repr::Nanos(n)) => Ok(Duration::from_nanos(n)),
        Err(_) => Err(serde::de::Error::custom(
            "expected a duration such as \"10s\" or \"250ms\"",
        )),
    }
}

/// Like [`deserialize`], for an `Option<Duration>` field (`null` is `None`).
pub fn deserialize_opt<'de, D: serde::Deserializer<'de>>(
    de: D,
) -> Result<Option<Duration>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "deserialize")] Duration);
    Option::<Wrap>::deserialize(de).map(|o| o.map(|Wrap(d)| d))
}

/// Clamps a duration to whole milliseconds in a `u32` (the WIT's timeouts).
pub fn to_millis_u32(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

/// A duration in nanoseconds, saturating at `u64::MAX`.
pub fn to_nanos_u64(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse(".5s").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("2us").unwrap(), Duration::from_micros(2));
        assert_eq!(parse("3µs").unwrap(), Duration::from_micros(3));
        assert_eq!(parse("7ns").unwrap(), Duration::from_nanos(7));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        assert_eq!(parse("1m0.25s").unwrap(), Duration::from_millis(60_250));
    }

    #[test]
    fn refuses_bad_durations() {
        for bad in [
            "",
            "10",
            "-1s",
            "1x",
            "s",
            "1..2s",
            "1.2.3s",
            "99999999999999999999999h",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn deserializes_strings_and_nanos() {
        #[derive(Deserialize)]
        struct C {
            #[serde(default, deserialize_with = "deserialize_opt")]
            d: Option<Duration>,
        }
        let c: C = serde_json::from_str(r#"{"d":"2s"}"#).unwrap();
        assert_eq!(c.d, Some(Duration::from_secs(2)));
        let c: C = serde_json::from_str(r#"{"d":1000}"#).unwrap();
        assert_eq!(c.d, Some(Duration::from_micros(1)));
        let c: C = serde_json::from_str("{}").unwrap();
        assert_eq!(c.d, None);
        assert!(serde_json::from_str::<C>(r#"{"d":"soon"}"#).is_err());
        assert_eq!(to_millis_u32(Duration::from_secs(u64::MAX)), u32::MAX);
    }
}

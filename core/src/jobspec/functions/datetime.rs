//! Date and time functions: `timestamp` (from [`super::FnEnv::now`], never the
//! system clock), `formatdate` with Terraform's format specification, and
//! `timeadd` with Go duration strings.

use chrono::{DateTime, Datelike, FixedOffset, SecondsFormat, TimeDelta, Timelike};
use hcl::Value;
use hcl::eval::{FuncArgs, FuncDef, ParamType};

use super::with_current_env;

pub(super) fn register(defs: &mut Vec<(&'static str, FuncDef)>) {
    defs.push(("timestamp", FuncDef::builder().build(timestamp)));
    defs.push((
        "formatdate",
        FuncDef::builder()
            .param(ParamType::String)
            .param(ParamType::String)
            .build(formatdate),
    ));
    defs.push((
        "timeadd",
        FuncDef::builder()
            .param(ParamType::String)
            .param(ParamType::String)
            .build(timeadd),
    ));
}

/// The string in positional argument `i` (already type-checked by hcl-rs).
fn arg_str(args: &FuncArgs, i: usize) -> &str {
    args.get(i).and_then(Value::as_str).unwrap_or_default()
}

/// `timestamp()`: the parse's current time as RFC 3339 in UTC.
fn timestamp(_args: FuncArgs) -> Result<Value, String> {
    with_current_env(|env| {
        env.map(|e| e.now.to_rfc3339_opts(SecondsFormat::Secs, true).into())
            .ok_or_else(|| "timestamp: no clock is available in this context".to_string())
    })
}

/// Parses an RFC 3339 timestamp, keeping its offset.
fn parse_ts(s: &str, func: &str) -> Result<DateTime<FixedOffset>, String> {
    DateTime::parse_from_rfc3339(s)
        .map_err(|e| format!("{func}: {s:?} is not a valid RFC 3339 timestamp: {e}"))
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// The offset as `+hh:mm` (with `colon`) or `+hhmm`.
fn offset_text(t: &DateTime<FixedOffset>, colon: bool) -> String {
    let secs = t.offset().local_minus_utc();
    let sign = if secs < 0 { '-' } else { '+' };
    let mins = secs.unsigned_abs() / 60;
    if colon {
        format!("{sign}{:02}:{:02}", mins / 60, mins % 60)
    } else {
        format!("{sign}{:02}{:02}", mins / 60, mins % 60)
    }
}

/// `formatdate(spec, timestamp)`.
fn formatdate(args: FuncArgs) -> Result<Value, String> {
    let spec: Vec<char> = arg_str(&args, 0).chars().collect();
    let t = parse_ts(arg_str(&args, 1), "formatdate")?;
    let mut out = String::new();
    let mut i = 0;
    while i < spec.len() {
        let c = spec[i];
        if c == '\'' {
            // Quoted literal; '' inside or outside quotes is a single quote.
            if spec.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            i += 1;
            loop {
                match spec.get(i) {
                    None => return Err("formatdate: unterminated quoted literal".into()),
                    Some('\'') if spec.get(i + 1) == Some(&'\'') => {
                        out.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        out.push(ch);
                        i += 1;
                    }
                }
            }
            continue;
        }
        if !c.is_ascii_alphabetic() {
            out.push(c);
            i += 1;
            continue;
        }
        let mut j = i;
        while spec.get(j) == Some(&c) {
            j += 1;
        }
        let verb: String = spec[i..j].iter().collect();
        i = j;
        let hour12 = match t.hour() % 12 {
            0 => 12,
            h => h,
        };
        let text = match verb.as_str() {
            "YYYY" => format!("{:04}", t.year()),
            "YY" => format!("{:02}", t.year().rem_euclid(100)),
            "MMMM" => MONTHS[t.month0() as usize % 12].to_string(),
            "MMM" => MONTHS[t.month0() as usize % 12][..3].to_string(),
            "MM" => format!("{:02}", t.month()),
            "M" => t.month().to_string(),
            "DD" => format!("{:02}", t.day()),
            "D" => t.day().to_string(),
            "EEEE" => DAYS[t.weekday().num_days_from_monday() as usize % 7].to_string(),
            "EEE" => DAYS[t.weekday().num_days_from_monday() as usize % 7][..3].to_string(),
            "hh" => format!("{:02}", t.hour()),
            "h" => t.hour().to_string(),
            "HH" => format!("{hour12:02}"),
            "H" => hour12.to_string(),
            "AA" => if t.hour() < 12 { "AM" } else { "PM" }.to_string(),
            "aa" => if t.hour() < 12 { "am" } else { "pm" }.to_string(),
            "mm" => format!("{:02}", t.minute()),
            "m" => t.minute().to_string(),
            "ss" => format!("{:02}", t.second()),
            "s" => t.second().to_string(),
            "ZZZZZ" => offset_text(&t, true),
            "ZZZZ" => offset_text(&t, false),
            "ZZZ" if t.offset().local_minus_utc() == 0 => "UTC".to_string(),
            "ZZZ" => offset_text(&t, false),
            "Z" if t.offset().local_minus_utc() == 0 => "Z".to_string(),
            "Z" => offset_text(&t, true),
            other => {
                return Err(format!(
                    "formatdate: invalid date format verb {other:?}; literal text must be quoted"
                ));
            }
        };
        out.push_str(&text);
    }
    Ok(out.into())
}

/// Parses a Go duration string (`"1h30m"`, `"-1.5h"`, `"300ms"`).
pub(super) fn parse_duration(s: &str) -> Result<TimeDelta, String> {
    let bad = || format!("timeadd: {s:?} is not a valid duration (like \"1h30m\" or \"-10s\")");
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(TimeDelta::zero());
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (num, tail) = rest.split_at(num_end);
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(bad()),
        };
        let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
        if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
            return Err(bad());
        }
        let whole: i128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| bad())?
        };
        let mut amount = whole.checked_mul(scale).ok_or_else(bad)?;
        let mut div = scale;
        for d in frac_part.chars().take(18) {
            div /= 10;
            if div == 0 {
                break;
            }
            amount += i128::from(d.to_digit(10).unwrap_or(0)) * div;
        }
        total = total.checked_add(amount).ok_or_else(bad)?;
        if total > i128::from(i64::MAX) {
            return Err(format!("timeadd: duration {s:?} is too long"));
        }
        rest = tail;
    }
    let nanos = i64::try_from(if negative { -total } else { total })
        .map_err(|_| format!("timeadd: duration {s:?} is too long"))?;
    Ok(TimeDelta::nanoseconds(nanos))
}

/// `timeadd(timestamp, duration)`: the result keeps the timestamp's offset.
fn timeadd(args: FuncArgs) -> Result<Value, String> {
    let t = parse_ts(arg_str(&args, 0), "timeadd")?;
    let d = parse_duration(arg_str(&args, 1))?;
    let r = t
        .checked_add_signed(d)
        .ok_or("timeadd: the result is out of the supported date range")?;
    Ok(r.to_rfc3339_opts(SecondsFormat::Secs, true).into())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{assert_err, assert_eval, eval};
    use super::super::{FnEnv, with_env};
    use chrono::TimeZone;

    #[test]
    fn timestamp_comes_from_env() {
        let env = FnEnv {
            fs: None,
            base_dir: "/".into(),
            home_dir: None,
            now: chrono::Utc
                .with_ymd_and_hms(2024, 1, 2, 3, 4, 5)
                .single()
                .unwrap_or_default(),
        };
        let got = with_env(env, || eval("timestamp()"));
        assert_eq!(got, Ok("2024-01-02T03:04:05Z".into()));
        assert_err("timestamp()", "no clock");
        assert_err("timestamp(1)", "positional arguments");
    }

    #[test]
    fn formatdate_spec() {
        assert_eval(
            r#"formatdate("YYYY-MM-DD", "2024-01-02T03:04:05Z")"#,
            r#""2024-01-02""#,
        );
        assert_eval(
            r#"formatdate("DD MMM YYYY hh:mm ZZZ", "2018-01-02T23:12:01Z")"#,
            r#""02 Jan 2018 23:12 UTC""#,
        );
        assert_eval(
            r#"formatdate("EEEE, DD-MMM-YY hh:mm:ss ZZZZZ", "2018-01-02T23:12:01-08:00")"#,
            r#""Tuesday, 02-Jan-18 23:12:01 -08:00""#,
        );
        assert_eval(
            r#"formatdate("h:mm AA, MMMM D", "2018-03-04T13:05:06+05:30")"#,
            r#""13:05 PM, March 4""#,
        );
        assert_eval(
            r#"formatdate("H 'o''clock' aa ZZZZ Z", "2018-03-04T00:05:06+05:30")"#,
            r#""12 o'clock am +0530 +05:30""#,
        );
        assert_eval(
            r#"formatdate("EEE Z", "2018-03-04T00:05:06Z")"#,
            r#""Sun Z""#,
        );
        assert_err(
            r#"formatdate("YYYY", "2024-01-02")"#,
            "not a valid RFC 3339",
        );
        assert_err(
            r#"formatdate("Today is YYYY", "2024-01-02T00:00:00Z")"#,
            "invalid date format verb",
        );
        assert_err(
            r#"formatdate("'open", "2024-01-02T00:00:00Z")"#,
            "unterminated",
        );
    }

    #[test]
    fn timeadd_durations() {
        assert_eval(
            r#"timeadd("2017-11-22T00:00:00Z", "10m")"#,
            r#""2017-11-22T00:10:00Z""#,
        );
        assert_eval(
            r#"timeadd("2017-11-22T00:00:00Z", "-1.5h")"#,
            r#""2017-11-21T22:30:00Z""#,
        );
        assert_eval(
            r#"timeadd("2017-11-22T00:00:00+01:00", "1h2m3s")"#,
            r#""2017-11-22T01:02:03+01:00""#,
        );
        assert_eval(
            r#"timeadd("2017-11-22T00:00:00Z", "0")"#,
            r#""2017-11-22T00:00:00Z""#,
        );
        assert_err(
            r#"timeadd("2017-11-22T00:00:00Z", "10")"#,
            "not a valid duration",
        );
        assert_err(
            r#"timeadd("2017-11-22T00:00:00Z", "1d")"#,
            "not a valid duration",
        );
        assert_err(
            r#"timeadd("2017-11-22T00:00:00Z", "")"#,
            "not a valid duration",
        );
        assert_err(
            r#"timeadd("2017-11-22T00:00:00Z", "99999999999h")"#,
            "too long",
        );
        assert_err(r#"timeadd("yesterday", "1h")"#, "RFC 3339");
    }

    #[test]
    fn duration_units() {
        let d = super::parse_duration("1h1m1s1ms1us1ns").unwrap_or_default();
        assert_eq!(d.num_nanoseconds(), Some(3_661_001_001_001));
        let d = super::parse_duration(".5s").unwrap_or_default();
        assert_eq!(d.num_milliseconds(), 500);
        assert!(super::parse_duration("1.2.3s").is_err());
        assert!(super::parse_duration("-").is_err());
    }
}

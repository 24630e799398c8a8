//! Reading the Docker Engine API's answers (pure functions, tested on the host).

use serde_json::Value;

use sched_driver_sdk::{ExitResult, TaskUsage};

/// Splits the multiplexed stream of a non-TTY attach or exec into stdout
/// and stderr: frames of an 8-byte header (stream, 0, 0, 0, big-endian
/// length) and the payload. A truncated last frame keeps what arrived.
pub fn demux(mut raw: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    while raw.len() >= 8 {
        let stream = raw[0];
        let len = u32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]]) as usize;
        let end = raw.len().min(8 + len);
        let payload = &raw[8..end];
        if stream == 2 {
            err.extend_from_slice(payload)
        } else {
            out.extend_from_slice(payload)
        }
        raw = &raw[end..];
    }
    (out, err)
}

/// A container's `State` from `GET /containers/{id}/json`.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerState {
    /// Whether it runs (or is paused or restarting).
    pub running: bool,
    /// How it ended, once it has.
    pub exit: Option<ExitResult>,
    /// `StartedAt` in Unix nanoseconds, if set.
    pub started_at: Option<u64>,
    /// `FinishedAt` in Unix nanoseconds, if set.
    pub finished_at: Option<u64>,
}

/// Reads the `State` of an inspect answer.
pub fn container_state(inspect: &Value) -> ContainerState {
    let s = &inspect["State"];
    let running = s["Running"].as_bool().unwrap_or(false)
        || s["Restarting"].as_bool().unwrap_or(false)
        || s["Paused"].as_bool().unwrap_or(false);
    let exit = (!running).then(|| ExitResult {
        exit_code: s["ExitCode"]
            .as_i64()
            .and_then(|c| i32::try_from(c).ok())
            .unwrap_or(-1),
        signal: 0,
        oom_killed: s["OOMKilled"].as_bool().unwrap_or(false),
    });
    ContainerState {
        running,
        exit,
        started_at: s["StartedAt"].as_str().and_then(parse_rfc3339),
        finished_at: s["FinishedAt"].as_str().and_then(parse_rfc3339),
    }
}

/// Parses Docker's RFC 3339 times (`2024-01-02T03:04:05.123456789Z`, or
/// with an offset) into Unix nanoseconds. Docker's zero time
/// (`0001-01-01T00:00:00Z`) and anything before 1970 give `None`.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos: i64 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        let mut scale = 100_000_000;
        for d in frac[..digits].bytes().take(9) {
            nanos += i64::from(d - b'0') * scale;
            scale /= 10;
        }
        rest = &frac[digits..];
    }
    let offset_secs = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            let h: i64 = rest.get(1..3)?.parse().ok()?;
            let m: i64 = rest.get(4..6)?.parse().ok()?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_secs;
    if secs < 0 {
        return None;
    }
    u64::try_from(secs)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(u64::try_from(nanos).ok()?)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the civil-from-days
/// algorithm run backwards, with 400-year eras).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Usage from `GET /containers/{id}/stats?stream=false` (cgroup v1 or v2).
pub fn usage(stats: &Value, now: u64) -> TaskUsage {
    let mem = &stats["memory_stats"];
    let rss = mem["stats"]["rss"]
        .as_u64()
        .or_else(|| mem["stats"]["anon"].as_u64())
        .unwrap_or(0);
    TaskUsage {
        timestamp: now,
        cpu_total_ns: stats["cpu_stats"]["cpu_usage"]["total_usage"]
            .as_u64()
            .unwrap_or(0),
        memory_rss: rss,
        memory_usage: mem["usage"].as_u64().unwrap_or(0),
        pids: stats["pids_stats"]["current"]
            .as_u64()
            .and_then(|p| u32::try_from(p).ok())
            .unwrap_or(0),
    }
}

//! Task events with Nomad's types and messages, so `alloc status` reads the
//! same as Nomad's.

use std::collections::BTreeMap;

use sched_core::model::{Duration as ModelDuration, TaskEvent};

/// The task was received by the client.
pub const RECEIVED: &str = "Received";
/// The task directory is being built.
pub const TASK_SETUP: &str = "Task Setup";
/// The task started.
pub const STARTED: &str = "Started";
/// The task exited.
pub const TERMINATED: &str = "Terminated";
/// The task will restart.
pub const RESTARTING: &str = "Restarting";
/// The task will not restart.
pub const NOT_RESTARTING: &str = "Not Restarting";
/// The client is killing the task.
pub const KILLING: &str = "Killing";
/// The task was killed.
pub const KILLED: &str = "Killed";
/// The driver failed to start the task.
pub const DRIVER_FAILURE: &str = "Driver Failure";
/// Artifacts are being downloaded.
pub const DOWNLOADING_ARTIFACTS: &str = "Downloading Artifacts";
/// An artifact could not be downloaded.
pub const ARTIFACT_DOWNLOAD_FAILED: &str = "Failed Artifact Download";
/// A setup step failed.
pub const SETUP_FAILURE: &str = "Setup Failure";
/// A sibling task failed, so this one is killed.
pub const SIBLING_FAILED: &str = "Sibling Task Failed";
/// The group's leader task ended, so this one is killed.
pub const LEADER_DEAD: &str = "Leader Task Dead";
/// The client re-attached to the task after a restart.
pub const RECOVERED: &str = "Task Recovered";
/// A user asked for the task to be restarted (`alloc restart`).
pub const RESTART_SIGNALED: &str = "Restart Signaled";
/// A user sent the task a signal (`alloc signal`).
pub const SIGNALING: &str = "Signaling";

/// Unix nanoseconds now.
pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// RFC 3339 (UTC, seconds) of Unix nanoseconds, for task state times.
pub fn rfc3339(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// An event of `kind` with a message shown to humans.
pub fn event(kind: &str, message: impl Into<String>) -> TaskEvent {
    let message = message.into();
    TaskEvent {
        r#type: kind.to_string(),
        time: now_nanos(),
        display_message: message.clone(),
        message,
        details: BTreeMap::new(),
        ..TaskEvent::default()
    }
}

/// "Terminated" with the exit code, signal and OOM flag.
pub fn terminated(exit_code: i32, signal: i32, oom: bool) -> TaskEvent {
    let mut e = event(
        TERMINATED,
        format!(
            "Exit Code: {exit_code}{}{}",
            if signal != 0 {
                format!(", Signal: {signal}")
            } else {
                String::new()
            },
            if oom { ", OOM Killed" } else { "" }
        ),
    );
    e.exit_code = i64::from(exit_code);
    e.signal = i64::from(signal);
    e.details.insert("exit_code".into(), exit_code.to_string());
    e.details.insert("signal".into(), signal.to_string());
    e.details.insert("oom_killed".into(), oom.to_string());
    e
}

/// "Restarting" with the reason and delay.
pub fn restarting(reason: &str, delay: std::time::Duration) -> TaskEvent {
    let mut e = event(RESTARTING, format!("Task restarting in {:?}", delay));
    e.restart_reason = reason.to_string();
    e.start_delay = i64::try_from(delay.as_nanos()).unwrap_or(i64::MAX);
    e.details
        .insert("restart_reason".into(), reason.to_string());
    e
}

/// "Not Restarting" with the reason.
pub fn not_restarting(reason: &str, fails: bool) -> TaskEvent {
    let mut e = event(NOT_RESTARTING, reason);
    e.restart_reason = reason.to_string();
    e.fails_task = fails;
    e
}

/// "Killing" with the kill timeout.
pub fn killing(timeout: std::time::Duration, reason: &str) -> TaskEvent {
    let mut msg = format!("Sent interrupt. Waiting {timeout:?} before force killing");
    if !reason.is_empty() {
        msg = format!("{reason}. {msg}");
    }
    let mut e = event(KILLING, msg);
    e.kill_timeout =
        ModelDuration::from_nanos(i64::try_from(timeout.as_nanos()).unwrap_or(i64::MAX));
    e
}

/// "Driver Failure" with the driver's error.
pub fn driver_failure(error: &str) -> TaskEvent {
    let mut e = event(DRIVER_FAILURE, error);
    e.driver_error = error.to_string();
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(1_764_460_800 * 1_000_000_000),
            "2025-11-30T00:00:00Z"
        );
        assert_eq!(
            rfc3339(951_782_400 * 1_000_000_000 + 3_661_000_000_000),
            "2000-02-29T01:01:01Z"
        );
    }

    #[test]
    fn terminated_carries_the_exit() {
        let e = terminated(3, 0, false);
        assert_eq!(e.r#type, "Terminated");
        assert_eq!(e.exit_code, 3);
        assert_eq!(e.message, "Exit Code: 3");
    }
}

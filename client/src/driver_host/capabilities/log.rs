//! The `log` capability: a driver's log lines into the client's `tracing`.
//!
//! Each line becomes one event on the `sched::driver` target with the
//! driver's name, the call, the task's trace id and the driver's own fields
//! (joined as `key=value`, since tracing fields are fixed at compile time).
//! Messages and fields are cut at a bound so a driver cannot flood the logs
//! with one call. It owns nothing else: where the events go is the
//! subscriber's business.

use super::{CallContext, LogLevel, LogProvider};

/// Longest message or field list kept, in bytes.
const MAX_LEN: usize = 8 * 1024;

/// Logs through `tracing`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingLog;

impl LogProvider for TracingLog {
    fn log(
        &self,
        cx: &CallContext<'_>,
        level: LogLevel,
        message: &str,
        fields: &[(String, String)],
    ) {
        let message = truncate(message);
        let joined = fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        let fields = truncate(&joined);
        let driver = cx.driver;
        let call = cx.call;
        let trace_id = cx.trace_id.unwrap_or("");
        match level {
            LogLevel::Trace => {
                tracing::trace!(target: "sched::driver", driver, call, trace_id, fields, "{message}")
            }
            LogLevel::Debug => {
                tracing::debug!(target: "sched::driver", driver, call, trace_id, fields, "{message}")
            }
            LogLevel::Info => {
                tracing::info!(target: "sched::driver", driver, call, trace_id, fields, "{message}")
            }
            LogLevel::Warn => {
                tracing::warn!(target: "sched::driver", driver, call, trace_id, fields, "{message}")
            }
            LogLevel::Error => {
                tracing::error!(target: "sched::driver", driver, call, trace_id, fields, "{message}")
            }
        }
    }
}

/// `s` cut to at most [`MAX_LEN`] bytes at a character boundary.
fn truncate(s: &str) -> &str {
    if s.len() <= MAX_LEN {
        return s;
    }
    let mut end = MAX_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_char_boundaries() {
        let s = "é".repeat(MAX_LEN);
        let t = truncate(&s);
        assert!(t.len() <= MAX_LEN && t.chars().all(|c| c == 'é'));
    }
}

//! What the job/alloc/eval/node commands share: one runtime per command,
//! API errors as one line, ID prefix lookup, relative times and statuses as
//! Nomad prints them.

use std::future::Future;
use std::time::Duration;

use sched_api::{Client, QueryOptions};
use serde::Serialize;

use crate::commands::status::ApiArgs;
use crate::exit::user;

/// Runs `f` with a client of the agent; its errors already read as one line.
pub fn block<T, F, Fut>(api: &ApiArgs, f: F) -> anyhow::Result<T>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let client = Client::from_env(api.address.as_deref()).map_err(api_err)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(f(client))
}

/// An API failure as the one line the user sees (exit code 1).
pub fn api_err(e: sched_api::Error) -> anyhow::Error {
    user(format!("error: {e}"))
}

/// The one ID among `ids` that `prefix` names: an exact match wins, none or
/// several is a user error that lists the candidates.
pub fn pick(kind: &str, prefix: &str, ids: Vec<String>) -> anyhow::Result<String> {
    if ids.iter().any(|id| id == prefix) {
        return Ok(prefix.to_string());
    }
    match ids.len() {
        0 => Err(user(format!("error: no {kind} with ID prefix {prefix:?}"))),
        1 => Ok(ids.into_iter().next().unwrap_or_default()),
        _ => Err(user(format!(
            "error: prefix {prefix:?} matches several {kind}s: {}",
            ids.join(", ")
        ))),
    }
}

/// The full job ID `prefix` names.
pub async fn job_id(c: &Client, prefix: &str) -> anyhow::Result<String> {
    let (jobs, _) = c
        .jobs(&QueryOptions::with_prefix(prefix))
        .await
        .map_err(api_err)?;
    pick("job", prefix, jobs.into_iter().map(|j| j.id).collect())
}

/// The full allocation ID `prefix` names.
pub async fn alloc_id(c: &Client, prefix: &str) -> anyhow::Result<String> {
    let (allocs, _) = c
        .allocations(&QueryOptions::with_prefix(prefix))
        .await
        .map_err(api_err)?;
    pick(
        "allocation",
        prefix,
        allocs.into_iter().map(|a| a.id).collect(),
    )
}

/// The full evaluation ID `prefix` names.
pub async fn eval_id(c: &Client, prefix: &str) -> anyhow::Result<String> {
    let (evals, _) = c
        .evaluations(&QueryOptions::with_prefix(prefix))
        .await
        .map_err(api_err)?;
    pick(
        "evaluation",
        prefix,
        evals.into_iter().map(|e| e.id.0).collect(),
    )
}

/// The full node ID `prefix` names.
pub async fn node_id(c: &Client, prefix: &str) -> anyhow::Result<String> {
    let (nodes, _) = c
        .nodes(&QueryOptions::with_prefix(prefix))
        .await
        .map_err(api_err)?;
    pick("node", prefix, nodes.into_iter().map(|n| n.id).collect())
}

/// The first 8 characters of an ID, as tables show them.
pub fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

/// An ID as tables show it: whole with `-verbose`, else its first 8 characters.
pub fn id_col(id: &str, verbose: bool) -> String {
    if verbose { id.to_string() } else { short(id) }
}

/// A status enum as its wire name (`"running"`, `"complete"`).
pub fn wire<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// How long before `now_ns` the Unix-nanosecond time `ns` was, as Nomad's
/// tables say it: "10s ago", "3m5s ago", "2h1m ago", "4d2h ago".
pub fn ago(ns: i64, now_ns: i64) -> String {
    if ns <= 0 {
        return "-".into();
    }
    let secs = u64::try_from(now_ns.saturating_sub(ns) / 1_000_000_000).unwrap_or(0);
    let d = Duration::from_secs(secs);
    let s = d.as_secs();
    let text = match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        3600..86400 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
    };
    format!("{text} ago")
}

/// Now, in Unix nanoseconds.
pub fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

/// A Unix-nanosecond time as RFC 3339 in UTC.
pub fn date(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Parses `10s`, `5m`, `1h`, `1h30m` (Go's duration syntax, whole units).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let mut total = 0u64;
    let mut num = String::new();
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while let Some(c) = rest.chars().next() {
        if c.is_ascii_digit() {
            num.push(c);
            rest = &rest[1..];
            continue;
        }
        let (unit, len) = if rest.starts_with("ms") {
            (0, 2)
        } else {
            match c {
                'h' => (3600, 1),
                'm' => (60, 1),
                's' => (1, 1),
                _ => return None,
            }
        };
        let n: u64 = num.parse().ok()?;
        num.clear();
        total = total.checked_add(n.checked_mul(unit)?)?;
        rest = &rest[len..];
    }
    if !num.is_empty() {
        return None;
    }
    Some(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_names_one_id_or_says_why_not() {
        let ids = vec!["abc1".to_string(), "abc2".to_string()];
        assert_eq!(pick("job", "abc1", ids.clone()).ok(), Some("abc1".into()));
        let err = pick("job", "abc", ids).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("error: prefix \"abc\" matches several jobs: abc1, abc2")
        );
        let err = pick("node", "x", vec![]).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("error: no node with ID prefix \"x\""));
        assert_eq!(
            pick("job", "a", vec!["abc".into()]).ok(),
            Some("abc".into())
        );
    }

    #[test]
    fn relative_times_read_like_nomads() {
        let s = 1_000_000_000;
        assert_eq!(ago(100 * s, 110 * s), "10s ago");
        assert_eq!(ago(100 * s, 285 * s), "3m5s ago");
        assert_eq!(ago(s, (2 * 3600 + 61) * s), "2h1m ago");
        assert_eq!(ago(0, s), "-");
    }

    #[test]
    fn durations_parse_in_go_syntax() {
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("x"), None);
    }
}

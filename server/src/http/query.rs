//! Query parameters shared by every read (`?index`, `?wait`, `?stale`,
//! `?prefix`, `?namespace`) and the response headers that go with them.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::Ctx;
use super::backend::{Backend, BackendError};
use super::error::ApiError;
use crate::state::{StateSnapshot, Table};

/// How long a blocking query waits when `?wait` is not given (Nomad's).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5 * 60);
/// The longest a blocking query may wait, whatever `?wait` asks (Nomad's).
pub const MAX_WAIT: Duration = Duration::from_secs(10 * 60);

/// The parsed query string of one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryParams {
    /// `?index`: block until the table changes past it (0: do not block).
    pub index: u64,
    /// `?wait`: how long to block, capped at [`MAX_WAIT`].
    pub wait: Duration,
    /// `?stale`: any server may answer from its own state.
    pub stale: bool,
    /// `?prefix`: filters IDs.
    pub prefix: String,
    /// `?namespace`: defaults to `default`; `*` means every namespace.
    pub namespace: String,
    /// Every parameter, for the endpoint-specific ones.
    pub raw: BTreeMap<String, String>,
}

impl QueryParams {
    /// Parses a raw query string; malformed values are the user's error.
    pub fn parse(query: Option<&str>) -> Result<QueryParams, ApiError> {
        let mut raw = BTreeMap::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            raw.insert(decode(k)?, decode(v)?);
        }
        let index = match raw.get("index") {
            None => 0,
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| ApiError::bad(format!("Invalid index {v:?}: not a number")))?,
        };
        let wait = match raw.get("wait") {
            None => DEFAULT_WAIT,
            Some(v) => parse_duration(v)
                .map_err(|e| ApiError::bad(format!("Invalid wait time {v:?}: {e}")))?
                .min(MAX_WAIT),
        };
        let stale = match raw.get("stale").map(String::as_str) {
            None | Some("false") => false,
            Some("" | "true") => true,
            Some(v) => return Err(ApiError::bad(format!("Invalid stale value {v:?}"))),
        };
        let namespace = match raw.get("namespace").map(String::as_str) {
            None | Some("") => "default".to_string(),
            Some(ns) => ns.to_string(),
        };
        Ok(QueryParams {
            index,
            wait,
            stale,
            prefix: raw.get("prefix").cloned().unwrap_or_default(),
            namespace,
            raw,
        })
    }

    /// A boolean flag such as `?purge=true` (absent: false).
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.raw.get(name).map(String::as_str) {
            None | Some("false") => Ok(false),
            Some("" | "true") => Ok(true),
            Some(v) => Err(ApiError::bad(format!(
                "Invalid {name} value {v:?}: want true or false"
            ))),
        }
    }

    /// An optional unsigned number such as `?cas=3`.
    pub fn number(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.raw
            .get(name)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| ApiError::bad(format!("Invalid {name} {v:?}: not a number")))
            })
            .transpose()
    }

    /// The namespace a single-object lookup uses (`*` is not one).
    pub fn single_namespace(&self) -> &str {
        if self.namespace == "*" {
            "default"
        } else {
            &self.namespace
        }
    }
}

fn decode(s: &str) -> Result<String, ApiError> {
    let plus = s.replace('+', " ");
    percent_decode(&plus).ok_or_else(|| ApiError::bad(format!("Invalid query string near {s:?}")))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Parses a Go duration (`30s`, `5m`, `1h30m`, `250ms`) as Nomad's `?wait`
/// takes it.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut rest = s;
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| "missing unit (s, m, h ...)".to_string())?;
        let (num, tail) = rest.split_at(n);
        let value: f64 = num.parse().map_err(|_| format!("bad number {num:?}"))?;
        let u = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(u);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(format!("unknown unit {unit:?}")),
        };
        total += value * scale;
        rest = tail;
    }
    if !total.is_finite() || total > 1e9 {
        return Err("duration out of range".into());
    }
    Ok(Duration::from_secs_f64(total))
}

/// Takes the snapshot a read answers from: blocks when `?index` asks to,
/// otherwise a consistent (or `?stale`) read.
pub(crate) async fn snapshot_for(
    ctx: &Ctx,
    q: &QueryParams,
    tables: &'static [Table],
) -> Result<StateSnapshot, ApiError> {
    if q.index > 0 {
        // The backend answers at the end of the wait; the slack only bounds
        // a backend that fails to.
        let limit = q.wait + ctx.limits.read_timeout;
        let snap = tokio::time::timeout(limit, ctx.backend.block(tables, q.index, q.wait))
            .await
            .map_err(|_| BackendError::Timeout)??;
        return Ok(snap);
    }
    ctx.read(q.stale).await
}

/// The highest modify index of `tables`, sent as `X-Nomad-Index` so the
/// client can block on it next. Never 0: Nomad clients treat 0 as "no index".
pub fn tables_index(snap: &StateSnapshot, tables: &[Table]) -> u64 {
    tables
        .iter()
        .map(|t| snap.table_index(*t))
        .max()
        .unwrap_or(0)
        .max(1)
}

/// A JSON answer with Nomad's query headers.
pub fn json_with_meta<T: Serialize>(backend: &dyn Backend, index: u64, body: &T) -> Response {
    let mut resp = Json(body).into_response();
    add_meta(backend, index, &mut resp);
    resp
}

/// Adds `X-Nomad-Index`, `X-Nomad-KnownLeader` and `X-Nomad-LastContact`.
pub fn add_meta(backend: &dyn Backend, index: u64, resp: &mut Response) {
    let info = backend.raft_info();
    let h = resp.headers_mut();
    h.insert("X-Nomad-Index", HeaderValue::from(index));
    h.insert(
        "X-Nomad-KnownLeader",
        HeaderValue::from_static(if info.known_leader { "true" } else { "false" }),
    );
    h.insert(
        "X-Nomad-LastContact",
        HeaderValue::from(info.last_contact_ms),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_go_does() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999h").is_err());
    }

    #[test]
    fn query_defaults_and_caps() {
        let q = QueryParams::parse(None).unwrap();
        assert_eq!(q.index, 0);
        assert_eq!(q.wait, DEFAULT_WAIT);
        assert_eq!(q.namespace, "default");
        let q =
            QueryParams::parse(Some("index=7&wait=1h&stale&prefix=we%2Fb&namespace=*")).unwrap();
        assert_eq!(q.index, 7);
        assert_eq!(q.wait, MAX_WAIT);
        assert!(q.stale);
        assert_eq!(q.prefix, "we/b");
        assert_eq!(q.namespace, "*");
    }

    #[test]
    fn malformed_query_values_are_bad_requests() {
        for bad in ["index=garbage", "wait=soon", "stale=maybe", "prefix=%zz"] {
            let e = QueryParams::parse(Some(bad)).unwrap_err();
            assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST, "{bad}");
        }
    }
}

//! `/v1/metrics`: request counters kept by the router and gauges read from
//! the state, as Nomad's JSON or Prometheus text.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Ctx;
use super::error::ApiError;
use super::query::QueryParams;

/// Counters of the requests this router answered, by status class.
#[derive(Debug, Default)]
pub(crate) struct RequestMetrics {
    total: AtomicU64,
    ok: AtomicU64,
    client_errors: AtomicU64,
    server_errors: AtomicU64,
}

/// Counts every response, and gives the bodiless 405 axum answers for a
/// wrong method the plain-text message Nomad's clients print.
pub(crate) async fn count_and_explain(
    State(ctx): State<Ctx>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut resp = next.run(req).await;
    let status = resp.status();
    let m = &ctx.metrics;
    m.total.fetch_add(1, Ordering::Relaxed);
    let class = match status.as_u16() {
        500..=599 => &m.server_errors,
        400..=499 => &m.client_errors,
        _ => &m.ok,
    };
    class.fetch_add(1, Ordering::Relaxed);
    if status == StatusCode::METHOD_NOT_ALLOWED {
        let allow = resp.headers().get(header::ALLOW).cloned();
        resp = (status, format!("Invalid method {method} for {path}")).into_response();
        if let Some(allow) = allow {
            resp.headers_mut().insert(header::ALLOW, allow);
        }
    }
    tracing::debug!(%method, %path, status = status.as_u16(), "http request");
    resp
}

pub(crate) async fn get_metrics(
    State(ctx): State<Ctx>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = ctx.read(true).await?;
    let mut gauges: BTreeMap<String, f64> = BTreeMap::new();
    gauges.insert("nomad.state.jobs".into(), snap.jobs("*", "").len() as f64);
    gauges.insert("nomad.state.nodes".into(), snap.nodes("").len() as f64);
    gauges.insert("nomad.state.evals".into(), snap.evals("").len() as f64);
    gauges.insert("nomad.state.allocs".into(), snap.allocs("").len() as f64);
    gauges.insert("nomad.raft.applied_index".into(), snap.index() as f64);
    let m = &ctx.metrics;
    let counters: BTreeMap<String, u64> = [
        ("nomad.http.requests", &m.total),
        ("nomad.http.requests_2xx_3xx", &m.ok),
        ("nomad.http.requests_4xx", &m.client_errors),
        ("nomad.http.requests_5xx", &m.server_errors),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.load(Ordering::Relaxed)))
    .collect();
    match q.raw.get("format").map(String::as_str) {
        Some("prometheus") => {
            let mut out = String::new();
            for (k, v) in &gauges {
                let name = k.replace('.', "_");
                let _ = writeln!(out, "# TYPE {name} gauge\n{name} {v}");
            }
            for (k, v) in &counters {
                let name = format!("{}_total", k.replace('.', "_"));
                let _ = writeln!(out, "# TYPE {name} counter\n{name} {v}");
            }
            Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
        }
        None | Some("json") => {
            let body = json!({
                "Timestamp": ctx.backend.now(),
                "Gauges": gauges.iter().map(|(k, v)| json!({"Name": k, "Value": v, "Labels": {}})).collect::<Vec<_>>(),
                "Counters": counters.iter().map(|(k, v)| json!({"Name": k, "Count": v, "Sum": v, "Labels": {}})).collect::<Vec<_>>(),
                "Samples": [],
            });
            Ok(axum::Json(body).into_response())
        }
        Some(other) => Err(ApiError::bad(format!(
            "Invalid format {other:?}: want json or prometheus"
        ))),
    }
}

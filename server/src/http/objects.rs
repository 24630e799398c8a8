//! Allocations, evaluations and nodes: reads with short-ID prefix lookups,
//! and the operator's writes on them (alloc stop, node drain and
//! eligibility). Deployments are in [`super::deployments`].

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use sched_core::model::{
    AllocId, DrainStrategy, EvalId, Evaluation, NodeId, NodeSchedulingEligibility,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Ctx;
use super::error::ApiError;
use super::evals::{new_eval, trigger};
use super::jobs::parse_body;
use super::query::{QueryParams, json_with_meta, snapshot_for, tables_index};
use super::stubs::{alloc_stub, node_stub};
use crate::fsm::{AllocStop, Command};
use crate::state::{StateSnapshot, Table};

const ALLOCS: &[Table] = &[Table::Allocs];
const EVALS: &[Table] = &[Table::Evals];
const NODES: &[Table] = &[Table::Nodes];

pub(crate) fn routes() -> Router<Ctx> {
    Router::new()
        .route("/v1/allocations", get(list_allocs))
        .route("/v1/allocation/{id}", get(get_alloc))
        .route("/v1/allocation/{id}/stop", post(stop_alloc).put(stop_alloc))
        .route("/v1/evaluations", get(list_evals))
        .route("/v1/evaluation/{id}", get(get_eval))
        .route("/v1/evaluation/{id}/allocations", get(eval_allocs))
        .route("/v1/nodes", get(list_nodes))
        .route("/v1/node/{id}", get(get_node))
        .route("/v1/node/{id}/allocations", get(node_allocs))
        .route("/v1/node/{id}/drain", post(drain).put(drain))
        .route(
            "/v1/node/{id}/eligibility",
            post(eligibility).put(eligibility),
        )
}

/// Finds one object by full ID, else by unique prefix; an ambiguous prefix
/// is the user's to narrow, so the error names the candidates.
pub(super) fn by_id_or_prefix<T>(
    kind: &str,
    id: &str,
    exact: Option<Arc<T>>,
    prefixed: impl FnOnce() -> Vec<Arc<T>>,
    id_of: impl Fn(&T) -> String,
) -> Result<Arc<T>, ApiError> {
    if let Some(x) = exact {
        return Ok(x);
    }
    if id.is_empty() {
        return Err(ApiError::bad(format!("missing {kind} ID")));
    }
    let mut found = prefixed();
    match found.len() {
        0 => Err(ApiError::not_found(format!("{kind} not found: {id}"))),
        1 => Ok(found.remove(0)),
        _ => {
            let ids: Vec<String> = found.iter().take(10).map(|x| id_of(x)).collect();
            Err(ApiError::bad(format!(
                "{kind} ID prefix {id:?} is ambiguous: it matches {}",
                ids.join(", ")
            )))
        }
    }
}

pub(super) fn in_namespace(q: &QueryParams, ns: &str) -> bool {
    q.namespace == "*" || q.namespace == ns
}

async fn list_allocs(
    State(ctx): State<Ctx>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = snapshot_for(&ctx, &q, ALLOCS).await?;
    let stubs: Vec<Value> = snap
        .allocs(&q.prefix)
        .iter()
        .filter(|a| in_namespace(&q, &a.namespace))
        .map(|a| alloc_stub(a))
        .collect();
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        tables_index(&snap, ALLOCS),
        &stubs,
    ))
}

fn find_alloc(
    snap: &StateSnapshot,
    id: &str,
) -> Result<Arc<sched_core::model::Allocation>, ApiError> {
    by_id_or_prefix(
        "alloc",
        id,
        snap.alloc(&AllocId(id.to_string())),
        || snap.allocs(id),
        |a| a.id.0.clone(),
    )
}

async fn get_alloc(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = snapshot_for(&ctx, &q, ALLOCS).await?;
    let alloc = find_alloc(&snap, &id)?;
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        tables_index(&snap, ALLOCS),
        &alloc,
    ))
}

async fn stop_alloc(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    QueryParams::parse(raw.as_deref())?;
    let snap = ctx.read(false).await?;
    let alloc = find_alloc(&snap, &id)?;
    let now = ctx.backend.now();
    let mut evals = Vec::new();
    if let Some(job) = alloc.job.as_ref() {
        evals.push(new_eval(job, trigger::ALLOC_STOP, now));
    }
    let eval_id = evals.first().map(|e| e.id.0.clone()).unwrap_or_default();
    tracing::info!(alloc_id = %alloc.id, eval_id = %eval_id, "stopping allocation");
    let resp = ctx
        .apply(Command::AllocStop {
            stops: vec![AllocStop {
                alloc_id: alloc.id.clone(),
                description: "alloc was stopped by an operator".into(),
                client_status: None,
            }],
            evals,
            now,
        })
        .await?;
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        resp.index,
        &json!({"EvalID": eval_id, "Index": resp.index}),
    ))
}

async fn list_evals(State(ctx): State<Ctx>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = snapshot_for(&ctx, &q, EVALS).await?;
    let evals: Vec<Arc<Evaluation>> = snap
        .evals(&q.prefix)
        .into_iter()
        .filter(|e| in_namespace(&q, &e.namespace))
        .collect();
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        tables_index(&snap, EVALS),
        &evals,
    ))
}

fn find_eval(snap: &StateSnapshot, id: &str) -> Result<Arc<Evaluation>, ApiError> {
    by_id_or_prefix(
        "eval",
        id,
        snap.eval(&EvalId(id.to_string())),
        || snap.evals(id),
        |e| e.id.0.clone(),
    )
}

async fn get_eval(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = snapshot_for(&ctx, &q, EVALS).await?;
    let eval = find_eval(&snap, &id)?;
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        tables_index(&snap, EVALS),
        &eval,
    ))
}

async fn eval_allocs(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = snapshot_for(&ctx, &q, ALLOCS).await?;
    let eval = find_eval(&snap, &id)?;
    let stubs: Vec<Value> = snap
        .allocs_by_job(&eval.namespace, &eval.job_id)
        .iter()
        .filter(|a| a.eval_id == eval.id)
        .map(|a| alloc_stub(a))
        .collect();
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        tables_index(&snap, ALLOCS),
        &stubs,
    ))
}

async fn list_nodes(State(ctx): State<Ctx>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = snapshot_for(&ctx, &q, NODES).await?;
    let stubs: Vec<Value> = snap.nodes(&q.prefix).iter().map(|n| node_stub(n)).collect();
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        tables_index(&snap, NODES),
        &stubs,
    ))
}

fn find_node(snap: &StateSnapshot, id: &str) -> Result<Arc<sched_core::model::Node>, ApiError> {
    by_id_or_prefix(
        "node",
        id,
        snap.node(&NodeId(id.to_string())),
        || snap.nodes(id),
        |n| n.id.0.clone(),
    )
}

async fn get_node(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = snapshot_for(&ctx, &q, NODES).await?;
    let node = find_node(&snap, &id)?;
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        tables_index(&snap, NODES),
        &node,
    ))
}

async fn node_allocs(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = snapshot_for(&ctx, &q, ALLOCS).await?;
    let node = find_node(&snap, &id)?;
    let allocs = snap.allocs_by_node(&node.id);
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        tables_index(&snap, ALLOCS),
        &allocs,
    ))
}

/// One evaluation per job with live allocations on the node, so the
/// scheduler moves (or replaces) them.
fn evals_for_node_jobs(
    snap: &StateSnapshot,
    node: &NodeId,
    why: &str,
    now: i64,
) -> Vec<Evaluation> {
    let mut seen = BTreeSet::new();
    snap.allocs_by_node(node)
        .iter()
        .filter(|a| !a.is_terminal())
        .filter_map(|a| a.job.clone())
        .filter(|j| seen.insert((j.namespace.clone(), j.id.clone())))
        .map(|j| {
            let mut e = new_eval(&j, why, now);
            e.node_id = Some(node.clone());
            e
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DrainRequest {
    #[serde(default)]
    drain_spec: Option<DrainSpec>,
    #[serde(default)]
    mark_eligible: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DrainSpec {
    #[serde(default)]
    deadline: i64,
    #[serde(default)]
    ignore_system_jobs: bool,
}

async fn drain(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    QueryParams::parse(raw.as_deref())?;
    let req: DrainRequest = parse_body(&body)?;
    let snap = ctx.read(false).await?;
    let node = find_node(&snap, &id)?;
    let now = ctx.backend.now();
    let (drain, evals) = match req.drain_spec {
        Some(spec) => {
            let force_deadline = if spec.deadline > 0 {
                now.saturating_add(spec.deadline)
            } else {
                0
            };
            let d = DrainStrategy {
                deadline: sched_core::model::Duration(spec.deadline),
                ignore_system_jobs: spec.ignore_system_jobs,
                force_deadline,
                started_at: now,
            };
            (
                Some(d),
                evals_for_node_jobs(&snap, &node.id, trigger::NODE_DRAIN, now),
            )
        }
        None => (None, Vec::new()),
    };
    let eval_ids: Vec<String> = evals.iter().map(|e| e.id.0.clone()).collect();
    tracing::info!(node_id = %node.id, draining = drain.is_some(), evals = eval_ids.len(), "node drain");
    let resp = ctx
        .apply(Command::NodeDrain {
            node_id: node.id.clone(),
            drain,
            mark_eligible: req.mark_eligible,
            evals,
            now,
        })
        .await?;
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        resp.index,
        &json!({
            "EvalIDs": eval_ids,
            "EvalCreateIndex": if eval_ids.is_empty() { 0 } else { resp.index },
            "NodeModifyIndex": resp.index,
            "Index": resp.index,
        }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EligibilityRequest {
    eligibility: String,
}

async fn eligibility(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    QueryParams::parse(raw.as_deref())?;
    let req: EligibilityRequest = parse_body(&body)?;
    let eligibility = match req.eligibility.as_str() {
        "eligible" => NodeSchedulingEligibility::Eligible,
        "ineligible" => NodeSchedulingEligibility::Ineligible,
        other => {
            return Err(ApiError::bad(format!(
                "invalid scheduling eligibility {other:?}: want eligible or ineligible"
            )));
        }
    };
    let snap = ctx.read(false).await?;
    let node = find_node(&snap, &id)?;
    if node.drain_strategy.is_some() && eligibility == NodeSchedulingEligibility::Eligible {
        return Err(ApiError::bad(
            "can not set node's scheduling eligibility to eligible while it is draining",
        ));
    }
    let now = ctx.backend.now();
    // A node that becomes eligible may take system jobs' allocations.
    let evals: Vec<Evaluation> = if eligibility == NodeSchedulingEligibility::Eligible {
        snap.jobs("*", "")
            .iter()
            .filter(|j| {
                matches!(j.r#type.as_deref(), Some("system" | "sysbatch"))
                    && !j.stop.unwrap_or(false)
            })
            .map(|j| {
                let mut e = new_eval(j, trigger::NODE_UPDATE, now);
                e.node_id = Some(node.id.clone());
                e
            })
            .collect()
    } else {
        Vec::new()
    };
    let eval_ids: Vec<String> = evals.iter().map(|e| e.id.0.clone()).collect();
    let resp = ctx
        .apply(Command::NodeEligibility {
            node_id: node.id.clone(),
            eligibility,
            evals,
            now,
        })
        .await?;
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        resp.index,
        &json!({
            "EvalIDs": eval_ids,
            "EvalCreateIndex": if eval_ids.is_empty() { 0 } else { resp.index },
            "NodeModifyIndex": resp.index,
            "Index": resp.index,
        }),
    ))
}

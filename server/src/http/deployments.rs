//! Deployments at Nomad's paths: reads (list, one, its allocations, a
//! job's), and the operator's writes (promote, fail, pause/resume, set
//! allocation health), each answered with Nomad's
//! `DeploymentUpdateResponse`.
//!
//! A write resolves the deployment (404 when unknown), builds the command
//! with its evaluation (and, when failing a group that reverts, the job
//! version to roll back to, chosen as the deployment watcher chooses it),
//! and leaves every state check to the FSM, whose refusal is a 400.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use sched_core::model::{
    AllocId, Deployment, DeploymentId, DeploymentStatus, DeploymentStatusUpdate,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Ctx;
use super::error::ApiError;
use super::jobs::parse_body;
use super::objects::{by_id_or_prefix, in_namespace};
use super::query::{QueryParams, json_with_meta, snapshot_for, tables_index};
use super::stubs::alloc_stub;
use crate::fsm::{Command, CommandResponse};
use crate::scheduling::deployment_watcher::{
    DESC_FAILED_ALLOCS, DESC_FAILED_BY_USER, deployment_eval, rollback,
};
use crate::state::{StateSnapshot, Table};

const DEPLOYMENTS: &[Table] = &[Table::Deployments];
const DEPLOYMENT_ALLOCS: &[Table] = &[Table::Deployments, Table::Allocs];

pub(crate) fn routes() -> Router<Ctx> {
    Router::new()
        .route("/v1/deployments", get(list))
        .route("/v1/deployment/{id}", get(get_one))
        .route("/v1/deployment/allocations/{id}", get(allocations))
        .route("/v1/deployment/promote/{id}", post(promote).put(promote))
        .route("/v1/deployment/fail/{id}", post(fail).put(fail))
        .route("/v1/deployment/pause/{id}", post(pause).put(pause))
        .route(
            "/v1/deployment/allocation-health/{id}",
            post(alloc_health).put(alloc_health),
        )
        .route("/v1/job/{id}/deployments", get(job_deployments))
        .route("/v1/job/{id}/deployment", get(job_latest))
}

fn find(snap: &StateSnapshot, id: &str) -> Result<Arc<Deployment>, ApiError> {
    by_id_or_prefix(
        "deployment",
        id,
        snap.deployment(&DeploymentId(id.to_string())),
        || snap.deployments(id),
        |d| d.id.0.clone(),
    )
}

async fn list(State(ctx): State<Ctx>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = snapshot_for(&ctx, &q, DEPLOYMENTS).await?;
    let ds: Vec<_> = snap
        .deployments(&q.prefix)
        .into_iter()
        .filter(|d| in_namespace(&q, &d.namespace))
        .collect();
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        tables_index(&snap, DEPLOYMENTS),
        &ds,
    ))
}

async fn get_one(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = snapshot_for(&ctx, &q, DEPLOYMENTS).await?;
    let d = find(&snap, &id)?;
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        tables_index(&snap, DEPLOYMENTS),
        &d,
    ))
}

async fn allocations(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = snapshot_for(&ctx, &q, DEPLOYMENT_ALLOCS).await?;
    let d = find(&snap, &id)?;
    let stubs: Vec<Value> = snap
        .allocs_by_job(&d.namespace, &d.job_id)
        .iter()
        .filter(|a| a.deployment_id.as_ref() == Some(&d.id))
        .map(|a| alloc_stub(a))
        .collect();
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        tables_index(&snap, DEPLOYMENT_ALLOCS),
        &stubs,
    ))
}

/// A job's deployments, newest first. Deployments of an earlier job with
/// the same ID (purged and registered again) are left out unless `?all`.
fn of_job(
    snap: &StateSnapshot,
    q: &QueryParams,
    job_id: &str,
) -> Result<Vec<Arc<Deployment>>, ApiError> {
    let all = q.flag("all")?;
    let ns = q.single_namespace();
    let create_index = snap
        .job(ns, job_id)
        .and_then(|j| j.create_index)
        .unwrap_or(0);
    let mut ds: Vec<Arc<Deployment>> = snap
        .deployments("")
        .into_iter()
        .filter(|d| d.namespace == ns && d.job_id == job_id)
        .filter(|d| all || d.job_create_index == 0 || d.job_create_index == create_index)
        .collect();
    ds.sort_by_key(|d| std::cmp::Reverse(d.create_index));
    Ok(ds)
}

async fn job_deployments(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = snapshot_for(&ctx, &q, DEPLOYMENTS).await?;
    let ds = of_job(&snap, &q, &id)?;
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        tables_index(&snap, DEPLOYMENTS),
        &ds,
    ))
}

async fn job_latest(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = snapshot_for(&ctx, &q, DEPLOYMENTS).await?;
    let latest = of_job(&snap, &q, &id)?.into_iter().next();
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        tables_index(&snap, DEPLOYMENTS),
        &latest,
    ))
}

/// The deployment a write names: the path may be a unique prefix, and the
/// body's `DeploymentID`, when given, must name the same deployment (as
/// Nomad checks).
async fn target(
    ctx: &Ctx,
    path_id: &str,
    body_id: &str,
) -> Result<(StateSnapshot, Arc<Deployment>), ApiError> {
    let snap = ctx.read(false).await?;
    let d = find(&snap, path_id)?;
    if !body_id.is_empty() && body_id != path_id && body_id != d.id.0 {
        return Err(ApiError::bad(format!(
            "Deployment ID does not match: the path names {path_id:?}, the body {body_id:?}"
        )));
    }
    Ok((snap, d))
}

/// Nomad's `DeploymentUpdateResponse`.
fn update_response(ctx: &Ctx, eval_id: Option<&str>, resp: &CommandResponse) -> Response {
    let mut body = json!({
        "EvalID": eval_id.unwrap_or_default(),
        "EvalCreateIndex": if eval_id.is_some() { resp.index } else { 0 },
        "DeploymentModifyIndex": resp.index,
        "Index": resp.index,
    });
    if let (Some(v), Value::Object(m)) = (resp.job_version, &mut body) {
        m.insert("RevertedJobVersion".into(), json!(v));
    }
    json_with_meta(ctx.backend.as_ref(), resp.index, &body)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PromoteRequest {
    #[serde(default, rename = "DeploymentID")]
    deployment_id: String,
    #[serde(default)]
    all: bool,
    #[serde(default)]
    groups: Option<Vec<String>>,
}

async fn promote(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    QueryParams::parse(raw.as_deref())?;
    let req: PromoteRequest = parse_body(&body)?;
    let groups = match (req.all, req.groups) {
        (true, _) => None,
        (false, Some(g)) if !g.is_empty() => Some(g),
        _ => {
            return Err(ApiError::bad(
                "promotion needs All set to true or a non-empty list of Groups",
            ));
        }
    };
    let (snap, d) = target(&ctx, &id, &req.deployment_id).await?;
    let now = ctx.backend.now();
    let eval = deployment_eval(&snap, &d, now);
    let eval_id = eval.as_ref().map(|e| e.id.0.clone());
    tracing::info!(deployment_id = %d.id, job_id = %d.job_id, "promoting deployment");
    let resp = ctx
        .apply(Command::DeploymentPromote {
            deployment_id: d.id.clone(),
            groups,
            eval,
            now,
        })
        .await?;
    Ok(update_response(&ctx, eval_id.as_deref(), &resp))
}

async fn fail(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    QueryParams::parse(raw.as_deref())?;
    let (snap, d) = target(&ctx, &id, "").await?;
    if !d.status.is_active() {
        return Err(ApiError::bad(format!(
            "can't fail terminal deployment {}",
            d.id
        )));
    }
    let now = ctx.backend.now();
    let revert = d.task_groups.values().any(|g| g.auto_revert);
    let cmd =
        crate::scheduling::deployment_watcher::fail(&snap, &d, DESC_FAILED_BY_USER, revert, now);
    let eval_id = match &cmd {
        Command::DeploymentStatusUpdate { eval, .. } => eval.as_ref().map(|e| e.id.0.clone()),
        _ => None,
    };
    tracing::info!(deployment_id = %d.id, job_id = %d.job_id, revert, "failing deployment");
    let resp = ctx.apply(cmd).await?;
    Ok(update_response(&ctx, eval_id.as_deref(), &resp))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PauseRequest {
    #[serde(default, rename = "DeploymentID")]
    deployment_id: String,
    pause: bool,
}

async fn pause(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    QueryParams::parse(raw.as_deref())?;
    let req: PauseRequest = parse_body(&body)?;
    let (snap, d) = target(&ctx, &id, &req.deployment_id).await?;
    let now = ctx.backend.now();
    // Resuming lets the scheduler continue at once.
    let eval = if req.pause {
        None
    } else {
        deployment_eval(&snap, &d, now)
    };
    let eval_id = eval.as_ref().map(|e| e.id.0.clone());
    tracing::info!(deployment_id = %d.id, job_id = %d.job_id, pause = req.pause, "pausing or resuming deployment");
    let resp = ctx
        .apply(Command::DeploymentPause {
            deployment_id: d.id.clone(),
            pause: req.pause,
            eval,
            now,
        })
        .await?;
    Ok(update_response(&ctx, eval_id.as_deref(), &resp))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AllocHealthRequest {
    #[serde(default, rename = "DeploymentID")]
    deployment_id: String,
    #[serde(default, rename = "HealthyAllocationIDs")]
    healthy: Option<Vec<AllocId>>,
    #[serde(default, rename = "UnhealthyAllocationIDs")]
    unhealthy: Option<Vec<AllocId>>,
}

async fn alloc_health(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    QueryParams::parse(raw.as_deref())?;
    let req: AllocHealthRequest = parse_body(&body)?;
    let healthy = req.healthy.unwrap_or_default();
    let unhealthy = req.unhealthy.unwrap_or_default();
    if healthy.is_empty() && unhealthy.is_empty() {
        return Err(ApiError::bad(
            "Must specify at least one healthy/unhealthy allocation ID",
        ));
    }
    let (snap, d) = target(&ctx, &id, &req.deployment_id).await?;
    let now = ctx.backend.now();
    // An unhealthy allocation fails the deployment now, reverting when its
    // group asks to, as the watcher would on the client's report.
    let (update, job) = if unhealthy.is_empty() {
        (None, None)
    } else {
        let revert = unhealthy.iter().any(|a| {
            snap.alloc(a)
                .and_then(|a| d.task_groups.get(&a.task_group).map(|g| g.auto_revert))
                .unwrap_or(false)
        });
        let (desc, job) = if revert {
            rollback(&snap, &d, DESC_FAILED_ALLOCS)
        } else {
            (DESC_FAILED_ALLOCS.to_owned(), None)
        };
        (
            Some(DeploymentStatusUpdate {
                deployment_id: d.id.clone(),
                status: DeploymentStatus::Failed,
                status_description: desc,
            }),
            job.map(Box::new),
        )
    };
    let eval = deployment_eval(&snap, &d, now);
    let eval_id = eval.as_ref().map(|e| e.id.0.clone());
    tracing::info!(deployment_id = %d.id, job_id = %d.job_id, healthy = healthy.len(), unhealthy = unhealthy.len(), "setting allocation health");
    let resp = ctx
        .apply(Command::DeploymentAllocHealth {
            deployment_id: d.id.clone(),
            healthy,
            unhealthy,
            update,
            job,
            eval,
            now,
        })
        .await?;
    Ok(update_response(&ctx, eval_id.as_deref(), &resp))
}

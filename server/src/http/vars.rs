//! Variables: `/v1/vars` lists, `/v1/var/:path` reads, writes (with
//! `?cas`) and deletes.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use sched_core::model::Variable;
use serde::Deserialize;
use serde_json::json;

use super::Ctx;
use super::error::ApiError;
use super::jobs::parse_body;
use super::query::{QueryParams, json_with_meta, snapshot_for, tables_index};
use crate::fsm::Command;
use crate::state::Table;

const VARS: &[Table] = &[Table::Variables];

pub(crate) fn routes() -> Router<Ctx> {
    Router::new().route("/v1/vars", get(list)).route(
        "/v1/var/{*path}",
        get(read).put(write).post(write).delete(remove),
    )
}

fn check_path(path: &str) -> Result<(), ApiError> {
    let ok = !path.is_empty()
        && path.len() <= 128
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '~' | '/' | '.'))
        && !path
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..");
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad(format!(
            "invalid variable path {path:?}: use letters, digits, -, _, ~, . and / between non-empty segments, at most 128 characters"
        )))
    }
}

async fn list(State(ctx): State<Ctx>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = snapshot_for(&ctx, &q, VARS).await?;
    let metas: Vec<_> = snap
        .variables(&q.namespace, &q.prefix)
        .iter()
        .map(|v| {
            json!({
                "Namespace": v.namespace, "Path": v.path,
                "CreateIndex": v.create_index, "ModifyIndex": v.modify_index,
                "CreateTime": v.create_time, "ModifyTime": v.modify_time,
            })
        })
        .collect();
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        tables_index(&snap, VARS),
        &metas,
    ))
}

async fn read(
    State(ctx): State<Ctx>,
    Path(path): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    check_path(&path)?;
    let snap = snapshot_for(&ctx, &q, VARS).await?;
    let v = snap
        .variable(q.single_namespace(), &path)
        .ok_or_else(|| ApiError::not_found(format!("variable not found: {path}")))?;
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        tables_index(&snap, VARS),
        &v,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VarBody {
    items: BTreeMap<String, String>,
}

async fn write(
    State(ctx): State<Ctx>,
    Path(path): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    check_path(&path)?;
    let cas = q.number("cas")?;
    let req: VarBody = parse_body(&body)?;
    if req.items.is_empty() {
        return Err(ApiError::bad("variable must have at least one item"));
    }
    let ns = q.single_namespace().to_string();
    let resp = ctx
        .propose(Command::VariableUpsert {
            variable: Variable {
                namespace: ns.clone(),
                path: path.clone(),
                items: req.items,
                ..Default::default()
            },
            cas,
            now: ctx.backend.now(),
        })
        .await?;
    if let Some(err) = resp.error {
        return Err(ApiError::Conflict(err));
    }
    let snap = ctx.read(false).await?;
    let v = snap
        .variable(&ns, &path)
        .ok_or_else(|| ApiError::not_found(format!("variable not found: {path}")))?;
    Ok(json_with_meta(ctx.backend.as_ref(), resp.index, &v))
}

async fn remove(
    State(ctx): State<Ctx>,
    Path(path): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    check_path(&path)?;
    let cas = q.number("cas")?;
    let ns = q.single_namespace().to_string();
    let snap = ctx.read(false).await?;
    if snap.variable(&ns, &path).is_none() && cas.is_none() {
        return Err(ApiError::not_found(format!("variable not found: {path}")));
    }
    let resp = ctx
        .propose(Command::VariableDelete {
            namespace: ns,
            path,
            cas,
        })
        .await?;
    if let Some(err) = resp.error {
        return Err(ApiError::Conflict(err));
    }
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        resp.index,
        &json!({"Index": resp.index}),
    ))
}

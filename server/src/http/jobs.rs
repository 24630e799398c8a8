//! `/v1/jobs`, `/v1/job/:id/...`, `/v1/jobs/parse` and `/v1/validate/job`:
//! reading jobs and turning job requests into commands with the evaluations
//! they trigger.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine as _;
use sched_core::model::{Job, JobRegisterRequest, Submission};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::Ctx;
use super::error::ApiError;
use super::evals::{new_eval, register_needs_eval, trigger};
use super::query::{QueryParams, json_with_meta, snapshot_for, tables_index};
use super::stubs::{alloc_stub, job_stub, job_summary};
use crate::fsm::Command;
use crate::state::{StateSnapshot, Table};

/// Nomad's limit on a dispatch payload.
const DISPATCH_PAYLOAD_LIMIT: usize = 16 * 1024;

const JOBS: &[Table] = &[Table::Jobs];
const JOB_ALLOCS: &[Table] = &[Table::Allocs];
const JOB_EVALS: &[Table] = &[Table::Evals];
const JOBS_AND_ALLOCS: &[Table] = &[Table::Jobs, Table::Allocs, Table::Evals];

pub(crate) fn routes() -> Router<Ctx> {
    Router::new()
        .route(
            "/v1/jobs",
            get(list_jobs).put(register_new).post(register_new),
        )
        .route("/v1/jobs/parse", post(parse_job).put(parse_job))
        .route("/v1/validate/job", post(validate_job).put(validate_job))
        .route(
            "/v1/job/{id}",
            get(get_job)
                .put(register_at)
                .post(register_at)
                .delete(deregister),
        )
        .route("/v1/job/{id}/allocations", get(job_allocs))
        .route("/v1/job/{id}/evaluations", get(job_evals))
        .route("/v1/job/{id}/versions", get(job_versions))
        .route("/v1/job/{id}/summary", get(job_summary_handler))
        .route("/v1/job/{id}/evaluate", post(evaluate).put(evaluate))
        .route(
            "/v1/job/{id}/plan",
            post(super::plan::plan_job).put(super::plan::plan_job),
        )
        .route("/v1/job/{id}/revert", post(revert).put(revert))
        .route("/v1/job/{id}/dispatch", post(dispatch).put(dispatch))
        .route("/v1/job/{id}/periodic/force", post(force).put(force))
        .route(
            "/v1/job/{id}/scale",
            get(scale_status).post(scale).put(scale),
        )
}

/// Decodes a JSON body, naming the problem (and where) when it cannot.
pub(crate) fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad("Request body is empty"));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad(format!("Failed to decode request body: {e}")))
}

pub(crate) fn find_job(snap: &StateSnapshot, ns: &str, id: &str) -> Result<Arc<Job>, ApiError> {
    snap.job(ns, id)
        .ok_or_else(|| ApiError::not_found(format!("job not found: {id}")))
}

async fn list_jobs(State(ctx): State<Ctx>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = snapshot_for(&ctx, &q, JOBS).await?;
    let stubs: Vec<Value> = snap
        .jobs(&q.namespace, &q.prefix)
        .iter()
        .map(|j| job_stub(&snap, j))
        .collect();
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        tables_index(&snap, JOBS),
        &stubs,
    ))
}

async fn get_job(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = snapshot_for(&ctx, &q, JOBS).await?;
    let job = find_job(&snap, q.single_namespace(), &id)?;
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        tables_index(&snap, JOBS),
        &job,
    ))
}

async fn job_allocs(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = snapshot_for(&ctx, &q, JOB_ALLOCS).await?;
    let ns = q.single_namespace();
    find_job(&snap, ns, &id)?;
    let stubs: Vec<Value> = snap
        .allocs_by_job(ns, &id)
        .iter()
        .map(|a| alloc_stub(a))
        .collect();
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        tables_index(&snap, JOB_ALLOCS),
        &stubs,
    ))
}

async fn job_evals(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = snapshot_for(&ctx, &q, JOB_EVALS).await?;
    let ns = q.single_namespace();
    find_job(&snap, ns, &id)?;
    let evals = snap.evals_by_job(ns, &id);
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        tables_index(&snap, JOB_EVALS),
        &evals,
    ))
}

async fn job_versions(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = snapshot_for(&ctx, &q, JOBS).await?;
    let ns = q.single_namespace();
    find_job(&snap, ns, &id)?;
    let versions = snap.job_versions(ns, &id);
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        tables_index(&snap, JOBS),
        &json!({"Versions": versions, "Diffs": null}),
    ))
}

async fn job_summary_handler(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = snapshot_for(&ctx, &q, JOBS_AND_ALLOCS).await?;
    let job = find_job(&snap, q.single_namespace(), &id)?;
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        tables_index(&snap, JOBS_AND_ALLOCS),
        &job_summary(&snap, &job),
    ))
}

async fn register_new(
    State(ctx): State<Ctx>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let req: JobRegisterRequest = parse_body(&body)?;
    register(&ctx, &q, req, None).await
}

async fn register_at(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let req: JobRegisterRequest = parse_body(&body)?;
    register(&ctx, &q, req, Some(&id)).await
}

/// Canonicalizes and validates a job as submitted, every error at once.
pub(crate) fn prepare_job(mut job: Job, q: &QueryParams) -> Result<Job, ApiError> {
    if job.namespace.as_deref().is_none_or(str::is_empty) {
        job.namespace = Some(q.single_namespace().to_string());
    }
    job.canonicalize();
    job.validate()
        .map_err(|e| ApiError::bad(format!("Job validation failed: {e}")))?;
    Ok(job)
}

async fn register(
    ctx: &Ctx,
    q: &QueryParams,
    req: JobRegisterRequest,
    path_id: Option<&str>,
) -> Result<Response, ApiError> {
    let job = req
        .job
        .ok_or_else(|| ApiError::bad("Job must be specified"))?;
    let mut job = prepare_job(job, q)?;
    let id = job.id.clone().unwrap_or_default();
    if let Some(path_id) = path_id
        && path_id != id
    {
        return Err(ApiError::bad(format!(
            "Job ID does not match name: {id:?} is not {path_id:?}"
        )));
    }
    let ns = job.namespace.clone().unwrap_or_default();
    let snap = ctx.read(false).await?;
    let existing = snap.job(&ns, &id);
    if req.enforce_index.unwrap_or(false) {
        let want = req.job_modify_index.unwrap_or(0);
        match &existing {
            None if want != 0 => {
                return Err(ApiError::Conflict(format!(
                    "Enforcing job modify index {want}: job does not exist"
                )));
            }
            Some(cur) if cur.job_modify_index.unwrap_or(0) != want => {
                return Err(ApiError::Conflict(format!(
                    "Enforcing job modify index {want}: job exists with conflicting job modify index: {}",
                    cur.job_modify_index.unwrap_or(0)
                )));
            }
            _ => {}
        }
    }
    if req.preserve_counts.unwrap_or(false)
        && let Some(cur) = &existing
    {
        preserve_counts(&mut job, cur);
    }
    let mut eval = None;
    if register_needs_eval(&job) {
        let mut e = new_eval(&job, trigger::JOB_REGISTER, ctx.backend.now());
        if let Some(p) = req.eval_priority {
            if !(1..=100).contains(&p) {
                return Err(ApiError::bad(format!(
                    "EvalPriority {p} is out of range: want 1 to 100"
                )));
            }
            e.priority = p;
        }
        eval = Some(e);
    }
    submit_job(ctx, job, eval, req.submission).await
}

fn preserve_counts(job: &mut Job, cur: &Job) {
    for g in job.task_groups.iter_mut().flatten() {
        if let Some(old) = cur.task_groups.iter().flatten().find(|o| o.name == g.name) {
            g.count = old.count;
        }
    }
}

/// Proposes a job version with its evaluation and answers as Nomad's
/// `JobRegisterResponse`.
async fn submit_job(
    ctx: &Ctx,
    mut job: Job,
    eval: Option<sched_core::model::Evaluation>,
    submission: Option<Submission>,
) -> Result<Response, ApiError> {
    let now = ctx.backend.now();
    job.submit_time = Some(now);
    let (id, ns) = (job.id.clone(), job.namespace.clone());
    let eval_id = eval.as_ref().map(|e| e.id.clone());
    let has_eval = eval.is_some();
    tracing::info!(job_id = ?id, namespace = ?ns, eval_id = ?eval_id, trace_id = ?eval.as_ref().map(|e| e.trace_id.clone()), "registering job");
    let resp = ctx
        .apply(Command::JobRegister {
            job: Box::new(job),
            eval,
            submission,
            now,
        })
        .await?;
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        resp.index,
        &json!({
            "EvalID": eval_id.map(|e| e.0).unwrap_or_default(),
            "EvalCreateIndex": if has_eval { resp.index } else { 0 },
            "JobModifyIndex": resp.index,
            "Warnings": "",
            "Index": resp.index,
        }),
    ))
}

async fn deregister(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let purge = q.flag("purge")?;
    let ns = q.single_namespace().to_string();
    let snap = ctx.read(false).await?;
    let job = find_job(&snap, &ns, &id)?;
    let now = ctx.backend.now();
    // Periodic and parameterized parents have no allocations to stop.
    let eval = register_needs_eval(&job).then(|| new_eval(&job, trigger::JOB_DEREGISTER, now));
    let eval_id = eval.as_ref().map(|e| e.id.0.clone()).unwrap_or_default();
    tracing::info!(job_id = %id, namespace = %ns, purge, eval_id = %eval_id, "deregistering job");
    let resp = ctx
        .apply(Command::JobDeregister {
            namespace: ns,
            job_id: id,
            purge,
            eval,
            now,
        })
        .await?;
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        resp.index,
        &json!({
            "EvalID": eval_id,
            "EvalCreateIndex": if eval_id.is_empty() { 0 } else { resp.index },
            "JobModifyIndex": resp.index,
            "Index": resp.index,
        }),
    ))
}

async fn evaluate(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = ctx.read(false).await?;
    let job = find_job(&snap, q.single_namespace(), &id)?;
    if !register_needs_eval(&job) {
        return Err(ApiError::bad(
            "can't evaluate periodic or parameterized job",
        ));
    }
    let eval = new_eval(&job, trigger::JOB_EVAL, ctx.backend.now());
    let eval_id = eval.id.0.clone();
    let resp = ctx.apply(Command::EvalUpsert { evals: vec![eval] }).await?;
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        resp.index,
        &json!({
            "EvalID": eval_id,
            "EvalCreateIndex": resp.index,
            "JobModifyIndex": job.job_modify_index.unwrap_or(0),
            "Index": resp.index,
        }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RevertRequest {
    job_version: u64,
    #[serde(default)]
    enforce_prior_version: Option<u64>,
}

async fn revert(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let req: RevertRequest = parse_body(&body)?;
    let ns = q.single_namespace();
    let snap = ctx.read(false).await?;
    let cur = find_job(&snap, ns, &id)?;
    let cur_version = cur.version.unwrap_or(0);
    if let Some(prior) = req.enforce_prior_version
        && prior != cur_version
    {
        return Err(ApiError::Conflict(format!(
            "Current job has version {cur_version}; enforcing version {prior}"
        )));
    }
    if req.job_version == cur_version {
        return Err(ApiError::bad(format!(
            "can't revert to current version {cur_version}"
        )));
    }
    let old = snap.job_version(ns, &id, req.job_version).ok_or_else(|| {
        ApiError::not_found(format!(
            "job {id:?} at version {} not found",
            req.job_version
        ))
    })?;
    let mut job = (*old).clone();
    job.version = None;
    job.stable = Some(false);
    let eval =
        register_needs_eval(&job).then(|| new_eval(&job, trigger::JOB_REGISTER, ctx.backend.now()));
    submit_job(&ctx, job, eval, None).await
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ScaleRequest {
    #[serde(default)]
    count: Option<i64>,
    #[serde(default)]
    target: BTreeMap<String, String>,
}

async fn scale(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let req: ScaleRequest = parse_body(&body)?;
    let group = req
        .target
        .get("Group")
        .ok_or_else(|| ApiError::bad("Target must name a Group"))?;
    let count = req.count.ok_or_else(|| {
        ApiError::bad("Count is required: scaling events without a count are not recorded")
    })?;
    if count < 0 {
        return Err(ApiError::bad(format!("Count {count} must not be negative")));
    }
    let snap = ctx.read(false).await?;
    let cur = find_job(&snap, q.single_namespace(), &id)?;
    if !register_needs_eval(&cur) {
        return Err(ApiError::bad("can't scale periodic or parameterized job"));
    }
    let mut job = (*cur).clone();
    let g = job
        .task_groups
        .iter_mut()
        .flatten()
        .find(|g| g.name.as_deref() == Some(group.as_str()))
        .ok_or_else(|| ApiError::bad(format!("task group {group:?} not found in job {id:?}")))?;
    if let Some(p) = &g.scaling {
        if let Some(min) = p.min
            && count < min
        {
            return Err(ApiError::bad(format!(
                "group count {count} was less than scaling policy minimum {min}"
            )));
        }
        if let Some(max) = p.max
            && count > max
        {
            return Err(ApiError::bad(format!(
                "group count {count} was greater than scaling policy maximum {max}"
            )));
        }
    }
    g.count = Some(count);
    job.version = None;
    let eval = new_eval(&job, trigger::JOB_SCALING, ctx.backend.now());
    submit_job(&ctx, job, Some(eval), None).await
}

async fn scale_status(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = snapshot_for(&ctx, &q, JOBS_AND_ALLOCS).await?;
    let ns = q.single_namespace();
    let job = find_job(&snap, ns, &id)?;
    let allocs = snap.allocs_by_job(ns, &id);
    let groups: BTreeMap<String, Value> = job
        .task_groups
        .iter()
        .flatten()
        .filter_map(|g| g.name.clone().map(|n| (n, g.count.unwrap_or(0))))
        .map(|(name, desired)| {
            let mine = allocs
                .iter()
                .filter(|a| a.task_group == name && !a.is_terminal());
            let placed = mine.clone().count();
            let running = mine
                .filter(|a| a.client_status == sched_core::model::ClientStatus::Running)
                .count();
            (
                name,
                json!({"Desired": desired, "Placed": placed, "Running": running,
                       "Healthy": 0, "Unhealthy": 0, "Events": null}),
            )
        })
        .collect();
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        tables_index(&snap, JOBS_AND_ALLOCS),
        &json!({
            "JobID": id,
            "Namespace": ns,
            "JobCreateIndex": job.create_index.unwrap_or(0),
            "JobModifyIndex": job.job_modify_index.unwrap_or(0),
            "JobStopped": job.stop.unwrap_or(false),
            "TaskGroups": groups,
        }),
    ))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DispatchRequest {
    payload: Option<String>,
    meta: BTreeMap<String, String>,
    idempotency_token: Option<String>,
}

async fn dispatch(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let req: DispatchRequest = if body.is_empty() {
        DispatchRequest::default()
    } else {
        parse_body(&body)?
    };
    let ns = q.single_namespace();
    let snap = ctx.read(false).await?;
    let parent = find_job(&snap, ns, &id)?;
    let Some(params) = &parent.parameterized_job else {
        return Err(ApiError::bad(format!(
            "Specified job {id:?} is not a parameterized job"
        )));
    };
    if parent.stop.unwrap_or(false) {
        return Err(ApiError::bad(format!("Specified job {id:?} is stopped")));
    }
    let payload = req
        .payload
        .as_deref()
        .map(|p| {
            base64::engine::general_purpose::STANDARD
                .decode(p)
                .map_err(|e| ApiError::bad(format!("Payload is not valid base64: {e}")))
        })
        .transpose()?
        .unwrap_or_default();
    match params.payload.as_deref().unwrap_or("optional") {
        "required" if payload.is_empty() => {
            return Err(ApiError::bad(
                "Payload is not provided but required by parameterized job",
            ));
        }
        "forbidden" if !payload.is_empty() => {
            return Err(ApiError::bad(
                "Payload provided but forbidden by parameterized job",
            ));
        }
        _ => {}
    }
    if payload.len() > DISPATCH_PAYLOAD_LIMIT {
        return Err(ApiError::bad(format!(
            "Payload exceeds maximum size; {} > {DISPATCH_PAYLOAD_LIMIT}",
            payload.len()
        )));
    }
    let required = params.meta_required.clone().unwrap_or_default();
    let optional = params.meta_optional.clone().unwrap_or_default();
    let missing: Vec<&String> = required
        .iter()
        .filter(|k| !req.meta.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::bad(format!(
            "Dispatch did not provide required meta keys: {missing:?}"
        )));
    }
    let unpermitted: Vec<&String> = req
        .meta
        .keys()
        .filter(|k| !required.contains(k) && !optional.contains(k))
        .collect();
    if !unpermitted.is_empty() {
        return Err(ApiError::bad(format!(
            "Dispatch request included unpermitted metadata keys: {unpermitted:?}"
        )));
    }
    if let Some(token) = req.idempotency_token.as_deref().filter(|t| !t.is_empty())
        && let Some(existing) = snap
            .jobs(ns, &format!("{id}/dispatch-"))
            .into_iter()
            .find(|c| {
                c.parent_id.as_deref() == Some(id.as_str())
                    && c.dispatch_idempotency_token.as_deref() == Some(token)
                    && !c.stop.unwrap_or(false)
            })
    {
        let index = snap.table_index(Table::Jobs);
        return Ok(json_with_meta(
            ctx.backend.as_ref(),
            index,
            &json!({
                "DispatchedJobID": existing.id,
                "EvalID": "",
                "EvalCreateIndex": 0,
                "JobCreateIndex": existing.create_index.unwrap_or(0),
                "Index": index,
            }),
        ));
    }
    let now = ctx.backend.now();
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let child_id = format!("{id}/dispatch-{}-{suffix}", now / 1_000_000_000);
    let mut child = (*parent).clone();
    child.id = Some(child_id.clone());
    child.name = Some(child_id.clone());
    child.parent_id = Some(id.clone());
    child.dispatched = Some(true);
    child.dispatch_idempotency_token = req.idempotency_token.clone();
    child.payload = (!payload.is_empty()).then(|| req.payload.clone().unwrap_or_default());
    let mut meta = child.meta.take().unwrap_or_default();
    meta.extend(req.meta);
    child.meta = Some(meta);
    child.version = None;
    child.create_index = None;
    child.modify_index = None;
    child.job_modify_index = None;
    child.status = None;
    let eval = new_eval(&child, trigger::JOB_REGISTER, now);
    let eval_id = eval.id.0.clone();
    tracing::info!(job_id = %id, child = %child_id, eval_id = %eval_id, "dispatching job");
    let resp = ctx
        .apply(Command::JobRegister {
            job: Box::new(child),
            eval: Some(eval),
            submission: None,
            now,
        })
        .await?;
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        resp.index,
        &json!({
            "DispatchedJobID": child_id,
            "EvalID": eval_id,
            "EvalCreateIndex": resp.index,
            "JobCreateIndex": resp.index,
            "Index": resp.index,
        }),
    ))
}

async fn force(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = ctx.read(false).await?;
    let parent = find_job(&snap, q.single_namespace(), &id)?;
    if !parent
        .periodic
        .as_ref()
        .is_some_and(|p| p.enabled.unwrap_or(true))
    {
        return Err(ApiError::bad(format!("Job {id:?} is not periodic")));
    }
    if parent.stop.unwrap_or(false) {
        return Err(ApiError::bad(format!("Job {id:?} is stopped")));
    }
    let now = ctx.backend.now();
    let child = crate::scheduling::periodic::child_job(&parent, now);
    let eval = new_eval(&child, trigger::PERIODIC_JOB, now);
    let eval_id = eval.id.0.clone();
    let resp = ctx
        .apply(Command::JobRegister {
            job: Box::new(child),
            eval: Some(eval),
            submission: None,
            now,
        })
        .await?;
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        resp.index,
        &json!({"EvalID": eval_id, "EvalCreateIndex": resp.index, "Index": resp.index}),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ParseRequest {
    #[serde(rename = "JobHCL")]
    job_hcl: String,
    #[serde(default)]
    canonicalize: bool,
    #[serde(default)]
    variables: Option<String>,
}

async fn parse_job(State(ctx): State<Ctx>, body: Bytes) -> Result<Response, ApiError> {
    let req: ParseRequest = parse_body(&body)?;
    let opts = sched_core::jobspec::ParseOptions {
        var_content: req.variables,
        ..Default::default()
    };
    let parsed = sched_core::jobspec::parse("input.hcl", &req.job_hcl, &opts)
        .map_err(|d| ApiError::bad(format!("Failed to parse job: {d}")))?;
    let mut job = parsed.job;
    if req.canonicalize {
        job.canonicalize();
    }
    Ok(json_with_meta(ctx.backend.as_ref(), 0, &job))
}

async fn validate_job(
    State(ctx): State<Ctx>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let req: JobRegisterRequest = parse_body(&body)?;
    let mut job = req
        .job
        .ok_or_else(|| ApiError::bad("Job must be specified"))?;
    if job.namespace.is_none() {
        job.namespace = Some(q.single_namespace().to_string());
    }
    job.canonicalize();
    let errors: Vec<String> = match job.validate() {
        Ok(()) => Vec::new(),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    };
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        0,
        &json!({
            "DriverConfigValidated": false,
            "Error": if errors.is_empty() { String::new() } else { errors.join("\n") },
            "ValidationErrors": errors,
            "Warnings": "",
        }),
    ))
}

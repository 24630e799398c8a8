//! `/v1/operator/scheduler/configuration`: read (`GET`) and replace (`PUT`
//! or `POST`, with `?cas=<modify index>`) the scheduler configuration the
//! schedulers read from the replicated state: the fit algorithm and which
//! schedulers may preempt. Shapes are Nomad's.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use sched_core::model::{PreemptionConfig, SchedulerAlgorithm, SchedulerConfiguration};
use serde::Deserialize;
use serde_json::json;

use super::Ctx;
use super::error::ApiError;
use super::jobs::parse_body;
use super::query::{QueryParams, json_with_meta, snapshot_for, tables_index};
use crate::fsm::Command;
use crate::state::Table;

const CONFIG: &[Table] = &[Table::SchedulerConfig];

pub(crate) fn routes() -> Router<Ctx> {
    Router::new().route(
        "/v1/operator/scheduler/configuration",
        get(read).put(write).post(write),
    )
}

async fn read(State(ctx): State<Ctx>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let snap = snapshot_for(&ctx, &q, CONFIG).await?;
    let index = tables_index(&snap, CONFIG);
    let info = ctx.backend.raft_info();
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        index,
        &json!({
            "SchedulerConfig": snap.scheduler_config(),
            "Index": index,
            "KnownLeader": info.known_leader,
            "LastContact": info.last_contact_ms,
        }),
    ))
}

/// What a write may carry: the configuration, plus Nomad's fields sched
/// does not implement (accepted only when off, so a Nomad client's full
/// body works) and the read-only indexes (ignored, so a read can be edited
/// and written back).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ConfigBody {
    #[serde(default)]
    scheduler_algorithm: Option<String>,
    #[serde(default)]
    preemption_config: Option<PreemptionConfig>,
    #[serde(default)]
    memory_oversubscription_enabled: bool,
    #[serde(default)]
    reject_job_registration: bool,
    #[serde(default)]
    pause_eval_broker: bool,
    #[serde(default, rename = "CreateIndex")]
    _create_index: Option<u64>,
    #[serde(default, rename = "ModifyIndex")]
    _modify_index: Option<u64>,
}

impl ConfigBody {
    fn into_config(self) -> Result<SchedulerConfiguration, ApiError> {
        for (set, name) in [
            (
                self.memory_oversubscription_enabled,
                "MemoryOversubscriptionEnabled",
            ),
            (self.reject_job_registration, "RejectJobRegistration"),
            (self.pause_eval_broker, "PauseEvalBroker"),
        ] {
            if set {
                return Err(ApiError::bad(format!(
                    "{name}: not supported by this server; only false is accepted"
                )));
            }
        }
        let algorithm = match self.scheduler_algorithm.as_deref() {
            None | Some("" | "binpack") => SchedulerAlgorithm::Binpack,
            Some("spread") => SchedulerAlgorithm::Spread,
            Some(other) => {
                return Err(ApiError::bad(format!(
                    "SchedulerAlgorithm: {other:?} is not one of \"binpack\", \"spread\""
                )));
            }
        };
        Ok(SchedulerConfiguration {
            scheduler_algorithm: algorithm,
            preemption_config: self.preemption_config.unwrap_or_default(),
            ..SchedulerConfiguration::default()
        })
    }
}

async fn write(
    State(ctx): State<Ctx>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let cas = q.number("cas")?;
    let body: ConfigBody = parse_body(&body)?;
    let config = body.into_config()?;
    let resp = ctx
        .propose(Command::SchedulerSetConfig { config, cas })
        .await?;
    // A compare-and-set mismatch is not an error in Nomad's API: the
    // answer says nothing was updated.
    if let Some(err) = &resp.error {
        tracing::debug!(error = %err, "scheduler configuration not updated");
    }
    let updated = resp.error.is_none();
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        resp.index,
        &json!({"Updated": updated, "Index": resp.index}),
    ))
}

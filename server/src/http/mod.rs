//! The HTTP API: Nomad's `/v1` paths and JSON over axum.
//!
//! Owns routing, request parsing (bodies, query parameters, blocking
//! queries), the translation of user requests into [`Command`]s (with the
//! evaluations they trigger), the JSON shapes Nomad answers with, and the
//! status codes of every failure. It does not own the state, Raft or the
//! clock: it reaches them only through the [`Backend`] the server passes in,
//! so tests drive it with any backend they build.
//!
//! [`Command`]: crate::fsm::Command

mod backend;
mod client_fs;
mod cluster;
mod deployments;
mod error;
mod evals;
mod jobs;
mod metrics;
mod objects;
mod operator_scheduler;
mod operator_snapshot;
mod plan;
mod query;
mod stubs;
mod vars;

#[cfg(any(test, feature = "testing"))]
mod test_backend;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};

pub use backend::{AgentSelf, Backend, BackendError, Member, RaftInfo, RaftPeer};
pub use client_fs::{
    ClientApi, ClientApiError, ClientSlot, EXEC_TIMEOUT, ExecResult, FORWARDED_HEADER, LogPos,
    LogRead, LogSource, client_router,
};
pub use error::ApiError;
pub use operator_snapshot::{
    SNAPSHOT_FORMAT_VERSION, SNAPSHOT_HEADER_LEN, SNAPSHOT_MAGIC, SnapshotFileError,
    SnapshotHeader, decode_snapshot_file, encode_snapshot_file,
};
pub use query::{DEFAULT_WAIT, MAX_WAIT, QueryParams, parse_duration};
#[cfg(any(test, feature = "testing"))]
pub use test_backend::{TEST_RPC_ADDR, TestBackend};

/// Bounds on what one request may ask of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// Largest request body accepted; larger ones get 413.
    pub max_body_bytes: usize,
    /// Longest a write may wait for Raft before answering 504.
    pub write_timeout: Duration,
    /// Longest a consistent read may wait for its read barrier (and the
    /// slack a blocking query gets past its wait) before answering 504.
    pub read_timeout: Duration,
    /// Largest snapshot file `PUT /v1/operator/snapshot` accepts (it
    /// replaces the general body limit on that route only). A restore
    /// travels as one Raft entry, so this stays below the largest message
    /// the peer transport carries (64 MiB).
    pub max_snapshot_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_body_bytes: 16 * 1024 * 1024,
            write_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(30),
            max_snapshot_bytes: 48 * 1024 * 1024,
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) limits: HttpLimits,
    pub(crate) metrics: Arc<metrics::RequestMetrics>,
}

impl Ctx {
    /// A snapshot for a read within the read timeout.
    pub(crate) async fn read(&self, stale: bool) -> Result<crate::state::StateSnapshot, ApiError> {
        Ok(
            tokio::time::timeout(self.limits.read_timeout, self.backend.read(stale))
                .await
                .map_err(|_| BackendError::Timeout)??,
        )
    }

    /// Applies a command within the write timeout; a refusal by the FSM
    /// (state unchanged) becomes a 400 naming it.
    pub(crate) async fn apply(
        &self,
        cmd: crate::fsm::Command,
    ) -> Result<crate::fsm::CommandResponse, ApiError> {
        let resp = self.propose(cmd).await?;
        if let Some(err) = &resp.error {
            return Err(ApiError::bad(err.clone()));
        }
        Ok(resp)
    }

    /// Applies a command within the write timeout, leaving the FSM's
    /// refusal (if any) in the response for the caller to map.
    pub(crate) async fn propose(
        &self,
        cmd: crate::fsm::Command,
    ) -> Result<crate::fsm::CommandResponse, ApiError> {
        Ok(
            tokio::time::timeout(self.limits.write_timeout, self.backend.apply(cmd))
                .await
                .map_err(|_| BackendError::Timeout)??,
        )
    }
}

/// Builds the `/v1` router over `backend`.
pub fn router(backend: Arc<dyn Backend>, limits: HttpLimits) -> Router {
    let ctx = Ctx {
        backend,
        limits: limits.clone(),
        metrics: Arc::new(metrics::RequestMetrics::default()),
    };
    let routes = Router::new()
        .merge(jobs::routes())
        .merge(objects::routes())
        .merge(deployments::routes())
        .merge(cluster::routes())
        .merge(vars::routes())
        .merge(operator_scheduler::routes())
        .merge(operator_snapshot::routes(limits.max_snapshot_bytes))
        .route("/v1/metrics", get(metrics::get_metrics))
        .fallback(any(unknown_path))
        .with_state(ctx.clone());
    routes
        .layer(axum::middleware::from_fn_with_state(
            ctx,
            metrics::count_and_explain,
        ))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
}

async fn unknown_path() -> Response {
    (StatusCode::NOT_FOUND, "Invalid URL path").into_response()
}

/// Serves `router` on `listener` until `shutdown` completes, then lets
/// requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "HTTP API listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

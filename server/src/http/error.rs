//! Errors as the HTTP API answers them: a status code and a plain-text
//! message, as Nomad does.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::backend::BackendError;

/// A failed request: the status and the message the user reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or invalid (400).
    #[error("{0}")]
    BadRequest(String),
    /// The named object does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// A compare-and-set or check-index conflict (409).
    #[error("{0}")]
    Conflict(String),
    /// The backend could not serve it.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl ApiError {
    /// The status code the error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Backend(e) => match e {
                BackendError::NoLeader | BackendError::Unavailable(_) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                BackendError::Timeout => StatusCode::GATEWAY_TIMEOUT,
                BackendError::Rejected(_) => StatusCode::BAD_REQUEST,
                BackendError::NotFound(_) => StatusCode::NOT_FOUND,
            },
        }
    }

    pub(crate) fn bad(msg: impl Into<String>) -> Self {
        ApiError::BadRequest(msg.into())
    }

    pub(crate) fn not_found(msg: impl Into<String>) -> Self {
        ApiError::NotFound(msg.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        tracing::debug!(status = status.as_u16(), error = %self, "request failed");
        (status, self.to_string()).into_response()
    }
}

//! The errors of the docker capability, one variant per case a caller acts
//! on. It owns only the error type; which operation raises which variant is
//! documented on the operations themselves.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Why a docker capability call failed.
///
/// The `Display` text is what a driver sees (the WIT interface carries the
/// error as a string), so each message names the endpoint, field or file
/// concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DockerError {
    /// The engine cannot be reached: no socket, connection refused or not
    /// permitted. A driver's fingerprint reports docker as undetected.
    #[error("docker engine unavailable at {}: {reason}", socket.display())]
    Unavailable {
        /// The socket the capability tried.
        socket: PathBuf,
        /// What the operating system said.
        reason: String,
    },
    /// The policy refused the request; the message says which endpoint or
    /// field and why.
    #[error("{0}")]
    Forbidden(String),
    /// The engine did not answer within the configured request timeout.
    #[error("docker {what} timed out after {after:?}")]
    Timeout {
        /// The request that timed out, as `METHOD /path`.
        what: String,
        /// The timeout that expired.
        after: Duration,
    },
    /// The engine answered with an error (typed operations only; the raw
    /// [`request`](super::DockerCapability::request) passes every status
    /// through).
    #[error("docker engine answered {status}: {message}")]
    Api {
        /// The HTTP status (200 for errors reported inside a stream).
        status: u16,
        /// The engine's message.
        message: String,
    },
    /// Reading or writing a local file, or the connection to the engine,
    /// failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A request or response body is larger than the configured limit.
    #[error("{what} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Which body.
        what: String,
        /// The limit in bytes.
        limit: usize,
    },
}

impl DockerError {
    /// An [`DockerError::Io`] with its context.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether the engine could not be reached at all.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

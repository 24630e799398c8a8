//! The errors of the peer protocol: what a handler refuses with, what a
//! caller gets back, and why a listener stopped.

use std::time::Duration;

use tonic::{Code, Status};

/// The metadata key a `NotLeader` refusal carries the known leader's Raft ID
/// in, so the caller can retry there.
pub(crate) const LEADER_ID_KEY: &str = "sched-leader-id";

/// Why a [`PeerHandler`](super::PeerHandler) refused a request. Each variant
/// reaches the caller as its own [`RpcError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// This server is not the leader; retry at `leader` if one is known.
    #[error("not the leader (leader: {leader:?})")]
    NotLeader {
        /// The leader's Raft ID, when this server knows it.
        leader: Option<u64>,
    },
    /// The request was malformed; retrying it unchanged cannot succeed.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The server cannot take it now (shutting down, Raft busy); retry later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The request was taken but its outcome is unknown after the deadline.
    #[error("timed out")]
    Timeout,
}

impl From<HandlerError> for Status {
    fn from(err: HandlerError) -> Self {
        match err {
            HandlerError::NotLeader { leader } => {
                let mut status = Status::failed_precondition("not the leader");
                if let Some(id) = leader
                    && let Ok(value) = id.to_string().parse()
                {
                    status.metadata_mut().insert(LEADER_ID_KEY, value);
                }
                status
            }
            HandlerError::Invalid(msg) => Status::invalid_argument(msg),
            HandlerError::Unavailable(msg) => Status::unavailable(msg),
            HandlerError::Timeout => Status::deadline_exceeded("timed out"),
        }
    }
}

/// Why a call to a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The address is not a usable `host:port` or URI.
    #[error("invalid peer address {addr:?}: {message}")]
    InvalidAddress {
        /// The address given.
        addr: String,
        /// What is wrong with it.
        message: String,
    },
    /// The peer could not be reached (refused, unreachable, reset).
    #[error("cannot reach peer {addr}: {source}")]
    Connect {
        /// The peer.
        addr: String,
        /// The transport's reason.
        #[source]
        source: tonic::transport::Error,
    },
    /// No answer within the deadline; the request may or may not have taken
    /// effect.
    #[error("peer {addr} did not answer within {after:?}")]
    Timeout {
        /// The peer.
        addr: String,
        /// The deadline.
        after: Duration,
    },
    /// The peer is not the leader; retry at `leader` if known.
    #[error("peer {addr} is not the leader (leader: {leader:?})")]
    NotLeader {
        /// The peer.
        addr: String,
        /// The leader's Raft ID, when the peer knows it.
        leader: Option<u64>,
    },
    /// The peer cannot take requests now, or the connection broke mid-call;
    /// retry later.
    #[error("peer {addr} unavailable: {message}")]
    Unavailable {
        /// The peer.
        addr: String,
        /// Its reason.
        message: String,
    },
    /// The peer refused the request as malformed or otherwise failed it.
    #[error("peer {addr} refused the request ({code:?}): {message}")]
    Rejected {
        /// The peer.
        addr: String,
        /// The gRPC status code.
        code: Code,
        /// Its reason.
        message: String,
    },
    /// The peer answered something this server cannot read.
    #[error("peer {addr} sent a malformed answer: {message}")]
    BadResponse {
        /// The peer.
        addr: String,
        /// What is wrong with it.
        message: String,
    },
}

impl RpcError {
    /// Classifies a gRPC status from `addr`.
    /// `timeout` is the deadline the call was made with.
    pub(crate) fn from_status(addr: &str, status: &Status, timeout: Duration) -> Self {
        let addr = addr.to_owned();
        let message = status.message().to_owned();
        match status.code() {
            Code::FailedPrecondition => RpcError::NotLeader {
                addr,
                leader: status
                    .metadata()
                    .get(LEADER_ID_KEY)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok()),
            },
            Code::DeadlineExceeded => RpcError::Timeout {
                addr,
                after: timeout,
            },
            Code::Unavailable | Code::Cancelled | Code::Unknown => {
                RpcError::Unavailable { addr, message }
            }
            code => RpcError::Rejected {
                addr,
                code,
                message,
            },
        }
    }
}

/// Why a listener stopped other than by its shutdown signal.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The HTTP/2 server failed (the listener broke).
    #[error("peer listener failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_leader_carries_the_leader_across_the_wire() {
        let status = Status::from(HandlerError::NotLeader { leader: Some(3) });
        match RpcError::from_status("a:1", &status, Duration::from_secs(1)) {
            RpcError::NotLeader { leader, .. } => assert_eq!(leader, Some(3)),
            other => panic!("expected NotLeader, got {other:?}"),
        }
        let status = Status::from(HandlerError::NotLeader { leader: None });
        match RpcError::from_status("a:1", &status, Duration::from_secs(1)) {
            RpcError::NotLeader { leader, .. } => assert_eq!(leader, None),
            other => panic!("expected NotLeader, got {other:?}"),
        }
    }

    #[test]
    fn invalid_requests_are_rejected_not_retried() {
        let status = Status::from(HandlerError::Invalid("bad".into()));
        assert!(matches!(
            RpcError::from_status("a:1", &status, Duration::from_secs(1)),
            RpcError::Rejected {
                code: Code::InvalidArgument,
                ..
            }
        ));
        let status = Status::from(HandlerError::Unavailable("stopping".into()));
        assert!(matches!(
            RpcError::from_status("a:1", &status, Duration::from_secs(1)),
            RpcError::Unavailable { .. }
        ));
    }
}

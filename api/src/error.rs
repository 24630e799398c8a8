//! What can go wrong talking to an agent, worded for the person at the
//! terminal.

/// A failed API call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The address is not a usable `http://host:port` URL.
    #[error("invalid agent address {address:?}: {reason} (use http://host:port)")]
    InvalidAddress {
        /// The address given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Nothing answered at the address.
    #[error(
        "no agent at {address}: start one with `sched agent -dev`, or point -address (or SCHED_ADDR) at a running agent"
    )]
    Unreachable {
        /// The address tried.
        address: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The agent did not answer in time.
    #[error("the agent at {address} did not answer in time")]
    Timeout {
        /// The address tried.
        address: String,
    },
    /// The agent answered with an error status.
    #[error("Unexpected response code: {status} ({message})")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The agent's message.
        message: String,
    },
    /// The agent's answer could not be read as the expected shape.
    #[error("could not decode the agent's answer to {path}: {reason}")]
    Decode {
        /// The request path.
        path: String,
        /// Why.
        reason: String,
    },
}

impl Error {
    /// The HTTP status when the agent answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the agent said the object does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

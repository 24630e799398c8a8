//! Options of reads (blocking queries, consistency, filters) and what the
//! agent says about the answer.

use std::time::Duration;

/// How a read is made. The default is a consistent, non-blocking read in
/// the `default` namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// Block until the index passes this (0: answer at once).
    pub index: u64,
    /// How long to block (the agent caps it at 10 minutes).
    pub wait: Option<Duration>,
    /// Let any server answer from its own, possibly stale, state.
    pub stale: bool,
    /// Only IDs starting with this.
    pub prefix: Option<String>,
    /// The namespace (`*` for all).
    pub namespace: Option<String>,
}

impl QueryOptions {
    /// A blocking query on `index`, waiting at most `wait`.
    pub fn blocking(index: u64, wait: Duration) -> QueryOptions {
        QueryOptions {
            index,
            wait: Some(wait),
            ..Default::default()
        }
    }

    /// Only IDs starting with `prefix`.
    pub fn with_prefix(prefix: impl Into<String>) -> QueryOptions {
        QueryOptions {
            prefix: Some(prefix.into()),
            ..Default::default()
        }
    }

    pub(crate) fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.index > 0 {
            out.push(("index", self.index.to_string()));
        }
        if let Some(w) = self.wait {
            out.push(("wait", format!("{}ms", w.as_millis())));
        }
        if self.stale {
            out.push(("stale", String::new()));
        }
        if let Some(p) = &self.prefix {
            out.push(("prefix", p.clone()));
        }
        if let Some(ns) = &self.namespace {
            out.push(("namespace", ns.clone()));
        }
        out
    }
}

/// What the agent said about a read's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryMeta {
    /// The index to block on next (`X-Nomad-Index`).
    pub last_index: u64,
    /// Whether the answering server knew a leader.
    pub known_leader: bool,
    /// How long since that server heard from the leader.
    pub last_contact: Duration,
}

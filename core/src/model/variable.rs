//! Variables: the key/value documents kept in the replicated state and read
//! by tasks' templates (Nomad's `Variables`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One variable: a path in a namespace holding string items.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Variable {
    /// Namespace the path lives in.
    pub namespace: String,
    /// Slash-separated path, e.g. `nomad/jobs/web`.
    pub path: String,
    /// The items, the only part users write.
    pub items: BTreeMap<String, String>,
    /// Raft index of the first write.
    pub create_index: u64,
    /// Raft index of the latest write: the compare-and-set token.
    pub modify_index: u64,
    /// Unix nanoseconds of the first write.
    pub create_time: i64,
    /// Unix nanoseconds of the latest write.
    pub modify_time: i64,
}

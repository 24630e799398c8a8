//! What can go wrong opening, persisting or restoring the state.

/// A failure of the state store. Applying a command never fails with one of
/// these: refusals of a command are answered in its
/// [`CommandResponse`](crate::fsm::CommandResponse).
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// sled could not read or write.
    #[error("state storage: {0}")]
    Storage(#[from] sled::Error),
    /// A multi-tree write was refused by sled.
    #[error("state storage transaction: {0}")]
    Transaction(String),
    /// A stored record does not decode: the db was written by an
    /// incompatible version or is damaged.
    #[error("state tree {tree}: record {key} does not decode: {source}")]
    Decode {
        /// The tree.
        tree: &'static str,
        /// The key, lossily as text.
        key: String,
        /// Why.
        source: serde_json::Error,
    },
    /// A stored allocation runs a job version the db does not hold.
    #[error(
        "allocation {alloc} refers to job {namespace}/{job_id} version {version}, which is not stored"
    )]
    MissingAllocJob {
        /// The allocation.
        alloc: String,
        /// Namespace of its job.
        namespace: String,
        /// Its job.
        job_id: String,
        /// The version.
        version: u64,
    },
    /// A snapshot restore was interrupted: the trees hold part of the
    /// snapshot taken at `index`. Clear the state ([`clear`](super::clear))
    /// and install the snapshot again.
    #[error(
        "a restore of the snapshot at index {index} did not finish; the state must be cleared and restored again"
    )]
    IncompleteRestore {
        /// Index of the snapshot being restored.
        index: u64,
    },
    /// A snapshot's bytes do not decode.
    #[error("snapshot does not decode: {0}")]
    BadSnapshot(serde_json::Error),
    /// A snapshot says it was taken at another index than the one Raft
    /// installs it at.
    #[error("snapshot was taken at index {found}, installed at {expected}")]
    SnapshotIndex {
        /// The index Raft gave.
        expected: u64,
        /// The index inside the snapshot.
        found: u64,
    },
}

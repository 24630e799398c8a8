//! `/v1/operator/snapshot`: the cluster's state saved to a file and restored
//! from one, and the file format both sides (server and CLI) share.
//!
//! A snapshot file is a fixed header followed by the FSM's snapshot bytes:
//!
//! | bytes | field |
//! | --- | --- |
//! | 8 | magic `SCHEDSNP` |
//! | 4 | format version, little-endian (`1`) |
//! | 8 | Raft index of the state, little-endian |
//! | 8 | Raft term when it was saved, little-endian |
//! | 8 | payload length, little-endian |
//! | 32 | SHA-256 of the payload |
//! | n | payload: the FSM snapshot (JSON) |
//!
//! The checksum and the length make a truncated or damaged file fail before
//! anything reaches Raft; a restore then goes through the log as
//! [`Command::Restore`], so every server replaces its state at one index.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::Ctx;
use super::error::ApiError;
use super::query::{QueryParams, add_meta};
use crate::fsm::Command;
use crate::http::BackendError;
use crate::state::SnapshotData;

/// The first bytes of every snapshot file.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"SCHEDSNP";
/// The format version this build writes and reads.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;
/// Length of the header before the payload.
pub const SNAPSHOT_HEADER_LEN: usize = 8 + 4 + 8 + 8 + 8 + 32;

/// What a snapshot file's header says about its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// Format version.
    pub version: u32,
    /// Raft index of the saved state.
    pub index: u64,
    /// Raft term when the state was saved.
    pub term: u64,
    /// Payload length in bytes.
    pub size: u64,
    /// SHA-256 of the payload.
    pub sha256: [u8; 32],
}

/// Why a snapshot file is refused; nothing is restored from it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotFileError {
    /// Shorter than the header.
    #[error("snapshot file is {0} bytes, shorter than its {SNAPSHOT_HEADER_LEN}-byte header")]
    TooShort(usize),
    /// Not a snapshot file at all.
    #[error("not a snapshot file (bad magic)")]
    BadMagic,
    /// Written by a format this build does not read.
    #[error(
        "snapshot format version {0} is not supported (this build reads {SNAPSHOT_FORMAT_VERSION})"
    )]
    UnsupportedVersion(u32),
    /// The payload is not as long as the header says: truncated or padded.
    #[error("snapshot payload is {found} bytes, header says {expected}")]
    LengthMismatch {
        /// Length from the header.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The payload's bytes changed since it was saved.
    #[error("snapshot checksum mismatch: the file is damaged")]
    ChecksumMismatch,
}

/// Wraps FSM snapshot bytes taken at `index` in `term` into a file.
pub fn encode_snapshot_file(index: u64, term: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SNAPSHOT_HEADER_LEN + payload.len());
    out.extend_from_slice(&SNAPSHOT_MAGIC);
    out.extend_from_slice(&SNAPSHOT_FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&index.to_le_bytes());
    out.extend_from_slice(&term.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(payload));
    out.extend_from_slice(payload);
    out
}

/// Checks a snapshot file and splits it into its header and payload.
pub fn decode_snapshot_file(file: &[u8]) -> Result<(SnapshotHeader, &[u8]), SnapshotFileError> {
    let header = file
        .get(..SNAPSHOT_HEADER_LEN)
        .ok_or(SnapshotFileError::TooShort(file.len()))?;
    let (magic, rest) = header.split_at(8);
    if magic != SNAPSHOT_MAGIC {
        return Err(SnapshotFileError::BadMagic);
    }
    let (version, rest) = rest.split_at(4);
    let version = u32::from_le_bytes(version.try_into().unwrap_or_default());
    if version != SNAPSHOT_FORMAT_VERSION {
        return Err(SnapshotFileError::UnsupportedVersion(version));
    }
    let read_u64 = |b: &[u8]| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        u64::from_le_bytes(a)
    };
    let index = read_u64(&rest[0..8]);
    let term = read_u64(&rest[8..16]);
    let size = read_u64(&rest[16..24]);
    let mut sha256 = [0u8; 32];
    sha256.copy_from_slice(&rest[24..56]);
    let payload = &file[SNAPSHOT_HEADER_LEN..];
    if payload.len() as u64 != size {
        return Err(SnapshotFileError::LengthMismatch {
            expected: size,
            found: payload.len() as u64,
        });
    }
    if Sha256::digest(payload).as_slice() != sha256 {
        return Err(SnapshotFileError::ChecksumMismatch);
    }
    Ok((
        SnapshotHeader {
            version,
            index,
            term,
            size,
            sha256,
        },
        payload,
    ))
}

pub(crate) fn routes(max_snapshot_bytes: usize) -> Router<Ctx> {
    Router::new().route(
        "/v1/operator/snapshot",
        get(save)
            .put(restore)
            // Replaces the API's general body limit for this route only:
            // a snapshot is far larger than any other request.
            .layer(DefaultBodyLimit::max(max_snapshot_bytes)),
    )
}

fn unavailable(msg: String) -> ApiError {
    ApiError::Backend(BackendError::Unavailable(msg))
}

/// `GET /v1/operator/snapshot`: the consistent state (or this server's,
/// with `?stale`) as a snapshot file.
async fn save(State(ctx): State<Ctx>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let params = QueryParams::parse(q.as_deref())?;
    let snapshot = ctx.read(params.stale).await?;
    let term = ctx.backend.raft_info().term;
    let index = snapshot.index();
    // Encoding walks every table: keep it off the async workers.
    let file = tokio::task::spawn_blocking(move || {
        snapshot
            .encode_snapshot()
            .map(|payload| encode_snapshot_file(index, term, &payload))
    })
    .await
    .map_err(|e| unavailable(format!("snapshot encoding stopped: {e}")))?
    .map_err(|e| unavailable(format!("state does not encode: {e}")))?;
    tracing::info!(index, term, bytes = file.len(), "operator snapshot saved");
    let mut resp = ([(header::CONTENT_TYPE, "application/octet-stream")], file).into_response();
    add_meta(ctx.backend.as_ref(), index, &mut resp);
    Ok(resp)
}

/// `PUT /v1/operator/snapshot`: replaces the cluster's state with the
/// file's, through Raft. A damaged file, or one whose payload is not a
/// state, is refused with 400 before anything is proposed.
async fn restore(State(ctx): State<Ctx>, body: Bytes) -> Result<Response, ApiError> {
    let checked =
        tokio::task::spawn_blocking(move || -> Result<(SnapshotHeader, String), ApiError> {
            let (header, payload) =
                decode_snapshot_file(&body).map_err(|e| ApiError::bad(e.to_string()))?;
            let text = std::str::from_utf8(payload)
                .map_err(|e| ApiError::bad(format!("snapshot payload is not UTF-8: {e}")))?;
            // Build the state once here so a payload that would only fail in
            // the FSM is refused before it takes a log entry.
            SnapshotData::decode(payload)
                .and_then(|d| d.into_state())
                .map_err(|e| ApiError::bad(format!("snapshot payload is not a state: {e}")))?;
            Ok((header, text.to_owned()))
        })
        .await
        .map_err(|e| unavailable(format!("snapshot check stopped: {e}")))??;
    let (header, snapshot) = checked;
    let resp = ctx.apply(Command::Restore { snapshot }).await?;
    tracing::info!(
        saved_index = header.index,
        saved_term = header.term,
        index = resp.index,
        "operator snapshot restored"
    );
    let mut out = ().into_response();
    add_meta(ctx.backend.as_ref(), resp.index, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_round_trips_and_any_damage_is_refused() {
        let payload = br#"{"Index":7}"#;
        let file = encode_snapshot_file(7, 3, payload);
        let (h, p) = decode_snapshot_file(&file).unwrap();
        assert_eq!((h.version, h.index, h.term, h.size), (1, 7, 3, 11));
        assert_eq!(p, payload);

        assert_eq!(
            decode_snapshot_file(&file[..10]),
            Err(SnapshotFileError::TooShort(10))
        );
        assert!(matches!(
            decode_snapshot_file(&file[..file.len() - 1]),
            Err(SnapshotFileError::LengthMismatch { .. })
        ));
        let mut flipped = file.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(
            decode_snapshot_file(&flipped),
            Err(SnapshotFileError::ChecksumMismatch)
        );
        let mut magic = file.clone();
        magic[0] = b'X';
        assert_eq!(
            decode_snapshot_file(&magic),
            Err(SnapshotFileError::BadMagic)
        );
        let mut version = file;
        version[8] = 9;
        assert_eq!(
            decode_snapshot_file(&version),
            Err(SnapshotFileError::UnsupportedVersion(9))
        );
    }
}

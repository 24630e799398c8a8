//! Chunked transfer of large Raft messages (snapshots): splitting an encoded
//! message into chunks on the sender and putting it back together, with a
//! bound on its size, on the receiver.

use bytes::{Bytes, BytesMut};

use super::proto::SnapshotChunk;

/// Splits an encoded message into chunks of at most `chunk_size` bytes
/// (zero-copy: each chunk shares `encoded`).
pub(crate) fn split(encoded: Bytes, chunk_size: usize) -> Vec<SnapshotChunk> {
    let total_len = encoded.len() as u64;
    let chunk_size = chunk_size.max(1);
    if encoded.is_empty() {
        return vec![SnapshotChunk {
            total_len,
            offset: 0,
            data: Bytes::new(),
        }];
    }
    (0..encoded.len())
        .step_by(chunk_size)
        .map(|start| SnapshotChunk {
            total_len,
            offset: start as u64,
            data: encoded.slice(start..(start + chunk_size).min(encoded.len())),
        })
        .collect()
}

/// Why a chunked transfer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// The announced size is over the receiver's limit.
    #[error("snapshot of {total_len} bytes is over the limit of {limit} bytes")]
    TooLarge {
        /// The announced size.
        total_len: u64,
        /// The receiver's limit.
        limit: u64,
    },
    /// A chunk announced a different total size than the first one.
    #[error("chunk announces {got} bytes in all, the first chunk announced {expected}")]
    TotalChanged {
        /// The first chunk's total.
        expected: u64,
        /// This chunk's total.
        got: u64,
    },
    /// A chunk does not start where the previous one ended.
    #[error("chunk at offset {got}, expected offset {expected}")]
    OutOfOrder {
        /// Where the next chunk should start.
        expected: u64,
        /// Where it started.
        got: u64,
    },
    /// A chunk runs past the announced size.
    #[error("chunk ends at {end}, past the announced {total_len} bytes")]
    Overrun {
        /// Where the chunk ends.
        end: u64,
        /// The announced size.
        total_len: u64,
    },
    /// The stream ended before the announced size arrived.
    #[error("stream ended after {received} of {total_len} bytes")]
    Incomplete {
        /// Bytes received.
        received: u64,
        /// The announced size.
        total_len: u64,
    },
    /// The stream carried no chunk at all.
    #[error("empty snapshot stream")]
    Empty,
}

/// Puts a chunked message back together, refusing anything over `limit`
/// bytes, out of order or inconsistent before it allocates for it.
#[derive(Debug)]
pub struct SnapshotReassembler {
    limit: u64,
    total_len: Option<u64>,
    buf: BytesMut,
}

impl SnapshotReassembler {
    /// A reassembler that accepts messages of at most `limit` bytes.
    pub fn new(limit: u64) -> Self {
        SnapshotReassembler {
            limit,
            total_len: None,
            buf: BytesMut::new(),
        }
    }

    /// Adds the next chunk.
    pub fn push(&mut self, chunk: SnapshotChunk) -> Result<(), SnapshotError> {
        let total_len = match self.total_len {
            Some(expected) if expected != chunk.total_len => {
                return Err(SnapshotError::TotalChanged {
                    expected,
                    got: chunk.total_len,
                });
            }
            Some(total) => total,
            None => {
                if chunk.total_len > self.limit {
                    return Err(SnapshotError::TooLarge {
                        total_len: chunk.total_len,
                        limit: self.limit,
                    });
                }
                self.total_len = Some(chunk.total_len);
                // Safe to reserve: the size is within the limit.
                self.buf
                    .reserve(usize::try_from(chunk.total_len).unwrap_or(usize::MAX));
                chunk.total_len
            }
        };
        let received = self.buf.len() as u64;
        if chunk.offset != received {
            return Err(SnapshotError::OutOfOrder {
                expected: received,
                got: chunk.offset,
            });
        }
        let end = received.saturating_add(chunk.data.len() as u64);
        if end > total_len {
            return Err(SnapshotError::Overrun { end, total_len });
        }
        self.buf.extend_from_slice(&chunk.data);
        Ok(())
    }

    /// The whole message, once every announced byte arrived.
    pub fn finish(self) -> Result<Bytes, SnapshotError> {
        let total_len = self.total_len.ok_or(SnapshotError::Empty)?;
        let received = self.buf.len() as u64;
        if received != total_len {
            return Err(SnapshotError::Incomplete {
                received,
                total_len,
            });
        }
        Ok(self.buf.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reassemble(chunks: Vec<SnapshotChunk>, limit: u64) -> Result<Bytes, SnapshotError> {
        let mut r = SnapshotReassembler::new(limit);
        for c in chunks {
            r.push(c)?;
        }
        r.finish()
    }

    proptest! {
        #[test]
        fn split_then_reassemble_is_identity(
            data in proptest::collection::vec(any::<u8>(), 0..5000),
            chunk in 1usize..700,
        ) {
            let encoded = Bytes::from(data);
            let chunks = split(encoded.clone(), chunk);
            prop_assert!(chunks.iter().all(|c| c.data.len() <= chunk));
            prop_assert_eq!(reassemble(chunks, 5000).ok(), Some(encoded));
        }
    }

    #[test]
    fn over_the_limit_is_refused_before_allocating() {
        let chunk = SnapshotChunk {
            total_len: u64::MAX,
            offset: 0,
            data: Bytes::from_static(b"x"),
        };
        assert_eq!(
            SnapshotReassembler::new(1024).push(chunk),
            Err(SnapshotError::TooLarge {
                total_len: u64::MAX,
                limit: 1024
            })
        );
    }

    #[test]
    fn gaps_overruns_and_short_streams_are_refused() {
        let mut chunks = split(Bytes::from(vec![7u8; 100]), 30);
        chunks.swap(1, 2);
        assert!(matches!(
            reassemble(chunks, 1000),
            Err(SnapshotError::OutOfOrder {
                expected: 30,
                got: 60
            })
        ));

        let mut chunks = split(Bytes::from(vec![7u8; 100]), 30);
        chunks[3].data = Bytes::from(vec![0u8; 20]);
        assert!(matches!(
            reassemble(chunks, 1000),
            Err(SnapshotError::Overrun { end: 110, .. })
        ));

        let mut chunks = split(Bytes::from(vec![7u8; 100]), 30);
        chunks.pop();
        assert!(matches!(
            reassemble(chunks, 1000),
            Err(SnapshotError::Incomplete { received: 90, .. })
        ));

        let mut chunks = split(Bytes::from(vec![7u8; 100]), 30);
        chunks[1].total_len = 99;
        assert!(matches!(
            reassemble(chunks, 1000),
            Err(SnapshotError::TotalChanged { .. })
        ));

        assert_eq!(reassemble(Vec::new(), 1000), Err(SnapshotError::Empty));
    }
}

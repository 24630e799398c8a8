//! Copying a container's output into the task's log files.
//!
//! Owns the demultiplexer for the engine's framed log stream (8-byte
//! headers: stream type, three zero bytes, big-endian payload length) and
//! the background task that appends each stream to its file until the
//! engine ends the stream. Memory stays bounded: payloads are written as
//! they arrive, never gathered into whole frames. Opening the stream and
//! the files is the caller's job (`mod.rs`), so that failures reach the
//! driver synchronously.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::fs::File;
use tokio::io::AsyncWriteExt;

use super::transport::ConnectionGuard;

/// Which output a piece of log belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Output {
    /// The container's standard output.
    Stdout,
    /// The container's standard error (and the engine's own messages).
    Stderr,
}

/// Splits the engine's multiplexed log stream into stdout and stderr
/// pieces, across arbitrary chunk boundaries.
#[derive(Debug)]
pub(crate) struct Demuxer {
    header: [u8; 8],
    header_len: usize,
    remaining: u64,
    output: Output,
}

impl Default for Demuxer {
    fn default() -> Self {
        Self::new()
    }
}

impl Demuxer {
    /// A demultiplexer at the start of a stream.
    pub(crate) fn new() -> Self {
        Self {
            header: [0; 8],
            header_len: 0,
            remaining: 0,
            output: Output::Stdout,
        }
    }

    /// Feeds one chunk; appends the payload pieces it holds to `pieces`, in
    /// order, each tagged with its output.
    pub(crate) fn feed<'a>(&mut self, mut chunk: &'a [u8], pieces: &mut Vec<(Output, &'a [u8])>) {
        while !chunk.is_empty() {
            if self.remaining > 0 {
                let take = usize::try_from(self.remaining)
                    .unwrap_or(usize::MAX)
                    .min(chunk.len());
                let (payload, rest) = chunk.split_at(take);
                pieces.push((self.output, payload));
                self.remaining -= take as u64;
                chunk = rest;
                continue;
            }
            let take = (8 - self.header_len).min(chunk.len());
            self.header[self.header_len..self.header_len + take].copy_from_slice(&chunk[..take]);
            self.header_len += take;
            chunk = &chunk[take..];
            if self.header_len == 8 {
                self.header_len = 0;
                // 0 is stdin (never sent for logs), 1 stdout, 2 stderr and
                // 3 the engine's own errors.
                self.output = if self.header[0] == 1 {
                    Output::Stdout
                } else {
                    Output::Stderr
                };
                let [_, _, _, _, a, b, c, d] = self.header;
                self.remaining = u64::from(u32::from_be_bytes([a, b, c, d]));
            }
        }
    }
}

/// Counts the followers still running; each one holds a ticket.
#[derive(Debug, Clone, Default)]
pub(crate) struct FollowerCount(Arc<AtomicUsize>);

impl FollowerCount {
    /// How many followers are running.
    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// Registers a follower until the ticket drops.
    pub(crate) fn ticket(&self) -> FollowerTicket {
        self.0.fetch_add(1, Ordering::SeqCst);
        FollowerTicket(self.0.clone())
    }
}

/// Keeps a follower counted while it lives.
#[derive(Debug)]
pub(crate) struct FollowerTicket(Arc<AtomicUsize>);

impl Drop for FollowerTicket {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One container's log stream and where it goes.
#[derive(Debug)]
pub(crate) struct Follower {
    /// The container, for log messages.
    pub container: String,
    /// The response body of `GET /containers/{id}/logs?follow=1`.
    pub body: Incoming,
    /// Keeps the connection open while the stream is read.
    pub connection: ConnectionGuard,
    /// Whether the container has a TTY (then the stream is raw, not framed).
    pub tty: bool,
    /// The stdout log file, opened for appending.
    pub stdout: File,
    /// The stderr log file, opened for appending.
    pub stderr: File,
    /// Counts this follower while it runs.
    pub ticket: FollowerTicket,
}

impl Follower {
    /// Copies the stream into the files until the engine ends it.
    pub(crate) async fn run(mut self) {
        let mut demuxer = Demuxer::new();
        let mut copied: u64 = 0;
        let outcome = loop {
            let frame = match self.body.frame().await {
                None => break Ok(()),
                Some(Err(error)) => break Err(error.to_string()),
                Some(Ok(frame)) => frame,
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let mut pieces = Vec::with_capacity(4);
            if self.tty {
                pieces.push((Output::Stdout, &data[..]));
            } else {
                demuxer.feed(&data, &mut pieces);
            }
            if let Err(error) = self.write(&pieces).await {
                break Err(format!("writing the log files: {error}"));
            }
            copied += data.len() as u64;
        };
        drop(self.connection);
        match outcome {
            Ok(()) => {
                tracing::debug!(container = %self.container, bytes = copied, "docker log stream ended");
            }
            Err(error) => {
                tracing::warn!(container = %self.container, bytes = copied, %error, "docker log stream failed");
            }
        }
        drop(self.ticket);
    }

    /// Appends the pieces of one chunk and flushes both files, so readers
    /// see output as it happens.
    async fn write(&mut self, pieces: &[(Output, &[u8])]) -> std::io::Result<()> {
        for (output, piece) in pieces {
            match output {
                Output::Stdout => self.stdout.write_all(piece).await?,
                Output::Stderr => self.stderr.write_all(piece).await?,
            }
        }
        self.stdout.flush().await?;
        self.stderr.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![kind, 0, 0, 0];
        frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        frame.extend_from_slice(payload);
        frame
    }

    fn demux_in_chunks(stream: &[u8], chunk: usize) -> (Vec<u8>, Vec<u8>) {
        let mut demuxer = Demuxer::new();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        for piece in stream.chunks(chunk) {
            let mut pieces = Vec::new();
            demuxer.feed(piece, &mut pieces);
            for (output, bytes) in pieces {
                match output {
                    Output::Stdout => out.extend_from_slice(bytes),
                    Output::Stderr => err.extend_from_slice(bytes),
                }
            }
        }
        (out, err)
    }

    #[test]
    fn splits_frames_across_every_chunk_size() {
        let mut stream = frame(1, b"out 1\n");
        stream.extend(frame(2, b"err 1\n"));
        stream.extend(frame(1, b""));
        stream.extend(frame(1, &[b'x'; 300]));
        stream.extend(frame(3, b"engine\n"));
        let mut expected_out = b"out 1\n".to_vec();
        expected_out.extend_from_slice(&[b'x'; 300]);
        for chunk in 1..=stream.len() {
            let (out, err) = demux_in_chunks(&stream, chunk);
            assert_eq!(out, expected_out, "chunk size {chunk}");
            assert_eq!(err, b"err 1\nengine\n", "chunk size {chunk}");
        }
    }

    #[test]
    fn a_large_frame_header_allocates_nothing() {
        let mut demuxer = Demuxer::new();
        let mut pieces = Vec::new();
        demuxer.feed(&[2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, b'a'], &mut pieces);
        assert_eq!(pieces, vec![(Output::Stderr, &b"a"[..])]);
        assert_eq!(demuxer.remaining, 0xffff_ffff - 1);
    }
}

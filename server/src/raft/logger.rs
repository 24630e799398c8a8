//! A `slog` drain that forwards raft-rs's log records to `tracing`, so the
//! consensus library's messages land in the same subscriber as the rest of
//! the server, with their key/value pairs as one field.

use std::fmt::{self, Write as _};

use slog::{Drain, KV, Level, OwnedKVList, Record, Serializer};

/// Forwards every record to the `tracing` event of the same level under the
/// `raft` target.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingDrain;

/// Collects a record's key/value pairs as `key=value` text.
struct KvText(String);

impl Serializer for KvText {
    fn emit_arguments(&mut self, key: slog::Key, val: &fmt::Arguments<'_>) -> slog::Result {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        // Writing into a String cannot fail.
        let _ = write!(self.0, "{key}={val}");
        Ok(())
    }
}

impl Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
        let mut kv = KvText(String::new());
        // Our serializer never fails, so neither do these.
        let _ = record.kv().serialize(record, &mut kv);
        let _ = values.serialize(record, &mut kv);
        let msg = record.msg();
        let fields = kv.0;
        match record.level() {
            Level::Critical | Level::Error => {
                tracing::error!(target: "raft", fields = %fields, "{msg}")
            }
            Level::Warning => tracing::warn!(target: "raft", fields = %fields, "{msg}"),
            Level::Info => tracing::info!(target: "raft", fields = %fields, "{msg}"),
            Level::Debug => tracing::debug!(target: "raft", fields = %fields, "{msg}"),
            Level::Trace => tracing::trace!(target: "raft", fields = %fields, "{msg}"),
        }
        Ok(())
    }
}

/// A logger for one raft node, tagged with its ID.
pub fn raft_logger(id: u64) -> slog::Logger {
    slog::Logger::root(TracingDrain, slog::o!("raft_id" => id))
}

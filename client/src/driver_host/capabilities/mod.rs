//! The capabilities the host grants drivers (placeholder until they land).

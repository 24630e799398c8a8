//! Job specifications (placeholder until the parser lands).
pub mod fmt;
pub mod functions;

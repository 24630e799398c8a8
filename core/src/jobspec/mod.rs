//! Job specifications (placeholder until the parser lands).
pub mod functions;

//! The data model (placeholder until the model lands).

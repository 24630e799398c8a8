//! The HTTP API: Nomad's `/v1` paths and JSON over axum.

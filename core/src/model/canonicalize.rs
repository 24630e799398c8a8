//! Nomad's defaults (placeholder).

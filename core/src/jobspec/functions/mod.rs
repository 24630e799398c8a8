//! The HCL function library (placeholder).

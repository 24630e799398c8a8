//! The driver host: runs task drivers as WebAssembly components (placeholder
//! until the host lands).

pub mod capabilities;

//! The sched client: the node agent that runs allocations.
//!
//! So far it holds the driver host ([`driver_host`]): the wasmtime embedding
//! that runs task drivers as WebAssembly components and the capabilities it
//! grants them. Fingerprinting, the allocation and task runners, and talking
//! to servers arrive with the client work.
#![deny(missing_docs)]

pub mod driver_host;

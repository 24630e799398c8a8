//! The built-in driver components, embedded in the client at build time.
//!
//! `build.rs` embeds `drivers/components/{raw_exec,exec,docker}.wasm` with
//! `include_bytes!` when they exist (they are built and committed by the
//! guest workspace under `drivers/`), so a client built before them simply
//! has no built-ins. This module owns only that list.

include!(concat!(env!("OUT_DIR"), "/builtin_drivers.rs"));

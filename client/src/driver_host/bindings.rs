//! The generated bindings for the `sched:driver@0.1.0` world `task-driver`
//! (`plugins/wit`): the one place `bindgen!` runs.
//!
//! It owns nothing else: the host traits of the imported interfaces are
//! implemented in [`super::imports`], and the public types are re-exported
//! from [`super`]. Host functions are synchronous: the contract keeps every
//! host call short (waits take a timeout).
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    world: "task-driver",
    path: "../plugins/wit",
    additional_derives: [PartialEq],
});

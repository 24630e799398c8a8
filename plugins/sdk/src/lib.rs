//! The guest side of sched's driver contract (`sched:driver@0.1.0`).
//!
//! This crate owns everything a task driver compiled to a WebAssembly
//! component needs, so that driver code never touches raw bindings:
//!
//! - the [`Driver`] trait, whose methods mirror the WIT `driver` interface
//!   (optional operations default to [`DriverError::Unsupported`]), and the
//!   [`export_driver!`] macro that exports an implementation as the
//!   component's `driver` interface;
//! - the contract's data types ([`TaskConfig`], [`TaskHandle`], ...);
//! - safe wrappers of the host capabilities: [`process`], [`isolated`],
//!   [`docker`], [`log`] and [`clock`]. A capability the operator did not
//!   grant fails with [`DriverError::CapabilityDenied`];
//! - helpers for the task's JSON `config` block ([`config`]), Go-style
//!   durations ([`duration`]) and the opaque handle state ([`handle`]).
//!
//! The crate uses no WASI API: it builds for `wasm32-unknown-unknown` (with
//! a `-Z build-std` toolchain) and for `wasm32-wasip2` alike, and its pure
//! logic compiles and unit-tests on the host target (calling an import
//! there panics, since there is no host to answer).
//!
//! ```no_run
//! use sched_driver_sdk::{
//!     Driver, DriverCapabilities, DriverError, DriverInfo, ExitResult, FsIsolation,
//!     TaskConfig, TaskHandle, TaskState, TaskStatus, clock, config, handle,
//! };
//!
//! #[derive(serde::Deserialize)]
//! struct Config { greeting: String }
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct State { started_at: u64 }
//!
//! struct Hello;
//!
//! impl Driver for Hello {
//!     fn info() -> DriverInfo {
//!         DriverInfo {
//!             name: "hello".into(),
//!             version: env!("CARGO_PKG_VERSION").into(),
//!             capabilities: DriverCapabilities {
//!                 send_signals: false,
//!                 exec: false,
//!                 fs_isolation: FsIsolation::None,
//!                 network_modes: vec!["host".into()],
//!             },
//!         }
//!     }
//!
//!     fn start_task(task: TaskConfig) -> Result<TaskHandle, DriverError> {
//!         let cfg: Config = config::parse(&task.driver_config)?;
//!         sched_driver_sdk::log::info(&cfg.greeting, &[("task", &task.id)]);
//!         handle::encode(&task.id, "hello", 1, &State { started_at: clock::now() })
//!     }
//!
//!     fn wait_task(_: TaskHandle, _: u32) -> Result<Option<ExitResult>, DriverError> {
//!         Ok(Some(ExitResult::code(0)))
//!     }
//!
//!     fn stop_task(_: TaskHandle, _: u32, _: Option<String>) -> Result<(), DriverError> {
//!         Ok(())
//!     }
//!
//!     fn inspect_task(h: TaskHandle) -> Result<TaskStatus, DriverError> {
//!         let state: State = handle::decode(&h, "hello", 1)?;
//!         Ok(TaskStatus {
//!             id: h.id,
//!             state: TaskState::Exited,
//!             started_at: state.started_at,
//!             completed_at: state.started_at,
//!             exit: Some(ExitResult::code(0)),
//!             attributes: Vec::new(),
//!         })
//!     }
//! }
//!
//! sched_driver_sdk::export_driver!(Hello);
//! ```

#![deny(missing_docs)]

pub mod clock;
pub mod config;
pub mod docker;
mod driver;
pub mod duration;
mod error;
pub mod handle;
pub mod isolated;
pub mod log;
pub mod process;

pub use driver::{Driver, DriverExport};

/// Raw bindings generated from `plugins/wit` by wit-bindgen.
///
/// Public only for [`export_driver!`]; drivers use the wrappers instead.
#[doc(hidden)]
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "task-driver",
        pub_export_macro: true,
        export_macro_name: "__export_task_driver",
        default_bindings_module: "::sched_driver_sdk::bindings",
        additional_derives: [PartialEq],
    });
}

pub use bindings::sched::driver::types::{
    DriverCapabilities, DriverError, DriverFingerprint, DriverInfo, ExecOutput, ExitResult,
    FsIsolation, Health, Pairs, PortMapping, Resources, TaskConfig, TaskHandle, TaskState,
    TaskStatus, TaskUsage,
};

/// Exports a type implementing [`Driver`] as the component's `driver`
/// interface. Use it once, in the driver crate's root:
///
/// ```ignore
/// sched_driver_sdk::export_driver!(MyDriver);
/// ```
///
/// The export only exists when compiling for `wasm32`, so the driver crate's
/// unit tests build and run on the host.
#[macro_export]
macro_rules! export_driver {
    ($driver:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type __SchedDriverExport = $crate::DriverExport<$driver>;
            $crate::bindings::__export_task_driver!(
                __SchedDriverExport with_types_in $crate::bindings
            );
        };
    };
}

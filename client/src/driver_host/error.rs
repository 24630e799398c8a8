//! The driver host's error type.
//!
//! One enum for everything a caller of the host can see: the driver's own
//! `driver-error` cases (one variant each, tagged with the driver's name),
//! a trap or a limit that stopped a call, a capability the driver was refused,
//! and load-time failures (a file that is not a driver, a cache that cannot be
//! written). It owns no behaviour beyond conversion and messages.

use std::path::PathBuf;
use std::time::Duration;

/// An error from the driver host or from a driver.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The task's config is wrong; the message names the field.
    #[error("driver {driver}: invalid config: {message}")]
    InvalidConfig {
        /// The driver that answered.
        driver: String,
        /// The driver's message.
        message: String,
    },
    /// No such task, or the handle is stale.
    #[error("driver {driver}: not found: {message}")]
    NotFound {
        /// The driver that answered.
        driver: String,
        /// The driver's message.
        message: String,
    },
    /// The driver needs a capability the operator did not grant, and said so.
    #[error("driver {driver}: capability denied: {message}")]
    CapabilityDenied {
        /// The driver that answered.
        driver: String,
        /// The driver's message.
        message: String,
    },
    /// The driver cannot do this.
    #[error("driver {driver}: unsupported: {message}")]
    Unsupported {
        /// The driver that answered.
        driver: String,
        /// The driver's message.
        message: String,
    },
    /// The driver failed for another reason.
    #[error("driver {driver}: {message}")]
    Failed {
        /// The driver that answered.
        driver: String,
        /// The driver's message.
        message: String,
    },
    /// The call failed after the host refused the driver a capability it was
    /// not granted (the driver reported a plain failure or trapped).
    #[error(
        "driver {driver} was not granted the {capability} capability it asked for in {call}: {message}"
    )]
    Denied {
        /// The driver.
        driver: String,
        /// The call that failed.
        call: &'static str,
        /// The capability it was refused.
        capability: String,
        /// What the driver reported.
        message: String,
    },
    /// The guest trapped (a panic, an invalid operation, a failed host call).
    #[error("driver {driver} trapped in {call}: {message}")]
    Trap {
        /// The driver.
        driver: String,
        /// The call that trapped.
        call: &'static str,
        /// The trap and its causes.
        message: String,
    },
    /// The guest ran longer than its time budget and was interrupted. (A
    /// call that outlasts its wall-clock allowance in host calls is a
    /// [`DriverError::Trap`] saying so.)
    #[error("driver {driver} exceeded its time budget in {call} ({budget:?} of guest execution)")]
    TimeBudget {
        /// The driver.
        driver: String,
        /// The call that was interrupted.
        call: &'static str,
        /// The budget it had.
        budget: Duration,
    },
    /// The guest tried to use more memory (or table space) than its store may.
    #[error("driver {driver} exceeded its memory limit in {call}: {message}")]
    MemoryLimit {
        /// The driver.
        driver: String,
        /// The call that was stopped.
        call: &'static str,
        /// What was asked for, and the limit.
        message: String,
    },
    /// No driver of this name is loaded.
    #[error("no driver named {driver} is loaded")]
    NotLoaded {
        /// The name asked for.
        driver: String,
    },
    /// A component could not be loaded as a driver.
    #[error("cannot load driver from {source_name}: {message}")]
    Load {
        /// The file (or built-in name) it came from.
        source_name: String,
        /// Why, naming the missing or mismatched import or export.
        message: String,
    },
    /// The host could not set itself up (engine, cache directory, ...).
    #[error("driver host: {message}")]
    Host {
        /// What went wrong.
        message: String,
    },
    /// A file of the host's own (cache, plugin directory) could not be used.
    #[error("driver host: {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl DriverError {
    /// The name of the driver the error is about, when there is one.
    pub fn driver(&self) -> Option<&str> {
        match self {
            DriverError::InvalidConfig { driver, .. }
            | DriverError::NotFound { driver, .. }
            | DriverError::CapabilityDenied { driver, .. }
            | DriverError::Unsupported { driver, .. }
            | DriverError::Failed { driver, .. }
            | DriverError::Denied { driver, .. }
            | DriverError::Trap { driver, .. }
            | DriverError::TimeBudget { driver, .. }
            | DriverError::MemoryLimit { driver, .. }
            | DriverError::NotLoaded { driver } => Some(driver),
            DriverError::Load { .. } | DriverError::Host { .. } | DriverError::Io { .. } => None,
        }
    }

    /// Whether the sandbox stopped the call (a trap or a limit), as opposed to
    /// the driver answering with an error.
    pub fn is_sandbox_stop(&self) -> bool {
        matches!(
            self,
            DriverError::Trap { .. }
                | DriverError::TimeBudget { .. }
                | DriverError::MemoryLimit { .. }
        )
    }
}

/// Formats a wasmtime error with all its causes on one line.
pub(crate) fn chain_message(e: &wasmtime::Error) -> String {
    let mut out = String::new();
    for (i, cause) in e.chain().enumerate() {
        if i > 0 {
            out.push_str(": ");
        }
        out.push_str(&cause.to_string());
    }
    out
}

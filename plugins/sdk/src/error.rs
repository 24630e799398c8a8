//! Constructors for [`DriverError`] and the mapping of host errors onto it.

use crate::DriverError;

impl DriverError {
    /// The task's config is wrong; `field` names the offending field.
    pub fn invalid_config(field: &str, message: impl std::fmt::Display) -> Self {
        DriverError::InvalidConfig(format!("{field}: {message}"))
    }

    /// No such task, or the handle is stale.
    pub fn not_found(message: impl Into<String>) -> Self {
        DriverError::NotFound(message.into())
    }

    /// The driver cannot do this.
    pub fn unsupported(message: impl Into<String>) -> Self {
        DriverError::Unsupported(message.into())
    }

    /// Anything else.
    pub fn failed(message: impl Into<String>) -> Self {
        DriverError::Failed(message.into())
    }

    /// The message carried by any variant.
    pub fn message(&self) -> &str {
        match self {
            DriverError::InvalidConfig(m)
            | DriverError::NotFound(m)
            | DriverError::CapabilityDenied(m)
            | DriverError::Unsupported(m)
            | DriverError::Failed(m) => m,
        }
    }
}

/// Maps an error string returned by a capability import.
///
/// The host reports a capability the operator did not grant with a message
/// starting with `capability-denied` (the WIT's name for the case); that
/// becomes [`DriverError::CapabilityDenied`]. Everything else is
/// [`DriverError::Failed`], prefixed with the call that failed.
pub(crate) fn from_host(call: &str, message: String) -> DriverError {
    let lower = message.trim_start().to_ascii_lowercase();
    if lower.starts_with("capability-denied") || lower.starts_with("capability denied") {
        DriverError::CapabilityDenied(format!("{call}: {message}"))
    } else {
        DriverError::Failed(format!("{call}: {message}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_errors_map_to_variants() {
        assert_eq!(
            from_host("process.spawn", "capability-denied: process".into()),
            DriverError::CapabilityDenied("process.spawn: capability-denied: process".into())
        );
        assert_eq!(
            from_host("process.spawn", "no such file".into()),
            DriverError::Failed("process.spawn: no such file".into())
        );
        assert_eq!(
            DriverError::invalid_config("command", "required").message(),
            "command: required"
        );
    }
}

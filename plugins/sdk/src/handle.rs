//! The opaque state in a [`TaskHandle`]: what a driver needs to find its
//! task again in later calls and after a client restart.
//!
//! State is any serde type, stored as JSON. The handle's `version` field
//! carries the driver's state format version; [`decode`] refuses a handle of
//! another driver or another version with `not-found` (the WIT's "stale
//! handle").

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{DriverError, TaskHandle};

/// Builds the handle of task `id` for `driver` with `state` (format `version`).
pub fn encode<T: Serialize>(
    id: &str,
    driver: &str,
    version: u32,
    state: &T,
) -> Result<TaskHandle, DriverError> {
    let state = serde_json::to_vec(state)
        .map_err(|e| DriverError::failed(format!("encoding the task handle: {e}")))?;
    Ok(TaskHandle {
        id: id.to_string(),
        driver: driver.to_string(),
        version,
        state,
    })
}

/// Reads the state of `handle`, which must come from `driver` at `version`.
pub fn decode<T: DeserializeOwned>(
    handle: &TaskHandle,
    driver: &str,
    version: u32,
) -> Result<T, DriverError> {
    if handle.driver != driver {
        return Err(DriverError::not_found(format!(
            "task {}: handle belongs to driver {:?}, not {driver:?}",
            handle.id, handle.driver
        )));
    }
    if handle.version != version {
        return Err(DriverError::not_found(format!(
            "task {}: handle state version {} (this driver reads {version})",
            handle.id, handle.version
        )));
    }
    serde_json::from_slice(&handle.state).map_err(|e| {
        DriverError::not_found(format!("task {}: unreadable handle state: {e}", handle.id))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct S {
        pid: u32,
        started_at: u64,
    }

    #[test]
    fn round_trips_and_refuses_stale() {
        let s = S {
            pid: 7,
            started_at: 42,
        };
        let h = encode("a/t", "raw_exec", 1, &s).unwrap();
        assert_eq!(decode::<S>(&h, "raw_exec", 1).unwrap(), s);
        assert!(matches!(
            decode::<S>(&h, "exec", 1),
            Err(DriverError::NotFound(_))
        ));
        assert!(matches!(
            decode::<S>(&h, "raw_exec", 2),
            Err(DriverError::NotFound(_))
        ));
        let bad = TaskHandle {
            state: b"{".to_vec(),
            ..h
        };
        assert!(matches!(
            decode::<S>(&bad, "raw_exec", 1),
            Err(DriverError::NotFound(_))
        ));
    }
}

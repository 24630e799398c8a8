//! The `docker` capability: requests to the Docker Engine API on the node's
//! socket, image loads, and log following.
//!
//! The host allows only the endpoints drivers need and refuses privileged
//! containers unless the operator allowed them. Every call fails with
//! [`DriverError::CapabilityDenied`] when `docker` was not granted.

use serde_json::Value;

use crate::DriverError;
use crate::bindings::sched::driver::docker as raw;
use crate::error::from_host;

pub use raw::Response;

/// Sends `method path` (path with query) with an optional body.
pub fn request(method: &str, path: &str, body: Option<&[u8]>) -> Result<Response, DriverError> {
    raw::request(method, path, body).map_err(|e| from_host(&format!("docker {method} {path}"), e))
}

/// Sends `method path` with an optional JSON body.
pub fn request_json(
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<Response, DriverError> {
    let bytes = body.map(|b| b.to_string().into_bytes());
    request(method, path, bytes.as_deref())
}

/// Loads an image from a tar file on the host; returns the image's name.
pub fn load_image(tar_path: &str) -> Result<String, DriverError> {
    raw::load_image(tar_path).map_err(|e| from_host("docker.load-image", e))
}

/// Copies a container's stdout and stderr into the task's log files in the
/// background until the container exits.
pub fn follow_logs(
    container_id: &str,
    stdout_path: &str,
    stderr_path: &str,
) -> Result<(), DriverError> {
    raw::follow_logs(container_id, stdout_path, stderr_path)
        .map_err(|e| from_host("docker.follow-logs", e))
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body parsed as JSON (`null` when empty).
    pub fn json(&self) -> Result<Value, DriverError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| DriverError::failed(format!("docker: response is not JSON: {e}")))
    }

    /// The engine's error message (`{"message": ...}`), or the raw body.
    pub fn message(&self) -> String {
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(map)) => match map.get("message") {
                Some(Value::String(m)) => m.clone(),
                _ => String::from_utf8_lossy(&self.body).into_owned(),
            },
            _ => String::from_utf8_lossy(&self.body).trim().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_helpers() {
        let r = Response {
            status: 404,
            body: br#"{"message":"No such container: x"}"#.to_vec(),
        };
        assert!(!r.is_success());
        assert_eq!(r.message(), "No such container: x");
        let r = Response {
            status: 204,
            body: Vec::new(),
        };
        assert!(r.is_success());
        assert_eq!(r.json().unwrap(), Value::Null);
    }
}

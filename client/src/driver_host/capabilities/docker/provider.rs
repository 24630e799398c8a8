//! The `docker` import served by [`DockerCapability`]: the capability's policy
//! (allowed endpoints, refused privileges) applies to every driver call; the
//! operator's per-driver settings are the ones the capability was built with.

use std::path::Path;

use super::DockerCapability;
use crate::driver_host::capabilities::{CallContext, DockerProvider, DockerResponse};

impl DockerProvider for DockerCapability {
    fn request(
        &self,
        cx: &CallContext<'_>,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<DockerResponse, String> {
        tracing::debug!(
            driver = cx.driver,
            trace_id = cx.trace_id,
            method,
            path,
            "docker request"
        );
        DockerCapability::request(self, method, path, body)
            .map(|r| DockerResponse {
                status: r.status,
                body: r.body,
            })
            .map_err(|e| e.to_string())
    }

    fn load_image(&self, _: &CallContext<'_>, tar_path: &str) -> Result<String, String> {
        DockerCapability::load_image(self, Path::new(tar_path)).map_err(|e| e.to_string())
    }

    fn follow_logs(
        &self,
        _: &CallContext<'_>,
        container_id: &str,
        stdout_path: &str,
        stderr_path: &str,
    ) -> Result<(), String> {
        DockerCapability::follow_logs(
            self,
            container_id,
            Path::new(stdout_path),
            Path::new(stderr_path),
        )
        .map_err(|e| e.to_string())
    }
}

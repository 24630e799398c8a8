//! The host side of the drivers' `docker` capability: a policy-checked,
//! bounded client of the local Docker Engine.
//!
//! [`DockerCapability`] is a plain synchronous service that the WIT
//! bindings of `sched:driver/docker` adapt to; it owns its own small tokio
//! runtime (or uses one handed to it) and every call blocks the calling
//! thread until the engine answers or the request timeout expires. It owns
//! the allow-list of endpoints and the checks on container configurations
//! (`policy`), the transport over the engine's unix socket (`transport`),
//! image loading (`image`) and copying container output into log files
//! (`logs`). It does not own resolving a driver's paths under its task
//! directory, nor deciding what a driver's fingerprint says; the host
//! adapter does both.

mod error;
mod image;
mod logs;
mod policy;
mod provider;
mod transport;

use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Limited};
use hyper::Method;
use serde_json::Value;
use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

pub use self::error::DockerError;
use self::logs::{Follower, FollowerCount};
use self::policy::Policy;
use self::transport::{Transport, empty_body, full_body};

/// How the capability reaches the engine and what it lets drivers do.
#[derive(Debug, Clone)]
pub struct DockerConfig {
    /// The engine's unix socket.
    pub socket: PathBuf,
    /// Whether drivers may create privileged containers (and add
    /// host-escaping capabilities, host devices or unconfined security
    /// options, which amount to the same).
    pub allow_privileged: bool,
    /// When set, bind mounts must come from under one of these directories.
    pub allowed_volume_roots: Option<Vec<PathBuf>>,
    /// The bound on every exchange with the engine, connecting included.
    pub request_timeout: Duration,
    /// The largest request or response body accepted, in bytes.
    pub max_body_bytes: usize,
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self {
            socket: PathBuf::from("/var/run/docker.sock"),
            allow_privileged: false,
            allowed_volume_roots: None,
            request_timeout: Duration::from_secs(60),
            max_body_bytes: 16 * 1024 * 1024,
        }
    }
}

/// One answer from the engine, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The response body.
    pub body: Vec<u8>,
}

/// The drivers' access to the local Docker Engine.
///
/// Calls block the calling thread; call them from blocking threads (for
/// example inside `spawn_blocking`), never from an async task of a
/// single-threaded runtime.
#[derive(Debug)]
pub struct DockerCapability {
    policy: Policy,
    transport: Arc<Transport>,
    followers: FollowerCount,
    handle: Handle,
    runtime: Option<Runtime>,
}

impl DockerCapability {
    /// A capability with its own runtime (one worker thread, which also
    /// carries the log followers).
    ///
    /// Fails only if the runtime cannot be started; an absent engine is
    /// reported by the calls themselves, as [`DockerError::Unavailable`].
    pub fn new(config: DockerConfig) -> Result<Self, DockerError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(4)
            .thread_name("sched-docker")
            .enable_io()
            .enable_time()
            .build()
            .map_err(|error| DockerError::io("starting the docker capability's runtime", error))?;
        let mut capability = Self::build(config, runtime.handle().clone());
        capability.runtime = Some(runtime);
        Ok(capability)
    }

    /// A capability that runs on an existing multi-threaded runtime (with
    /// I/O and time enabled).
    ///
    /// A current-thread runtime is refused: calls block their thread while
    /// the runtime does the work, which a current-thread runtime only does
    /// while its own thread drives it.
    pub fn with_runtime(config: DockerConfig, handle: Handle) -> Result<Self, DockerError> {
        if handle.runtime_flavor() == RuntimeFlavor::CurrentThread {
            return Err(DockerError::io(
                "starting the docker capability",
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "it needs a multi-threaded tokio runtime",
                ),
            ));
        }
        Ok(Self::build(config, handle))
    }

    /// The capability on `handle`.
    fn build(config: DockerConfig, handle: Handle) -> Self {
        let policy = Policy::new(
            config.allow_privileged,
            config.allowed_volume_roots.clone(),
            &config.socket,
        );
        let transport = Transport::new(
            config.socket.clone(),
            config.request_timeout,
            config.max_body_bytes,
        );
        Self {
            policy,
            transport: Arc::new(transport),
            followers: FollowerCount::default(),
            handle,
            runtime: None,
        }
    }

    /// Sends one request for a driver: `method path` (path with query, with
    /// or without a `/v1.xx` prefix) and an optional JSON body.
    ///
    /// Every status the engine answers comes back as a [`Response`]; errors
    /// are [`DockerError::Forbidden`] (the policy refused: endpoint not on
    /// the allow-list, or a refused container configuration),
    /// [`DockerError::Unavailable`], [`DockerError::Timeout`],
    /// [`DockerError::TooLarge`] and [`DockerError::Io`].
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Response, DockerError> {
        let allowed = match self.policy.check(method, path, body.as_deref()) {
            Ok(allowed) => allowed,
            Err(error) => {
                tracing::warn!(method, path, %error, "docker request refused");
                return Err(error);
            }
        };
        let limit = self.transport.max_body();
        let body = match body {
            Some(body) if body.len() > limit => {
                return Err(DockerError::TooLarge {
                    what: format!("the body of {method} {path}"),
                    limit,
                });
            }
            Some(body) if !body.is_empty() => full_body(body),
            _ => empty_body(),
        };
        let content_type = allowed.json_body.then_some("application/json");
        let transport = self.transport.clone();
        let path = path.to_owned();
        let answer = self.run(async move {
            transport
                .exchange(allowed.method, &path, body, content_type)
                .await
        })?;
        Ok(Response {
            status: answer.status.as_u16(),
            body: answer.body.to_vec(),
        })
    }

    /// Loads the image archive at `tar_path` (a `docker save` tarball) and
    /// returns the loaded image's name (its first tag, or its ID).
    ///
    /// The path must not contain `..`; the host adapter resolves drivers'
    /// paths under the task directory before calling this. The upload is
    /// bounded by the request timeout like any other exchange.
    pub fn load_image(&self, tar_path: &Path) -> Result<String, DockerError> {
        image::check_archive_path(tar_path)?;
        let transport = self.transport.clone();
        let path = tar_path.to_owned();
        let name = self.run(async move { image::load(&transport, &path).await })?;
        tracing::info!(archive = %tar_path.display(), image = %name, "docker image loaded");
        Ok(name)
    }

    /// Starts copying the container's stdout and stderr into the two files
    /// (created if needed, appended to) in the background, until the
    /// container's log stream ends (when it exits or is removed).
    ///
    /// Returns once the stream is open: an unknown container is a
    /// [`DockerError::Api`] 404, an unwritable file a [`DockerError::Io`].
    /// Call it once the container has started: the engine ends a follow of
    /// a container that is not running at once. Output from the container's
    /// start onwards is copied, so calling this twice for one container
    /// duplicates it.
    pub fn follow_logs(
        &self,
        container_id: &str,
        stdout_path: &Path,
        stderr_path: &Path,
    ) -> Result<(), DockerError> {
        check_container_id(container_id)?;
        for path in [stdout_path, stderr_path] {
            if path.components().any(|c| c == Component::ParentDir) {
                return Err(DockerError::Forbidden(format!(
                    "log file path {} contains `..`",
                    path.display()
                )));
            }
        }
        let transport = self.transport.clone();
        let container = container_id.to_owned();
        let (stdout_file, stderr_file) = (stdout_path.to_owned(), stderr_path.to_owned());
        let ticket = self.followers.ticket();
        let follower = self.run(async move {
            let inspect = transport
                .exchange(
                    Method::GET,
                    &format!("/containers/{container}/json"),
                    empty_body(),
                    None,
                )
                .await?;
            let inspect = api_json(inspect.status.as_u16(), &inspect.body)?;
            let tty = inspect
                .get("Config")
                .and_then(|config| config.get("Tty"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let stdout = open_log(&stdout_file).await?;
            let stderr = open_log(&stderr_file).await?;
            let path = format!("/containers/{container}/logs?follow=1&stdout=1&stderr=1");
            let stream = transport.stream(Method::GET, &path).await?;
            if !stream.status.is_success() {
                let status = stream.status.as_u16();
                let body = tokio::time::timeout(
                    Duration::from_secs(5),
                    Limited::new(stream.body, 64 * 1024).collect(),
                )
                .await;
                let message = match body {
                    Ok(Ok(body)) => error_message(&body.to_bytes()),
                    _ => String::from("(no message)"),
                };
                return Err(DockerError::Api { status, message });
            }
            Ok(Follower {
                container,
                body: stream.body,
                connection: stream.connection,
                tty,
                stdout,
                stderr,
                ticket,
            })
        })?;
        tracing::info!(
            container = %follower.container,
            tty = follower.tty,
            stdout = %stdout_path.display(),
            stderr = %stderr_path.display(),
            "following docker container logs"
        );
        self.handle.spawn(follower.run());
        Ok(())
    }

    /// The engine's version (for example "28.2.2"), for fingerprinting.
    ///
    /// An absent engine is [`DockerError::Unavailable`], which a fingerprint
    /// reports as "undetected".
    pub fn version(&self) -> Result<String, DockerError> {
        let transport = self.transport.clone();
        let answer = self.run(async move {
            transport
                .exchange(Method::GET, "/version", empty_body(), None)
                .await
        })?;
        let version = api_json(answer.status.as_u16(), &answer.body)?;
        version
            .get("Version")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| DockerError::Api {
                status: answer.status.as_u16(),
                message: "the engine's version answer has no Version".to_owned(),
            })
    }

    /// How many log followers are still copying.
    pub fn active_log_followers(&self) -> usize {
        self.followers.get()
    }

    /// The socket this capability talks to.
    pub fn socket(&self) -> &Path {
        self.transport.socket()
    }

    /// Runs `work` on the runtime and blocks until it finishes.
    fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, DockerError>> + Send + 'static,
    ) -> Result<T, DockerError> {
        let (done, outcome) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = done.send(work.await);
        });
        outcome.recv().unwrap_or_else(|_| {
            Err(DockerError::io(
                "calling the docker engine",
                io::Error::other("the docker capability's runtime has stopped"),
            ))
        })
    }
}

impl Drop for DockerCapability {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Never blocks, so dropping the capability is safe anywhere;
            // running log followers stop with the runtime.
            runtime.shutdown_background();
        }
    }
}

/// Container IDs and names go into request paths, so they are limited to
/// the characters the engine allows in names.
fn check_container_id(id: &str) -> Result<(), DockerError> {
    let valid = id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(DockerError::Forbidden(format!(
            "{id:?} is not a container ID or name"
        )))
    }
}

/// Opens a log file for appending, creating it if needed.
async fn open_log(path: &Path) -> Result<tokio::fs::File, DockerError> {
    tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .map_err(|error| DockerError::io(format!("opening log file {}", path.display()), error))
}

/// A successful JSON answer, or the engine's error as [`DockerError::Api`].
fn api_json(status: u16, body: &[u8]) -> Result<Value, DockerError> {
    if !(200..300).contains(&status) {
        return Err(DockerError::Api {
            status,
            message: error_message(body),
        });
    }
    serde_json::from_slice(body).map_err(|error| DockerError::Api {
        status,
        message: format!("unreadable answer from the engine: {error}"),
    })
}

/// The engine's error message: the `message` of its JSON error body, or the
/// body's text, shortened.
pub(crate) fn error_message(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(body)
        && let Some(message) = value.get("message").and_then(Value::as_str)
    {
        return message.to_owned();
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(1024) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None if text.is_empty() => String::from("(no message)"),
        None => text.to_owned(),
    }
}

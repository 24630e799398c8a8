//! HTTP/1.1 to the Docker Engine over its unix socket.
//!
//! Owns connecting (one connection per exchange, so a stuck exchange never
//! blocks another), the request timeout, the response size cap and mapping
//! transport failures onto [`DockerError`]. It knows nothing about which
//! endpoints are allowed (that is `policy`) nor what a response means.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tokio::task::JoinHandle;

use super::error::DockerError;

/// The body type of every request sent to the engine.
pub(crate) type RequestBody = BoxBody<Bytes, io::Error>;

/// A request body held in memory.
pub(crate) fn full_body(bytes: Vec<u8>) -> RequestBody {
    Full::new(Bytes::from(bytes))
        .map_err(|never| match never {})
        .boxed()
}

/// No request body.
pub(crate) fn empty_body() -> RequestBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A complete answer from the engine.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The whole body (at most the configured limit).
    pub body: Bytes,
}

/// The head of a streaming answer whose body the caller reads at its own
/// pace, with the connection task that carries it.
#[derive(Debug)]
pub(crate) struct StreamingAnswer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body, read frame by frame.
    pub body: Incoming,
    /// Keeps the connection alive; dropping it closes the connection.
    pub connection: ConnectionGuard,
}

/// Aborts the task driving a connection when dropped, so an abandoned
/// exchange (timeout, early return) never leaves the socket open.
#[derive(Debug)]
pub(crate) struct ConnectionGuard(JoinHandle<()>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends requests to one engine socket.
#[derive(Debug)]
pub(crate) struct Transport {
    socket: PathBuf,
    timeout: Duration,
    max_body: usize,
}

impl Transport {
    /// A transport to `socket`; every exchange is bounded by `timeout` and
    /// every response body by `max_body` bytes.
    pub(crate) fn new(socket: PathBuf, timeout: Duration, max_body: usize) -> Self {
        Self {
            socket,
            timeout,
            max_body,
        }
    }

    /// The socket this transport talks to.
    pub(crate) fn socket(&self) -> &Path {
        &self.socket
    }

    /// The response body limit in bytes.
    pub(crate) fn max_body(&self) -> usize {
        self.max_body
    }

    /// Sends one request and reads the whole response, all within the
    /// request timeout.
    pub(crate) async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: RequestBody,
        content_type: Option<&'static str>,
    ) -> Result<Answer, DockerError> {
        let started = Instant::now();
        let what = format!("{method} {path}");
        let limit = self.max_body;
        let work = async {
            let response = self.send(method, path, body, content_type).await?;
            let status = response.status;
            let connection = response.connection;
            let collected =
                Limited::new(response.body, limit)
                    .collect()
                    .await
                    .map_err(|error| {
                        if error.is::<LengthLimitError>() {
                            DockerError::TooLarge {
                                what: format!("the response to {what}"),
                                limit,
                            }
                        } else {
                            DockerError::io(
                                format!("reading the response to {what}"),
                                io::Error::other(error),
                            )
                        }
                    })?;
            drop(connection);
            Ok(Answer {
                status,
                body: collected.to_bytes(),
            })
        };
        let answer = self.bounded(&what, work).await?;
        tracing::debug!(
            request = %what,
            status = answer.status.as_u16(),
            bytes = answer.body.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "docker exchange"
        );
        Ok(answer)
    }

    /// Sends one request and returns as soon as the response head arrives
    /// (within the request timeout); the body streams for as long as the
    /// engine keeps it open.
    pub(crate) async fn stream(
        &self,
        method: Method,
        path: &str,
    ) -> Result<StreamingAnswer, DockerError> {
        let what = format!("{method} {path}");
        let response = self
            .bounded(&what, self.send(method, path, empty_body(), None))
            .await?;
        tracing::debug!(request = %what, status = response.status.as_u16(), "docker stream opened");
        Ok(response)
    }

    /// Runs `work` under the request timeout.
    async fn bounded<T>(
        &self,
        what: &str,
        work: impl Future<Output = Result<T, DockerError>>,
    ) -> Result<T, DockerError> {
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_elapsed) => Err(DockerError::Timeout {
                what: what.to_owned(),
                after: self.timeout,
            }),
        }
    }

    /// Connects, sends the request and waits for the response head.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: RequestBody,
        content_type: Option<&'static str>,
    ) -> Result<StreamingAnswer, DockerError> {
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(HOST, "docker");
        if let Some(content_type) = content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        let request = builder.body(body).map_err(|error| {
            DockerError::Forbidden(format!("malformed docker request path {path:?}: {error}"))
        })?;
        let (mut sender, connection) = self.connect().await?;
        let response = sender.send_request(request).await.map_err(|error| {
            DockerError::io(
                format!("sending {method} {path} to the docker engine"),
                io::Error::other(error),
            )
        })?;
        let (head, body) = response.into_parts();
        Ok(StreamingAnswer {
            status: head.status,
            body,
            connection,
        })
    }

    /// Opens a fresh connection and starts the task that drives it.
    async fn connect(&self) -> Result<(SendRequest<RequestBody>, ConnectionGuard), DockerError> {
        let stream = UnixStream::connect(&self.socket)
            .await
            .map_err(|error| self.connect_error(error))?;
        let (sender, connection) =
            http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|error| {
                    DockerError::io(
                        "starting HTTP on the docker socket",
                        io::Error::other(error),
                    )
                })?;
        let socket = self.socket.clone();
        let task = tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(socket = %socket.display(), %error, "docker connection ended with an error");
            }
        });
        Ok((sender, ConnectionGuard(task)))
    }

    /// Classifies a failure to connect: the engine missing or refusing is
    /// [`DockerError::Unavailable`], anything else is I/O.
    fn connect_error(&self, error: io::Error) -> DockerError {
        match error.kind() {
            io::ErrorKind::NotFound
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::PermissionDenied
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::AddrNotAvailable
            | io::ErrorKind::NotADirectory => DockerError::Unavailable {
                socket: self.socket.clone(),
                reason: error.to_string(),
            },
            _ => DockerError::io(
                format!("connecting to the docker socket {}", self.socket.display()),
                error,
            ),
        }
    }
}

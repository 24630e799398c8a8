//! The client's HTTP endpoints: `/v1/client/fs/{logs,ls,cat,stat}/:alloc`,
//! `/v1/client/stats`, `/v1/client/allocation/:id/stats`, and the
//! operations on a running allocation, `POST
//! /v1/client/allocation/:id/{signal,restart,exec}`.
//!
//! An agent running the client that holds the allocation answers from its
//! own client, reached through the [`ClientApi`] seam the agent implements
//! (this crate does not depend on the client crate). An agent without that
//! allocation, but with the servers' state, forwards the request over HTTP
//! to the `http_addr` of the node that holds it and relays the answer as it
//! streams. Forwarded requests carry [`FORWARDED_HEADER`] and are never
//! forwarded again, so a stale node address cannot make a loop.
//!
//! File access is confined to the allocation's directory: `..` components
//! and symlinks resolving outside it answer 400. An operation on an
//! allocation the servers know as terminal answers 400 without a trip to
//! the node.

use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use futures::future::BoxFuture;
use sched_core::model::{AllocId, NodeId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::backend::Backend;
use super::error::ApiError;

/// The header marking a request one agent forwarded to another.
pub const FORWARDED_HEADER: &str = "x-sched-forwarded";

/// Bytes read from a log per frame.
const LOG_CHUNK: usize = 64 * 1024;
/// How often a followed log is polled for new bytes.
const FOLLOW_POLL: Duration = Duration::from_millis(200);
/// Idle time after which a followed JSON stream sends an empty frame, so a
/// reader that went away is noticed by the failed write.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);
/// Largest file `cat` returns in one answer.
const MAX_CAT_BYTES: u64 = 64 * 1024 * 1024;
/// How long a forwarded request may take to connect.
const FORWARD_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a forwarded request that does not follow may wait per chunk.
const FORWARD_CHUNK_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest an `exec` command may run (the process capability's bound).
pub const EXEC_TIMEOUT: Duration = Duration::from_secs(300);
/// The largest `exec` command line accepted, in bytes.
const MAX_EXEC_ARGV_BYTES: usize = 256 * 1024;

/// Why the local client could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientApiError {
    /// The allocation is not on this client.
    #[error("unknown allocation {0}")]
    UnknownAlloc(String),
    /// The allocation has no task of that name.
    #[error("allocation {alloc} has no task {task:?}")]
    UnknownTask {
        /// The allocation.
        alloc: String,
        /// The task asked for.
        task: String,
    },
    /// The request cannot be carried out as asked (a bad signal name, a
    /// task that is not running, a terminal allocation); says why.
    #[error("{0}")]
    Refused(String),
    /// The logs could not be read.
    #[error("{0}")]
    Io(String),
}

/// What a command run with `exec` did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecResult {
    /// Its exit code (128 + the signal when a signal ended it).
    pub exit_code: i32,
    /// Its standard output (at most 1 MiB).
    pub stdout: Vec<u8>,
    /// Its standard error (at most 1 MiB).
    pub stderr: Vec<u8>,
}

/// A place in a task's logs: the rotated file's index and the offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogPos {
    /// The file index.
    pub index: u64,
    /// The byte offset in that file.
    pub offset: u64,
}

/// Bytes read from a task's logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRead {
    /// The bytes.
    pub data: Vec<u8>,
    /// The file the last byte came from.
    pub file: String,
    /// Where the next read starts.
    pub next: LogPos,
}

/// One stream of one task's logs, across its rotated files.
pub trait LogSource: Send + Sync {
    /// The position `offset` bytes after the oldest kept byte, or before the
    /// newest when `from_end`; `None` when the task has written nothing yet.
    fn seek(&self, from_end: bool, offset: u64) -> Result<Option<LogPos>, ClientApiError>;
    /// Up to `max` bytes from `pos`.
    fn read(&self, pos: LogPos, max: usize) -> Result<LogRead, ClientApiError>;
}

/// What the HTTP layer needs of the client running in this agent.
pub trait ClientApi: Send + Sync {
    /// This client's node.
    fn node_id(&self) -> NodeId;
    /// The allocation's directory, if the allocation is on this client.
    fn alloc_dir(&self, alloc: &AllocId) -> Option<PathBuf>;
    /// The names of the allocation's tasks, if it is on this client.
    fn tasks(&self, alloc: &AllocId) -> Option<Vec<String>>;
    /// A reader of one task's stdout (or stderr).
    fn logs(
        &self,
        alloc: &AllocId,
        task: &str,
        stderr: bool,
    ) -> Result<Arc<dyn LogSource>, ClientApiError>;
    /// The node's usage (Nomad's `HostStats` shape).
    fn node_stats(&self) -> Value;
    /// The allocation's usage (Nomad's `AllocResourceUsage` shape).
    fn alloc_stats(&self, alloc: &AllocId) -> Option<Value>;
    /// Sends `signal` to `task`, or to every running task of the allocation.
    fn signal(
        &self,
        alloc: &AllocId,
        task: Option<String>,
        signal: String,
    ) -> BoxFuture<'static, Result<(), ClientApiError>>;
    /// Restarts `task` in place, or every running task of the allocation.
    fn restart(
        &self,
        alloc: &AllocId,
        task: Option<String>,
    ) -> BoxFuture<'static, Result<(), ClientApiError>>;
    /// Runs `argv` once in `task` (or the allocation's only task), for at
    /// most `timeout`.
    fn exec(
        &self,
        alloc: &AllocId,
        task: Option<String>,
        argv: Vec<String>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<ExecResult, ClientApiError>>;
}

/// Where the agent puts its client once started: the router is built before
/// the client runs, and answers 404 for local lookups until then.
#[derive(Clone, Default)]
pub struct ClientSlot(Arc<OnceLock<Arc<dyn ClientApi>>>);

impl ClientSlot {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts the client in; a second client is ignored (one per agent).
    pub fn set(&self, client: Arc<dyn ClientApi>) {
        if self.0.set(client).is_err() {
            tracing::warn!("a second client for the HTTP API was ignored");
        }
    }

    fn get(&self) -> Option<&Arc<dyn ClientApi>> {
        self.0.get()
    }
}

impl std::fmt::Debug for ClientSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSlot")
            .field("set", &self.0.get().is_some())
            .finish()
    }
}

#[derive(Clone)]
struct Ctx {
    local: ClientSlot,
    servers: Option<Arc<dyn Backend>>,
    http: reqwest::Client,
}

/// Builds the client endpoints' router. `servers` is the servers' state on
/// an agent running a server (used to find the node holding an
/// allocation); a client-only agent passes `None` and answers only for its
/// own allocations.
pub fn client_router(local: ClientSlot, servers: Option<Arc<dyn Backend>>) -> Router {
    let http = reqwest::Client::builder()
        .connect_timeout(FORWARD_CONNECT_TIMEOUT)
        // Agents forward to each other over plain HTTP: load no certificate
        // roots, so an agent on a machine without a CA bundle (a minimal
        // container) starts and forwards.
        .tls_certs_only(Vec::new())
        .build()
        .unwrap_or_default();
    Router::new()
        .route("/v1/client/fs/logs/{alloc}", get(logs))
        .route("/v1/client/fs/ls/{alloc}", get(ls))
        .route("/v1/client/fs/cat/{alloc}", get(cat))
        .route("/v1/client/fs/stat/{alloc}", get(stat))
        .route("/v1/client/stats", get(node_stats))
        .route("/v1/client/allocation/{alloc}/stats", get(alloc_stats))
        .route("/v1/client/allocation/{alloc}/signal", post(alloc_signal))
        .route("/v1/client/allocation/{alloc}/restart", post(alloc_restart))
        .route("/v1/client/allocation/{alloc}/exec", post(alloc_exec))
        .with_state(Ctx {
            local,
            servers,
            http,
        })
}

/// The local client when it holds `alloc`.
fn local_for(ctx: &Ctx, alloc: &AllocId) -> Option<Arc<dyn ClientApi>> {
    ctx.local
        .get()
        .filter(|c| c.alloc_dir(alloc).is_some())
        .cloned()
}

/// Forwards the GET request to the node holding `alloc` (or named `node`),
/// or answers 404 when no node is known for it.
async fn forward(
    ctx: &Ctx,
    headers: &HeaderMap,
    uri: &Uri,
    alloc: Option<&AllocId>,
    node: Option<&NodeId>,
    follow: bool,
) -> Result<Response, ApiError> {
    let wait = (!follow).then_some(FORWARD_CHUNK_TIMEOUT);
    forward_with(ctx, headers, uri, alloc, node, None, wait).await
}

/// Forwards the request to the node holding `alloc` (or named `node`): a
/// POST of `body` when given, else a GET; each chunk of the answer may take
/// `wait` (unbounded for a followed stream).
async fn forward_with(
    ctx: &Ctx,
    headers: &HeaderMap,
    uri: &Uri,
    alloc: Option<&AllocId>,
    node: Option<&NodeId>,
    body: Option<Bytes>,
    wait: Option<Duration>,
) -> Result<Response, ApiError> {
    let missing = || match alloc {
        Some(a) => ApiError::not_found(format!("unknown allocation {a}")),
        None => ApiError::not_found("unknown node"),
    };
    let Some(servers) = &ctx.servers else {
        return Err(missing());
    };
    if headers.contains_key(FORWARDED_HEADER) {
        return Err(missing());
    }
    let snap = servers.read(true).await?;
    let node_id = match (alloc, node) {
        (Some(a), _) => snap.alloc(a).ok_or_else(missing)?.node_id.clone(),
        (None, Some(n)) => n.clone(),
        (None, None) => return Err(missing()),
    };
    let node = snap
        .node(&node_id)
        .ok_or_else(|| ApiError::not_found(format!("unknown node {node_id}")))?;
    if node.http_addr.is_empty() {
        return Err(ApiError::bad(format!(
            "node {node_id} has no HTTP address to forward to"
        )));
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("http://{}{}", node.http_addr, path);
    tracing::debug!(%url, node = %node_id, "forwarding a client request");
    let req = match body {
        Some(b) => ctx
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(b),
        None => ctx.http.get(&url),
    };
    let resp = req
        .header(FORWARDED_HEADER, "1")
        .send()
        .await
        .map_err(|e| unreachable_node(&node_id, &e))?;
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = futures::stream::unfold(Some(resp), move |resp| async move {
        let mut resp = resp?;
        let next = match wait {
            None => resp.chunk().await,
            Some(wait) => match tokio::time::timeout(wait, resp.chunk()).await {
                Ok(r) => r,
                Err(_) => {
                    tracing::warn!("a forwarded client request stalled; ending it");
                    return None;
                }
            },
        };
        match next {
            Ok(Some(b)) => Some((Ok::<Bytes, std::io::Error>(b), Some(resp))),
            Ok(None) => None,
            Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
        }
    });
    let mut out = Response::builder().status(status);
    if let Some(ct) = content_type {
        out = out.header(header::CONTENT_TYPE, ct);
    }
    out.body(Body::from_stream(body))
        .map_err(|e| ApiError::bad(e.to_string()))
}

fn unreachable_node(node: &NodeId, err: &reqwest::Error) -> ApiError {
    ApiError::Backend(super::backend::BackendError::Unavailable(format!(
        "node {node} cannot be reached: {err}"
    )))
}

/// The query of `/v1/client/fs/logs`.
#[derive(Debug, Default, Deserialize)]
struct LogsQuery {
    task: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    follow: Option<String>,
    offset: Option<String>,
    origin: Option<String>,
    plain: Option<String>,
}

fn parse_bool(name: &str, v: Option<&str>) -> Result<bool, ApiError> {
    match v {
        None | Some("") => Ok(false),
        Some(s) => s
            .parse::<bool>()
            .map_err(|_| ApiError::bad(format!("{name}: expected true or false, got {s:?}"))),
    }
}

/// What a logs request asks for, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LogsRequest {
    task: Option<String>,
    stderr: bool,
    follow: bool,
    offset: u64,
    from_end: bool,
    plain: bool,
}

impl LogsRequest {
    fn parse(q: LogsQuery) -> Result<Self, ApiError> {
        let stderr = match q.kind.as_deref() {
            None | Some("") | Some("stdout") => false,
            Some("stderr") => true,
            Some(other) => {
                return Err(ApiError::bad(format!(
                    "type: expected stdout or stderr, got {other:?}"
                )));
            }
        };
        let from_end = match q.origin.as_deref() {
            None | Some("") | Some("start") => false,
            Some("end") => true,
            Some(other) => {
                return Err(ApiError::bad(format!(
                    "origin: expected start or end, got {other:?}"
                )));
            }
        };
        let offset = match q.offset.as_deref() {
            None | Some("") => 0,
            Some(s) => s.parse::<u64>().map_err(|_| {
                ApiError::bad(format!("offset: expected a non-negative number, got {s:?}"))
            })?,
        };
        Ok(LogsRequest {
            task: q.task.filter(|t| !t.is_empty()),
            stderr,
            follow: parse_bool("follow", q.follow.as_deref())?,
            offset,
            from_end,
            plain: parse_bool("plain", q.plain.as_deref())?,
        })
    }
}

/// Nomad's `StreamFrame` as the logs endpoint sends it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Frame {
    data: String,
    file: String,
    offset: u64,
}

fn client_err(e: ClientApiError) -> ApiError {
    match e {
        ClientApiError::UnknownAlloc(_) | ClientApiError::UnknownTask { .. } => {
            ApiError::not_found(e.to_string())
        }
        ClientApiError::Refused(m) => ApiError::bad(m),
        ClientApiError::Io(m) => ApiError::Backend(super::backend::BackendError::Unavailable(m)),
    }
}

async fn logs(
    State(ctx): State<Ctx>,
    UrlPath(alloc): UrlPath<String>,
    Query(q): Query<LogsQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let req = LogsRequest::parse(q)?;
    let alloc = AllocId::from(alloc);
    let Some(client) = local_for(&ctx, &alloc) else {
        return forward(&ctx, &headers, &uri, Some(&alloc), None, req.follow).await;
    };
    let tasks = client
        .tasks(&alloc)
        .ok_or_else(|| ApiError::not_found(format!("unknown allocation {alloc}")))?;
    let task = match (&req.task, tasks.as_slice()) {
        (Some(t), _) => t.clone(),
        (None, [only]) => only.clone(),
        (None, _) => {
            return Err(ApiError::bad(format!(
                "task: required, the allocation has tasks {}",
                tasks.join(", ")
            )));
        }
    };
    let source = client.logs(&alloc, &task, req.stderr).map_err(client_err)?;
    // Nothing written yet reads from the first file's start.
    let start = source
        .seek(req.from_end, req.offset)
        .map_err(client_err)?
        .unwrap_or_default();
    let content_type = if req.plain {
        "text/plain; charset=utf-8"
    } else {
        "application/json"
    };
    let stream = log_stream(client, alloc, source, start, req.follow, req.plain);
    Ok((
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(stream),
    )
        .into_response())
}

/// State of one log stream.
struct LogStreamState {
    client: Arc<dyn ClientApi>,
    alloc: AllocId,
    source: Arc<dyn LogSource>,
    pos: LogPos,
    follow: bool,
    plain: bool,
    done: bool,
}

/// The body of a logs answer: chunks until the end (or, following, until the
/// allocation leaves this client or the reader goes away).
fn log_stream(
    client: Arc<dyn ClientApi>,
    alloc: AllocId,
    source: Arc<dyn LogSource>,
    pos: LogPos,
    follow: bool,
    plain: bool,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let state = LogStreamState {
        client,
        alloc,
        source,
        pos,
        follow,
        plain,
        done: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        let mut idle = Duration::ZERO;
        loop {
            let read = match st.source.read(st.pos, LOG_CHUNK) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(alloc = %st.alloc, error = %e, "reading logs failed");
                    st.done = true;
                    return Some((Err(std::io::Error::other(e.to_string())), st));
                }
            };
            st.pos = read.next;
            if !read.data.is_empty() {
                let bytes = if st.plain {
                    Bytes::from(read.data)
                } else {
                    frame_bytes(&read.data, &read.file, read.next.offset)
                };
                return Some((Ok(bytes), st));
            }
            if !st.follow || st.client.alloc_dir(&st.alloc).is_none() {
                return None;
            }
            if idle >= HEARTBEAT_EVERY && !st.plain {
                return Some((Ok(Bytes::from_static(b"{}")), st));
            }
            tokio::time::sleep(FOLLOW_POLL).await;
            idle += FOLLOW_POLL;
        }
    })
}

fn frame_bytes(data: &[u8], file: &str, offset: u64) -> Bytes {
    let frame = Frame {
        data: base64::engine::general_purpose::STANDARD.encode(data),
        file: file.to_string(),
        offset,
    };
    // Serializing a struct of strings and a number cannot fail.
    Bytes::from(serde_json::to_vec(&frame).unwrap_or_default())
}

/// The query of the `fs` endpoints.
#[derive(Debug, Default, Deserialize)]
struct PathQuery {
    path: Option<String>,
}

/// Nomad's `AllocFileInfo`.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
struct FileInfo {
    name: String,
    is_dir: bool,
    size: u64,
    file_mode: String,
    mod_time: String,
    content_type: String,
}

/// Resolves `requested` inside `root`, refusing anything that leaves it.
fn confine(root: &Path, requested: &str) -> Result<PathBuf, ApiError> {
    let rel = Path::new(requested.trim_start_matches('/'));
    for c in rel.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            _ => {
                return Err(ApiError::bad(format!(
                    "path {requested:?} leaves the allocation directory"
                )));
            }
        }
    }
    let root = root
        .canonicalize()
        .map_err(|_| ApiError::not_found("the allocation directory is gone"))?;
    let full = root.join(rel);
    let resolved = match full.canonicalize() {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A dangling symlink is refused like an escaping one if it
            // points outside; a missing file is just missing.
            if let Ok(target) = std::fs::read_link(&full)
                && !root.join(&target).starts_with(&root)
            {
                return Err(ApiError::bad(format!(
                    "path {requested:?} leaves the allocation directory"
                )));
            }
            return Err(ApiError::not_found(format!("no such file: {requested}")));
        }
        Err(e) => return Err(ApiError::bad(format!("path {requested:?}: {e}"))),
    };
    if !resolved.starts_with(&root) {
        return Err(ApiError::bad(format!(
            "path {requested:?} leaves the allocation directory"
        )));
    }
    Ok(resolved)
}

fn file_info(name: String, meta: &std::fs::Metadata) -> FileInfo {
    use std::os::unix::fs::PermissionsExt;
    let mod_time = meta
        .modified()
        .map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339())
        .unwrap_or_default();
    let mode = meta.permissions().mode();
    let kind = if meta.is_dir() { 'd' } else { '-' };
    let perms: String = (0..9)
        .map(|i| {
            let bit = 1 << (8 - i);
            if mode & bit == 0 {
                '-'
            } else {
                ['r', 'w', 'x'][i % 3]
            }
        })
        .collect();
    FileInfo {
        name,
        is_dir: meta.is_dir(),
        size: meta.len(),
        file_mode: format!("{kind}{perms}"),
        mod_time,
        content_type: if meta.is_dir() {
            String::new()
        } else {
            "application/octet-stream".into()
        },
    }
}

/// The local alloc dir and the confined path, or the forwarded answer.
enum Target {
    Local(PathBuf),
    Forwarded(Response),
}

async fn target(
    ctx: &Ctx,
    alloc: String,
    q: PathQuery,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Target, ApiError> {
    let alloc = AllocId::from(alloc);
    let requested = q.path.unwrap_or_else(|| "/".into());
    let Some(root) = ctx.local.get().and_then(|c| c.alloc_dir(&alloc)) else {
        return Ok(Target::Forwarded(
            forward(ctx, headers, uri, Some(&alloc), None, false).await?,
        ));
    };
    Ok(Target::Local(confine(&root, &requested)?))
}

async fn ls(
    State(ctx): State<Ctx>,
    UrlPath(alloc): UrlPath<String>,
    Query(q): Query<PathQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let path = match target(&ctx, alloc, q, &headers, &uri).await? {
        Target::Forwarded(r) => return Ok(r),
        Target::Local(p) => p,
    };
    let entries = tokio::task::spawn_blocking(move || list(&path))
        .await
        .map_err(|e| ApiError::bad(e.to_string()))??;
    Ok(axum::Json(entries).into_response())
}

fn list(path: &Path) -> Result<Vec<FileInfo>, ApiError> {
    let dir = std::fs::read_dir(path).map_err(|e| ApiError::bad(format!("cannot list: {e}")))?;
    let mut out = Vec::new();
    for entry in dir.flatten() {
        // symlink_metadata: a link is listed, not followed.
        if let Ok(meta) = entry.path().symlink_metadata() {
            out.push(file_info(entry.file_name().to_string_lossy().into(), &meta));
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

async fn stat(
    State(ctx): State<Ctx>,
    UrlPath(alloc): UrlPath<String>,
    Query(q): Query<PathQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let path = match target(&ctx, alloc, q, &headers, &uri).await? {
        Target::Forwarded(r) => return Ok(r),
        Target::Local(p) => p,
    };
    let meta = std::fs::metadata(&path).map_err(|e| ApiError::not_found(e.to_string()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into());
    Ok(axum::Json(file_info(name, &meta)).into_response())
}

async fn cat(
    State(ctx): State<Ctx>,
    UrlPath(alloc): UrlPath<String>,
    Query(q): Query<PathQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let path = match target(&ctx, alloc, q, &headers, &uri).await? {
        Target::Forwarded(r) => return Ok(r),
        Target::Local(p) => p,
    };
    let meta = std::fs::metadata(&path).map_err(|e| ApiError::not_found(e.to_string()))?;
    if meta.is_dir() {
        return Err(ApiError::bad("path is a directory; use ls"));
    }
    if meta.len() > MAX_CAT_BYTES {
        return Err(ApiError::bad(format!(
            "file is larger than {MAX_CAT_BYTES} bytes"
        )));
    }
    let data = tokio::fs::read(&path)
        .await
        .map_err(|e| ApiError::bad(format!("cannot read: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], data).into_response())
}

/// The query of `/v1/client/stats`.
#[derive(Debug, Default, Deserialize)]
struct StatsQuery {
    node_id: Option<String>,
}

async fn node_stats(
    State(ctx): State<Ctx>,
    Query(q): Query<StatsQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let wanted = q.node_id.filter(|n| !n.is_empty()).map(NodeId::from);
    if let Some(client) = ctx.local.get()
        && wanted.as_ref().is_none_or(|n| *n == client.node_id())
    {
        return Ok(axum::Json(client.node_stats()).into_response());
    }
    match wanted {
        Some(n) => forward(&ctx, &headers, &uri, None, Some(&n), false).await,
        None => Err(ApiError::bad(
            "this agent runs no client: name one with node_id",
        )),
    }
}

async fn alloc_stats(
    State(ctx): State<Ctx>,
    UrlPath(alloc): UrlPath<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let alloc = AllocId::from(alloc);
    if let Some(stats) = ctx.local.get().and_then(|c| c.alloc_stats(&alloc)) {
        return Ok(axum::Json(stats).into_response());
    }
    forward(&ctx, &headers, &uri, Some(&alloc), None, false).await
}

/// The body of `POST /v1/client/allocation/:id/signal` (Nomad's
/// `AllocSignalRequest`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct SignalRequest {
    signal: String,
    task: String,
}

/// The body of `POST /v1/client/allocation/:id/restart` (Nomad's
/// `AllocRestartRequest`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RestartRequest {
    task_name: String,
    all_tasks: bool,
}

/// The body of `POST /v1/client/allocation/:id/exec`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ExecRequest {
    task: String,
    command: Vec<String>,
}

/// The answer of `exec`: the exit code and both streams, base64 encoded
/// (a command's output need not be text).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ExecAnswer {
    exit_code: i32,
    stdout: String,
    stderr: String,
}

/// A JSON request body; an empty body is the defaults.
fn body_of<T: Default + serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad(format!("request body: {e}")))
}

/// Where an operation on `alloc` goes: the local client holding it
/// (`Ok(Ok)`), or the answer of the node it was forwarded to (`Ok(Err)`).
/// An allocation the servers know as terminal is refused here.
async fn op_target(
    ctx: &Ctx,
    alloc: &AllocId,
    headers: &HeaderMap,
    uri: &Uri,
    body: Bytes,
    wait: Duration,
) -> Result<Result<Arc<dyn ClientApi>, Response>, ApiError> {
    if let Some(servers) = &ctx.servers {
        let snap = servers.read(true).await?;
        if let Some(a) = snap.alloc(alloc)
            && a.is_terminal()
        {
            let status = serde_json::to_value(a.client_status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            return Err(ApiError::bad(format!(
                "allocation {alloc} is terminal (client status {status}): its tasks no longer run"
            )));
        }
    }
    if let Some(client) = local_for(ctx, alloc) {
        return Ok(Ok(client));
    }
    let forwarded =
        forward_with(ctx, headers, uri, Some(alloc), None, Some(body), Some(wait)).await?;
    Ok(Err(forwarded))
}

fn empty_to_none(s: String) -> Option<String> {
    Some(s).filter(|s| !s.is_empty())
}

async fn alloc_signal(
    State(ctx): State<Ctx>,
    UrlPath(alloc): UrlPath<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: SignalRequest = body_of(&body)?;
    let alloc = AllocId::from(alloc);
    let client = match op_target(&ctx, &alloc, &headers, &uri, body, FORWARD_CHUNK_TIMEOUT).await? {
        Ok(c) => c,
        Err(forwarded) => return Ok(forwarded),
    };
    // Nomad's default signal.
    let signal = empty_to_none(req.signal).unwrap_or_else(|| "SIGKILL".into());
    client
        .signal(&alloc, empty_to_none(req.task), signal)
        .await
        .map_err(client_err)?;
    Ok(axum::Json(serde_json::json!({})).into_response())
}

async fn alloc_restart(
    State(ctx): State<Ctx>,
    UrlPath(alloc): UrlPath<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: RestartRequest = body_of(&body)?;
    if req.all_tasks && !req.task_name.is_empty() {
        return Err(ApiError::bad(
            "TaskName and AllTasks cannot both be set: name a task or ask for all",
        ));
    }
    let alloc = AllocId::from(alloc);
    let client = match op_target(&ctx, &alloc, &headers, &uri, body, FORWARD_CHUNK_TIMEOUT).await? {
        Ok(c) => c,
        Err(forwarded) => return Ok(forwarded),
    };
    client
        .restart(&alloc, empty_to_none(req.task_name))
        .await
        .map_err(client_err)?;
    Ok(axum::Json(serde_json::json!({})).into_response())
}

async fn alloc_exec(
    State(ctx): State<Ctx>,
    UrlPath(alloc): UrlPath<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: ExecRequest = body_of(&body)?;
    if req.command.first().is_none_or(|c| c.is_empty()) {
        return Err(ApiError::bad(
            "Command: required, the command and its arguments",
        ));
    }
    if req.command.iter().map(String::len).sum::<usize>() > MAX_EXEC_ARGV_BYTES {
        return Err(ApiError::bad(format!(
            "Command: longer than {MAX_EXEC_ARGV_BYTES} bytes"
        )));
    }
    let alloc = AllocId::from(alloc);
    let wait = EXEC_TIMEOUT + FORWARD_CHUNK_TIMEOUT;
    let client = match op_target(&ctx, &alloc, &headers, &uri, body, wait).await? {
        Ok(c) => c,
        Err(forwarded) => return Ok(forwarded),
    };
    let out = client
        .exec(&alloc, empty_to_none(req.task), req.command, EXEC_TIMEOUT)
        .await
        .map_err(client_err)?;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    Ok(axum::Json(ExecAnswer {
        exit_code: out.exit_code,
        stdout: b64(&out.stdout),
        stderr: b64(&out.stderr),
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn confine_refuses_parent_dirs_and_escaping_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("a1");
        std::fs::create_dir_all(root.join("alloc/logs")).unwrap();
        std::fs::write(root.join("alloc/logs/web.stdout.0"), b"hi").unwrap();
        std::fs::write(d.path().join("secret"), b"no").unwrap();
        std::os::unix::fs::symlink(d.path().join("secret"), root.join("out")).unwrap();
        std::os::unix::fs::symlink("alloc/logs", root.join("in")).unwrap();

        assert!(confine(&root, "/alloc/logs/web.stdout.0").is_ok());
        assert!(confine(&root, "in/web.stdout.0").is_ok());
        assert!(confine(&root, "/").is_ok());
        for bad in ["../secret", "/alloc/../../secret", "out"] {
            assert_eq!(
                confine(&root, bad).unwrap_err().status(),
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }
        assert_eq!(
            confine(&root, "alloc/missing").unwrap_err().status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn logs_query_is_checked() {
        let ok = LogsRequest::parse(LogsQuery {
            task: Some("web".into()),
            kind: Some("stderr".into()),
            follow: Some("true".into()),
            offset: Some("10".into()),
            origin: Some("end".into()),
            plain: Some("true".into()),
        })
        .unwrap();
        assert_eq!(
            ok,
            LogsRequest {
                task: Some("web".into()),
                stderr: true,
                follow: true,
                offset: 10,
                from_end: true,
                plain: true,
            }
        );
        for q in [
            LogsQuery {
                kind: Some("stdin".into()),
                ..Default::default()
            },
            LogsQuery {
                offset: Some("-1".into()),
                ..Default::default()
            },
            LogsQuery {
                follow: Some("yes".into()),
                ..Default::default()
            },
            LogsQuery {
                origin: Some("middle".into()),
                ..Default::default()
            },
        ] {
            assert!(LogsRequest::parse(q).is_err());
        }
    }

    #[test]
    fn frames_carry_base64_data_and_the_offset() {
        let b = frame_bytes(b"hello", "web.stdout.0", 5);
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["Data"], "aGVsbG8=");
        assert_eq!(v["File"], "web.stdout.0");
        assert_eq!(v["Offset"], 5);
    }
}

//! The client's side of the HTTP API's client endpoints: the
//! [`ClientApi`] seam implemented over the running [`Client`].
//!
//! Owns only the translation of the client's views (logs, usage, alloc
//! dirs) and operations (signal, restart, exec) into what the HTTP layer
//! asks; routing, confinement of paths and
//! forwarding live in `sched_server::http`.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use futures::future::BoxFuture;
use sched_client::Client;
use sched_client::ClientError;
use sched_client::logs::{Cursor, LogError, LogReader, Origin, Stream};
use sched_core::model::{AllocId, NodeId};
use sched_server::http::{ClientApi, ClientApiError, ExecResult, LogPos, LogRead, LogSource};
use serde_json::{Value, json};

/// The running client as the HTTP layer sees it; empty once the client
/// stopped, so requests then answer 404 instead of reaching a stopped client.
#[derive(Debug, Clone)]
pub(crate) struct SharedClient {
    pub(crate) client: Arc<RwLock<Option<Client>>>,
    pub(crate) alloc_root: PathBuf,
}

impl SharedClient {
    fn with<T>(&self, f: impl FnOnce(&Client) -> Option<T>) -> Option<T> {
        self.client.read().ok().and_then(|c| c.as_ref().and_then(f))
    }
}

struct Logs(LogReader);

fn log_err(e: LogError) -> ClientApiError {
    ClientApiError::Io(e.to_string())
}

impl LogSource for Logs {
    fn seek(&self, from_end: bool, offset: u64) -> Result<Option<LogPos>, ClientApiError> {
        let origin = if from_end { Origin::End } else { Origin::Start };
        match self.0.seek(origin, offset) {
            Ok(c) => Ok(Some(LogPos {
                index: c.index,
                offset: c.offset,
            })),
            Err(LogError::NoLogs { .. }) => Ok(None),
            Err(e) => Err(log_err(e)),
        }
    }

    fn read(&self, pos: LogPos, max: usize) -> Result<LogRead, ClientApiError> {
        let cursor = Cursor {
            index: pos.index,
            offset: pos.offset,
        };
        let chunk = self.0.read(cursor, max).map_err(log_err)?;
        Ok(LogRead {
            data: chunk.data,
            file: chunk.file,
            next: LogPos {
                index: chunk.next.index,
                offset: chunk.next.offset,
            },
        })
    }
}

/// A client's refusal as the HTTP layer words it.
fn op_err(e: ClientError) -> ClientApiError {
    match e {
        ClientError::UnknownAlloc(a) => ClientApiError::UnknownAlloc(a),
        ClientError::UnknownTask { alloc, task } => ClientApiError::UnknownTask { alloc, task },
        other => ClientApiError::Refused(other.to_string()),
    }
}

/// The error of a client that stopped meanwhile.
fn gone(alloc: &AllocId) -> ClientApiError {
    ClientApiError::UnknownAlloc(alloc.to_string())
}

impl ClientApi for SharedClient {
    fn node_id(&self) -> NodeId {
        self.with(|c| Some(c.node_id())).unwrap_or_default()
    }

    fn alloc_dir(&self, alloc: &AllocId) -> Option<PathBuf> {
        self.with(|c| c.alloc(alloc))
            .map(|_| self.alloc_root.join(alloc.as_str()))
    }

    fn tasks(&self, alloc: &AllocId) -> Option<Vec<String>> {
        self.with(|c| c.alloc(alloc))
            .map(|v| v.update.task_states.keys().cloned().collect())
    }

    fn logs(
        &self,
        alloc: &AllocId,
        task: &str,
        stderr: bool,
    ) -> Result<Arc<dyn LogSource>, ClientApiError> {
        let stream = if stderr {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        let guard = self
            .client
            .read()
            .map_err(|_| ClientApiError::UnknownAlloc(alloc.to_string()))?;
        let client = guard
            .as_ref()
            .ok_or_else(|| ClientApiError::UnknownAlloc(alloc.to_string()))?;
        match client.logs(alloc, task, stream) {
            Ok(r) => Ok(Arc::new(Logs(r))),
            Err(sched_client::ClientError::UnknownTask { alloc, task }) => {
                Err(ClientApiError::UnknownTask { alloc, task })
            }
            Err(sched_client::ClientError::UnknownAlloc(a)) => Err(ClientApiError::UnknownAlloc(a)),
            Err(e) => Err(ClientApiError::Io(e.to_string())),
        }
    }

    fn node_stats(&self) -> Value {
        let Some(s) = self.with(|c| Some(c.stats())) else {
            return Value::Null;
        };
        json!({
            "Timestamp": s.timestamp,
            "CPUTicksConsumed": s.cpu_percent,
            "Memory": {
                "Total": s.memory_total,
                "Used": s.memory_used,
                "Available": s.memory_total.saturating_sub(s.memory_used),
                "Free": s.memory_total.saturating_sub(s.memory_used),
            },
        })
    }

    fn alloc_stats(&self, alloc: &AllocId) -> Option<Value> {
        let view = self.with(|c| c.alloc(alloc))?;
        let mut tasks = serde_json::Map::new();
        let (mut rss, mut usage, mut cpu_ns, mut ts) = (0u64, 0u64, 0u64, 0u64);
        for (name, u) in &view.usage {
            rss += u.memory_rss;
            usage += u.memory_usage;
            cpu_ns += u.cpu_total_ns;
            ts = ts.max(u.timestamp);
            tasks.insert(
                name.clone(),
                json!({
                    "Timestamp": u.timestamp,
                    "Pids": u.pids,
                    "ResourceUsage": {
                        "MemoryStats": { "RSS": u.memory_rss, "Usage": u.memory_usage },
                        "CpuStats": { "TotalTicks": u.cpu_total_ns as f64 / 1e6 },
                    },
                }),
            );
        }
        Some(json!({
            "Timestamp": ts,
            "ResourceUsage": {
                "MemoryStats": { "RSS": rss, "Usage": usage },
                "CpuStats": { "TotalTicks": cpu_ns as f64 / 1e6 },
            },
            "Tasks": tasks,
        }))
    }

    fn signal(
        &self,
        alloc: &AllocId,
        task: Option<String>,
        signal: String,
    ) -> BoxFuture<'static, Result<(), ClientApiError>> {
        // Checked here so a typo is refused before any task sees an event.
        if let Err(e) = sched_client::driver_host::capabilities::process::parse_signal(&signal) {
            return Box::pin(std::future::ready(Err(ClientApiError::Refused(e))));
        }
        let fut = self.with(|c| Some(c.signal(alloc, task.as_deref(), &signal)));
        let alloc = alloc.clone();
        Box::pin(async move { fut.ok_or_else(|| gone(&alloc))?.await.map_err(op_err) })
    }

    fn restart(
        &self,
        alloc: &AllocId,
        task: Option<String>,
    ) -> BoxFuture<'static, Result<(), ClientApiError>> {
        let fut = self.with(|c| Some(c.restart(alloc, task.as_deref())));
        let alloc = alloc.clone();
        Box::pin(async move { fut.ok_or_else(|| gone(&alloc))?.await.map_err(op_err) })
    }

    fn exec(
        &self,
        alloc: &AllocId,
        task: Option<String>,
        argv: Vec<String>,
        timeout: std::time::Duration,
    ) -> BoxFuture<'static, Result<ExecResult, ClientApiError>> {
        let fut = self.with(|c| Some(c.exec(alloc, task.as_deref(), argv, timeout)));
        let alloc = alloc.clone();
        Box::pin(async move {
            let out = fut.ok_or_else(|| gone(&alloc))?.await.map_err(op_err)?;
            Ok(ExecResult {
                exit_code: out.exit.exit_code,
                stdout: out.stdout,
                stderr: out.stderr,
            })
        })
    }
}

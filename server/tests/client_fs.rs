//! The client endpoints through the public API: a node's router answering
//! from a client's alloc dirs, and a server's router forwarding to the node
//! its state places the allocation on.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use sched_core::model::{AllocId, NodeId};
use sched_scheduler::mock;
use sched_server::fsm::Command;
use sched_server::http::{
    ClientApi, ClientApiError, ClientSlot, ExecResult, LogPos, LogRead, LogSource, TestBackend,
    client_router, serve,
};
use serde_json::{Value, json};

const NOW: i64 = 1_700_000_000_000_000_000;

/// A client whose allocations are the directories under `root`, each with
/// one task `web` logging to `alloc/logs/web.stdout.0`.
struct DirClient {
    root: PathBuf,
    node: NodeId,
}

struct OneFile(PathBuf);

impl LogSource for OneFile {
    fn seek(&self, from_end: bool, offset: u64) -> Result<Option<LogPos>, ClientApiError> {
        let Ok(meta) = std::fs::metadata(&self.0) else {
            return Ok(None);
        };
        let at = if from_end {
            meta.len().saturating_sub(offset)
        } else {
            offset.min(meta.len())
        };
        Ok(Some(LogPos {
            index: 0,
            offset: at,
        }))
    }

    fn read(&self, pos: LogPos, max: usize) -> Result<LogRead, ClientApiError> {
        let all = std::fs::read(&self.0).unwrap_or_default();
        let from = (pos.offset as usize).min(all.len());
        let to = (from + max).min(all.len());
        Ok(LogRead {
            data: all[from..to].to_vec(),
            file: "web.stdout.0".into(),
            next: LogPos {
                index: 0,
                offset: to as u64,
            },
        })
    }
}

impl ClientApi for DirClient {
    fn node_id(&self) -> NodeId {
        self.node.clone()
    }

    fn alloc_dir(&self, alloc: &AllocId) -> Option<PathBuf> {
        let d = self.root.join(alloc.as_str());
        d.is_dir().then_some(d)
    }

    fn tasks(&self, alloc: &AllocId) -> Option<Vec<String>> {
        self.alloc_dir(alloc).map(|_| vec!["web".to_string()])
    }

    fn logs(
        &self,
        alloc: &AllocId,
        task: &str,
        _stderr: bool,
    ) -> Result<Arc<dyn LogSource>, ClientApiError> {
        let dir = self
            .alloc_dir(alloc)
            .ok_or_else(|| ClientApiError::UnknownAlloc(alloc.to_string()))?;
        if task != "web" {
            return Err(ClientApiError::UnknownTask {
                alloc: alloc.to_string(),
                task: task.to_string(),
            });
        }
        Ok(Arc::new(OneFile(dir.join("alloc/logs/web.stdout.0"))))
    }

    fn node_stats(&self) -> Value {
        json!({"CPUTicksConsumed": 1.5})
    }

    fn alloc_stats(&self, alloc: &AllocId) -> Option<Value> {
        self.alloc_dir(alloc).map(|_| json!({"Tasks": {}}))
    }

    fn signal(
        &self,
        alloc: &AllocId,
        task: Option<String>,
        signal: String,
    ) -> futures::future::BoxFuture<'static, Result<(), ClientApiError>> {
        let r = self
            .check_task(alloc, task.as_deref())
            .and_then(|()| match signal.as_str() {
                "SIGUSR1" | "SIGKILL" => Ok(()),
                other => Err(ClientApiError::Refused(format!("unknown signal {other:?}"))),
            });
        Box::pin(std::future::ready(r))
    }

    fn restart(
        &self,
        alloc: &AllocId,
        task: Option<String>,
    ) -> futures::future::BoxFuture<'static, Result<(), ClientApiError>> {
        Box::pin(std::future::ready(self.check_task(alloc, task.as_deref())))
    }

    fn exec(
        &self,
        alloc: &AllocId,
        task: Option<String>,
        argv: Vec<String>,
        _timeout: std::time::Duration,
    ) -> futures::future::BoxFuture<'static, Result<ExecResult, ClientApiError>> {
        let r = self
            .check_task(alloc, task.as_deref())
            .map(|()| ExecResult {
                exit_code: 3,
                stdout: argv.join(" ").into_bytes(),
                stderr: Vec::new(),
            });
        Box::pin(std::future::ready(r))
    }
}

impl DirClient {
    /// Whether the alloc is here and has the task (`web`, the only one).
    fn check_task(&self, alloc: &AllocId, task: Option<&str>) -> Result<(), ClientApiError> {
        if self.alloc_dir(alloc).is_none() {
            return Err(ClientApiError::UnknownAlloc(alloc.to_string()));
        }
        match task {
            None | Some("web") => Ok(()),
            Some(t) => Err(ClientApiError::UnknownTask {
                alloc: alloc.to_string(),
                task: t.to_string(),
            }),
        }
    }
}

async fn spawn(router: axum::Router) -> (String, tokio::sync::oneshot::Sender<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(l, router, async move {
        let _ = rx.await;
    }));
    (addr, tx)
}

#[test]
fn a_server_forwards_to_the_node_holding_the_alloc_which_confines_paths() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(forwards_and_confines());
}

async fn forwards_and_confines() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, b"not yours").unwrap();
    let allocs = dir.path().join("allocs");

    // The node: one client with the alloc's dir and its log.
    let slot = ClientSlot::new();
    slot.set(Arc::new(DirClient {
        root: allocs.clone(),
        node: mock::node(1).id,
    }));
    let (node_addr, _stop_node) = spawn(client_router(slot, None)).await;

    // The server: its state puts the alloc on that node.
    let backend = TestBackend::new(NOW);
    let mut node = mock::node(1);
    node.http_addr = node_addr.clone();
    assert!(
        backend
            .apply_now(Command::NodeRegister {
                node: Box::new(node.clone()),
                evals: vec![],
                now: NOW,
            })
            .error
            .is_none()
    );
    let job = mock::service_job("web", 1, 100, 128);
    let mut alloc = mock::alloc(&job, &node, 1);
    alloc.job = Some(Arc::new(job.clone()));
    let r = backend.apply_now(Command::ApplyPlanResult {
        job: Some(Box::new(job)),
        allocs: vec![alloc.clone()],
        stopped: vec![],
        preempted: vec![],
        deployment: None,
        deployment_updates: vec![],
        evals: vec![],
        now: NOW,
    });
    assert!(r.error.is_none(), "{:?}", r.error);
    let id = alloc.id.to_string();
    let logs = allocs.join(&id).join("alloc/logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("web.stdout.0"), b"hello\nworld\n").unwrap();
    std::os::unix::fs::symlink(&secret, allocs.join(&id).join("escape")).unwrap();

    let (server_addr, _stop_server) = spawn(client_router(ClientSlot::new(), Some(backend))).await;
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        let server_addr = server_addr.clone();
        async move {
            let r = http
                .get(format!("http://{server_addr}{path}"))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };

    // Frames, plain bytes and a tail, all forwarded.
    let (st, body) = get(format!("/v1/client/fs/logs/{id}?task=web")).await;
    assert_eq!(st, 200, "{body}");
    let frame: Value = serde_json::from_str(&body).unwrap();
    let data = base64::engine::general_purpose::STANDARD
        .decode(frame["Data"].as_str().unwrap())
        .unwrap();
    assert_eq!(data, b"hello\nworld\n");
    assert_eq!(frame["Offset"], 12);
    let (st, body) = get(format!(
        "/v1/client/fs/logs/{id}?plain=true&origin=end&offset=6"
    ))
    .await;
    assert_eq!((st, body.as_str()), (200, "world\n"));
    let (st, body) = get(format!(
        "/v1/client/fs/cat/{id}?path=/alloc/logs/web.stdout.0"
    ))
    .await;
    assert_eq!((st, body.as_str()), (200, "hello\nworld\n"));
    let (st, body) = get(format!("/v1/client/fs/ls/{id}?path=alloc")).await;
    assert_eq!(st, 200);
    let ls: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ls[0]["Name"], "logs");
    assert_eq!(ls[0]["IsDir"], true);
    let (st, _) = get(format!("/v1/client/allocation/{id}/stats")).await;
    assert_eq!(st, 200);
    let (st, body) = get(format!("/v1/client/stats?node_id={}", node.id)).await;
    assert_eq!((st, body.as_str()), (200, r#"{"CPUTicksConsumed":1.5}"#));

    // Escapes, bad parameters and unknown objects.
    for (path, want) in [
        (format!("/v1/client/fs/cat/{id}?path=../../secret"), 400),
        (format!("/v1/client/fs/cat/{id}?path=escape"), 400),
        (
            format!("/v1/client/fs/stat/{id}?path=/alloc/../../secret"),
            400,
        ),
        (format!("/v1/client/fs/cat/{id}?path=alloc"), 400),
        (format!("/v1/client/fs/cat/{id}?path=nope"), 404),
        (format!("/v1/client/fs/logs/{id}?task=web&type=both"), 400),
        (
            format!("/v1/client/fs/logs/{id}?task=web&follow=maybe"),
            400,
        ),
        (format!("/v1/client/fs/logs/{id}?task=db"), 404),
        ("/v1/client/fs/logs/unknown?task=web".to_string(), 404),
        ("/v1/client/fs/ls/unknown".to_string(), 404),
        ("/v1/client/stats".to_string(), 400),
    ] {
        let (st, body) = get(path.clone()).await;
        assert_eq!(st, want, "{path}: {body}");
    }

    // Signal, restart and exec are forwarded as POSTs with their bodies.
    let post = |path: String, body: &'static str| {
        let http = http.clone();
        let server_addr = server_addr.clone();
        async move {
            let r = http
                .post(format!("http://{server_addr}{path}"))
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (st, body) = post(
        format!("/v1/client/allocation/{id}/signal"),
        r#"{"Signal":"SIGUSR1","Task":"web"}"#,
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let (st, body) = post(format!("/v1/client/allocation/{id}/restart"), "").await;
    assert_eq!(st, 200, "{body}");
    let (st, body) = post(
        format!("/v1/client/allocation/{id}/exec"),
        r#"{"Task":"web","Command":["echo","hi"]}"#,
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let out: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(out["ExitCode"], 3);
    let stdout = base64::engine::general_purpose::STANDARD
        .decode(out["Stdout"].as_str().unwrap())
        .unwrap();
    assert_eq!(stdout, b"echo hi");
    for (path, body, want) in [
        ("signal", r#"{"Signal":"SIGNOPE"}"#, 400),
        ("signal", r#"{"Task":"db"}"#, 404),
        ("signal", "{not json", 400),
        ("restart", r#"{"TaskName":"web","AllTasks":true}"#, 400),
        ("exec", r#"{"Task":"web"}"#, 400),
        ("exec", r#"{"Command":[""]}"#, 400),
    ] {
        let (st, text) = post(format!("/v1/client/allocation/{id}/{path}"), body).await;
        assert_eq!(st, want, "{path} {body}: {text}");
    }
    let (st, _) = post("/v1/client/allocation/unknown/restart".into(), "").await;
    assert_eq!(st, 404);

    // A node that does not hold the alloc does not forward a forwarded
    // request again.
    let r = http
        .get(format!("http://{node_addr}/v1/client/fs/ls/unknown"))
        .header(sched_server::http::FORWARDED_HEADER, "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

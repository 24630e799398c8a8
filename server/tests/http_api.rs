//! The HTTP API end to end over loopback: every endpoint's success and its
//! answers to bad input (4xx with a message, never 5xx, state unchanged).
// Test helpers outside #[test] functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use sched_core::model::{Allocation, ClientStatus, Job, Node};
use sched_scheduler::mock;
use sched_server::fsm::Command;
use sched_server::http::{HttpLimits, TestBackend, router, serve};
use serde_json::{Value, json};

const NOW: i64 = 1_700_000_000_000_000_000;

struct Server {
    base: String,
    backend: Arc<TestBackend>,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    async fn start(limits: HttpLimits) -> Server {
        let backend = TestBackend::new(NOW);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(backend.clone(), limits);
        let task = tokio::spawn(serve(listener, app, async move {
            let _ = rx.await;
        }));
        Server {
            base,
            backend,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            stop: Some(tx),
            task: Some(task),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> (StatusCode, reqwest::header::HeaderMap, String) {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(b) = body {
            req = req.body(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        (status, headers, resp.text().await.unwrap())
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (s, _, body) = self.call(Method::GET, path, None).await;
        (
            s,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )
    }

    async fn send_json(&self, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        let (s, _, text) = self
            .call(method, path, Some(body.to_string().into_bytes()))
            .await;
        (
            s,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send_json(Method::PUT, path, body).await
    }

    fn index(&self) -> u64 {
        self.backend.snapshot().index()
    }

    /// Every table's modify index: what a refused request must not move
    /// (a command the FSM refuses still takes a log index, but changes no
    /// table).
    fn tables(&self) -> Vec<u64> {
        use sched_server::state::Table::*;
        let snap = self.backend.snapshot();
        [Jobs, Evals, Allocs, Nodes, Deployments, Variables, Servers]
            .iter()
            .map(|t| snap.table_index(*t))
            .collect()
    }

    async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }

    /// Registers `job` and answers the register response.
    async fn register(&self, job: &Job) -> Value {
        let (s, v) = self.put("/v1/jobs", json!({"Job": job})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    fn seed_node(&self, n: u128) -> Node {
        let node = mock::node(n);
        let r = self.backend.apply_now(Command::NodeRegister {
            node: Box::new(node.clone()),
            evals: vec![],
            now: NOW,
        });
        assert!(r.error.is_none());
        node
    }

    fn seed_alloc(&self, job_id: &str, node: &Node, n: u64) -> Allocation {
        let job = self.backend.snapshot().job("default", job_id).unwrap();
        let mut a = mock::alloc(&job, node, n);
        a.job = Some(job);
        if let Some(e) = self
            .backend
            .snapshot()
            .evals_by_job("default", job_id)
            .first()
        {
            a.eval_id = e.id.clone();
        }
        a.client_status = ClientStatus::Running;
        let r = self.backend.apply_now(Command::ApplyPlanResult {
            job: None,
            allocs: vec![a.clone()],
            stopped: vec![],
            preempted: vec![],
            deployment: None,
            deployment_updates: vec![],
            evals: vec![],
            now: NOW,
        });
        assert!(r.error.is_none());
        a
    }
}

fn run<F: std::future::Future<Output = ()>>(f: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f);
}

fn web(count: i64) -> Job {
    mock::service_job("web", count, 100, 128)
}

/// A 4xx with a message, and the state untouched.
async fn assert_rejected(
    s: &Server,
    method: Method,
    path: &str,
    body: Option<&str>,
    want: StatusCode,
    needle: &str,
) {
    let before = s.tables();
    let (status, _, text) = s
        .call(method.clone(), path, body.map(|b| b.as_bytes().to_vec()))
        .await;
    assert_eq!(status, want, "{method} {path}: {text}");
    assert!(!text.is_empty(), "{method} {path}: empty error body");
    assert!(
        text.contains(needle),
        "{method} {path}: {text:?} lacks {needle:?}"
    );
    assert_eq!(s.tables(), before, "{method} {path} changed the state");
}

#[test]
fn register_read_and_list_a_job() {
    run(async {
        let s = Server::start(HttpLimits::default()).await;
        let r = s.register(&web(2)).await;
        let eval_id = r["EvalID"].as_str().unwrap().to_string();
        assert!(!eval_id.is_empty());
        assert_eq!(r["JobModifyIndex"], r["Index"]);
        assert_eq!(r["EvalCreateIndex"], r["Index"]);

        let snap = s.backend.snapshot();
        let eval = snap
            .eval(&sched_core::model::EvalId(eval_id.clone()))
            .unwrap();
        assert_eq!(eval.triggered_by, "job-register");
        assert_eq!(eval.r#type, "service");
        assert_eq!(eval.create_time, NOW);
        assert!(!eval.trace_id.is_empty());

        let (st, headers, body) = s.call(Method::GET, "/v1/jobs", None).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(headers["X-Nomad-KnownLeader"], "true");
        assert_eq!(headers["X-Nomad-LastContact"], "0");
        assert_eq!(
            headers["X-Nomad-Index"].to_str().unwrap(),
            r["Index"].to_string()
        );
        let list: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(list[0]["ID"], "web");
        assert_eq!(list[0]["Type"], "service");
        assert_eq!(list[0]["JobSummary"]["Summary"]["web"]["Running"], 0);

        let (st, list) = s.get("/v1/jobs?prefix=zzz").await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(list, json!([]));
        let (_, list) = s.get("/v1/jobs?namespace=other").await;
        assert_eq!(list, json!([]));
        let (_, list) = s.get("/v1/jobs?namespace=*").await;
        assert_eq!(list.as_array().unwrap().len(), 1);

        let (st, job) = s.get("/v1/job/web").await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(job["TaskGroups"][0]["Count"], 2);
        // Canonicalized on the way in.
        assert_eq!(job["Namespace"], "default");
        assert!(job["TaskGroups"][0]["RestartPolicy"].is_object());

        let (_, evals) = s.get("/v1/job/web/evaluations").await;
        assert_eq!(evals[0]["ID"], eval_id.as_str());
        let (_, allocs) = s.get("/v1/job/web/allocations").await;
        assert_eq!(allocs, json!([]));
        let (_, summary) = s.get("/v1/job/web/summary").await;
        assert_eq!(summary["JobID"], "web");

        // A second version, then its history.
        s.put("/v1/job/web", json!({"Job": web(3)})).await;
        let (_, versions) = s.get("/v1/job/web/versions").await;
        let versions = versions["Versions"].as_array().unwrap();
        assert_eq!(versions.len(), 2);
        assert_eq!(versions[0]["Version"], 1);
        s.shutdown().await;
    });
}

#[test]
fn bad_job_requests_are_rejected_with_a_message() {
    run(async {
        let s = Server::start(HttpLimits::default()).await;
        s.register(&web(1)).await;
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/jobs",
            Some("{\"Job\": {"),
            StatusCode::BAD_REQUEST,
            "Failed to decode request body",
        )
        .await;
        assert_rejected(
            &s,
            Method::POST,
            "/v1/jobs",
            Some(""),
            StatusCode::BAD_REQUEST,
            "empty",
        )
        .await;
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/jobs",
            Some("{\"Job\": {\"ID\": 7}}"),
            StatusCode::BAD_REQUEST,
            "line 1",
        )
        .await;
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/jobs",
            Some("{}"),
            StatusCode::BAD_REQUEST,
            "Job must be specified",
        )
        .await;
        // Every validation error at once.
        let invalid =
            json!({"Job": {"ID": "bad", "TaskGroups": [{"Name": "g", "Count": -1, "Tasks": []}]}})
                .to_string();
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/jobs",
            Some(&invalid),
            StatusCode::BAD_REQUEST,
            "Job validation failed",
        )
        .await;
        let (_, _, text) = s
            .call(Method::PUT, "/v1/jobs", Some(invalid.into_bytes()))
            .await;
        assert!(
            text.matches('\n').count() >= 1 || text.contains(", "),
            "expected several errors: {text}"
        );
        // Path and body disagree.
        let other = json!({"Job": mock::service_job("other", 1, 100, 128)}).to_string();
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/job/web",
            Some(&other),
            StatusCode::BAD_REQUEST,
            "does not match",
        )
        .await;
        // Check-index.
        let stale = json!({"Job": web(2), "EnforceIndex": true, "JobModifyIndex": 999}).to_string();
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/jobs",
            Some(&stale),
            StatusCode::CONFLICT,
            "conflicting job modify index",
        )
        .await;
        let cur = s
            .backend
            .snapshot()
            .job("default", "web")
            .unwrap()
            .job_modify_index
            .unwrap();
        let (st, _) = s
            .put(
                "/v1/jobs",
                json!({"Job": web(2), "EnforceIndex": true, "JobModifyIndex": cur}),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        // Unknown jobs.
        for (m, p) in [
            (Method::GET, "/v1/job/nope"),
            (Method::DELETE, "/v1/job/nope"),
            (Method::GET, "/v1/job/nope/allocations"),
            (Method::GET, "/v1/job/nope/evaluations"),
            (Method::GET, "/v1/job/nope/versions"),
            (Method::GET, "/v1/job/nope/summary"),
            (Method::PUT, "/v1/job/nope/evaluate"),
            (Method::GET, "/v1/job/nope/scale"),
            (Method::PUT, "/v1/job/nope/periodic/force"),
        ] {
            assert_rejected(&s, m, p, None, StatusCode::NOT_FOUND, "not found").await;
        }
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/job/nope/dispatch",
            Some("{}"),
            StatusCode::NOT_FOUND,
            "not found",
        )
        .await;
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/job/nope/revert",
            Some("{\"JobVersion\": 0}"),
            StatusCode::NOT_FOUND,
            "not found",
        )
        .await;
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/job/nope/scale",
            Some("{\"Count\": 1, \"Target\": {\"Group\": \"web\"}}"),
            StatusCode::NOT_FOUND,
            "not found",
        )
        .await;
        s.shutdown().await;
    });
}

#[test]
fn wrong_methods_unknown_paths_big_bodies_and_bad_queries() {
    run(async {
        let s = Server::start(HttpLimits {
            max_body_bytes: 1024,
            ..HttpLimits::default()
        })
        .await;
        assert_rejected(
            &s,
            Method::DELETE,
            "/v1/jobs",
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "Invalid method",
        )
        .await;
        assert_rejected(
            &s,
            Method::POST,
            "/v1/nodes",
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "Invalid method",
        )
        .await;
        assert_rejected(
            &s,
            Method::GET,
            "/v1/job/web/evaluate",
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "Invalid method",
        )
        .await;
        assert_rejected(
            &s,
            Method::GET,
            "/v1/nonsense",
            None,
            StatusCode::NOT_FOUND,
            "Invalid URL path",
        )
        .await;
        let big = format!("{{\"Job\": {{\"ID\": \"{}\"}}}}", "x".repeat(4096));
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/jobs",
            Some(&big),
            StatusCode::PAYLOAD_TOO_LARGE,
            "length limit",
        )
        .await;
        for q in [
            "index=garbage",
            "wait=soon",
            "wait=10",
            "stale=perhaps",
            "prefix=%zz",
        ] {
            for p in [
                "/v1/jobs",
                "/v1/allocations",
                "/v1/evaluations",
                "/v1/nodes",
                "/v1/deployments",
                "/v1/vars",
            ] {
                assert_rejected(
                    &s,
                    Method::GET,
                    &format!("{p}?{q}"),
                    None,
                    StatusCode::BAD_REQUEST,
                    "Invalid",
                )
                .await;
            }
        }
        s.shutdown().await;
    });
}

#[test]
fn blocking_queries_wake_on_a_change_and_time_out_without_one() {
    run(async {
        let s = Arc::new(Server::start(HttpLimits::default()).await);
        s.register(&web(1)).await;
        let idx = s.index();
        // Nothing changes: the query answers after its wait with the same index.
        let (st, headers, _) = s
            .call(
                Method::GET,
                &format!("/v1/jobs?index={idx}&wait=50ms"),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(headers["X-Nomad-Index"].to_str().unwrap(), idx.to_string());
        // A change wakes it.
        let s2 = s.clone();
        let waiter = tokio::spawn(async move {
            let (_, headers, body) = s2
                .call(Method::GET, &format!("/v1/jobs?index={idx}&wait=60s"), None)
                .await;
            (
                headers["X-Nomad-Index"]
                    .to_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap(),
                body,
            )
        });
        s.register(&mock::service_job("api", 1, 100, 128)).await;
        let (new_idx, body) = waiter.await.unwrap();
        assert!(new_idx > idx);
        assert!(body.contains("\"api\""));
        // A change to another table does not wake a jobs query.
        let idx = s.index();
        s.seed_node(1);
        let (_, headers, _) = s
            .call(
                Method::GET,
                &format!("/v1/jobs?index={idx}&wait=50ms"),
                None,
            )
            .await;
        assert_eq!(headers["X-Nomad-Index"].to_str().unwrap(), idx.to_string());
        if let Ok(s) = Arc::try_unwrap(s) {
            s.shutdown().await;
        }
    });
}

#[test]
fn deregister_stops_then_purges() {
    run(async {
        let s = Server::start(HttpLimits::default()).await;
        s.register(&web(1)).await;
        let (st, v) = s
            .send_json(Method::DELETE, "/v1/job/web", json!(null))
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let snap = s.backend.snapshot();
        assert_eq!(snap.job("default", "web").unwrap().stop, Some(true));
        let eval = snap
            .eval(&sched_core::model::EvalId(
                v["EvalID"].as_str().unwrap().into(),
            ))
            .unwrap();
        assert_eq!(eval.triggered_by, "job-deregister");
        assert_rejected(
            &s,
            Method::DELETE,
            "/v1/job/web?purge=maybe",
            None,
            StatusCode::BAD_REQUEST,
            "purge",
        )
        .await;
        let (st, _, _) = s.call(Method::DELETE, "/v1/job/web?purge=true", None).await;
        assert_eq!(st, StatusCode::OK);
        assert!(s.backend.snapshot().job("default", "web").is_none());
        s.shutdown().await;
    });
}

#[test]
fn evaluate_scale_and_revert() {
    run(async {
        let s = Server::start(HttpLimits::default()).await;
        s.register(&web(1)).await;
        let (st, v) = s.put("/v1/job/web/evaluate", json!({})).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let eval = s
            .backend
            .snapshot()
            .eval(&sched_core::model::EvalId(
                v["EvalID"].as_str().unwrap().into(),
            ))
            .unwrap();
        assert_eq!(eval.triggered_by, "job-eval");

        let (st, v) = s
            .put(
                "/v1/job/web/scale",
                json!({"Count": 4, "Target": {"Group": "web"}}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let job = s.backend.snapshot().job("default", "web").unwrap();
        assert_eq!(job.task_groups.as_ref().unwrap()[0].count, Some(4));
        assert_eq!(job.version, Some(1));
        let eval = s
            .backend
            .snapshot()
            .eval(&sched_core::model::EvalId(
                v["EvalID"].as_str().unwrap().into(),
            ))
            .unwrap();
        assert_eq!(eval.triggered_by, "job-scaling");
        let (_, status) = s.get("/v1/job/web/scale").await;
        assert_eq!(status["TaskGroups"]["web"]["Desired"], 4);
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/job/web/scale",
            Some("{\"Count\": 2, \"Target\": {\"Group\": \"nope\"}}"),
            StatusCode::BAD_REQUEST,
            "not found",
        )
        .await;
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/job/web/scale",
            Some("{\"Count\": -2, \"Target\": {\"Group\": \"web\"}}"),
            StatusCode::BAD_REQUEST,
            "negative",
        )
        .await;
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/job/web/scale",
            Some("{\"Target\": {\"Group\": \"web\"}}"),
            StatusCode::BAD_REQUEST,
            "Count",
        )
        .await;

        let (st, v) = s
            .put(
                "/v1/job/web/revert",
                json!({"JobID": "web", "JobVersion": 0}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let job = s.backend.snapshot().job("default", "web").unwrap();
        assert_eq!(job.task_groups.as_ref().unwrap()[0].count, Some(1));
        assert_eq!(job.version, Some(2));
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/job/web/revert",
            Some("{\"JobVersion\": 2}"),
            StatusCode::BAD_REQUEST,
            "current version",
        )
        .await;
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/job/web/revert",
            Some("{\"JobVersion\": 42}"),
            StatusCode::NOT_FOUND,
            "version 42",
        )
        .await;
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/job/web/revert",
            Some("{\"JobVersion\": \"x\"}"),
            StatusCode::BAD_REQUEST,
            "decode",
        )
        .await;
        s.shutdown().await;
    });
}

fn parameterized() -> Job {
    let mut j = mock::job_of_type("report", "batch", 1, 100, 128);
    j.parameterized_job = Some(sched_core::model::ParameterizedJobConfig {
        payload: Some("optional".into()),
        meta_required: Some(vec!["customer".into()]),
        meta_optional: Some(vec!["format".into()]),
    });
    j
}

#[test]
fn dispatch_creates_children_once_per_token() {
    run(async {
        let s = Server::start(HttpLimits::default()).await;
        let r = s.register(&parameterized()).await;
        assert_eq!(r["EvalID"], "", "a parameterized parent gets no evaluation");
        let body =
            json!({"Meta": {"customer": "acme"}, "Payload": "aGVsbG8=", "IdempotencyToken": "t1"});
        let (st, a) = s.put("/v1/job/report/dispatch", body.clone()).await;
        assert_eq!(st, StatusCode::OK, "{a}");
        let child = a["DispatchedJobID"].as_str().unwrap().to_string();
        let re = regex_like(&child);
        assert!(re, "child id {child}");
        let (st, b) = s.put("/v1/job/report/dispatch", body).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(b["DispatchedJobID"], child.as_str());
        let snap = s.backend.snapshot();
        let job = snap.job("default", &child).unwrap();
        assert_eq!(job.parent_id.as_deref(), Some("report"));
        assert_eq!(job.payload.as_deref(), Some("aGVsbG8="));
        assert_eq!(job.meta.as_ref().unwrap()["customer"], "acme");
        assert_eq!(
            snap.evals_by_job("default", &child).len(),
            1,
            "one eval for one token"
        );
        // The child's path works with its slash escaped.
        let (st, _) = s
            .get(&format!("/v1/job/{}", child.replace('/', "%2F")))
            .await;
        assert_eq!(st, StatusCode::OK);

        assert_rejected(
            &s,
            Method::PUT,
            "/v1/job/report/dispatch",
            Some("{\"Meta\": {}}"),
            StatusCode::BAD_REQUEST,
            "required meta",
        )
        .await;
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/job/report/dispatch",
            Some("{\"Meta\": {\"customer\": \"a\", \"color\": \"red\"}}"),
            StatusCode::BAD_REQUEST,
            "unpermitted",
        )
        .await;
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/job/report/dispatch",
            Some("{\"Meta\": {\"customer\": \"a\"}, \"Payload\": \"***\"}"),
            StatusCode::BAD_REQUEST,
            "base64",
        )
        .await;
        s.register(&web(1)).await;
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/job/web/dispatch",
            Some("{}"),
            StatusCode::BAD_REQUEST,
            "not a parameterized job",
        )
        .await;
        s.shutdown().await;
    });
}

/// `report/dispatch-<seconds>-<8 hex>`.
fn regex_like(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("report/dispatch-") else {
        return false;
    };
    let Some((secs, hex)) = rest.split_once('-') else {
        return false;
    };
    secs == (NOW / 1_000_000_000).to_string()
        && hex.len() == 8
        && hex.chars().all(|c| c.is_ascii_hexdigit())
}

#[test]
fn periodic_force_launches_a_child() {
    run(async {
        let s = Server::start(HttpLimits::default()).await;
        let mut j = mock::job_of_type("nightly", "batch", 1, 100, 128);
        j.periodic = Some(sched_core::model::PeriodicConfig {
            enabled: Some(true),
            spec: Some("0 3 * * *".into()),
            ..Default::default()
        });
        let r = s.register(&j).await;
        assert_eq!(r["EvalID"], "");
        let (st, v) = s.put("/v1/job/nightly/periodic/force", json!({})).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let child = format!("nightly/periodic-{}", NOW / 1_000_000_000);
        let snap = s.backend.snapshot();
        let job = snap.job("default", &child).unwrap();
        assert!(job.periodic.is_none());
        let eval = snap
            .eval(&sched_core::model::EvalId(
                v["EvalID"].as_str().unwrap().into(),
            ))
            .unwrap();
        assert_eq!(eval.triggered_by, "periodic-job");
        assert_eq!(eval.job_id, child);
        s.register(&web(1)).await;
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/job/web/periodic/force",
            None,
            StatusCode::BAD_REQUEST,
            "not periodic",
        )
        .await;
        s.shutdown().await;
    });
}

#[test]
fn plan_runs_the_scheduler_without_committing() {
    run(async {
        let s = Server::start(HttpLimits::default()).await;
        s.seed_node(1);
        s.seed_node(2);
        let before = s.index();
        let (st, v) = s
            .put("/v1/job/web/plan", json!({"Job": web(3), "Diff": true}))
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["Annotations"]["DesiredTGUpdates"]["web"]["Place"], 3);
        assert_eq!(v["Diff"]["Type"], "Added");
        assert_eq!(v["FailedTGAllocs"], json!({}));
        assert_eq!(s.index(), before, "a plan commits nothing");

        s.register(&web(3)).await;
        let (_, v) = s
            .put("/v1/job/web/plan", json!({"Job": web(3), "Diff": true}))
            .await;
        assert_eq!(v["Diff"]["Type"], "None");
        let (_, v) = s
            .put("/v1/job/web/plan", json!({"Job": web(5), "Diff": true}))
            .await;
        assert_eq!(v["Diff"]["Type"], "Edited");
        assert_eq!(v["Diff"]["TaskGroups"][0]["Type"], "Edited");
        // Too big for any node: the failure is reported, not a 500.
        let (st, v) = s
            .put(
                "/v1/job/huge/plan",
                json!({"Job": mock::service_job("huge", 1, 100, 1_000_000)}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert!(v["FailedTGAllocs"]["web"].is_object(), "{v}");
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/job/web/plan",
            Some("{\"Job\": 3}"),
            StatusCode::BAD_REQUEST,
            "decode",
        )
        .await;
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/job/other/plan",
            Some(&json!({"Job": web(1)}).to_string()),
            StatusCode::BAD_REQUEST,
            "does not match",
        )
        .await;
        s.shutdown().await;
    });
}

#[test]
fn allocations_and_evaluations_by_id_and_prefix() {
    run(async {
        let s = Server::start(HttpLimits::default()).await;
        s.register(&web(2)).await;
        let node = s.seed_node(1);
        let a1 = s.seed_alloc("web", &node, 1);
        let a2 = s.seed_alloc("web", &node, 2);
        let (_, list) = s.get("/v1/allocations").await;
        assert_eq!(list.as_array().unwrap().len(), 2);
        assert!(list[0].get("Job").is_none(), "stubs leave out the job");
        assert_eq!(list[0]["JobType"], "service");
        let (st, one) = s.get(&format!("/v1/allocation/{}", a1.id)).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(one["ID"], a1.id.as_str());
        // A unique prefix finds it; a shared one names the candidates.
        let common: String = a1
            .id
            .as_str()
            .chars()
            .zip(a2.id.as_str().chars())
            .take_while(|(x, y)| x == y)
            .map(|(x, _)| x)
            .collect();
        let unique = &a1.id.as_str()[..common.len() + 1];
        let (st, one) = s.get(&format!("/v1/allocation/{unique}")).await;
        assert_eq!(st, StatusCode::OK, "{one}");
        assert_eq!(one["ID"], a1.id.as_str());
        if !common.is_empty() {
            assert_rejected(
                &s,
                Method::GET,
                &format!("/v1/allocation/{common}"),
                None,
                StatusCode::BAD_REQUEST,
                a2.id.as_str(),
            )
            .await;
        }
        assert_rejected(
            &s,
            Method::GET,
            "/v1/allocation/zzzz",
            None,
            StatusCode::NOT_FOUND,
            "not found",
        )
        .await;
        let (_, list) = s.get(&format!("/v1/allocations?prefix={unique}")).await;
        assert_eq!(list.as_array().unwrap().len(), 1);

        let (st, v) = s
            .put(&format!("/v1/allocation/{}/stop", a1.id), json!({}))
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let snap = s.backend.snapshot();
        assert_eq!(
            snap.alloc(&a1.id).unwrap().desired_status,
            sched_core::model::DesiredStatus::Stop
        );
        let eval_id = v["EvalID"].as_str().unwrap().to_string();
        assert_eq!(
            snap.eval(&sched_core::model::EvalId(eval_id.clone()))
                .unwrap()
                .triggered_by,
            "alloc-stop"
        );
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/allocation/zzzz/stop",
            None,
            StatusCode::NOT_FOUND,
            "not found",
        )
        .await;

        let (_, evals) = s.get("/v1/evaluations").await;
        assert_eq!(evals.as_array().unwrap().len(), 2);
        let (st, e) = s.get(&format!("/v1/evaluation/{}", &eval_id[..8])).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(e["ID"], eval_id.as_str());
        let (st, allocs) = s
            .get(&format!("/v1/evaluation/{}/allocations", a1.eval_id))
            .await;
        assert_eq!(st, StatusCode::OK, "{allocs}");
        assert_eq!(
            allocs.as_array().unwrap().len(),
            2,
            "both were placed by the register eval"
        );
        assert_rejected(
            &s,
            Method::GET,
            "/v1/evaluation/zzzz",
            None,
            StatusCode::NOT_FOUND,
            "not found",
        )
        .await;
        assert_rejected(
            &s,
            Method::GET,
            "/v1/evaluation/zzzz/allocations",
            None,
            StatusCode::NOT_FOUND,
            "not found",
        )
        .await;

        let (st, ds) = s.get("/v1/deployments").await;
        assert_eq!((st, ds), (StatusCode::OK, json!([])));
        assert_rejected(
            &s,
            Method::GET,
            "/v1/deployment/zzzz",
            None,
            StatusCode::NOT_FOUND,
            "not found",
        )
        .await;
        s.shutdown().await;
    });
}

#[test]
fn nodes_drain_and_eligibility() {
    run(async {
        let s = Server::start(HttpLimits::default()).await;
        s.register(&web(1)).await;
        let node = s.seed_node(1);
        s.seed_alloc("web", &node, 1);
        let (_, list) = s.get("/v1/nodes").await;
        assert_eq!(list[0]["ID"], node.id.as_str());
        assert_eq!(list[0]["Status"], "ready");
        let (st, n) = s.get(&format!("/v1/node/{}", &node.id.as_str()[..6])).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(n["Name"], "node-1");
        let (_, allocs) = s.get(&format!("/v1/node/{}/allocations", node.id)).await;
        assert_eq!(allocs.as_array().unwrap().len(), 1);

        let path = format!("/v1/node/{}/drain", node.id);
        let (st, v) = s
            .put(&path, json!({"DrainSpec": {"Deadline": 60_000_000_000i64}}))
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(
            v["EvalIDs"].as_array().unwrap().len(),
            1,
            "one eval for the job on the node"
        );
        let n = s.backend.snapshot().node(&node.id).unwrap();
        assert!(n.drain_strategy.is_some());
        assert_eq!(
            n.scheduling_eligibility,
            sched_core::model::NodeSchedulingEligibility::Ineligible
        );
        let elig = format!("/v1/node/{}/eligibility", node.id);
        assert_rejected(
            &s,
            Method::PUT,
            &elig,
            Some("{\"Eligibility\": \"eligible\"}"),
            StatusCode::BAD_REQUEST,
            "draining",
        )
        .await;
        let (st, _) = s
            .put(&path, json!({"DrainSpec": null, "MarkEligible": true}))
            .await;
        assert_eq!(st, StatusCode::OK);
        assert!(
            s.backend
                .snapshot()
                .node(&node.id)
                .unwrap()
                .drain_strategy
                .is_none()
        );
        let (st, _) = s.put(&elig, json!({"Eligibility": "ineligible"})).await;
        assert_eq!(st, StatusCode::OK);
        assert_rejected(
            &s,
            Method::PUT,
            &elig,
            Some("{\"Eligibility\": \"sometimes\"}"),
            StatusCode::BAD_REQUEST,
            "eligible or ineligible",
        )
        .await;
        assert_rejected(
            &s,
            Method::PUT,
            &path,
            Some("[1,2"),
            StatusCode::BAD_REQUEST,
            "decode",
        )
        .await;
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/node/zzzz/drain",
            Some("{}"),
            StatusCode::NOT_FOUND,
            "not found",
        )
        .await;
        assert_rejected(
            &s,
            Method::GET,
            "/v1/node/zzzz",
            None,
            StatusCode::NOT_FOUND,
            "not found",
        )
        .await;
        assert_rejected(
            &s,
            Method::GET,
            "/v1/node/zzzz/allocations",
            None,
            StatusCode::NOT_FOUND,
            "not found",
        )
        .await;
        s.shutdown().await;
    });
}

#[test]
fn status_agent_operator_and_metrics() {
    run(async {
        let s = Server::start(HttpLimits::default()).await;
        let (st, leader) = s.get("/v1/status/leader").await;
        assert_eq!((st, leader), (StatusCode::OK, json!("127.0.0.1:4647")));
        let (_, peers) = s.get("/v1/status/peers").await;
        assert_eq!(peers.as_array().unwrap().len(), 2);
        let (_, me) = s.get("/v1/agent/self").await;
        assert_eq!(me["config"]["Region"], "global");
        assert_eq!(me["member"]["Name"], "server-1");
        let (_, members) = s.get("/v1/agent/members").await;
        assert_eq!(members["Members"].as_array().unwrap().len(), 2);
        assert_eq!(members["Members"][0]["Tags"]["leader"], "true");
        let (st, _) = s.get("/v1/agent/health").await;
        assert_eq!(st, StatusCode::OK);
        let (_, regions) = s.get("/v1/regions").await;
        assert_eq!(regions, json!(["global"]));

        let (_, conf) = s.get("/v1/operator/raft/configuration").await;
        assert_eq!(conf["Servers"][0]["Leader"], true);
        assert_rejected(
            &s,
            Method::DELETE,
            "/v1/operator/raft/peer",
            None,
            StatusCode::BAD_REQUEST,
            "Must specify",
        )
        .await;
        assert_rejected(
            &s,
            Method::DELETE,
            "/v1/operator/raft/peer?id=abc",
            None,
            StatusCode::BAD_REQUEST,
            "Invalid peer id",
        )
        .await;
        assert_rejected(
            &s,
            Method::DELETE,
            "/v1/operator/raft/peer?id=9",
            None,
            StatusCode::NOT_FOUND,
            "no Raft peer",
        )
        .await;
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/operator/raft/transfer-leadership?id=1",
            None,
            StatusCode::BAD_REQUEST,
            "already leads",
        )
        .await;
        let (st, _, _) = s
            .call(Method::PUT, "/v1/operator/raft/transfer-leadership", None)
            .await;
        assert_eq!(st, StatusCode::OK);
        let (_, conf) = s.get("/v1/operator/raft/configuration").await;
        assert_eq!(conf["Servers"][1]["Leader"], true);
        let (st, _, _) = s
            .call(
                Method::DELETE,
                "/v1/operator/raft/peer?address=127.0.0.1:4747",
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let (_, conf) = s.get("/v1/operator/raft/configuration").await;
        assert_eq!(conf["Servers"].as_array().unwrap().len(), 1);

        let (st, m) = s.get("/v1/metrics").await;
        assert_eq!(st, StatusCode::OK);
        assert!(
            m["Counters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["Name"] == "nomad.http.requests")
        );
        let (st, _, text) = s
            .call(Method::GET, "/v1/metrics?format=prometheus", None)
            .await;
        assert_eq!(st, StatusCode::OK);
        assert!(text.contains("# TYPE nomad_state_jobs gauge"));
        assert_rejected(
            &s,
            Method::GET,
            "/v1/metrics?format=xml",
            None,
            StatusCode::BAD_REQUEST,
            "Invalid format",
        )
        .await;

        // Without a leader: writes and consistent reads say so; stale reads work.
        s.backend.set_leader(false);
        let (st, _) = s.get("/v1/agent/health").await;
        assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
        assert_rejected(
            &s,
            Method::GET,
            "/v1/jobs",
            None,
            StatusCode::SERVICE_UNAVAILABLE,
            "No cluster leader",
        )
        .await;
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/jobs",
            Some(&json!({"Job": web(1)}).to_string()),
            StatusCode::SERVICE_UNAVAILABLE,
            "No cluster leader",
        )
        .await;
        let (st, headers, _) = s.call(Method::GET, "/v1/jobs?stale", None).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(headers["X-Nomad-KnownLeader"], "false");
        s.shutdown().await;
    });
}

#[test]
fn variables_with_check_and_set() {
    run(async {
        let s = Server::start(HttpLimits::default()).await;
        let (st, v) = s
            .put(
                "/v1/var/nomad/jobs/web",
                json!({"Items": {"db": "10.0.0.1"}}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let idx = v["ModifyIndex"].as_u64().unwrap();
        let (_, got) = s.get("/v1/var/nomad/jobs/web").await;
        assert_eq!(got["Items"]["db"], "10.0.0.1");
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/var/nomad/jobs/web?cas=0",
            Some("{\"Items\": {\"a\": \"b\"}}"),
            StatusCode::CONFLICT,
            "compare-and-set",
        )
        .await;
        let (st, _) = s
            .put(
                &format!("/v1/var/nomad/jobs/web?cas={idx}"),
                json!({"Items": {"db": "10.0.0.2"}}),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let (_, list) = s.get("/v1/vars?prefix=nomad/").await;
        assert_eq!(list[0]["Path"], "nomad/jobs/web");
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/var/a//b",
            Some("{\"Items\": {\"a\": \"b\"}}"),
            StatusCode::BAD_REQUEST,
            "invalid variable path",
        )
        .await;
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/var/x",
            Some("{\"Items\": {}}"),
            StatusCode::BAD_REQUEST,
            "at least one item",
        )
        .await;
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/var/x",
            Some("{\"Items\": 3}"),
            StatusCode::BAD_REQUEST,
            "decode",
        )
        .await;
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/var/x?cas=z",
            Some("{\"Items\": {\"a\": \"b\"}}"),
            StatusCode::BAD_REQUEST,
            "cas",
        )
        .await;
        assert_rejected(
            &s,
            Method::DELETE,
            "/v1/var/nomad/jobs/web?cas=1",
            None,
            StatusCode::CONFLICT,
            "compare-and-set",
        )
        .await;
        let (st, _, _) = s.call(Method::DELETE, "/v1/var/nomad/jobs/web", None).await;
        assert_eq!(st, StatusCode::OK);
        assert_rejected(
            &s,
            Method::GET,
            "/v1/var/nomad/jobs/web",
            None,
            StatusCode::NOT_FOUND,
            "not found",
        )
        .await;
        assert_rejected(
            &s,
            Method::DELETE,
            "/v1/var/nomad/jobs/web",
            None,
            StatusCode::NOT_FOUND,
            "not found",
        )
        .await;
        s.shutdown().await;
    });
}

#[test]
fn parse_and_validate() {
    run(async {
        let s = Server::start(HttpLimits::default()).await;
        let hcl = r#"job "hello" {
  group "g" {
    task "t" {
      driver = "raw_exec"
      config { command = "/bin/echo" }
    }
  }
}"#;
        let (st, job) = s
            .put(
                "/v1/jobs/parse",
                json!({"JobHCL": hcl, "Canonicalize": true}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{job}");
        assert_eq!(job["ID"], "hello");
        assert_eq!(job["TaskGroups"][0]["Tasks"][0]["Driver"], "raw_exec");
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/jobs/parse",
            Some("{\"JobHCL\": \"job {\"}"),
            StatusCode::BAD_REQUEST,
            "Failed to parse job",
        )
        .await;
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/jobs/parse",
            Some("{}"),
            StatusCode::BAD_REQUEST,
            "JobHCL",
        )
        .await;

        let (st, v) = s.put("/v1/validate/job", json!({"Job": web(1)})).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(v["ValidationErrors"], json!([]));
        let (st, v) = s
            .put(
                "/v1/validate/job",
                json!({"Job": {"ID": "x", "TaskGroups": [{"Name": "g", "Count": -1}]}}),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        assert!(v["ValidationErrors"].as_array().unwrap().len() >= 2, "{v}");
        assert_rejected(
            &s,
            Method::PUT,
            "/v1/validate/job",
            Some("nope"),
            StatusCode::BAD_REQUEST,
            "decode",
        )
        .await;
        s.shutdown().await;
    });
}

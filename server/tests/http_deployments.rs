//! The deployment endpoints end to end over loopback: reads, blocking
//! queries, promote, fail, pause/resume and allocation health, and their
//! answers to bad input (4xx with a message, the state unchanged).
// Test helpers outside #[test] functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use sched_core::model::{DeploymentState, DeploymentStatus, Duration as Span};
use sched_server::fsm::deployment_fixture::{self as fixture, GROUP, JOB, alloc_id, deployment_id};
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
    /// A server whose state holds the fixture's job and deployment.
    async fn start(group: DeploymentState, allocs: usize, canaries: usize) -> Server {
        let backend = TestBackend::new(NOW);
        for cmd in fixture::setup(group, allocs, canaries, NOW) {
            assert_eq!(backend.apply_now(cmd).error, None);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(backend.clone(), HttpLimits::default());
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

    async fn call(&self, method: Method, path: &str, body: Option<&str>) -> (StatusCode, String) {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(b) = body {
            req = req.body(b.to_owned());
        }
        let resp = req.send().await.unwrap();
        (resp.status(), resp.text().await.unwrap())
    }

    async fn json(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let text = body.map(|b| b.to_string());
        let (s, t) = self.call(method, path, text.as_deref()).await;
        (s, serde_json::from_str(&t).unwrap_or(Value::String(t)))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.json(Method::GET, path, None).await
    }

    async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.json(Method::PUT, path, Some(body)).await
    }

    fn tables(&self) -> Vec<u64> {
        use sched_server::state::Table::*;
        let snap = self.backend.snapshot();
        [Jobs, Evals, Allocs, Nodes, Deployments, Variables, Servers]
            .iter()
            .map(|t| snap.table_index(*t))
            .collect()
    }

    fn deployment(&self) -> Arc<sched_core::model::Deployment> {
        self.backend
            .snapshot()
            .deployment(&deployment_id())
            .unwrap()
    }

    async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }

    /// A 4xx with a message naming `needle`, and the state untouched.
    async fn rejected(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
        want: StatusCode,
        needle: &str,
    ) {
        let before = self.tables();
        let (status, text) = self.call(method.clone(), path, body).await;
        assert_eq!(status, want, "{method} {path}: {text}");
        assert!(
            text.contains(needle),
            "{method} {path}: {text:?} lacks {needle:?}"
        );
        assert_eq!(self.tables(), before, "{method} {path} changed the state");
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

fn group(total: i64, canaries: i64, auto_revert: bool) -> DeploymentState {
    DeploymentState {
        desired_total: total,
        desired_canaries: canaries,
        auto_revert,
        progress_deadline: Span(600_000_000_000),
        ..DeploymentState::default()
    }
}

fn id() -> String {
    deployment_id().to_string()
}

/// Checks a `DeploymentUpdateResponse` and answers its eval ID.
fn update_response(v: &Value) -> String {
    let index = v["Index"].as_u64().unwrap();
    assert!(index > 0, "{v}");
    assert_eq!(v["DeploymentModifyIndex"].as_u64(), Some(index), "{v}");
    v["EvalID"].as_str().unwrap().to_owned()
}

#[test]
fn reads_list_one_allocations_and_the_jobs_deployments() {
    run(async {
        let s = Server::start(group(3, 0, false), 3, 0).await;
        let (st, list) = s.get("/v1/deployments").await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(list[0]["ID"], json!(id()));
        assert_eq!(list[0]["Status"], json!("running"));
        let (_, none) = s.get("/v1/deployments?prefix=ffff").await;
        assert_eq!(none, json!([]));
        let prefix = &id()[..8];
        let (_, some) = s.get(&format!("/v1/deployments?prefix={prefix}")).await;
        assert_eq!(some.as_array().unwrap().len(), 1);

        let (st, d) = s.get(&format!("/v1/deployment/{prefix}")).await;
        assert_eq!(st, StatusCode::OK, "{d}");
        assert_eq!(d["JobID"], json!(JOB));
        assert_eq!(d["JobVersion"], json!(1));
        assert_eq!(d["TaskGroups"][GROUP]["DesiredTotal"], json!(3));
        assert_eq!(d["TaskGroups"][GROUP]["PlacedAllocs"], json!(3));

        let (st, allocs) = s.get(&format!("/v1/deployment/allocations/{}", id())).await;
        assert_eq!(st, StatusCode::OK);
        let allocs = allocs.as_array().unwrap();
        assert_eq!(allocs.len(), 3);
        assert!(allocs.iter().all(|a| a["DeploymentID"] == json!(id())));
        assert!(allocs.iter().all(|a| a.get("Job").is_none()), "stubs");

        let (st, ds) = s.get(&format!("/v1/job/{JOB}/deployments")).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(ds.as_array().unwrap().len(), 1);
        let (st, latest) = s.get(&format!("/v1/job/{JOB}/deployment")).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(latest["ID"], json!(id()));
        let (st, none) = s.get("/v1/job/other/deployment").await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(none, Value::Null);
        let (_, none) = s.get("/v1/job/other/deployments").await;
        assert_eq!(none, json!([]));

        for path in [
            "/v1/deployment/ffffffff-0000-0000-0000-000000000000".to_string(),
            "/v1/deployment/allocations/ffffffff".to_string(),
        ] {
            s.rejected(
                Method::GET,
                &path,
                None,
                StatusCode::NOT_FOUND,
                "deployment not found",
            )
            .await;
        }
        s.rejected(
            Method::GET,
            "/v1/deployments?index=x",
            None,
            StatusCode::BAD_REQUEST,
            "Invalid index",
        )
        .await;
        s.rejected(
            Method::GET,
            &format!("/v1/job/{JOB}/deployments?all=maybe"),
            None,
            StatusCode::BAD_REQUEST,
            "Invalid all value",
        )
        .await;
        s.shutdown().await;
    });
}

#[test]
fn a_blocking_query_wakes_when_the_deployment_changes() {
    run(async {
        let s = Arc::new(Server::start(group(3, 0, false), 3, 0).await);
        let index = s
            .backend
            .snapshot()
            .table_index(sched_server::state::Table::Deployments);
        let waiter = {
            let s = s.clone();
            tokio::spawn(async move {
                s.get(&format!("/v1/deployment/{}?index={index}&wait=20s", id()))
                    .await
            })
        };
        // Blocks until the client's report moves the counts.
        assert_eq!(
            s.backend.apply_now(fixture::report(&[0], true, NOW)).error,
            None
        );
        let (st, d) = tokio::time::timeout(Duration::from_secs(25), waiter)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(st, StatusCode::OK);
        assert_eq!(d["TaskGroups"][GROUP]["HealthyAllocs"], json!(1));
        assert!(d["ModifyIndex"].as_u64().unwrap() > index);
    });
}

#[test]
fn promote_refuses_unhealthy_canaries_then_promotes() {
    run(async {
        let s = Server::start(group(3, 2, false), 2, 2).await;
        let path = format!("/v1/deployment/promote/{}", id());
        let body = json!({"DeploymentID": id(), "All": true}).to_string();
        s.rejected(
            Method::PUT,
            &path,
            Some(&body),
            StatusCode::BAD_REQUEST,
            "0/2 healthy canaries",
        )
        .await;
        s.backend.apply_now(fixture::report(&[0, 1], true, NOW));
        // Bad input first: each refused without a change.
        for (bad, needle) in [
            ("{", "Failed to decode request body"),
            ("", "Request body is empty"),
            (
                r#"{"DeploymentID": "x", "All": true}"#,
                "Deployment ID does not match",
            ),
            (
                r#"{"All": false}"#,
                "All set to true or a non-empty list of Groups",
            ),
            (r#"{"Groups": ["db"]}"#, "no task group \"db\""),
            (r#"{"All": "yes"}"#, "Failed to decode request body"),
        ] {
            s.rejected(
                Method::PUT,
                &path,
                Some(bad),
                StatusCode::BAD_REQUEST,
                needle,
            )
            .await;
        }
        s.rejected(
            Method::PUT,
            "/v1/deployment/promote/ffffffff",
            Some(r#"{"All": true}"#),
            StatusCode::NOT_FOUND,
            "deployment not found",
        )
        .await;
        s.rejected(Method::GET, &path, None, StatusCode::METHOD_NOT_ALLOWED, "")
            .await;

        // A unique prefix in the path, the full ID in the body.
        let (st, v) = s
            .json(
                Method::POST,
                &format!("/v1/deployment/promote/{}", &id()[..8]),
                Some(json!({"DeploymentID": id(), "Groups": [GROUP]})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let eval_id = update_response(&v);
        assert!(v["EvalCreateIndex"].as_u64().unwrap() > 0);
        assert!(s.deployment().task_groups[GROUP].promoted);
        let (_, e) = s.get(&format!("/v1/evaluation/{eval_id}")).await;
        assert_eq!(e["TriggeredBy"], json!("deployment-watcher"));
        assert_eq!(e["DeploymentID"], json!(id()));
        s.shutdown().await;
    });
}

#[test]
fn fail_reverts_to_the_stable_version_and_refuses_terminal_deployments() {
    run(async {
        let s = Server::start(group(3, 0, true), 3, 0).await;
        let path = format!("/v1/deployment/fail/{}", id());
        let (st, v) = s.json(Method::PUT, &path, None).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        update_response(&v);
        assert_eq!(v["RevertedJobVersion"], json!(2));
        let d = s.deployment();
        assert_eq!(d.status, DeploymentStatus::Failed);
        assert_eq!(
            d.status_description,
            "Deployment marked as failed - rolling back to job version 0"
        );
        let (_, job) = s.get(&format!("/v1/job/{JOB}")).await;
        assert_eq!(job["Version"], json!(2));
        assert_eq!(job["Priority"], json!(fixture::job(0).priority));

        s.rejected(
            Method::POST,
            &path,
            None,
            StatusCode::BAD_REQUEST,
            "can't fail terminal deployment",
        )
        .await;
        s.rejected(
            Method::PUT,
            "/v1/deployment/fail/ffffffff",
            None,
            StatusCode::NOT_FOUND,
            "deployment not found",
        )
        .await;
        s.rejected(
            Method::DELETE,
            &path,
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "",
        )
        .await;
        s.shutdown().await;
    });
}

#[test]
fn pause_and_resume() {
    run(async {
        let s = Server::start(group(3, 0, false), 3, 0).await;
        let path = format!("/v1/deployment/pause/{}", id());
        let (st, v) = s
            .put(&path, json!({"DeploymentID": id(), "Pause": true}))
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(update_response(&v), "", "pausing creates no eval");
        assert_eq!(v["EvalCreateIndex"], json!(0));
        assert_eq!(s.deployment().status, DeploymentStatus::Paused);
        assert_eq!(s.deployment().status_description, "Deployment is paused");

        for (bad, needle) in [
            (r#"{"DeploymentID": "x"}"#, "missing field `Pause`"),
            (r#"{"Pause": 1}"#, "Failed to decode request body"),
            (r#"[]"#, "Failed to decode request body"),
        ] {
            s.rejected(
                Method::PUT,
                &path,
                Some(bad),
                StatusCode::BAD_REQUEST,
                needle,
            )
            .await;
        }

        let (st, v) = s.put(&path, json!({"Pause": false})).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert!(!update_response(&v).is_empty(), "resuming creates an eval");
        assert_eq!(s.deployment().status, DeploymentStatus::Running);

        s.backend
            .apply_now(sched_server::fsm::Command::DeploymentStatusUpdate {
                update: sched_core::model::DeploymentStatusUpdate {
                    deployment_id: deployment_id(),
                    status: DeploymentStatus::Successful,
                    status_description: "Deployment completed successfully".into(),
                },
                job: None,
                eval: None,
                now: NOW,
            });
        s.rejected(
            Method::PUT,
            &path,
            Some(r#"{"Pause": true}"#),
            StatusCode::BAD_REQUEST,
            "can't pause terminal deployment",
        )
        .await;
        s.shutdown().await;
    });
}

#[test]
fn allocation_health_marks_allocations_and_fails_on_unhealthy_ones() {
    run(async {
        let s = Server::start(group(3, 0, true), 3, 0).await;
        let path = format!("/v1/deployment/allocation-health/{}", id());
        let (st, v) = s
            .put(
                &path,
                json!({"DeploymentID": id(), "HealthyAllocationIDs": [alloc_id(0), alloc_id(1)]}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert!(!update_response(&v).is_empty());
        assert_eq!(s.deployment().task_groups[GROUP].healthy_allocs, 2);
        let (_, a) = s.get(&format!("/v1/allocation/{}", alloc_id(0))).await;
        assert_eq!(a["DeploymentStatus"]["Healthy"], json!(true));

        let unknown = "ffffffff-0000-0000-0000-000000000000";
        for (bad, needle) in [
            (json!({}).to_string(), "at least one healthy/unhealthy allocation ID"),
            (
                json!({"HealthyAllocationIDs": [], "UnhealthyAllocationIDs": []}).to_string(),
                "at least one healthy/unhealthy allocation ID",
            ),
            (
                json!({"HealthyAllocationIDs": [unknown]}).to_string(),
                "not part of deployment",
            ),
            (
                json!({"HealthyAllocationIDs": [alloc_id(2)], "UnhealthyAllocationIDs": [alloc_id(2)]})
                    .to_string(),
                "both healthy and unhealthy",
            ),
            (
                json!({"HealthyAllocationIDs": "nope"}).to_string(),
                "Failed to decode request body",
            ),
        ] {
            s.rejected(Method::PUT, &path, Some(&bad), StatusCode::BAD_REQUEST, needle)
                .await;
        }
        s.rejected(
            Method::PUT,
            "/v1/deployment/allocation-health/ffffffff",
            Some(&json!({"HealthyAllocationIDs": [alloc_id(0)]}).to_string()),
            StatusCode::NOT_FOUND,
            "deployment not found",
        )
        .await;

        let (st, v) = s
            .put(&path, json!({"UnhealthyAllocationIDs": [alloc_id(2)]}))
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["RevertedJobVersion"], json!(2));
        let d = s.deployment();
        assert_eq!(d.status, DeploymentStatus::Failed);
        assert_eq!(
            d.status_description,
            "Failed due to unhealthy allocations - rolling back to job version 0"
        );
        assert_eq!(d.task_groups[GROUP].unhealthy_allocs, 1);
        s.shutdown().await;
    });
}

//! Preemption and the scheduler configuration on the server: the FSM evicts
//! preempted allocations (recording who preempted them) and creates the
//! evaluations that reschedule them; the configuration is replicated state
//! (compare-and-set, persisted, in snapshots); and
//! `/v1/operator/scheduler/configuration` reads and writes it, refusing bad
//! input without changing anything.
// Test helpers outside #[test] functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod fsm_support;

use std::sync::Arc;
use std::time::Duration;

use fsm_support::{alloc, apply_all, eval, job, node, open};
use reqwest::{Method, StatusCode};
use sched_core::model::{
    AllocId, DesiredStatus, EvalStatus, PreemptionConfig, SchedulerAlgorithm,
    SchedulerConfiguration,
};
use sched_server::fsm::{AllocStop, Command, Fsm};
use sched_server::http::{HttpLimits, TestBackend, router, serve};
use sched_server::raft::StateMachine;
use sched_server::state::Table;
use serde_json::{Value, json};

const NOW: i64 = 1_700_000_000_000_000_000;

#[test]
fn a_committed_plan_evicts_preempted_allocations_and_creates_their_evaluations() {
    let mut o = open();
    let n = node(1);
    let (low, high) = (job(1, 20), job(2, 80));
    let victim = alloc(10, &low, &n);
    let mut preemptor = alloc(20, &high, &n);
    preemptor.preempted_allocations = vec![victim.id.clone()];
    let mut resched = eval(30, "job-1", NOW);
    resched.triggered_by = "preemption".into();
    resched.priority = 20;
    let responses = apply_all(
        &mut o.fsm,
        &[
            Command::NodeRegister {
                node: Box::new(n.clone()),
                evals: vec![],
                now: NOW,
            },
            Command::JobRegister {
                job: Box::new(low.clone()),
                eval: None,
                submission: None,
                now: NOW,
            },
            Command::JobRegister {
                job: Box::new(high.clone()),
                eval: None,
                submission: None,
                now: NOW,
            },
            Command::ApplyPlanResult {
                job: Some(Box::new(low.clone())),
                allocs: vec![victim.clone()],
                stopped: vec![],
                preempted: vec![],
                deployment: None,
                deployment_updates: vec![],
                evals: vec![],
                now: NOW,
            },
            Command::ApplyPlanResult {
                job: Some(Box::new(high.clone())),
                allocs: vec![preemptor.clone()],
                stopped: vec![],
                preempted: vec![AllocStop {
                    alloc_id: victim.id.clone(),
                    description: format!("Preempted by alloc ID {}", preemptor.id),
                    client_status: None,
                }],
                deployment: None,
                deployment_updates: vec![],
                evals: vec![resched.clone()],
                now: NOW + 1,
            },
        ],
    );
    assert!(responses.iter().all(|r| r.error.is_none()), "{responses:?}");
    let s = o.reader.snapshot();
    let evicted = s.alloc(&victim.id).unwrap();
    assert_eq!(evicted.desired_status, DesiredStatus::Evict);
    assert_eq!(
        evicted.desired_description,
        format!("Preempted by alloc ID {}", preemptor.id)
    );
    assert_eq!(evicted.preempted_by_allocation, Some(preemptor.id.clone()));
    assert_eq!(evicted.modify_time, NOW + 1);
    let placed = s.alloc(&preemptor.id).unwrap();
    assert_eq!(placed.preempted_allocations, vec![victim.id.clone()]);
    let created = s.eval(&resched.id).unwrap();
    assert_eq!(
        (created.triggered_by.as_str(), created.status),
        ("preemption", EvalStatus::Pending)
    );
    // The record survives a snapshot and a restore.
    let bytes = o.fsm.snapshot();
    let mut other = open();
    other.fsm.restore(o.fsm.applied_index(), &bytes).unwrap();
    let again = other.reader.snapshot();
    assert_eq!(
        again.alloc(&victim.id).unwrap().preempted_by_allocation,
        Some(preemptor.id.clone())
    );
    assert!(again.alloc(&AllocId::from_u128(20)).is_some());
}

fn config(service: bool) -> SchedulerConfiguration {
    SchedulerConfiguration {
        scheduler_algorithm: SchedulerAlgorithm::Spread,
        preemption_config: PreemptionConfig {
            service_scheduler_enabled: service,
            ..PreemptionConfig::default()
        },
        ..SchedulerConfiguration::default()
    }
}

#[test]
fn the_scheduler_configuration_is_replicated_state_with_compare_and_set() {
    let mut o = open();
    assert_eq!(
        o.reader.snapshot().scheduler_config(),
        SchedulerConfiguration::default()
    );
    let r = apply_all(
        &mut o.fsm,
        &[
            // cas 0: only when none is set.
            Command::SchedulerSetConfig {
                config: config(true),
                cas: Some(0),
            },
            // A stale cas changes nothing.
            Command::SchedulerSetConfig {
                config: config(false),
                cas: Some(99),
            },
        ],
    );
    assert_eq!(r[0].error, None);
    assert!(r[1].error.as_deref().unwrap().contains("compare-and-set"));
    let s = o.reader.snapshot();
    let c = s.scheduler_config();
    assert_eq!((c.create_index, c.modify_index), (1, 1));
    assert!(c.preemption_config.service_scheduler_enabled);
    assert_eq!(c.scheduler_algorithm, SchedulerAlgorithm::Spread);
    assert_eq!(s.table_index(Table::SchedulerConfig), 1);
    let r = apply_all(
        &mut o.fsm,
        &[Command::SchedulerSetConfig {
            config: config(false),
            cas: Some(1),
        }],
    );
    assert_eq!(r[0].error, None);
    let c = o.reader.snapshot().scheduler_config();
    assert_eq!((c.create_index, c.modify_index), (1, 3));
    assert!(!c.preemption_config.service_scheduler_enabled);

    // Persisted: a reopened db has it; and a snapshot carries it.
    let bytes = o.fsm.snapshot();
    let index = o.fsm.applied_index();
    let dir = o.dir;
    drop(o.fsm);
    drop(o.db);
    let db = sled::open(dir.path()).unwrap();
    let (_again, reader) = Fsm::open(&db).unwrap();
    assert_eq!(reader.snapshot().scheduler_config(), c);
    let mut fresh = open();
    fresh.fsm.restore(index, &bytes).unwrap();
    assert_eq!(fresh.reader.snapshot().scheduler_config(), c);
}

struct Server {
    base: String,
    backend: Arc<TestBackend>,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    async fn start() -> Server {
        let backend = TestBackend::new(NOW);
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

    async fn get_config(&self) -> Value {
        let (s, body) = self
            .call(Method::GET, "/v1/operator/scheduler/configuration", None)
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
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

const PATH: &str = "/v1/operator/scheduler/configuration";

#[test]
fn scheduler_configuration_over_http_reads_writes_and_refuses_bad_input() {
    run(async {
        let s = Server::start().await;
        let v = s.get_config().await;
        assert_eq!(v["SchedulerConfig"]["SchedulerAlgorithm"], "binpack");
        assert_eq!(
            v["SchedulerConfig"]["PreemptionConfig"],
            json!({"SystemSchedulerEnabled": true, "SysBatchSchedulerEnabled": false,
                   "BatchSchedulerEnabled": false, "ServiceSchedulerEnabled": false})
        );

        let body = json!({"SchedulerAlgorithm": "spread",
            "PreemptionConfig": {"SystemSchedulerEnabled": true, "ServiceSchedulerEnabled": true},
            "MemoryOversubscriptionEnabled": false});
        let (st, text) = s.call(Method::PUT, PATH, Some(&body.to_string())).await;
        assert_eq!(st, StatusCode::OK, "{text}");
        let r: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(r["Updated"], true);
        let v = s.get_config().await;
        let c = &v["SchedulerConfig"];
        assert_eq!(c["SchedulerAlgorithm"], "spread");
        assert_eq!(c["PreemptionConfig"]["ServiceSchedulerEnabled"], true);
        assert_eq!(c["ModifyIndex"], r["Index"]);
        let stored = s.backend.snapshot().scheduler_config();

        // Bad input: 400 with a message naming the problem, nothing changed.
        for (body, needle) in [
            ("{\"SchedulerAlgorithm\": \"binpack\",", "Failed to decode"),
            ("[1, 2]", "Failed to decode"),
            ("", "empty"),
            ("{\"Bogus\": true}", "Bogus"),
            (
                "{\"PreemptionConfig\": {\"ServiceSchedulerEnabeld\": true}}",
                "ServiceSchedulerEnabeld",
            ),
            (
                "{\"PreemptionConfig\": {\"SystemSchedulerEnabled\": \"yes\"}}",
                "invalid type",
            ),
            ("{\"SchedulerAlgorithm\": \"random\"}", "SchedulerAlgorithm"),
            (
                "{\"MemoryOversubscriptionEnabled\": true}",
                "MemoryOversubscriptionEnabled",
            ),
        ] {
            let before = s.backend.snapshot().table_index(Table::SchedulerConfig);
            let (st, text) = s.call(Method::PUT, PATH, Some(body)).await;
            assert_eq!(st, StatusCode::BAD_REQUEST, "{body}: {text}");
            assert!(text.contains(needle), "{body}: {text:?} lacks {needle:?}");
            let snap = s.backend.snapshot();
            assert_eq!(snap.table_index(Table::SchedulerConfig), before, "{body}");
            assert_eq!(snap.scheduler_config(), stored, "{body}");
        }
        let (st, text) = s
            .call(Method::PUT, &format!("{PATH}?cas=x"), Some("{}"))
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{text}");
        assert!(text.contains("cas"));
        assert_eq!(s.backend.snapshot().scheduler_config(), stored);

        // A stale cas is not applied, as Nomad answers it.
        let stale = stored.modify_index + 100;
        let (st, text) = s
            .call(Method::PUT, &format!("{PATH}?cas={stale}"), Some("{}"))
            .await;
        assert_eq!(st, StatusCode::OK, "{text}");
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap()["Updated"],
            false
        );
        assert_eq!(s.backend.snapshot().scheduler_config(), stored);
        let cas = stored.modify_index;
        let (st, text) = s
            .call(Method::POST, &format!("{PATH}?cas={cas}"), Some("{}"))
            .await;
        assert_eq!(st, StatusCode::OK, "{text}");
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap()["Updated"],
            true
        );
        // An empty object puts the defaults back.
        let v = s.get_config().await;
        assert_eq!(v["SchedulerConfig"]["SchedulerAlgorithm"], "binpack");
        assert_eq!(
            v["SchedulerConfig"]["PreemptionConfig"]["ServiceSchedulerEnabled"],
            false
        );
        s.shutdown().await;
    });
}

//! The client against the real router served on a loopback port.
// Test helpers outside #[test] functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sched_api::{Client, DrainSpec, Error, QueryOptions};
use sched_scheduler::mock;
use sched_server::fsm::Command;
use sched_server::http::{HttpLimits, TestBackend, router, serve};

const NOW: i64 = 1_700_000_000_000_000_000;

fn run<F: std::future::Future<Output = ()>>(f: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f);
}

async fn start() -> (Client, Arc<TestBackend>, tokio::sync::oneshot::Sender<()>) {
    let backend = TestBackend::new(NOW);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(
        listener,
        router(backend.clone(), HttpLimits::default()),
        async move {
            let _ = rx.await;
        },
    ));
    (Client::new(&addr.to_string()).unwrap(), backend, tx)
}

#[test]
fn nothing_listening_is_explained() {
    run(async {
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let c = Client::from_env(Some(&format!("http://{addr}"))).unwrap();
        let e = c.jobs(&QueryOptions::default()).await.unwrap_err();
        assert!(matches!(e, Error::Unreachable { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains(&format!("no agent at http://{addr}")), "{msg}");
        assert!(msg.contains("sched agent -dev"), "{msg}");
    });
}

#[test]
fn jobs_round_trip_with_blocking_queries() {
    run(async {
        let (c, _backend, _stop) = start().await;
        let job = mock::service_job("web", 2, 100, 128);
        let r = c.register(&job).await.unwrap();
        assert!(!r.eval_id.is_empty());
        let (jobs, meta) = c.jobs(&QueryOptions::default()).await.unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].id, "web");
        assert_eq!(meta.last_index, r.index);
        assert!(meta.known_leader);

        let (got, _) = c.job("web", &QueryOptions::default()).await.unwrap();
        assert_eq!(got.version, Some(0));
        let (evals, _) = c
            .job_evaluations("web", &QueryOptions::default())
            .await
            .unwrap();
        assert_eq!(evals[0].id.as_str(), r.eval_id);
        let (summary, _) = c
            .job_summary("web", &QueryOptions::default())
            .await
            .unwrap();
        assert!(summary.summary.contains_key("web"));

        // A blocking query returns once the next version lands.
        let waiter = {
            let c = c.clone();
            let idx = meta.last_index;
            tokio::spawn(async move {
                c.jobs(&QueryOptions::blocking(idx, Duration::from_secs(60)))
                    .await
            })
        };
        let r2 = c.scale("web", "web", 3).await.unwrap();
        let (_, meta2) = waiter.await.unwrap().unwrap();
        assert!(meta2.last_index >= r2.index);
        let (versions, _) = c
            .job_versions("web", &QueryOptions::default())
            .await
            .unwrap();
        assert_eq!(versions.len(), 2);

        let e = c.job("nope", &QueryOptions::default()).await.unwrap_err();
        assert!(e.is_not_found(), "{e}");
        assert!(e.to_string().contains("job not found"), "{e}");

        let mut bad = job.clone();
        bad.task_groups = Some(vec![]);
        let e = c.register(&bad).await.unwrap_err();
        assert_eq!(e.status(), Some(400), "{e}");
        let v = c.validate_job(&bad).await.unwrap();
        assert!(!v.validation_errors.is_empty());

        let stale = c.register_check_index(&job, 1).await.unwrap_err();
        assert_eq!(stale.status(), Some(409));
        let e = c.evaluate_job("web").await.unwrap();
        assert!(!e.eval_id.is_empty());
        c.revert("web", 0).await.unwrap();
        let d = c.deregister("web", None, true).await.unwrap();
        assert!(!d.eval_id.is_empty());
        assert!(
            c.job("web", &QueryOptions::default())
                .await
                .unwrap_err()
                .is_not_found()
        );
    });
}

#[test]
fn plan_parse_and_dispatch() {
    run(async {
        let (c, backend, _stop) = start().await;
        backend.apply_now(Command::NodeRegister {
            node: Box::new(mock::node(1)),
            evals: vec![],
            now: NOW,
        });
        let plan = c
            .plan(&mock::service_job("web", 2, 100, 128), true)
            .await
            .unwrap();
        assert_eq!(plan.annotations.desired_tg_updates["web"].place, 2);
        assert_eq!(plan.diff.unwrap()["Type"], "Added");

        let job = c
            .parse_job("job \"p\" {\n type = \"batch\"\n parameterized {\n meta_required = [\"k\"]\n }\n group \"g\" {\n task \"t\" {\n driver = \"raw_exec\"\n config { command = \"/bin/true\" }\n }\n }\n}\n", true)
            .await
            .unwrap();
        assert_eq!(job.id.as_deref(), Some("p"));
        c.register(&job).await.unwrap();
        let meta = BTreeMap::from([("k".to_string(), "v".to_string())]);
        let a = c.dispatch("p", &meta, None, Some("tok")).await.unwrap();
        let b = c.dispatch("p", &meta, None, Some("tok")).await.unwrap();
        assert_eq!(a.dispatched_job_id, b.dispatched_job_id);
        let (child, _) = c
            .job(&a.dispatched_job_id, &QueryOptions::default())
            .await
            .unwrap();
        assert_eq!(child.parent_id.as_deref(), Some("p"));
        let e = c
            .dispatch("p", &BTreeMap::new(), None, None)
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(400));
    });
}

#[test]
fn nodes_allocs_cluster_and_variables() {
    run(async {
        let (c, backend, _stop) = start().await;
        let job = mock::service_job("web", 1, 100, 128);
        c.register(&job).await.unwrap();
        let node = mock::node(1);
        backend.apply_now(Command::NodeRegister {
            node: Box::new(node.clone()),
            evals: vec![],
            now: NOW,
        });
        let stored = backend.snapshot().job("default", "web").unwrap();
        let mut alloc = mock::alloc(&stored, &node, 1);
        alloc.job = Some(stored);
        backend.apply_now(Command::ApplyPlanResult {
            job: None,
            allocs: vec![alloc.clone()],
            stopped: vec![],
            preempted: vec![],
            deployment: None,
            deployment_updates: vec![],
            evals: vec![],
            now: NOW,
        });

        let (nodes, _) = c.nodes(&QueryOptions::default()).await.unwrap();
        assert_eq!(nodes[0].id, node.id.as_str());
        let (n, _) = c
            .node(&node.id.as_str()[..8], &QueryOptions::default())
            .await
            .unwrap();
        assert_eq!(n.name, "node-1");
        let r = c
            .drain(
                node.id.as_str(),
                Some(&DrainSpec {
                    deadline: 1_000_000_000,
                    ignore_system_jobs: false,
                }),
                false,
            )
            .await
            .unwrap();
        assert_eq!(r.eval_ids.len(), 1);
        c.drain(node.id.as_str(), None, true).await.unwrap();
        c.eligibility(node.id.as_str(), false).await.unwrap();
        let (na, _) = c
            .node_allocations(node.id.as_str(), &QueryOptions::default())
            .await
            .unwrap();
        assert_eq!(na.len(), 1);

        let (allocs, _) = c
            .allocations(&QueryOptions::with_prefix(&alloc.id.as_str()[..4]))
            .await
            .unwrap();
        assert_eq!(allocs[0].id, alloc.id.as_str());
        let (a, _) = c
            .allocation(alloc.id.as_str(), &QueryOptions::default())
            .await
            .unwrap();
        assert_eq!(a.task_group, "web");
        let stop = c.stop_allocation(alloc.id.as_str()).await.unwrap();
        let (e, _) = c
            .evaluation(&stop.eval_id, &QueryOptions::default())
            .await
            .unwrap();
        assert_eq!(e.triggered_by, "alloc-stop");

        assert_eq!(c.status_leader().await.unwrap(), "127.0.0.1:4647");
        assert_eq!(c.status_peers().await.unwrap().len(), 2);
        assert_eq!(c.agent_members().await.unwrap().members.len(), 2);
        assert_eq!(c.agent_self().await.unwrap()["config"]["Region"], "global");
        assert_eq!(c.regions().await.unwrap(), vec!["global".to_string()]);
        let conf = c.raft_configuration().await.unwrap();
        assert!(conf.servers[0].leader);
        c.transfer_leadership(Some("2")).await.unwrap();
        assert!(c.raft_configuration().await.unwrap().servers[1].leader);
        c.remove_raft_peer("1").await.unwrap();
        assert_eq!(
            c.remove_raft_peer("1").await.unwrap_err().status(),
            Some(404)
        );
        assert!(c.metrics().await.unwrap()["Gauges"].is_array());

        let items = BTreeMap::from([("a".to_string(), "1".to_string())]);
        let v = c.put_variable("app/config", &items, Some(0)).await.unwrap();
        assert_eq!(
            c.put_variable("app/config", &items, Some(0))
                .await
                .unwrap_err()
                .status(),
            Some(409)
        );
        c.put_variable("app/config", &items, Some(v.modify_index))
            .await
            .unwrap();
        let (list, _) = c
            .variables(&QueryOptions::with_prefix("app"))
            .await
            .unwrap();
        assert_eq!(list[0].path, "app/config");
        let (got, _) = c
            .variable("app/config", &QueryOptions::default())
            .await
            .unwrap();
        assert_eq!(got.items["a"], "1");
        c.delete_variable("app/config", None).await.unwrap();
        assert!(
            c.variable("app/config", &QueryOptions::default())
                .await
                .unwrap_err()
                .is_not_found()
        );
    });
}

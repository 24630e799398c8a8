//! Random command sequences: two FSMs applying the same log end with the
//! same snapshot bytes and answers, a reopened db and a restored snapshot
//! give the same bytes again, and the secondary indexes (allocations by
//! node and by job, evaluations by job) agree with the tables.

mod fsm_support;

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use sched_core::model::{AllocId, ClientStatus, DrainStrategy, EvalId, NodeStatus, Variable};
use sched_server::fsm::{AllocClientUpdate, AllocStop, Command, Fsm};
use sched_server::raft::StateMachine;
use sched_server::state::StateSnapshot;

use fsm_support::{apply_all, assert_same, eval, job, node, open};

#[derive(Debug, Clone)]
enum Op {
    Register(usize, i64),
    Deregister(usize, bool),
    Stability(usize, u64, bool),
    NodeUp(u128),
    NodeDown(u128),
    Drain(u128, bool),
    NodeGone(u128),
    Place(usize, Vec<(u128, u128)>, Vec<u128>),
    Client(u128, u8),
    Stop(u128),
    Evals(u128, usize),
    Gc(Vec<u128>, Vec<u128>),
    Var(u8, Option<u64>),
    VarDel(u8, Option<u64>),
    Garbage(Vec<u8>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 0..3i64).prop_map(|(j, p)| Op::Register(j, 40 + p)),
        (0..3usize, any::<bool>()).prop_map(|(j, p)| Op::Deregister(j, p)),
        (0..3usize, 0..4u64, any::<bool>()).prop_map(|(j, v, s)| Op::Stability(j, v, s)),
        (1..5u128).prop_map(Op::NodeUp),
        (1..5u128).prop_map(Op::NodeDown),
        (1..5u128, any::<bool>()).prop_map(|(n, d)| Op::Drain(n, d)),
        (1..5u128).prop_map(Op::NodeGone),
        (
            0..3usize,
            prop::collection::vec((100..120u128, 1..5u128), 0..4),
            prop::collection::vec(100..120u128, 0..2)
        )
            .prop_map(|(j, a, s)| Op::Place(j, a, s)),
        (100..120u128, 0..4u8).prop_map(|(a, s)| Op::Client(a, s)),
        (100..120u128).prop_map(Op::Stop),
        (1..8u128, 0..3usize).prop_map(|(e, j)| Op::Evals(e, j)),
        (
            prop::collection::vec(1..8u128, 0..3),
            prop::collection::vec(100..120u128, 0..3)
        )
            .prop_map(|(e, a)| Op::Gc(e, a)),
        (0..2u8, prop::option::of(0..30u64)).prop_map(|(p, c)| Op::Var(p, c)),
        (0..2u8, prop::option::of(0..30u64)).prop_map(|(p, c)| Op::VarDel(p, c)),
        prop::collection::vec(any::<u8>(), 0..16).prop_map(Op::Garbage),
    ]
}

fn command(op: &Op, t: i64) -> Result<Command, Vec<u8>> {
    let job_id = |j: usize| format!("job-{j}");
    Ok(match op.clone() {
        Op::Register(j, p) => Command::JobRegister {
            job: Box::new(job(j, p)),
            eval: Some(eval(1000 + t as u128, &job_id(j), t)),
            submission: None,
            now: t,
        },
        Op::Deregister(j, purge) => Command::JobDeregister {
            namespace: "default".into(),
            job_id: job_id(j),
            purge,
            eval: Some(eval(1000 + t as u128, &job_id(j), t)),
            now: t,
        },
        Op::Stability(j, version, stable) => Command::JobStability {
            namespace: "default".into(),
            job_id: job_id(j),
            version,
            stable,
        },
        Op::NodeUp(n) => Command::NodeRegister {
            node: Box::new(node(n)),
            evals: vec![],
            now: t,
        },
        Op::NodeDown(n) => Command::NodeStatusUpdate {
            node_id: node(n).id,
            status: NodeStatus::Down,
            evals: vec![],
            now: t,
        },
        Op::Drain(n, on) => Command::NodeDrain {
            node_id: node(n).id,
            drain: on.then(DrainStrategy::default),
            mark_eligible: !on,
            evals: vec![],
            now: t,
        },
        Op::NodeGone(n) => Command::NodeDeregister {
            node_ids: vec![node(n).id],
            evals: vec![],
        },
        Op::Place(j, allocs, stops) => {
            let spec = job(j, 40);
            Command::ApplyPlanResult {
                job: Some(Box::new(spec.clone())),
                allocs: allocs
                    .iter()
                    .map(|(a, n)| fsm_support::alloc(*a, &spec, &node(*n)))
                    .collect(),
                stopped: stops
                    .into_iter()
                    .map(|a| AllocStop {
                        alloc_id: AllocId::from_u128(a),
                        description: "alloc not needed".into(),
                        client_status: None,
                    })
                    .collect(),
                preempted: vec![],
                deployment: None,
                deployment_updates: vec![],
                evals: vec![],
                now: t,
            }
        }
        Op::Client(a, s) => Command::AllocClientUpdate {
            updates: vec![AllocClientUpdate {
                alloc_id: AllocId::from_u128(a),
                client_status: [
                    ClientStatus::Running,
                    ClientStatus::Complete,
                    ClientStatus::Failed,
                    ClientStatus::Lost,
                ][usize::from(s) % 4],
                client_description: "reported".into(),
                task_states: BTreeMap::from([(
                    "server".to_string(),
                    fsm_support::running_state(t),
                )]),
                healthy: Some(s % 2 == 0),
            }],
            evals: vec![],
            now: t,
        },
        Op::Stop(a) => Command::AllocStop {
            stops: vec![AllocStop {
                alloc_id: AllocId::from_u128(a),
                description: "stopped".into(),
                client_status: None,
            }],
            evals: vec![],
            now: t,
        },
        Op::Evals(e, j) => Command::EvalUpsert {
            evals: vec![eval(e, &job_id(j), t)],
        },
        Op::Gc(evals, allocs) => Command::EvalDelete {
            evals: evals.into_iter().map(EvalId::from_u128).collect(),
            allocs: allocs.into_iter().map(AllocId::from_u128).collect(),
        },
        Op::Var(p, cas) => Command::VariableUpsert {
            variable: Variable {
                namespace: "default".into(),
                path: format!("nomad/jobs/job-{p}"),
                items: BTreeMap::from([("t".to_string(), t.to_string())]),
                ..Variable::default()
            },
            cas,
            now: t,
        },
        Op::VarDel(p, cas) => Command::VariableDelete {
            namespace: "default".into(),
            path: format!("nomad/jobs/job-{p}"),
            cas,
        },
        Op::Garbage(bytes) => return Err(bytes),
    })
}

/// Every allocation and evaluation is listed under its node and job, and
/// the indexes list nothing else.
fn check_indexes(s: &StateSnapshot) {
    let allocs = s.allocs("");
    let nodes: BTreeSet<_> = allocs.iter().map(|a| a.node_id.clone()).collect();
    let jobs: BTreeSet<_> = allocs
        .iter()
        .map(|a| (a.namespace.clone(), a.job_id.clone()))
        .collect();
    let by_node: usize = nodes.iter().map(|n| s.allocs_by_node(n).len()).sum();
    let by_job: usize = jobs
        .iter()
        .map(|(ns, j)| s.allocs_by_job(ns, j).len())
        .sum();
    assert_eq!(by_node, allocs.len());
    assert_eq!(by_job, allocs.len());
    for a in &allocs {
        assert!(s.allocs_by_node(&a.node_id).iter().any(|b| b.id == a.id));
        assert!(
            s.allocs_by_job(&a.namespace, &a.job_id)
                .iter()
                .all(|b| b.job_id == a.job_id && b.namespace == a.namespace)
        );
    }
    let evals = s.evals("");
    let eval_jobs: BTreeSet<_> = evals
        .iter()
        .map(|e| (e.namespace.clone(), e.job_id.clone()))
        .collect();
    let by_job: usize = eval_jobs
        .iter()
        .map(|(ns, j)| s.evals_by_job(ns, j).len())
        .sum();
    assert_eq!(by_job, evals.len());
    // Every allocation that runs a job has it, one shared copy per version.
    for a in &allocs {
        if let Some(j) = &a.job {
            assert_eq!(j.id.as_deref(), Some(a.job_id.as_str()));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_logs_are_deterministic_and_indexed(ops in prop::collection::vec(op(), 1..40)) {
        let mut a = open();
        let mut b = open();
        let mut log_a = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let t = i as i64 + 1;
            let bytes = match command(op, t) {
                Ok(c) => c.encode(),
                Err(garbage) => garbage,
            };
            let index = i as u64 + 1;
            let ra = a.fsm.apply(index, &bytes);
            let rb = b.fsm.apply(index, &bytes);
            prop_assert_eq!(&ra, &rb);
            log_a.push(ra);
        }
        let bytes = a.fsm.snapshot();
        assert_same(&bytes, &b.fsm.snapshot());
        check_indexes(&a.reader.snapshot());

        // A snapshot restores to the same bytes, and the restored state
        // is indexed the same way.
        let mut c = open();
        c.fsm.restore(a.fsm.applied_index(), &bytes).expect("restore");
        assert_same(&bytes, &c.fsm.snapshot());
        check_indexes(&c.reader.snapshot());

        // Reopening the db gives the same bytes.
        let (fsm, dir, db) = (b.fsm, b.dir, b.db);
        drop(fsm);
        drop(db);
        let db = sled::open(dir.path()).expect("reopen");
        let (again, _) = Fsm::open(&db).expect("open");
        assert_same(&bytes, &again.snapshot());
        prop_assert_eq!(again.applied_index(), ops.len() as u64);
    }
}

#[test]
fn a_longer_scenario_log_applies_cleanly() {
    let mut o = open();
    let responses = apply_all(&mut o.fsm, &fsm_support::scenario());
    assert!(responses.iter().all(|r| r.error.is_none()));
    check_indexes(&o.reader.snapshot());
}

//! One test per command through a real [`Fsm`] on a temporary sled db.

use std::collections::BTreeMap;
use std::sync::Arc;

use sched_core::model::{
    AllocId, Allocation, ClientStatus, Deployment, DeploymentId, DeploymentState, DeploymentStatus,
    DeploymentStatusUpdate, DesiredStatus, DrainStrategy, EvalId, EvalStatus, Evaluation, Job,
    Node, NodeId, NodeSchedulingEligibility, NodeStatus, Submission, TaskState, Variable,
};
use sched_scheduler::mock;

use super::*;
use crate::state::{StateEventKind, Table};

struct Harness {
    fsm: Fsm,
    reader: StateReader,
    next: u64,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sled::open(dir.path()).expect("sled");
        let (fsm, reader) = Fsm::open(&db).expect("open");
        Harness {
            fsm,
            reader,
            next: 1,
            _dir: dir,
        }
    }

    fn run(&mut self, cmd: Command) -> CommandResponse {
        let i = self.next;
        self.next += 1;
        self.fsm.apply(i, &cmd.encode())
    }

    fn ok(&mut self, cmd: Command) -> CommandResponse {
        let r = self.run(cmd);
        assert_eq!(r.error, None, "command refused");
        r
    }

    fn s(&self) -> StateSnapshot {
        self.fsm.state()
    }
}

fn eval(n: u128, job: &str) -> Evaluation {
    Evaluation {
        id: EvalId::from_u128(n),
        namespace: "default".into(),
        job_id: job.into(),
        r#type: "service".into(),
        triggered_by: "job-register".into(),
        priority: 50,
        ..Evaluation::default()
    }
}

fn register(job: Job, eval_n: Option<u128>) -> Command {
    let id = job.id.clone().unwrap_or_default();
    Command::JobRegister {
        job: Box::new(job),
        eval: eval_n.map(|n| eval(n, &id)),
        submission: None,
        now: 1_000,
    }
}

fn node(n: u128) -> Node {
    let mut node = mock::node(n);
    node.status = NodeStatus::Ready;
    node
}

fn alloc(n: u128, job: &Job, node: &Node) -> Allocation {
    let mut a = mock::alloc(job, node, 0);
    a.id = AllocId::from_u128(n);
    a.job = None;
    a.client_status = ClientStatus::Pending;
    a
}

fn place(job: &Job, allocs: Vec<Allocation>) -> Command {
    Command::ApplyPlanResult {
        job: Some(Box::new(job.clone())),
        allocs,
        stopped: vec![],
        preempted: vec![],
        deployment: None,
        deployment_updates: vec![],
        evals: vec![],
        now: 2_000,
    }
}

#[test]
fn job_register_creates_versions_and_keeps_identical_specs() {
    let mut h = Harness::new();
    let job = mock::service_job("web", 2, 100, 128);
    let r = h.ok(register(job.clone(), Some(1)));
    assert_eq!(r.job_version, Some(0));
    let s = h.s();
    let j = s.job("default", "web").expect("job");
    assert_eq!(
        (
            j.version,
            j.create_index,
            j.modify_index,
            j.job_modify_index,
            j.submit_time
        ),
        (Some(0), Some(1), Some(1), Some(1), Some(1_000))
    );
    assert_eq!(j.status.as_deref(), Some("pending"));
    let e = s.eval(&EvalId::from_u128(1)).expect("eval");
    assert_eq!((e.create_index, e.job_modify_index), (1, 1));
    assert_eq!(s.table_index(Table::Jobs), 1);
    assert_eq!(s.table_index(Table::Evals), 1);

    // The same spec: same version, still a new eval.
    let r = h.ok(register(job.clone(), Some(2)));
    assert_eq!(r.job_version, Some(0));
    let s = h.s();
    assert_eq!(s.job("default", "web").expect("job").modify_index, Some(1));
    assert_eq!(s.evals_by_job("default", "web").len(), 2);
    assert_eq!(s.table_index(Table::Jobs), 1);

    // A changed spec: version 1, job modify index moves.
    let mut changed = job.clone();
    changed.priority = Some(70);
    let r = h.ok(register(changed, None));
    assert_eq!(r.job_version, Some(1));
    let j = h.s().job("default", "web").expect("job");
    assert_eq!(
        (j.version, j.create_index, j.job_modify_index),
        (Some(1), Some(1), Some(3))
    );
    assert_eq!(h.s().job_versions("default", "web").len(), 2);
}

#[test]
fn job_register_keeps_six_versions_and_the_submission() {
    let mut h = Harness::new();
    for p in 0..9 {
        let mut j = mock::service_job("web", 1, 100, 128);
        j.priority = Some(10 + p);
        h.ok(Command::JobRegister {
            job: Box::new(j),
            eval: None,
            submission: Some(Submission {
                source: Some(format!("job \"web\" {{ priority = {} }}", 10 + p)),
                ..Submission::default()
            }),
            now: p,
        });
    }
    let versions: Vec<u64> = h
        .s()
        .job_versions("default", "web")
        .iter()
        .filter_map(|j| j.version)
        .collect();
    assert_eq!(versions, vec![8, 7, 6, 5, 4, 3]);
    assert!(h.s().job_submission("default", "web", 8).is_some());
    assert!(h.s().job_submission("default", "web", 2).is_none());
}

#[test]
fn job_register_without_id_is_refused() {
    let mut h = Harness::new();
    let mut job = mock::service_job("web", 1, 100, 128);
    job.id = None;
    let r = h.run(register(job, Some(1)));
    assert!(r.error.is_some());
    assert!(h.s().evals("").is_empty());
    assert_eq!(h.s().index(), 1);
}

#[test]
fn job_deregister_stops_or_purges() {
    let mut h = Harness::new();
    h.ok(register(mock::service_job("web", 1, 100, 128), Some(1)));
    h.ok(Command::JobDeregister {
        namespace: "default".into(),
        job_id: "web".into(),
        purge: false,
        eval: Some(eval(2, "web")),
        now: 5,
    });
    let j = h.s().job("default", "web").expect("stopped job stays");
    assert_eq!(j.stop, Some(true));
    assert_eq!(j.version, Some(1));
    assert_eq!(j.status.as_deref(), Some("dead"));
    assert!(h.s().eval(&EvalId::from_u128(2)).is_some());

    let mut events = h.reader.subscribe();
    h.ok(Command::JobDeregister {
        namespace: "default".into(),
        job_id: "web".into(),
        purge: true,
        eval: Some(eval(3, "web")),
        now: 6,
    });
    assert!(h.s().job("default", "web").is_none());
    assert!(h.s().job_versions("default", "web").is_empty());
    let first = events.try_recv().expect("event");
    assert!(matches!(&first.kind, StateEventKind::JobPurged { job_id, .. } if job_id == "web"));

    let r = h.run(Command::JobDeregister {
        namespace: "default".into(),
        job_id: "web".into(),
        purge: true,
        eval: None,
        now: 7,
    });
    assert!(r.error.is_some(), "unknown job is refused");
}

#[test]
fn job_stability_marks_version_and_current_job() {
    let mut h = Harness::new();
    h.ok(register(mock::service_job("web", 1, 100, 128), None));
    h.ok(Command::JobStability {
        namespace: "default".into(),
        job_id: "web".into(),
        version: 0,
        stable: true,
    });
    let s = h.s();
    assert_eq!(s.job("default", "web").expect("job").stable, Some(true));
    assert_eq!(
        s.job_version("default", "web", 0).expect("v0").stable,
        Some(true)
    );
    let r = h.run(Command::JobStability {
        namespace: "default".into(),
        job_id: "web".into(),
        version: 9,
        stable: true,
    });
    assert!(r.error.is_some());
}

#[test]
fn eval_upsert_keeps_create_index_and_delete_removes() {
    let mut h = Harness::new();
    h.ok(Command::EvalUpsert {
        evals: vec![eval(1, "web")],
    });
    let mut e = eval(1, "web");
    e.status = EvalStatus::Complete;
    h.ok(Command::EvalUpsert { evals: vec![e] });
    let e = h.s().eval(&EvalId::from_u128(1)).expect("eval");
    assert_eq!((e.create_index, e.modify_index), (1, 2));
    assert_eq!(e.status, EvalStatus::Complete);

    let job = mock::service_job("web", 1, 100, 128);
    let n = node(1);
    h.ok(Command::NodeRegister {
        node: Box::new(n.clone()),
        evals: vec![],
        now: 0,
    });
    h.ok(place(&job, vec![alloc(10, &job, &n)]));
    assert_eq!(h.s().alloc_job_versions(), 1);
    h.ok(Command::EvalDelete {
        evals: vec![EvalId::from_u128(1)],
        allocs: vec![AllocId::from_u128(10)],
    });
    let s = h.s();
    assert!(s.eval(&EvalId::from_u128(1)).is_none());
    assert!(s.evals_by_job("default", "web").is_empty());
    assert!(s.allocs_by_node(&n.id).is_empty());
    assert!(s.allocs_by_job("default", "web").is_empty());
    assert_eq!(s.alloc_job_versions(), 0, "unused job versions are dropped");
}

#[test]
fn plan_result_shares_one_job_per_version_and_stops_preempts() {
    let mut h = Harness::new();
    let job = mock::service_job("web", 3, 100, 128);
    h.ok(register(job.clone(), Some(1)));
    let n = node(1);
    h.ok(Command::NodeRegister {
        node: Box::new(n.clone()),
        evals: vec![],
        now: 0,
    });
    let mut done = eval(1, "web");
    done.status = EvalStatus::Complete;
    let d = Deployment {
        id: DeploymentId::from_u128(1),
        namespace: "default".into(),
        job_id: "web".into(),
        task_groups: BTreeMap::from([(
            "web".to_string(),
            DeploymentState {
                desired_total: 3,
                ..DeploymentState::default()
            },
        )]),
        ..Deployment::default()
    };
    let allocs: Vec<Allocation> = (10..13)
        .map(|i| {
            let mut a = alloc(i, &job, &n);
            a.deployment_id = Some(d.id.clone());
            a
        })
        .collect();
    h.ok(Command::ApplyPlanResult {
        job: Some(Box::new(job.clone())),
        allocs,
        stopped: vec![],
        preempted: vec![],
        deployment: Some(d.clone()),
        deployment_updates: vec![],
        evals: vec![done],
        now: 50,
    });
    let s = h.s();
    let stored = s.allocs_by_job("default", "web");
    assert_eq!(stored.len(), 3);
    let j0 = stored[0].job.clone().expect("job attached");
    let kept = s.job_version("default", "web", 0).expect("v0");
    assert!(
        stored
            .iter()
            .all(|a| a.job.as_ref().is_some_and(|j| Arc::ptr_eq(j, &j0)))
    );
    assert!(Arc::ptr_eq(&j0, &kept), "allocs share the state's version");
    assert_eq!(stored[0].create_index, 3);
    assert_eq!(stored[0].create_time, 50);
    let dep = s.deployment(&d.id).expect("deployment");
    assert_eq!(dep.task_groups["web"].placed_allocs, 3);
    assert_eq!(
        s.job("default", "web").expect("job").status.as_deref(),
        Some("running")
    );

    h.ok(Command::ApplyPlanResult {
        job: None,
        allocs: vec![],
        stopped: vec![AllocStop {
            alloc_id: AllocId::from_u128(10),
            description: "alloc not needed".into(),
            client_status: None,
        }],
        preempted: vec![AllocStop {
            alloc_id: AllocId::from_u128(11),
            description: "preempted".into(),
            client_status: Some(ClientStatus::Lost),
        }],
        deployment: None,
        deployment_updates: vec![DeploymentStatusUpdate {
            deployment_id: d.id.clone(),
            status: DeploymentStatus::Cancelled,
            status_description: "stopped".into(),
        }],
        evals: vec![],
        now: 60,
    });
    let s = h.s();
    let a10 = s.alloc(&AllocId::from_u128(10)).expect("a10");
    assert_eq!(a10.desired_status, DesiredStatus::Stop);
    assert_eq!(a10.desired_description, "alloc not needed");
    assert_eq!((a10.modify_index, a10.modify_time), (4, 60));
    let a11 = s.alloc(&AllocId::from_u128(11)).expect("a11");
    assert_eq!(a11.desired_status, DesiredStatus::Evict);
    assert_eq!(a11.client_status, ClientStatus::Lost);
    assert_eq!(
        s.deployment(&d.id).expect("d").status,
        DeploymentStatus::Cancelled
    );
}

#[test]
fn alloc_client_update_applies_known_and_reports_unknown() {
    let mut h = Harness::new();
    let job = mock::service_job("web", 1, 100, 128);
    let n = node(1);
    h.ok(register(job.clone(), None));
    h.ok(place(&job, vec![alloc(10, &job, &n)]));
    let r = h.run(Command::AllocClientUpdate {
        updates: vec![
            AllocClientUpdate {
                alloc_id: AllocId::from_u128(10),
                client_status: ClientStatus::Running,
                client_description: "Tasks are running".into(),
                task_states: BTreeMap::from([(
                    "server".to_string(),
                    TaskState {
                        state: "running".into(),
                        ..TaskState::default()
                    },
                )]),
                healthy: Some(true),
            },
            AllocClientUpdate {
                alloc_id: AllocId::from_u128(99),
                ..AllocClientUpdate::default()
            },
        ],
        evals: vec![],
        now: 77,
    });
    let err = r.error.expect("unknown alloc reported");
    assert!(err.contains(&AllocId::from_u128(99).to_string()));
    let a = h.s().alloc(&AllocId::from_u128(10)).expect("alloc");
    assert_eq!(a.client_status, ClientStatus::Running);
    assert_eq!(a.task_states["server"].state, "running");
    assert_eq!(
        a.deployment_status.as_ref().and_then(|d| d.healthy),
        Some(true)
    );
    assert_eq!((a.modify_index, a.modify_time), (3, 77));
    // The scheduler's later update keeps what the client reported.
    let mut again = alloc(10, &job, &n);
    again.desired_description = "in-place update".into();
    h.ok(place(&job, vec![again]));
    let a = h.s().alloc(&AllocId::from_u128(10)).expect("alloc");
    assert_eq!(a.client_status, ClientStatus::Running);
    assert_eq!(a.task_states.len(), 1);
    assert_eq!(a.create_index, 2);
}

#[test]
fn alloc_stop_marks_stop_or_refuses_unknown() {
    let mut h = Harness::new();
    let job = mock::service_job("web", 1, 100, 128);
    let n = node(1);
    h.ok(place(&job, vec![alloc(10, &job, &n)]));
    let r = h.run(Command::AllocStop {
        stops: vec![
            AllocStop {
                alloc_id: AllocId::from_u128(10),
                description: "stopped by operator".into(),
                client_status: None,
            },
            AllocStop {
                alloc_id: AllocId::from_u128(11),
                ..AllocStop::default()
            },
        ],
        evals: vec![eval(5, "web")],
        now: 3,
    });
    assert!(r.error.is_some());
    assert_eq!(
        h.s()
            .alloc(&AllocId::from_u128(10))
            .expect("a")
            .desired_status,
        DesiredStatus::Run
    );
    assert!(h.s().eval(&EvalId::from_u128(5)).is_none());
    h.ok(Command::AllocStop {
        stops: vec![AllocStop {
            alloc_id: AllocId::from_u128(10),
            description: "stopped by operator".into(),
            client_status: None,
        }],
        evals: vec![eval(5, "web")],
        now: 3,
    });
    let a = h.s().alloc(&AllocId::from_u128(10)).expect("a");
    assert_eq!(a.desired_status, DesiredStatus::Stop);
    assert!(h.s().eval(&EvalId::from_u128(5)).is_some());
}

#[test]
fn node_register_keeps_create_index_and_drain() {
    let mut h = Harness::new();
    let n = node(1);
    h.ok(Command::NodeRegister {
        node: Box::new(n.clone()),
        evals: vec![],
        now: 5_000_000_000,
    });
    h.ok(Command::NodeDrain {
        node_id: n.id.clone(),
        drain: Some(DrainStrategy::default()),
        mark_eligible: false,
        evals: vec![],
        now: 0,
    });
    h.ok(Command::NodeRegister {
        node: Box::new(n.clone()),
        evals: vec![eval(1, "sys")],
        now: 9_000_000_000,
    });
    let got = h.s().node(&n.id).expect("node");
    assert_eq!((got.create_index, got.modify_index), (1, 3));
    assert_eq!(got.status_updated_at, 5);
    assert!(got.drain_strategy.is_some());
    assert_eq!(
        got.scheduling_eligibility,
        NodeSchedulingEligibility::Ineligible
    );
    assert_eq!(h.s().table_index(Table::Nodes), 3);
}

#[test]
fn node_status_update_and_unknown_node() {
    let mut h = Harness::new();
    let n = node(1);
    h.ok(Command::NodeRegister {
        node: Box::new(n.clone()),
        evals: vec![],
        now: 0,
    });
    h.ok(Command::NodeStatusUpdate {
        node_id: n.id.clone(),
        status: NodeStatus::Down,
        evals: vec![eval(1, "web")],
        now: 20_000_000_000,
    });
    let got = h.s().node(&n.id).expect("node");
    assert_eq!((got.status, got.status_updated_at), (NodeStatus::Down, 20));
    let r = h.run(Command::NodeStatusUpdate {
        node_id: NodeId::from_u128(42),
        status: NodeStatus::Down,
        evals: vec![eval(2, "web")],
        now: 0,
    });
    assert!(r.error.is_some());
    assert!(h.s().eval(&EvalId::from_u128(2)).is_none());
}

#[test]
fn node_drain_and_eligibility() {
    let mut h = Harness::new();
    let n = node(1);
    h.ok(Command::NodeRegister {
        node: Box::new(n.clone()),
        evals: vec![],
        now: 0,
    });
    h.ok(Command::NodeDrain {
        node_id: n.id.clone(),
        drain: Some(DrainStrategy::default()),
        mark_eligible: false,
        evals: vec![],
        now: 0,
    });
    let r = h.run(Command::NodeEligibility {
        node_id: n.id.clone(),
        eligibility: NodeSchedulingEligibility::Eligible,
        evals: vec![],
        now: 0,
    });
    assert!(r.error.is_some(), "a draining node cannot become eligible");
    h.ok(Command::NodeDrain {
        node_id: n.id.clone(),
        drain: None,
        mark_eligible: false,
        evals: vec![],
        now: 0,
    });
    let got = h.s().node(&n.id).expect("node");
    assert!(got.drain_strategy.is_none());
    assert_eq!(
        got.scheduling_eligibility,
        NodeSchedulingEligibility::Ineligible
    );
    h.ok(Command::NodeEligibility {
        node_id: n.id.clone(),
        eligibility: NodeSchedulingEligibility::Eligible,
        evals: vec![],
        now: 0,
    });
    assert_eq!(
        h.s().node(&n.id).expect("node").scheduling_eligibility,
        NodeSchedulingEligibility::Eligible
    );
    h.ok(Command::NodeDrain {
        node_id: n.id.clone(),
        drain: Some(DrainStrategy::default()),
        mark_eligible: false,
        evals: vec![],
        now: 0,
    });
    h.ok(Command::NodeDrain {
        node_id: n.id.clone(),
        drain: None,
        mark_eligible: true,
        evals: vec![],
        now: 0,
    });
    assert_eq!(
        h.s().node(&n.id).expect("node").scheduling_eligibility,
        NodeSchedulingEligibility::Eligible
    );
}

#[test]
fn node_deregister_removes_or_refuses_unknown() {
    let mut h = Harness::new();
    let n = node(1);
    h.ok(Command::NodeRegister {
        node: Box::new(n.clone()),
        evals: vec![],
        now: 0,
    });
    let r = h.run(Command::NodeDeregister {
        node_ids: vec![n.id.clone(), NodeId::from_u128(9)],
        evals: vec![],
    });
    assert!(r.error.is_some());
    assert!(h.s().node(&n.id).is_some());
    h.ok(Command::NodeDeregister {
        node_ids: vec![n.id.clone()],
        evals: vec![],
    });
    assert!(h.s().node(&n.id).is_none());
}

#[test]
fn variables_compare_and_set() {
    let mut h = Harness::new();
    let v = Variable {
        namespace: "default".into(),
        path: "nomad/jobs/web".into(),
        items: BTreeMap::from([("a".to_string(), "1".to_string())]),
        ..Variable::default()
    };
    h.ok(Command::VariableUpsert {
        variable: v.clone(),
        cas: Some(0),
        now: 10,
    });
    let r = h.run(Command::VariableUpsert {
        variable: v.clone(),
        cas: Some(0),
        now: 11,
    });
    assert!(r.error.is_some(), "cas 0 on an existing variable conflicts");
    h.ok(Command::VariableUpsert {
        variable: v.clone(),
        cas: Some(1),
        now: 12,
    });
    let got = h.s().variable("default", "nomad/jobs/web").expect("var");
    assert_eq!(
        (
            got.create_index,
            got.modify_index,
            got.create_time,
            got.modify_time
        ),
        (1, 3, 10, 12)
    );
    let r = h.run(Command::VariableDelete {
        namespace: "default".into(),
        path: "nomad/jobs/web".into(),
        cas: Some(1),
    });
    assert!(r.error.is_some());
    h.ok(Command::VariableDelete {
        namespace: "default".into(),
        path: "nomad/jobs/web".into(),
        cas: Some(3),
    });
    assert!(h.s().variable("default", "nomad/jobs/web").is_none());
    assert_eq!(h.s().table_index(Table::Variables), 5);
}

#[test]
fn servers_address_book_and_noop() {
    let mut h = Harness::new();
    let entry = ServerEntry {
        raft_id: 2,
        name: "s2".into(),
        rpc_addr: "127.0.0.1:4647".into(),
        http_addr: "127.0.0.1:4646".into(),
    };
    h.ok(Command::ServerUpsert {
        server: entry.clone(),
    });
    assert_eq!(h.s().servers(), vec![entry]);
    h.ok(Command::Noop);
    assert_eq!(h.s().index(), 2);
    assert_eq!(h.s().table_index(Table::Servers), 1);
    h.ok(Command::ServerRemove { raft_id: 2 });
    assert!(h.s().servers().is_empty());
}

#[test]
fn garbage_advances_only_the_index_and_replays_are_refused() {
    let mut h = Harness::new();
    h.ok(Command::Noop);
    let r = h.fsm.apply(2, b"\x00not json");
    assert!(r.error.is_some());
    assert_eq!((h.fsm.applied_index(), h.reader.snapshot().index()), (2, 2));
    let r = h.fsm.apply(2, &Command::Noop.encode());
    assert!(
        r.error.is_some(),
        "an index at or below the state is refused"
    );
}

#[test]
fn a_purged_job_registered_again_does_not_share_its_old_allocations_version() {
    let mut h = Harness::new();
    let n = node(1);
    let old = mock::service_job("web", 1, 100, 128);
    h.ok(register(old.clone(), None));
    h.ok(place(&old, vec![alloc(10, &old, &n)]));
    h.ok(Command::JobDeregister {
        namespace: "default".into(),
        job_id: "web".into(),
        purge: true,
        eval: None,
        now: 0,
    });
    let mut new = mock::service_job("web", 1, 500, 512);
    new.priority = Some(90);
    let r = h.ok(register(new, None));
    assert_eq!(r.job_version, Some(1));
    let kept = h.s().alloc(&AllocId::from_u128(10)).expect("old alloc");
    assert_eq!(kept.job.as_ref().and_then(|j| j.version), Some(0));
    assert_eq!(kept.job.as_ref().and_then(|j| j.priority), None);
}

#[test]
fn restore_replaces_the_tables_keeps_the_address_book_and_refuses_bad_snapshots() {
    let mut h = Harness::new();
    h.ok(Command::NodeRegister {
        node: Box::new(node(1)),
        evals: vec![],
        now: 1,
    });
    h.ok(register(mock::service_job("web", 1, 100, 64), None));
    let saved = h.fsm.snapshot();

    h.ok(Command::ServerUpsert {
        server: ServerEntry {
            raft_id: 7,
            name: "s7".into(),
            ..ServerEntry::default()
        },
    });
    h.ok(register(mock::service_job("later", 1, 100, 64), None));
    let jobs_before = h.s().jobs("default", "").len();

    let bad = h.run(Command::Restore {
        snapshot: "{\"Index\":1,\"Jobs\":7}".into(),
    });
    assert!(bad.error.is_some(), "a non-state snapshot is refused");
    assert_eq!(h.s().jobs("default", "").len(), jobs_before);
    assert!(h.s().job("default", "later").is_some());

    let r = h.ok(Command::Restore {
        snapshot: String::from_utf8(saved.clone()).expect("JSON"),
    });
    let s = h.s();
    assert_eq!(s.index(), r.index);
    for t in Table::ALL {
        assert_eq!(s.table_index(t), r.index, "{t:?} moved to the restore");
    }
    assert!(s.job("default", "web").is_some());
    assert!(s.job("default", "later").is_none());
    assert_eq!(s.nodes("").len(), 1);
    assert_eq!(s.servers().len(), 1, "the address book is kept");
    assert_eq!(h.reader.snapshot().index(), r.index, "readers see it");
}

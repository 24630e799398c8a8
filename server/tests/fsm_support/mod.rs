//! Shared pieces of the FSM's black-box tests: a real Fsm on a temporary
//! sled dir, and a realistic command log.

#![allow(dead_code)]

use std::collections::BTreeMap;

use sched_core::model::{
    AllocId, Allocation, ClientStatus, DrainStrategy, EvalId, EvalStatus, Evaluation, Job, Node,
    NodeStatus, TaskEvent, TaskState, Variable,
};
use sched_scheduler::mock;
use sched_server::fsm::{AllocClientUpdate, AllocStop, Command, Fsm, ServerEntry};
use sched_server::raft::StateMachine;
use sched_server::state::StateReader;

/// An Fsm on its own sled dir, kept alive as long as the value.
pub struct Open {
    pub fsm: Fsm,
    pub reader: StateReader,
    pub db: sled::Db,
    pub dir: tempfile::TempDir,
}

pub fn open() -> Open {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sled::open(dir.path()).expect("sled");
    let (fsm, reader) = Fsm::open(&db).expect("open fsm");
    Open {
        fsm,
        reader,
        db,
        dir,
    }
}

/// Applies `log` from index 1 on; the responses.
pub fn apply_all(fsm: &mut Fsm, log: &[Command]) -> Vec<sched_server::fsm::CommandResponse> {
    let start = fsm.applied_index();
    log.iter()
        .enumerate()
        .map(|(i, c)| fsm.apply(start + i as u64 + 1, &c.encode()))
        .collect()
}

pub fn eval(n: u128, job: &str, now: i64) -> Evaluation {
    Evaluation {
        id: EvalId::from_u128(n),
        namespace: "default".into(),
        job_id: job.into(),
        r#type: "service".into(),
        triggered_by: "job-register".into(),
        priority: 50,
        create_time: now,
        modify_time: now,
        trace_id: format!("trace-{n}"),
        ..Evaluation::default()
    }
}

pub fn node(n: u128) -> Node {
    let mut node = mock::node(n);
    node.status = NodeStatus::Ready;
    node
}

pub fn job(i: usize, priority: i64) -> Job {
    let mut j = mock::service_job(&format!("job-{i}"), 3, 100, 128);
    j.priority = Some(priority);
    j
}

pub fn alloc(n: u128, job: &Job, node: &Node) -> Allocation {
    let mut a = mock::alloc(job, node, n as u64 % 3);
    a.id = AllocId::from_u128(n);
    a.job = None;
    a.client_status = ClientStatus::Pending;
    a
}

pub fn running_state(t: i64) -> TaskState {
    TaskState {
        state: "running".into(),
        started_at: Some("2026-11-30T12:00:00Z".into()),
        events: vec![
            TaskEvent {
                r#type: "Received".into(),
                time: t,
                display_message: "Task received by client".into(),
                ..TaskEvent::default()
            },
            TaskEvent {
                r#type: "Started".into(),
                time: t + 1,
                display_message: "Task started by client".into(),
                ..TaskEvent::default()
            },
        ],
        ..TaskState::default()
    }
}

/// A log touching every command: nodes, jobs and new versions, placements,
/// client updates, stops, drains, variables, GC and the address book.
pub fn scenario() -> Vec<Command> {
    let mut log = Vec::new();
    let nodes: Vec<Node> = (1..=4).map(node).collect();
    for n in &nodes {
        log.push(Command::NodeRegister {
            node: Box::new(n.clone()),
            evals: vec![],
            now: 1_000_000_000,
        });
    }
    log.push(Command::ServerUpsert {
        server: ServerEntry {
            raft_id: 1,
            name: "s1".into(),
            rpc_addr: "127.0.0.1:4647".into(),
            http_addr: "127.0.0.1:4646".into(),
        },
    });
    let mut alloc_n = 100u128;
    for i in 0..3usize {
        let j = job(i, 50);
        log.push(Command::JobRegister {
            job: Box::new(j.clone()),
            eval: Some(eval(i as u128 + 1, &format!("job-{i}"), 5)),
            submission: None,
            now: 5,
        });
        let mut done = eval(i as u128 + 1, &format!("job-{i}"), 5);
        done.status = EvalStatus::Complete;
        let allocs = (0..3)
            .map(|k| {
                alloc_n += 1;
                alloc(alloc_n, &j, &nodes[(k + i) % nodes.len()])
            })
            .collect();
        log.push(Command::ApplyPlanResult {
            job: Some(Box::new(j)),
            allocs,
            stopped: vec![],
            preempted: vec![],
            deployment: None,
            deployment_updates: vec![],
            evals: vec![done],
            now: 6,
        });
    }
    log.push(Command::AllocClientUpdate {
        updates: (101..=106)
            .map(|n| AllocClientUpdate {
                alloc_id: AllocId::from_u128(n),
                client_status: ClientStatus::Running,
                client_description: "Tasks are running".into(),
                task_states: BTreeMap::from([("server".to_string(), running_state(7))]),
                healthy: Some(true),
            })
            .collect(),
        evals: vec![],
        now: 7,
    });
    // A new version of job-0, whose allocations are replaced.
    let j0v1 = job(0, 60);
    log.push(Command::JobRegister {
        job: Box::new(j0v1.clone()),
        eval: Some(eval(10, "job-0", 8)),
        submission: None,
        now: 8,
    });
    log.push(Command::ApplyPlanResult {
        job: Some(Box::new(j0v1.clone())),
        allocs: vec![alloc(200, &j0v1, &nodes[3])],
        stopped: vec![AllocStop {
            alloc_id: AllocId::from_u128(101),
            description: "alloc is being updated due to job update".into(),
            client_status: None,
        }],
        preempted: vec![],
        deployment: None,
        deployment_updates: vec![],
        evals: vec![],
        now: 9,
    });
    log.push(Command::NodeDrain {
        node_id: nodes[1].id.clone(),
        drain: Some(DrainStrategy::default()),
        mark_eligible: false,
        evals: vec![eval(11, "job-1", 10)],
        now: 10,
    });
    log.push(Command::NodeStatusUpdate {
        node_id: nodes[2].id.clone(),
        status: NodeStatus::Down,
        evals: vec![],
        now: 11_000_000_000,
    });
    log.push(Command::AllocStop {
        stops: vec![AllocStop {
            alloc_id: AllocId::from_u128(104),
            description: "stopped by operator".into(),
            client_status: None,
        }],
        evals: vec![eval(12, "job-1", 12)],
        now: 12,
    });
    log.push(Command::VariableUpsert {
        variable: Variable {
            namespace: "default".into(),
            path: "nomad/jobs/job-0".into(),
            items: BTreeMap::from([("db".to_string(), "postgres://db".to_string())]),
            ..Variable::default()
        },
        cas: Some(0),
        now: 13,
    });
    log.push(Command::JobStability {
        namespace: "default".into(),
        job_id: "job-0".into(),
        version: 1,
        stable: true,
    });
    log.push(Command::JobDeregister {
        namespace: "default".into(),
        job_id: "job-2".into(),
        purge: true,
        eval: Some(eval(13, "job-2", 14)),
        now: 14,
    });
    log.push(Command::EvalDelete {
        evals: vec![EvalId::from_u128(11)],
        allocs: vec![AllocId::from_u128(101)],
    });
    log.push(Command::Noop);
    log
}

/// Asserts two snapshots are byte-identical, showing where they first
/// differ instead of both blobs.
#[track_caller]
pub fn assert_same(a: &[u8], b: &[u8]) {
    if a == b {
        return;
    }
    let at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let window = |s: &[u8]| {
        String::from_utf8_lossy(&s[at.saturating_sub(120)..(at + 120).min(s.len())]).into_owned()
    };
    panic!(
        "snapshots differ at byte {at} (lengths {} and {}):\n  left: …{}…\n right: …{}…",
        a.len(),
        b.len(),
        window(a),
        window(b)
    );
}

//! Determinism, snapshots and persistence of the FSM through its public
//! API: the same log gives the same bytes everywhere, a snapshot restores
//! to the same bytes, a reopened db gives the same state, and refused
//! commands change nothing but the applied index.

mod fsm_support;

use fsm_support::{apply_all, assert_same, open, scenario};
use sched_core::model::{AllocId, NodeId};
use sched_server::fsm::{AllocClientUpdate, Command, Fsm};
use sched_server::raft::StateMachine;
use sched_server::state::{StateError, Table};

#[test]
fn the_same_log_gives_the_same_snapshot_bytes() {
    let log = scenario();
    let mut a = open();
    let mut b = open();
    let ra = apply_all(&mut a.fsm, &log);
    let rb = apply_all(&mut b.fsm, &log);
    assert_eq!(ra, rb);
    assert!(ra.iter().all(|r| r.error.is_none()), "{ra:?}");
    let (sa, sb) = (a.fsm.snapshot(), b.fsm.snapshot());
    assert_same(&sa, &sb);
    // The snapshot holds the state, not an empty shell.
    let s = a.reader.snapshot();
    assert_eq!(s.index(), log.len() as u64);
    assert_eq!(s.allocs("").len(), 9);
    assert!(s.job("default", "job-2").is_none());
}

#[test]
fn restore_then_snapshot_is_identical_and_survives_reopen() {
    let log = scenario();
    let mut a = open();
    apply_all(&mut a.fsm, &log);
    let bytes = a.fsm.snapshot();
    let index = a.fsm.applied_index();

    // Into a fresh FSM, and into one that already holds other state.
    let mut fresh = open();
    fresh.fsm.restore(index, &bytes).expect("restore");
    assert_same(&fresh.fsm.snapshot(), &bytes);
    assert_eq!(fresh.fsm.applied_index(), index);
    assert_eq!(fresh.reader.snapshot().index(), index);

    let mut busy = open();
    apply_all(&mut busy.fsm, &log[..5]);
    busy.fsm.restore(index, &bytes).expect("restore");
    assert_same(&busy.fsm.snapshot(), &bytes);

    // Reopening the restored db gives the same state.
    let dir = busy.dir;
    drop(busy.fsm);
    drop(busy.db);
    let db = sled::open(dir.path()).expect("reopen");
    let (again, reader) = Fsm::open(&db).expect("open");
    assert_same(&again.snapshot(), &bytes);
    assert_eq!(reader.snapshot().index(), index);

    // A snapshot claiming another index is refused.
    assert!(fresh.fsm.restore(index + 1, &bytes).is_err());
    assert!(fresh.fsm.restore(index, b"{").is_err());
    assert_same(&fresh.fsm.snapshot(), &bytes);
}

#[test]
fn reopening_the_db_gives_the_same_state_and_index() {
    let log = scenario();
    let o = open();
    let (mut fsm, dir, db) = (o.fsm, o.dir, o.db);
    apply_all(&mut fsm, &log);
    let bytes = fsm.snapshot();
    let index = fsm.applied_index();
    let before = fsm.state();
    drop(fsm);
    db.flush().expect("flush");
    drop(db);

    let db = sled::open(dir.path()).expect("reopen");
    let (mut fsm, reader) = Fsm::open(&db).expect("open");
    assert_eq!(fsm.applied_index(), index);
    assert_same(&fsm.snapshot(), &bytes);
    let after = reader.snapshot();
    for t in Table::ALL {
        assert_eq!(after.table_index(t), before.table_index(t), "{t:?}");
    }
    // Allocations of one version share one job again after loading.
    let allocs = after.allocs_by_job("default", "job-1");
    let first = allocs[0].job.clone().expect("job");
    assert!(allocs.iter().all(|a| {
        a.job
            .as_ref()
            .is_some_and(|j| std::sync::Arc::ptr_eq(j, &first))
    }));
    // And it keeps applying where it left off.
    let r = fsm.apply(index + 1, &Command::Noop.encode());
    assert_eq!(r.error, None);
}

#[test]
fn an_interrupted_restore_is_detected_on_reopen() {
    let o = open();
    let (fsm, dir, db) = (o.fsm, o.dir, o.db);
    drop(fsm);
    // What a crash between the marker and its removal leaves behind.
    db.open_tree("state.meta")
        .expect("meta")
        .insert("restore_in_progress", &9u64.to_be_bytes())
        .expect("marker");
    match Fsm::open(&db) {
        Err(StateError::IncompleteRestore { index: 9 }) => {}
        other => panic!("expected an incomplete restore, got {other:?}"),
    }
    sched_server::state::clear(&db).expect("clear");
    let (fsm, _) = Fsm::open(&db).expect("open after clear");
    assert_eq!(fsm.applied_index(), 0);
    drop(dir);
}

/// Applies `bad` at the next index in one FSM and a `Noop` in a twin: both
/// must end with the same bytes, and `bad` must answer an error.
fn refused_changes_nothing(bad: &[u8]) {
    let log = scenario();
    let mut a = open();
    let mut b = open();
    apply_all(&mut a.fsm, &log);
    apply_all(&mut b.fsm, &log);
    let next = a.fsm.applied_index() + 1;
    let r = a.fsm.apply(next, bad);
    assert!(r.error.is_some(), "bad input must be refused");
    b.fsm.apply(next, &Command::Noop.encode());
    assert_same(&a.fsm.snapshot(), &b.fsm.snapshot());
    assert_eq!(a.fsm.applied_index(), next);
}

#[test]
fn garbage_bytes_change_nothing() {
    refused_changes_nothing(b"\xff\xfe garbage");
    refused_changes_nothing(b"{\"JobRegister\":{\"job\":42}}");
    refused_changes_nothing(b"");
}

#[test]
fn unknown_alloc_and_node_change_nothing() {
    refused_changes_nothing(
        &Command::AllocClientUpdate {
            updates: vec![AllocClientUpdate {
                alloc_id: AllocId::from_u128(999_999),
                ..AllocClientUpdate::default()
            }],
            evals: vec![],
            now: 1,
        }
        .encode(),
    );
    refused_changes_nothing(
        &Command::NodeStatusUpdate {
            node_id: NodeId::from_u128(999_999),
            status: sched_core::model::NodeStatus::Down,
            evals: vec![fsm_support::eval(77, "job-0", 1)],
            now: 1,
        }
        .encode(),
    );
}

#[test]
fn cas_conflict_changes_nothing() {
    let mut v = sched_core::model::Variable {
        namespace: "default".into(),
        path: "nomad/jobs/job-0".into(),
        ..Default::default()
    };
    v.items.insert("db".into(), "other".into());
    refused_changes_nothing(
        &Command::VariableUpsert {
            variable: v,
            cas: Some(0),
            now: 1,
        }
        .encode(),
    );
    refused_changes_nothing(
        &Command::VariableDelete {
            namespace: "default".into(),
            path: "nomad/jobs/job-0".into(),
            cas: Some(1),
        }
        .encode(),
    );
}

#[tokio::test]
async fn readers_see_each_applied_index_and_its_events() {
    let mut o = open();
    let mut events = o.reader.subscribe();
    let reader = o.reader.clone();
    let waiter = tokio::spawn(async move {
        reader
            .wait_for_change(&[Table::Nodes], 0, std::time::Duration::from_secs(10))
            .await
    });
    o.fsm.apply(
        1,
        &Command::NodeRegister {
            node: Box::new(fsm_support::node(1)),
            evals: vec![],
            now: 0,
        }
        .encode(),
    );
    let s = waiter.await.expect("join");
    assert_eq!(s.table_index(Table::Nodes), 1);
    let e = events.recv().await.expect("event");
    assert_eq!(e.index, 1);
    assert!(
        matches!(&e.kind, sched_server::state::StateEventKind::Node(n) if n.id == NodeId::from_u128(1))
    );
}

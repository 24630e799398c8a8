//! Disconnected clients against the in-memory harness: allocations on a
//! disconnected node become unknown and are replaced, the pair is
//! reconciled per policy when the node is back, and an unknown allocation
//! is lost when its window passes or its node goes down.
#![allow(clippy::unwrap_used)]

use sched_core::model::{
    AllocId, Allocation, ClientStatus, DesiredStatus, DisconnectStrategy, Duration, Job,
    NodeStatus, TaskState,
};
use sched_scheduler::harness::Harness;
use sched_scheduler::reconcile_disconnect::descriptions;
use sched_scheduler::{SchedulerConfig, mock};

const S: i64 = 1_000_000_000;
const T0: i64 = 1_000 * S;

fn cfg(now: i64) -> SchedulerConfig {
    SchedulerConfig {
        now_nanos: Some(now),
        ..SchedulerConfig::default()
    }
}

fn job(disconnect: Option<DisconnectStrategy>, max_client_disconnect: Option<i64>) -> Job {
    let mut j = mock::service_job("web", 1, 100, 128);
    let g = &mut j.task_groups.as_mut().unwrap()[0];
    g.disconnect = disconnect;
    g.max_client_disconnect = max_client_disconnect.map(Duration::from_secs);
    j
}

fn lost_after(secs: i64, reconcile: &str, replace: bool) -> Option<DisconnectStrategy> {
    Some(DisconnectStrategy {
        lost_after: Some(Duration::from_secs(secs)),
        reconcile: Some(reconcile.to_owned()),
        replace: Some(replace),
        ..Default::default()
    })
}

/// Two nodes, the job placed on one and running there; returns the
/// allocation.
fn placed(h: &mut Harness, job: Job) -> Allocation {
    for i in 1..=2 {
        h.upsert_node(mock::node(i));
    }
    h.register_and_run(job, &cfg(T0)).unwrap();
    let a = h.all_allocs()[0].clone();
    running(h, &a.id, T0, "2024-01-01T00:00:00Z");
    h.alloc(&a.id).unwrap().clone()
}

fn running(h: &mut Harness, id: &AllocId, at: i64, started_at: &str) {
    let mut a = h.alloc(id).unwrap().clone();
    a.client_status = ClientStatus::Running;
    a.modify_time = at;
    a.task_states.insert(
        "server".to_owned(),
        TaskState {
            state: "running".to_owned(),
            started_at: Some(started_at.to_owned()),
            ..Default::default()
        },
    );
    h.upsert_alloc(a);
}

fn eval_at(h: &mut Harness, now: i64) {
    let eval = h.job_eval("default", "web");
    h.run(&eval, &cfg(now)).unwrap();
}

fn live(h: &Harness) -> Vec<Allocation> {
    h.all_allocs()
        .into_iter()
        .filter(|a| !a.is_terminal())
        .cloned()
        .collect()
}

/// Disconnects the original's node and evaluates; returns the replacement.
fn disconnect(h: &mut Harness, original: &Allocation, at: i64) -> Allocation {
    h.set_node_status(&original.node_id, NodeStatus::Disconnected);
    eval_at(h, at);
    let o = h.alloc(&original.id).unwrap();
    assert_eq!(o.client_status, ClientStatus::Unknown);
    assert_eq!(o.desired_status, DesiredStatus::Run);
    assert_eq!(o.client_description, descriptions::UNKNOWN);
    let r = live(h)
        .into_iter()
        .find(|a| a.id != original.id)
        .expect("a replacement");
    assert_eq!(r.previous_allocation.as_ref(), Some(&original.id));
    assert_eq!(r.name, original.name);
    assert_ne!(r.node_id, original.node_id);
    r
}

#[test]
fn an_allocation_on_a_disconnected_node_turns_unknown_and_is_replaced() {
    let mut h = Harness::new();
    let original = placed(&mut h, job(None, Some(60)));
    let t1 = T0 + 10 * S;
    disconnect(&mut h, &original, t1);
    // A follow-up evaluation comes when the window ends.
    let followup = h.created_evals.last().expect("a follow-up evaluation");
    assert_eq!(
        followup.wait_until.as_deref(),
        Some((t1 + 60 * S).to_string().as_str())
    );
    assert_eq!(
        h.alloc(&original.id).unwrap().followup_eval_id.as_ref(),
        Some(&followup.id)
    );
    // Evaluating again within the window changes nothing.
    let before = h.all_allocs().len();
    eval_at(&mut h, t1 + 30 * S);
    assert_eq!(h.all_allocs().len(), before);
    assert_eq!(
        live(&h).len(),
        2,
        "the unknown original and its replacement"
    );
    h.check_no_overcommit().unwrap();
}

#[test]
fn without_replace_the_unknown_allocation_holds_its_slot() {
    let mut h = Harness::new();
    let original = placed(&mut h, job(lost_after(60, "best_score", false), None));
    h.set_node_status(&original.node_id, NodeStatus::Disconnected);
    eval_at(&mut h, T0 + S);
    assert_eq!(
        h.alloc(&original.id).unwrap().client_status,
        ClientStatus::Unknown
    );
    eval_at(&mut h, T0 + 2 * S);
    assert_eq!(live(&h).len(), 1, "no replacement");
    // When the window ends it is lost and replaced after all.
    eval_at(&mut h, T0 + 62 * S);
    let o = h.alloc(&original.id).unwrap();
    assert_eq!(
        (o.client_status, o.desired_status),
        (ClientStatus::Lost, DesiredStatus::Stop)
    );
    let l = live(&h);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].previous_allocation.as_ref(), Some(&original.id));
}

#[test]
fn an_expired_window_loses_the_original_and_keeps_the_replacement() {
    let mut h = Harness::new();
    let original = placed(&mut h, job(lost_after(60, "best_score", true), None));
    let r = disconnect(&mut h, &original, T0);
    eval_at(&mut h, T0 + 61 * S);
    let o = h.alloc(&original.id).unwrap();
    assert_eq!(
        (o.client_status, o.desired_status),
        (ClientStatus::Lost, DesiredStatus::Stop)
    );
    let l = live(&h);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].id, r.id, "no second replacement");
}

#[test]
fn a_node_going_down_loses_its_unknown_allocations() {
    let mut h = Harness::new();
    let original = placed(&mut h, job(lost_after(3600, "best_score", true), None));
    let r = disconnect(&mut h, &original, T0);
    h.set_node_status(&original.node_id, NodeStatus::Down);
    eval_at(&mut h, T0 + 5 * S);
    assert_eq!(
        h.alloc(&original.id).unwrap().client_status,
        ClientStatus::Lost
    );
    let l = live(&h);
    assert_eq!(l.iter().map(|a| &a.id).collect::<Vec<_>>(), vec![&r.id]);
}

/// Disconnects, places the replacement, brings the node back with the
/// original reporting running, and returns (original, replacement) after
/// the reconnect evaluation.
fn reconnect(reconcile: &str, replacement_started: &str) -> (Allocation, Allocation) {
    let mut h = Harness::new();
    let original = placed(&mut h, job(lost_after(60, reconcile, true), None));
    let r = disconnect(&mut h, &original, T0 + S);
    running(&mut h, &r.id, T0 + 2 * S, replacement_started);
    h.set_node_status(&original.node_id, NodeStatus::Ready);
    // Back, but the client has not reported yet: wait for it.
    eval_at(&mut h, T0 + 3 * S);
    assert_eq!(live(&h).len(), 2);
    running(&mut h, &original.id, T0 + 4 * S, "2024-01-01T00:00:00Z");
    eval_at(&mut h, T0 + 5 * S);
    assert_eq!(live(&h).len(), 1, "exactly one of the pair stays");
    h.check_no_overcommit().unwrap();
    (
        h.alloc(&original.id).unwrap().clone(),
        h.alloc(&r.id).unwrap().clone(),
    )
}

fn stopped_on_reconnect(a: &Allocation) -> bool {
    a.desired_status == DesiredStatus::Stop && a.desired_description == descriptions::RECONNECTED
}

#[test]
fn keep_original_stops_the_replacement() {
    let (o, r) = reconnect("keep_original", "2024-01-01T00:01:00Z");
    assert_eq!(o.desired_status, DesiredStatus::Run);
    assert!(stopped_on_reconnect(&r), "{r:?}");
}

#[test]
fn keep_replacement_stops_the_original() {
    let (o, r) = reconnect("keep_replacement", "2024-01-01T00:01:00Z");
    assert!(stopped_on_reconnect(&o), "{o:?}");
    assert_eq!(r.desired_status, DesiredStatus::Run);
}

#[test]
fn longest_running_keeps_the_one_that_started_first() {
    let (o, r) = reconnect("longest_running", "2024-01-01T00:01:00Z");
    assert_eq!(o.desired_status, DesiredStatus::Run);
    assert!(stopped_on_reconnect(&r));
    let (o, r) = reconnect("longest_running", "2023-12-31T23:00:00Z");
    assert!(stopped_on_reconnect(&o));
    assert_eq!(r.desired_status, DesiredStatus::Run);
}

#[test]
fn best_score_on_equal_nodes_keeps_the_original() {
    let (o, r) = reconnect("best_score", "2024-01-01T00:01:00Z");
    assert_eq!(o.desired_status, DesiredStatus::Run);
    assert!(stopped_on_reconnect(&r));
}

#[test]
fn best_score_prefers_the_fuller_node() {
    let mut h = Harness::new();
    let original = placed(&mut h, job(lost_after(60, "best_score", true), None));
    let r = disconnect(&mut h, &original, T0 + S);
    running(&mut h, &r.id, T0 + 2 * S, "2024-01-01T00:01:00Z");
    // Other work fills the replacement's node: it now packs better.
    let mut filler = mock::service_job("filler", 1, 2000, 4096);
    filler.task_groups.as_mut().unwrap()[0].constraints =
        Some(vec![sched_core::model::Constraint {
            l_target: Some("${node.unique.id}".to_owned()),
            r_target: Some(r.node_id.to_string()),
            operand: Some("=".to_owned()),
        }]);
    h.register_and_run(filler, &cfg(T0 + 2 * S)).unwrap();
    h.set_node_status(&original.node_id, NodeStatus::Ready);
    running(&mut h, &original.id, T0 + 4 * S, "2024-01-01T00:00:00Z");
    eval_at(&mut h, T0 + 5 * S);
    assert!(stopped_on_reconnect(h.alloc(&original.id).unwrap()));
    assert_eq!(h.alloc(&r.id).unwrap().desired_status, DesiredStatus::Run);
}

#[test]
fn an_original_that_failed_while_away_gives_way_to_its_replacement() {
    let mut h = Harness::new();
    let original = placed(&mut h, job(lost_after(60, "keep_original", true), None));
    let r = disconnect(&mut h, &original, T0 + S);
    h.set_node_status(&original.node_id, NodeStatus::Ready);
    h.set_client_status(&original.id, ClientStatus::Failed, T0 + 3 * S);
    eval_at(&mut h, T0 + 4 * S);
    assert!(stopped_on_reconnect(h.alloc(&original.id).unwrap()));
    let l = live(&h);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].id, r.id, "the failed original is not rescheduled");
}

#[test]
fn a_pending_allocation_on_a_disconnected_node_is_lost() {
    let mut h = Harness::new();
    for i in 1..=2 {
        h.upsert_node(mock::node(i));
    }
    h.register_and_run(job(None, Some(60)), &cfg(T0)).unwrap();
    let original = h.all_allocs()[0].clone();
    assert_eq!(original.client_status, ClientStatus::Pending);
    h.set_node_status(&original.node_id, NodeStatus::Disconnected);
    eval_at(&mut h, T0 + S);
    assert_eq!(
        h.alloc(&original.id).unwrap().client_status,
        ClientStatus::Lost
    );
    let l = live(&h);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].previous_allocation.as_ref(), Some(&original.id));
}

#[test]
fn groups_without_a_window_are_lost_on_a_disconnected_node() {
    let mut h = Harness::new();
    let original = placed(&mut h, job(None, None));
    h.set_node_status(&original.node_id, NodeStatus::Disconnected);
    eval_at(&mut h, T0 + S);
    let o = h.alloc(&original.id).unwrap();
    assert_eq!(
        (o.client_status, o.desired_status),
        (ClientStatus::Lost, DesiredStatus::Stop)
    );
    assert_eq!(live(&h).len(), 1);
}

#[test]
fn the_policy_resolves_the_old_and_new_fields() {
    use sched_scheduler::reconcile_disconnect::{ReconnectPolicy, policy};
    let mut j = job(None, Some(30));
    j.canonicalize();
    let p = policy(&j.task_groups.as_ref().unwrap()[0]).unwrap();
    assert_eq!(p.lost_after, 30 * S);
    assert!(p.replace);
    assert_eq!(p.reconcile, ReconnectPolicy::BestScore);
    let mut j = job(lost_after(5, "keep_replacement", false), None);
    j.canonicalize();
    let p = policy(&j.task_groups.as_ref().unwrap()[0]).unwrap();
    assert_eq!(
        (p.lost_after, p.replace, p.reconcile),
        (5 * S, false, ReconnectPolicy::KeepReplacement)
    );
    assert!(policy(&job(None, None).task_groups.unwrap()[0]).is_none());
}

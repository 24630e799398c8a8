//! Priority preemption through the harness: which schedulers preempt under
//! which configuration, the priority delta, what the plan records and the
//! harness commits, and (as a property) that no node is ever overcommitted
//! by plans that preempt.
// Test helpers outside #[test] functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use sched_core::model::{
    AllocId, Allocation, DesiredStatus, Job, PreemptionConfig, SchedulerConfiguration,
};
use sched_scheduler::harness::{Harness, running_per_group};
use sched_scheduler::{CandidateSelection, SchedulerConfig, State, mock};

fn with_priority(mut job: Job, priority: i64) -> Job {
    job.priority = Some(priority);
    job
}

/// One 4000 MHz / 8192 MB node, filled to 3500 MHz / 7000 MB by one
/// allocation of a priority-`low` service job `low`.
fn full_node(low: i64) -> (Harness, Allocation) {
    let mut h = Harness::new();
    let node = mock::node(1);
    h.upsert_node(node.clone());
    let job = with_priority(mock::service_job("low", 1, 3500, 7000), low);
    h.upsert_job(job.clone());
    let job = h.job("default", "low").unwrap().clone();
    let mut a = mock::alloc(&job, &node, 0);
    a.id = AllocId::from_u128(0xa11c);
    h.upsert_alloc(a.clone());
    (h, a)
}

fn enable(h: &mut Harness, f: impl FnOnce(&mut PreemptionConfig)) {
    let mut c = SchedulerConfiguration::default();
    f(&mut c.preemption_config);
    h.set_scheduler_configuration(c);
}

fn placed(h: &Harness, job_id: &str) -> Vec<Allocation> {
    h.all_allocs()
        .into_iter()
        .filter(|a| a.job_id == job_id && !a.is_terminal())
        .cloned()
        .collect()
}

#[test]
fn a_system_job_preempts_a_lower_priority_service_allocation_on_a_full_node() {
    let (mut h, victim) = full_node(20);
    let sys = with_priority(mock::job_of_type("sys", "system", 1, 1000, 2000), 70);
    h.register_and_run(sys, &SchedulerConfig::default())
        .unwrap();
    let got = placed(&h, "sys");
    assert_eq!(got.len(), 1, "the system job is placed");
    assert_eq!(got[0].preempted_allocations, vec![victim.id.clone()]);
    let evicted = h.alloc(&victim.id).unwrap();
    assert_eq!(evicted.desired_status, DesiredStatus::Evict);
    assert_eq!(
        evicted.desired_description,
        format!("Preempted by alloc ID {}", got[0].id)
    );
    assert_eq!(evicted.preempted_by_allocation, Some(got[0].id.clone()));
    // The plan named it, and the preempted job got an evaluation.
    let plan = h.plans.last().unwrap();
    assert_eq!(plan.node_preemptions[&victim.node_id].len(), 1);
    assert_eq!(h.preemption_evals.len(), 1);
    let eval = h.preemption_evals[0].clone();
    assert_eq!(
        (
            eval.job_id.as_str(),
            eval.triggered_by.as_str(),
            eval.priority
        ),
        ("low", "preemption", 20)
    );
    h.check_no_overcommit().unwrap();
    // Rescheduling the preempted job finds no room and blocks; it never
    // preempts back (service preemption is off, and it is lower priority).
    h.run(&eval, &SchedulerConfig::default()).unwrap();
    assert_eq!(placed(&h, "low").len(), 0);
    assert!(h.last_blocked().is_some_and(|b| b.job_id == "low"));
    h.check_no_overcommit().unwrap();
}

#[test]
fn a_service_job_preempts_only_when_the_service_scheduler_may() {
    for config in [SchedulerConfig::default(), SchedulerConfig::nomad()] {
        let (mut h, victim) = full_node(20);
        let web = with_priority(mock::service_job("web", 1, 1000, 2000), 70);
        h.register_and_run(web.clone(), &config).unwrap();
        assert!(
            placed(&h, "web").is_empty(),
            "preemption is off for services"
        );
        assert!(h.plans.iter().all(|p| p.node_preemptions.is_empty()));
        assert_eq!(
            h.alloc(&victim.id).unwrap().desired_status,
            DesiredStatus::Run
        );
        assert!(h.last_blocked().is_some_and(|b| b.job_id == "web"));

        enable(&mut h, |p| p.service_scheduler_enabled = true);
        let eval = h.job_eval("default", "web");
        h.run(&eval, &config).unwrap();
        let got = placed(&h, "web");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].preempted_allocations, vec![victim.id.clone()]);
        assert_eq!(
            h.alloc(&victim.id).unwrap().desired_status,
            DesiredStatus::Evict
        );
        h.check_no_overcommit().unwrap();
    }
}

#[test]
fn a_system_job_does_not_preempt_when_the_operator_turned_it_off() {
    let (mut h, victim) = full_node(20);
    enable(&mut h, |p| p.system_scheduler_enabled = false);
    let sys = with_priority(mock::job_of_type("sys", "system", 1, 1000, 2000), 70);
    h.register_and_run(sys, &SchedulerConfig::default())
        .unwrap();
    assert!(placed(&h, "sys").is_empty());
    assert_eq!(
        h.alloc(&victim.id).unwrap().desired_status,
        DesiredStatus::Run
    );
}

#[test]
fn equal_or_close_priorities_are_never_preempted() {
    for (low, high, preempts) in [
        (50, 50, false),
        (50, 59, false),
        (50, 60, true),
        (60, 50, false),
    ] {
        let (mut h, victim) = full_node(low);
        let sys = with_priority(mock::job_of_type("sys", "system", 1, 1000, 2000), high);
        h.register_and_run(sys, &SchedulerConfig::default())
            .unwrap();
        let status = h.alloc(&victim.id).unwrap().desired_status;
        assert_eq!(
            status == DesiredStatus::Evict,
            preempts,
            "{high} over {low}"
        );
        assert_eq!(placed(&h, "sys").len(), usize::from(preempts));
        h.check_no_overcommit().unwrap();
    }
}

#[test]
fn the_lowest_priority_allocation_goes_first() {
    let mut h = Harness::new();
    let node = mock::node(1);
    h.upsert_node(node.clone());
    let mut victims = Vec::new();
    for (i, prio) in [(1u128, 30), (2, 10), (3, 20)] {
        let id = format!("low{prio}");
        h.upsert_job(with_priority(mock::service_job(&id, 1, 1300, 2700), prio));
        let job = h.job("default", &id).unwrap().clone();
        let mut a = mock::alloc(&job, &node, 0);
        a.id = AllocId::from_u128(i);
        h.upsert_alloc(a.clone());
        victims.push(a);
    }
    let sys = with_priority(mock::job_of_type("sys", "system", 1, 1000, 1000), 80);
    h.register_and_run(sys, &SchedulerConfig::default())
        .unwrap();
    let evicted: Vec<&str> = h
        .all_allocs()
        .into_iter()
        .filter(|a| a.desired_status == DesiredStatus::Evict)
        .map(|a| a.job_id.as_str())
        .collect();
    assert_eq!(evicted, vec!["low10"]);
    assert_eq!(running_per_group(&h, "default", "sys")["web"], 1);
}

#[test]
fn placements_of_one_plan_never_preempt_the_same_allocation_twice() {
    let mut h = Harness::new();
    let node = mock::node(1);
    h.upsert_node(node.clone());
    let mut victims = Vec::new();
    for i in 1..=2u128 {
        let id = format!("low{i}");
        h.upsert_job(with_priority(mock::service_job(&id, 1, 2000, 4096), 10));
        let job = h.job("default", &id).unwrap().clone();
        let mut a = mock::alloc(&job, &node, 0);
        a.id = AllocId::from_u128(i);
        h.upsert_alloc(a.clone());
        victims.push(a.id);
    }
    enable(&mut h, |p| p.service_scheduler_enabled = true);
    let web = with_priority(mock::service_job("web", 2, 1500, 3000), 70);
    h.register_and_run(web, &SchedulerConfig::default())
        .unwrap();
    assert_eq!(h.plans.len(), 1, "one plan, committed whole");
    assert_eq!(h.results[0].refresh_index, 0);
    let mut preempted: Vec<AllocId> = h.plans[0]
        .node_preemptions
        .values()
        .flatten()
        .map(|a| a.id.clone())
        .collect();
    preempted.sort();
    assert_eq!(preempted, victims, "each victim once");
    let placed = placed(&h, "web");
    assert_eq!(placed.len(), 2);
    assert!(placed.iter().all(|a| a.preempted_allocations.len() == 1));
    assert_ne!(
        placed[0].preempted_allocations,
        placed[1].preempted_allocations
    );
    h.check_no_overcommit().unwrap();
}

#[derive(Debug, Clone)]
struct Existing {
    priority: i64,
    cpu: i64,
    mem: i64,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the cluster holds and whatever preempts, the committed
    /// state never runs more than a node has.
    #[test]
    fn no_node_is_overcommitted_after_preempting_plans(
        nodes in 1u128..5,
        existing in prop::collection::vec(
            (1i64..100, 100i64..2000, 256i64..4000)
                .prop_map(|(priority, cpu, mem)| Existing { priority, cpu, mem }),
            1..12,
        ),
        incoming in prop::collection::vec(
            (1i64..100, 100i64..3000, 256i64..6000, prop::bool::ANY, 1i64..4),
            1..5,
        ),
        nomad in prop::bool::ANY,
    ) {
        let mut h = Harness::new();
        for n in 1..=nodes {
            h.upsert_node(mock::node(n));
        }
        enable(&mut h, |p| {
            p.service_scheduler_enabled = true;
            p.batch_scheduler_enabled = true;
        });
        let config = if nomad {
            SchedulerConfig::nomad()
        } else {
            SchedulerConfig { candidates: CandidateSelection::CapacityIndex, ..SchedulerConfig::default() }
        };
        for (i, e) in existing.iter().enumerate() {
            let job = with_priority(mock::service_job(&format!("old{i}"), 1, e.cpu, e.mem), e.priority);
            h.register_and_run(job, &config).unwrap();
            h.check_no_overcommit().map_err(TestCaseError::fail)?;
        }
        for (i, (priority, cpu, mem, system, count)) in incoming.into_iter().enumerate() {
            let kind = if system { "system" } else { "service" };
            let job = with_priority(mock::job_of_type(&format!("new{i}"), kind, count, cpu, mem), priority);
            h.register_and_run(job, &config).unwrap();
            h.check_no_overcommit().map_err(TestCaseError::fail)?;
            // Every eviction names a placed allocation of a job at least 10
            // higher in priority.
            for a in h.all_allocs().into_iter().filter(|a| a.desired_status == DesiredStatus::Evict) {
                let by = a.preempted_by_allocation.clone().expect("evictions name their cause");
                let by = h.alloc(&by).expect("the preempting allocation exists");
                let (pa, pb) = (
                    h.job(&a.namespace, &a.job_id).unwrap().clone().priority.unwrap_or(50),
                    h.job(&by.namespace, &by.job_id).unwrap().clone().priority.unwrap_or(50),
                );
                prop_assert!(pb - pa >= 10, "{pb} preempted {pa}");
            }
            // Rescheduling what was preempted must not overcommit either.
            let evals = std::mem::take(&mut h.preemption_evals);
            for e in evals {
                h.run(&e, &config).unwrap();
                h.check_no_overcommit().map_err(TestCaseError::fail)?;
            }
        }
    }
}

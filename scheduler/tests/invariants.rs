//! Property tests over random clusters and jobs, driving the real
//! scheduler through the harness: no node is ever overcommitted (also
//! across partial commits), `distinct_hosts` holds, system jobs put one
//! allocation on each distinct eligible node, counts converge when there is
//! room, and blocked evaluations place once capacity arrives.

use std::collections::BTreeSet;

use proptest::prelude::*;
use sched_core::model::{Constraint, NodeSchedulingEligibility, NodeStatus};
use sched_scheduler::harness::{Harness, running_per_group};
use sched_scheduler::{CandidateSelection, SchedulerConfig, mock};

#[derive(Debug, Clone)]
struct JobSpec {
    count: i64,
    cpu: i64,
    mem: i64,
    distinct: bool,
    static_port: Option<i64>,
    dynamic_port: bool,
}

fn job_spec() -> impl Strategy<Value = JobSpec> {
    (
        1i64..12,
        50i64..2500,
        64i64..4000,
        any::<bool>(),
        prop::option::of(8000i64..8004),
        any::<bool>(),
    )
        .prop_map(
            |(count, cpu, mem, distinct, static_port, dynamic_port)| JobSpec {
                count,
                cpu,
                mem,
                distinct,
                static_port,
                dynamic_port,
            },
        )
}

fn build(id: &str, s: &JobSpec, kind: &str) -> sched_core::model::Job {
    let mut job = mock::job_of_type(id, kind, s.count, s.cpu, s.mem);
    if s.distinct {
        job.constraints = Some(vec![Constraint {
            operand: Some("distinct_hosts".into()),
            ..Default::default()
        }]);
    }
    let statics: Vec<(&str, i64)> = s.static_port.map(|p| vec![("http", p)]).unwrap_or_default();
    let dynamics: Vec<&str> = if s.dynamic_port {
        vec!["admin"]
    } else {
        vec![]
    };
    if !statics.is_empty() || !dynamics.is_empty() {
        job = mock::with_ports(job, &statics, &dynamics);
    }
    job
}

fn cluster(sizes: &[(i64, i64)]) -> Harness {
    let mut h = Harness::new();
    for (i, (cpu, mem)) in sizes.iter().enumerate() {
        h.upsert_node(mock::node_sized(i as u128 + 1, *cpu, *mem));
    }
    h
}

fn config(nomad: bool, seed: u64) -> SchedulerConfig {
    SchedulerConfig {
        candidates: if nomad {
            CandidateSelection::NomadLimit
        } else {
            CandidateSelection::CapacityIndex
        },
        seed,
        now_nanos: Some(1_000_000_000_000),
        ..SchedulerConfig::default()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Register(JobSpec),
    Scale(usize, i64),
    FailAlloc(usize),
    NodeDown(usize),
    AddNode,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => job_spec().prop_map(Op::Register),
        2 => (0usize..8, 0i64..10).prop_map(|(j, c)| Op::Scale(j, c)),
        2 => (0usize..64).prop_map(Op::FailAlloc),
        1 => (0usize..16).prop_map(Op::NodeDown),
        1 => Just(Op::AddNode),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn never_overcommitted_across_operation_sequences(
        ops in prop::collection::vec(op(), 1..16),
        partial in prop::option::of(1usize..3),
        nomad in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut h = cluster(&[(4000, 8192), (4000, 8192), (2000, 4096)]);
        h.max_nodes_per_plan = partial;
        let mut specs: Vec<JobSpec> = Vec::new();
        let mut next_node = 100u128;
        let mut now = 1_000_000_000_000i64;
        for op in ops {
            now += 60_000_000_000;
            let cfg = SchedulerConfig { now_nanos: Some(now), ..config(nomad, seed) };
            let touched = match op {
                Op::Register(s) => {
                    specs.push(s);
                    Some(specs.len() - 1)
                }
                Op::Scale(j, c) if !specs.is_empty() => {
                    let j = j % specs.len();
                    specs[j].count = c;
                    Some(j)
                }
                Op::FailAlloc(k) => {
                    let live: Vec<_> = h.all_allocs().into_iter().filter(|a| !a.is_terminal()).map(|a| (a.id.clone(), a.job_id.clone())).collect();
                    if live.is_empty() { None } else {
                        let (id, job) = live[k % live.len()].clone();
                        h.set_client_status(&id, sched_core::model::ClientStatus::Failed, now);
                        job.trim_start_matches("job").parse::<usize>().ok()
                    }
                }
                Op::NodeDown(k) => {
                    let ids: Vec<_> = sched_scheduler::State::nodes(&h).iter().map(|n| n.id.clone()).collect();
                    h.set_node_status(&ids[k % ids.len()], NodeStatus::Down);
                    None
                }
                Op::AddNode => {
                    next_node += 1;
                    h.upsert_node(mock::node(next_node));
                    None
                }
                Op::Scale(..) => None,
            };
            // Re-evaluate every job, as node and job events would.
            for (i, s) in specs.iter().enumerate() {
                let id = format!("job{i}");
                if Some(i) == touched {
                    let _ = h.register_and_run(build(&id, s, "service"), &cfg);
                } else {
                    let eval = h.job_eval("default", &id);
                    let _ = h.run(&eval, &cfg);
                }
                prop_assert!(h.check_no_overcommit().is_ok(), "{:?}", h.check_no_overcommit());
                if s.distinct {
                    let nodes: Vec<_> = h.all_allocs().into_iter()
                        .filter(|a| a.job_id == id && !a.is_terminal()).map(|a| a.node_id.clone()).collect();
                    let set: BTreeSet<_> = nodes.iter().cloned().collect();
                    prop_assert_eq!(nodes.len(), set.len());
                }
                // Never more running than desired.
                let running = running_per_group(&h, "default", &id).get("web").copied().unwrap_or(0);
                prop_assert!(running as i64 <= s.count, "{} running > {}", running, s.count);
            }
        }
    }

    #[test]
    fn never_overcommitted_and_distinct_hosts_hold(
        sizes in prop::collection::vec((1000i64..6000, 1024i64..16384), 1..8),
        jobs in prop::collection::vec(job_spec(), 1..6),
        partial in prop::option::of(1usize..3),
        nomad in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut h = cluster(&sizes);
        h.max_nodes_per_plan = partial;
        for (i, s) in jobs.iter().enumerate() {
            let id = format!("job{i}");
            // Too many refusals end the evaluation with an error; state must
            // still be consistent.
            let _ = h.register_and_run(build(&id, s, "service"), &config(nomad, seed));
            prop_assert!(h.check_no_overcommit().is_ok(), "{:?}", h.check_no_overcommit());
            if s.distinct {
                let nodes: Vec<_> = h.all_allocs().into_iter()
                    .filter(|a| a.job_id == id && !a.is_terminal()).map(|a| a.node_id.clone()).collect();
                let set: BTreeSet<_> = nodes.iter().cloned().collect();
                prop_assert_eq!(nodes.len(), set.len());
            }
        }
    }

    #[test]
    fn system_jobs_one_per_distinct_eligible_node(
        n in 1u128..10,
        ineligible in prop::collection::vec(any::<bool>(), 10),
        down in prop::collection::vec(any::<bool>(), 10),
        spec in job_spec(),
    ) {
        let mut h = Harness::new();
        let mut eligible = BTreeSet::new();
        for i in 1..=n {
            let mut node = mock::node(i);
            let idx = i as usize - 1;
            if ineligible[idx] { node.scheduling_eligibility = NodeSchedulingEligibility::Ineligible; }
            if down[idx] { node.status = NodeStatus::Down; }
            if node.is_schedulable() { eligible.insert(node.id.clone()); }
            h.upsert_node(node);
        }
        let mut s = spec;
        s.distinct = false;
        s.cpu = s.cpu.min(4000);
        s.mem = s.mem.min(8192);
        h.register_and_run(build("sys", &s, "system"), &config(false, 1)).unwrap();
        let live: Vec<_> = h.all_allocs().into_iter().filter(|a| !a.is_terminal()).collect();
        let nodes: BTreeSet<_> = live.iter().map(|a| a.node_id.clone()).collect();
        prop_assert_eq!(nodes.len(), live.len());
        prop_assert!(nodes.is_subset(&eligible));
        // Every eligible node got one: the ask fits an empty node.
        prop_assert_eq!(nodes, eligible);
        prop_assert!(h.check_no_overcommit().is_ok());
    }

    #[test]
    fn count_converges_when_capacity_exists(
        count in 1i64..40,
        cpu in 50i64..1000,
        mem in 64i64..1024,
        nomad in any::<bool>(),
        seed in any::<u64>(),
    ) {
        // Enough room: total ask at most half the cluster.
        let nodes = ((count * cpu) as f64 / 2000.0).ceil().max((count * mem) as f64 / 4096.0).ceil() as u128 + 1;
        let mut h = Harness::new();
        for i in 1..=nodes { h.upsert_node(mock::node(i)); }
        h.register_and_run(mock::service_job("conv", count, cpu, mem), &config(nomad, seed)).unwrap();
        prop_assert_eq!(running_per_group(&h, "default", "conv")["web"], count as usize);
        prop_assert!(h.last_blocked().is_none());
    }

    #[test]
    fn blocked_evals_place_once_capacity_arrives(
        count in 2i64..20,
        mem in 1024i64..4096,
        seed in any::<u64>(),
    ) {
        let mut h = Harness::new();
        h.upsert_node(mock::node(1));
        h.register_and_run(mock::service_job("grow", count, 100, mem), &config(false, seed)).unwrap();
        let placed = running_per_group(&h, "default", "grow")["web"];
        prop_assume!(placed < count as usize);
        let blocked = h.last_blocked().cloned().unwrap();
        prop_assert_eq!(blocked.failed_tg_allocs["web"].coalesced_failures as usize, count as usize - placed - 1);
        for i in 2..=(count as u128 + 1) { h.upsert_node(mock::node(i)); }
        h.run(&blocked, &config(false, seed)).unwrap();
        prop_assert_eq!(running_per_group(&h, "default", "grow")["web"], count as usize);
        prop_assert!(h.check_no_overcommit().is_ok());
    }
}

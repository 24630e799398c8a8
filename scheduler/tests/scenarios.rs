//! Scheduler tests against the in-memory harness: placements, failures
//! explained, constraints, distinct hosts, system jobs, partial commits,
//! node failure, delayed reschedules and destructive updates.

use sched_core::model::{ClientStatus, Constraint, DesiredStatus, EvalStatus, NodeStatus};
use sched_scheduler::context::explain;
use sched_scheduler::harness::{Harness, running_per_group};
use sched_scheduler::job_view::JobView;
use sched_scheduler::{SchedulerConfig, State, mock};

fn cluster(n: u128) -> Harness {
    let mut h = Harness::new();
    for i in 1..=n {
        h.upsert_node(mock::node(i));
    }
    h
}

fn cfg() -> SchedulerConfig {
    SchedulerConfig {
        now_nanos: Some(1_000_000_000_000),
        ..SchedulerConfig::default()
    }
}

#[test]
fn places_count_and_completes_eval() {
    let mut h = cluster(5);
    let eval = h
        .register_and_run(mock::service_job("web", 10, 500, 512), &cfg())
        .unwrap();
    assert_eq!(running_per_group(&h, "default", "web")["web"], 10);
    h.check_no_overcommit().unwrap();
    let done = h.updated_evals.last().unwrap();
    assert_eq!(done.id, eval.id);
    assert_eq!(done.status, EvalStatus::Complete);
    assert!(h.last_blocked().is_none());
    // Names are job.group[0..10], each once.
    let mut names: Vec<String> = h.all_allocs().iter().map(|a| a.name.clone()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 10);
}

#[test]
fn exhaustion_is_explained_and_blocks() {
    let mut h = cluster(2);
    // 3 x 6000 MB on two 8192 MB nodes: one does not fit.
    h.register_and_run(mock::service_job("big", 3, 100, 6000), &cfg())
        .unwrap();
    assert_eq!(
        running_per_group(&h, "default", "big")["big".replace("big", "web").as_str()],
        2
    );
    let blocked = h.last_blocked().expect("blocked eval");
    let m = &blocked.failed_tg_allocs["web"];
    assert_eq!(m.nodes_exhausted, 2);
    assert_eq!(m.dimension_exhausted["memory"], 2);
    assert!(explain(m).contains(&"Resources exhausted on 2 nodes: memory".to_owned()));
    assert_eq!(
        h.updated_evals.last().unwrap().blocked_eval.as_ref(),
        Some(&blocked.id)
    );
}

#[test]
fn constraint_filtering_is_explained() {
    let mut h = cluster(3);
    let mut job = mock::service_job("win", 1, 100, 128);
    job.constraints = Some(vec![Constraint {
        l_target: Some("${attr.kernel.name}".into()),
        operand: Some("=".into()),
        r_target: Some("windows".into()),
    }]);
    h.register_and_run(job, &cfg()).unwrap();
    let m = &h.last_blocked().unwrap().failed_tg_allocs["web"];
    assert_eq!(m.nodes_filtered, 3);
    assert!(
        explain(m)
            .contains(&"Constraint ${attr.kernel.name} = windows filtered 3 nodes".to_owned())
    );
}

#[test]
fn distinct_hosts_spreads_over_nodes() {
    let mut h = cluster(3);
    let mut job = mock::service_job("d", 4, 100, 128);
    job.constraints = Some(vec![Constraint {
        operand: Some("distinct_hosts".into()),
        ..Default::default()
    }]);
    h.register_and_run(job, &cfg()).unwrap();
    let allocs: Vec<_> = h
        .all_allocs()
        .into_iter()
        .filter(|a| !a.is_terminal())
        .collect();
    assert_eq!(allocs.len(), 3);
    let nodes: std::collections::BTreeSet<_> = allocs.iter().map(|a| a.node_id.clone()).collect();
    assert_eq!(nodes.len(), 3);
    assert_eq!(
        h.last_blocked().unwrap().failed_tg_allocs["web"].constraint_filtered["distinct_hosts"],
        3
    );
}

#[test]
fn distinct_property_limits_per_value() {
    let mut h = Harness::new();
    for i in 1..=4u128 {
        let mut n = mock::node(i);
        n.meta.insert("rack".into(), format!("r{}", i % 2));
        h.upsert_node(n);
    }
    let mut job = mock::service_job("p", 4, 100, 128);
    job.constraints = Some(vec![Constraint {
        l_target: Some("${meta.rack}".into()),
        operand: Some("distinct_property".into()),
        r_target: Some("1".into()),
    }]);
    h.register_and_run(job, &cfg()).unwrap();
    assert_eq!(running_per_group(&h, "default", "p")["web"], 2);
}

#[test]
fn static_ports_never_collide() {
    let mut h = cluster(2);
    let job = mock::with_ports(
        mock::service_job("ports", 3, 100, 128),
        &[("http", 8080)],
        &["admin"],
    );
    h.register_and_run(job, &cfg()).unwrap();
    assert_eq!(running_per_group(&h, "default", "ports")["web"], 2);
    h.check_no_overcommit().unwrap();
    let m = &h.last_blocked().unwrap().failed_tg_allocs["web"];
    assert_eq!(
        m.dimension_exhausted["network: reserved port collision http=8080"],
        2
    );
}

#[test]
fn system_job_one_per_eligible_node_and_new_nodes() {
    let mut h = cluster(4);
    let mut ineligible = mock::node(5);
    ineligible.scheduling_eligibility = sched_core::model::NodeSchedulingEligibility::Ineligible;
    h.upsert_node(ineligible);
    let mut other = mock::node(6);
    other.drivers.clear();
    other.attributes.retain(|k, _| !k.starts_with("driver."));
    // Drivers are part of the computed class.
    other.computed_class = "v1:no-drivers".into();
    h.upsert_node(other);
    let job = mock::job_of_type("agent", "system", 1, 100, 128);
    h.register_and_run(job, &cfg()).unwrap();
    let allocs: Vec<_> = h
        .all_allocs()
        .into_iter()
        .filter(|a| !a.is_terminal())
        .cloned()
        .collect();
    assert_eq!(allocs.len(), 4);
    // Constraint/driver-filtered nodes are not failures.
    assert!(h.last_blocked().is_none());
    h.upsert_node(mock::node(7));
    let eval = h.job_eval("default", "agent");
    h.run(&eval, &cfg()).unwrap();
    let live: Vec<_> = h
        .all_allocs()
        .into_iter()
        .filter(|a| !a.is_terminal())
        .collect();
    assert_eq!(live.len(), 5);
    let nodes: std::collections::BTreeSet<_> = live.iter().map(|a| a.node_id.clone()).collect();
    assert_eq!(nodes.len(), 5);
}

#[test]
fn partial_commit_is_retried() {
    let mut h = cluster(4);
    h.max_nodes_per_plan = Some(1);
    // Spread over 4 nodes by distinct_hosts: each plan commits one node.
    let mut job = mock::service_job("partial", 4, 100, 128);
    job.constraints = Some(vec![Constraint {
        operand: Some("distinct_hosts".into()),
        ..Default::default()
    }]);
    h.register_and_run(job, &cfg()).unwrap();
    assert_eq!(running_per_group(&h, "default", "partial")["web"], 4);
    assert_eq!(h.plans.len(), 4);
    assert!(h.results[0].refresh_index > 0);
    assert_eq!(h.results[3].refresh_index, 0);
}

#[test]
fn node_failure_replaces_lost_allocs_elsewhere() {
    let mut h = cluster(3);
    h.register_and_run(mock::service_job("web", 6, 500, 512), &cfg())
        .unwrap();
    let victim = h.all_allocs()[0].node_id.clone();
    let on_victim = h
        .all_allocs()
        .iter()
        .filter(|a| a.node_id == victim)
        .count();
    assert!(on_victim > 0);
    h.set_node_status(&victim, NodeStatus::Down);
    let eval = h.job_eval("default", "web");
    h.run(&eval, &cfg()).unwrap();
    let lost: Vec<_> = h
        .all_allocs()
        .into_iter()
        .filter(|a| a.node_id == victim)
        .collect();
    assert!(
        lost.iter()
            .all(|a| a.client_status == ClientStatus::Lost
                && a.desired_status == DesiredStatus::Stop)
    );
    let live: Vec<_> = h
        .all_allocs()
        .into_iter()
        .filter(|a| !a.is_terminal())
        .collect();
    assert_eq!(live.len(), 6);
    assert!(live.iter().all(|a| a.node_id != victim));
    h.check_no_overcommit().unwrap();
}

#[test]
fn failed_alloc_rescheduled_after_delay() {
    let mut h = cluster(3);
    let mut job = mock::service_job("flaky", 1, 100, 128);
    job.task_groups.as_mut().unwrap()[0].reschedule_policy =
        Some(sched_core::model::ReschedulePolicy {
            attempts: Some(2),
            interval: Some(sched_core::model::Duration::from_hours(1)),
            delay: Some(sched_core::model::Duration::from_secs(30)),
            delay_function: Some("constant".into()),
            max_delay: Some(sched_core::model::Duration::from_secs(0)),
            unlimited: Some(false),
        });
    let t0 = 1_000_000_000_000i64;
    let c = SchedulerConfig {
        now_nanos: Some(t0),
        ..cfg()
    };
    h.register_and_run(job, &c).unwrap();
    let first = h.all_allocs()[0].clone();
    h.set_client_status(&first.id, ClientStatus::Failed, t0 + 5_000_000_000);
    // Right after the failure: a follow-up evaluation 30 s later.
    let eval = h.job_eval("default", "flaky");
    h.run(
        &eval,
        &SchedulerConfig {
            now_nanos: Some(t0 + 6_000_000_000),
            ..cfg()
        },
    )
    .unwrap();
    let follow = h
        .created_evals
        .iter()
        .find(|e| e.triggered_by == "failed-follow-up")
        .cloned()
        .expect("follow-up");
    assert_eq!(
        follow.wait_until.as_deref(),
        Some((t0 + 35_000_000_000).to_string().as_str())
    );
    assert_eq!(
        h.alloc(&first.id).unwrap().followup_eval_id.as_ref(),
        Some(&follow.id)
    );
    assert_eq!(
        h.all_allocs().iter().filter(|a| !a.is_terminal()).count(),
        0
    );
    // When the follow-up runs, the alloc is replaced, avoiding its node.
    h.run(
        &follow,
        &SchedulerConfig {
            now_nanos: Some(t0 + 35_000_000_000),
            ..cfg()
        },
    )
    .unwrap();
    let live: Vec<_> = h
        .all_allocs()
        .into_iter()
        .filter(|a| !a.is_terminal())
        .cloned()
        .collect();
    assert_eq!(live.len(), 1);
    let new = &live[0];
    assert_eq!(new.previous_allocation.as_ref(), Some(&first.id));
    assert_ne!(new.node_id, first.node_id);
    let ev = &new.reschedule_tracker.as_ref().unwrap().events;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].prev_node_id, first.node_id);
    assert_eq!(
        h.alloc(&first.id).unwrap().next_allocation.as_ref(),
        Some(&new.id)
    );
}

#[test]
fn changed_config_replaces_and_count_change_is_in_place() {
    let mut h = cluster(3);
    let job = mock::service_job("upd", 2, 100, 128);
    h.register_and_run(job.clone(), &cfg()).unwrap();
    let before: Vec<_> = h.all_allocs().iter().map(|a| a.id.clone()).collect();
    // Metadata only: in place.
    let mut meta = job.clone();
    meta.meta = Some([("owner".to_owned(), "ops".to_owned())].into());
    h.register_and_run(meta.clone(), &cfg()).unwrap();
    let live: Vec<_> = h
        .all_allocs()
        .into_iter()
        .filter(|a| !a.is_terminal())
        .cloned()
        .collect();
    assert_eq!(live.len(), 2);
    assert!(live.iter().all(|a| before.contains(&a.id)));
    assert!(live.iter().all(|a| a.job.as_ref().unwrap().ver() == 1));
    // Changed task config: destructive.
    let mut changed = meta;
    let task = &mut changed.task_groups.as_mut().unwrap()[0]
        .tasks
        .as_mut()
        .unwrap()[0];
    task.config.as_mut().unwrap().insert(
        "command".into(),
        serde_json::Value::String("/bin/true".into()),
    );
    h.register_and_run(changed, &cfg()).unwrap();
    // The default update strategy replaces one at a time, each once the
    // replacement before it is healthy.
    for _ in 0..4 {
        let unjudged: Vec<_> = h
            .all_allocs()
            .into_iter()
            .filter(|a| !a.is_terminal() && a.deployment_status.is_none())
            .map(|a| a.id.clone())
            .collect();
        for id in &unjudged {
            h.set_alloc_health(id, true);
        }
        let eval = h.job_eval("default", "upd");
        h.run(&eval, &cfg()).unwrap();
    }
    let live: Vec<_> = h
        .all_allocs()
        .into_iter()
        .filter(|a| !a.is_terminal())
        .cloned()
        .collect();
    assert_eq!(live.len(), 2);
    assert!(live.iter().all(|a| !before.contains(&a.id)));
    assert!(live.iter().all(|a| {
        a.previous_allocation
            .as_ref()
            .is_some_and(|p| before.contains(p))
    }));
    let stopped = h
        .all_allocs()
        .into_iter()
        .filter(|a| before.contains(&a.id))
        .all(|a| a.desired_status == DesiredStatus::Stop);
    assert!(stopped);
}

#[test]
fn count_down_and_job_stop() {
    let mut h = cluster(2);
    let job = mock::service_job("c", 4, 100, 128);
    h.register_and_run(job.clone(), &cfg()).unwrap();
    let mut less = job.clone();
    less.task_groups.as_mut().unwrap()[0].count = Some(1);
    h.register_and_run(less.clone(), &cfg()).unwrap();
    let live: Vec<_> = h
        .all_allocs()
        .into_iter()
        .filter(|a| !a.is_terminal())
        .cloned()
        .collect();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].name, "c.web[0]");
    let mut stopped = less;
    stopped.stop = Some(true);
    h.register_and_run(stopped, &cfg()).unwrap();
    assert_eq!(
        h.all_allocs().iter().filter(|a| !a.is_terminal()).count(),
        0
    );
}

#[test]
fn affinity_prefers_matching_nodes() {
    let mut h = Harness::new();
    for i in 1..=6u128 {
        let mut n = mock::node(i);
        n.meta.insert(
            "tier".into(),
            if i == 4 { "fast".into() } else { "slow".into() },
        );
        n.computed_class = format!("c{i}");
        h.upsert_node(n);
    }
    let mut job = mock::service_job("aff", 1, 100, 128);
    job.affinities = Some(vec![sched_core::model::Affinity {
        l_target: Some("${meta.tier}".into()),
        operand: Some("=".into()),
        r_target: Some("fast".into()),
        weight: Some(100),
    }]);
    h.register_and_run(job, &cfg()).unwrap();
    assert_eq!(
        h.all_allocs()[0].node_id,
        sched_core::model::NodeId::from_u128(4)
    );
}

#[test]
fn nomad_selection_also_places() {
    let mut h = cluster(20);
    h.register_and_run(
        mock::service_job("n", 30, 250, 256),
        &SchedulerConfig::nomad(),
    )
    .unwrap();
    assert_eq!(running_per_group(&h, "default", "n")["web"], 30);
    h.check_no_overcommit().unwrap();
    assert_eq!(
        h.job("default", "n")
            .map(|j| j.job_type().to_owned())
            .as_deref(),
        Some("service")
    );
}

#[test]
fn spread_targets_split_allocations_across_datacenters() {
    let mut h = Harness::new();
    for i in 1..=8u128 {
        let mut n = mock::node(i);
        n.datacenter = if i <= 4 { "dc1".into() } else { "dc2".into() };
        h.upsert_node(n);
    }
    let mut job = mock::service_job("sp", 10, 100, 128);
    job.datacenters = Some(vec!["dc*".into()]);
    job.spreads = Some(vec![sched_core::model::Spread {
        attribute: Some("${node.datacenter}".into()),
        weight: Some(100),
        spread_target: Some(vec![
            sched_core::model::SpreadTarget {
                value: Some("dc1".into()),
                percent: Some(70),
            },
            sched_core::model::SpreadTarget {
                value: Some("dc2".into()),
                percent: Some(30),
            },
        ]),
    }]);
    h.register_and_run(job, &cfg()).unwrap();
    let mut per_dc = std::collections::BTreeMap::new();
    for a in h.all_allocs().into_iter().filter(|a| !a.is_terminal()) {
        let dc = h.node(&a.node_id).unwrap().datacenter.clone();
        *per_dc.entry(dc).or_insert(0) += 1;
    }
    assert_eq!(per_dc["dc1"], 7);
    assert_eq!(per_dc["dc2"], 3);
}

#[test]
fn even_spread_without_targets() {
    let mut h = Harness::new();
    for i in 1..=6u128 {
        let mut n = mock::node(i);
        n.meta.insert("rack".into(), format!("r{}", i % 3));
        h.upsert_node(n);
    }
    let mut job = mock::service_job("even", 6, 100, 128);
    job.spreads = Some(vec![sched_core::model::Spread {
        attribute: Some("${meta.rack}".into()),
        weight: Some(50),
        spread_target: None,
    }]);
    h.register_and_run(job, &cfg()).unwrap();
    let mut per_rack = std::collections::BTreeMap::new();
    for a in h.all_allocs() {
        let rack = h.node(&a.node_id).unwrap().meta["rack"].clone();
        *per_rack.entry(rack).or_insert(0) += 1;
    }
    assert_eq!(
        per_rack.values().copied().collect::<Vec<_>>(),
        vec![2, 2, 2]
    );
}

#[test]
fn batch_completions_are_not_replaced_but_failures_are() {
    let mut h = cluster(3);
    let job = mock::job_of_type("b", "batch", 2, 100, 128);
    h.register_and_run(job, &cfg()).unwrap();
    let allocs: Vec<_> = h.all_allocs().into_iter().cloned().collect();
    let t = 1_000_000_000_000i64;
    h.set_client_status(&allocs[0].id, ClientStatus::Complete, t);
    h.set_client_status(&allocs[1].id, ClientStatus::Failed, t);
    // The batch default policy reschedules once after 5 s.
    let eval = h.job_eval("default", "b");
    h.run(
        &eval,
        &SchedulerConfig {
            now_nanos: Some(t + 10_000_000_000),
            ..cfg()
        },
    )
    .unwrap();
    let live: Vec<_> = h
        .all_allocs()
        .into_iter()
        .filter(|a| !a.is_terminal())
        .cloned()
        .collect();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].previous_allocation.as_ref(), Some(&allocs[1].id));
    // It fails again: the one attempt in 24 h is used up, nothing more.
    h.set_client_status(&live[0].id, ClientStatus::Failed, t + 20_000_000_000);
    let eval = h.job_eval("default", "b");
    h.run(
        &eval,
        &SchedulerConfig {
            now_nanos: Some(t + 60_000_000_000),
            ..cfg()
        },
    )
    .unwrap();
    assert_eq!(
        h.all_allocs().iter().filter(|a| !a.is_terminal()).count(),
        0
    );
}

#[test]
fn draining_node_allocs_migrate() {
    let mut h = cluster(2);
    h.register_and_run(mock::service_job("m", 2, 100, 128), &cfg())
        .unwrap();
    let node_id = h.all_allocs()[0].node_id.clone();
    let mut node = h.node(&node_id).unwrap().clone();
    node.drain_strategy = Some(Default::default());
    h.upsert_node(node);
    let eval = h.job_eval("default", "m");
    h.run(&eval, &cfg()).unwrap();
    let live: Vec<_> = h
        .all_allocs()
        .into_iter()
        .filter(|a| !a.is_terminal())
        .collect();
    assert_eq!(live.len(), 2);
    assert!(live.iter().all(|a| a.node_id != node_id));
}

#[test]
fn host_volume_requests_pick_nodes_offering_them() {
    let mut h = cluster(3);
    let mut n = h
        .node(&sched_core::model::NodeId::from_u128(2))
        .unwrap()
        .clone();
    n.host_volumes.insert(
        "data".into(),
        sched_core::model::ClientHostVolumeConfig {
            name: "data".into(),
            path: "/srv".into(),
            read_only: false,
        },
    );
    n.computed_class = "v1:with-data".into();
    h.upsert_node(n);
    let mut job = mock::service_job("vol", 1, 100, 128);
    job.task_groups.as_mut().unwrap()[0].volumes = Some(
        [(
            "data".to_owned(),
            sched_core::model::VolumeRequest {
                r#type: Some("host".into()),
                source: Some("data".into()),
                ..Default::default()
            },
        )]
        .into(),
    );
    h.register_and_run(job, &cfg()).unwrap();
    assert_eq!(
        h.all_allocs()[0].node_id,
        sched_core::model::NodeId::from_u128(2)
    );
}

#[test]
fn system_job_stop_and_lost_node() {
    let mut h = cluster(3);
    let job = mock::job_of_type("sys", "sysbatch", 1, 100, 128);
    h.register_and_run(job.clone(), &cfg()).unwrap();
    assert_eq!(h.all_allocs().len(), 3);
    h.set_node_status(&sched_core::model::NodeId::from_u128(1), NodeStatus::Down);
    let eval = h.job_eval("default", "sys");
    h.run(&eval, &cfg()).unwrap();
    let lost: Vec<_> = h
        .all_allocs()
        .into_iter()
        .filter(|a| a.client_status == ClientStatus::Lost)
        .collect();
    assert_eq!(lost.len(), 1);
    let mut stopped = job;
    stopped.stop = Some(true);
    h.register_and_run(stopped, &cfg()).unwrap();
    assert_eq!(
        h.all_allocs().iter().filter(|a| !a.is_terminal()).count(),
        0
    );
}

#[test]
fn no_nodes_is_explained() {
    let mut h = Harness::new();
    h.register_and_run(mock::service_job("none", 1, 100, 128), &cfg())
        .unwrap();
    let m = &h.last_blocked().unwrap().failed_tg_allocs["web"];
    assert_eq!(
        explain(m),
        vec!["No nodes were eligible for evaluation".to_owned()]
    );
}

#[test]
fn refused_plans_without_progress_fail_the_eval_and_block() {
    let mut h = cluster(2);
    h.max_nodes_per_plan = Some(0);
    let eval = h
        .register_and_run(mock::service_job("stuck", 2, 100, 128), &cfg())
        .unwrap();
    // Service jobs try five times.
    assert_eq!(h.plans.len(), 5);
    let done = h.updated_evals.last().unwrap().clone();
    assert_eq!(done.id, eval.id);
    assert_eq!(done.status, EvalStatus::Failed);
    let blocked = h.last_blocked().unwrap().clone();
    assert_eq!(
        blocked.status_description,
        "created due to placement conflicts"
    );
    assert_eq!(done.blocked_eval.as_ref(), Some(&blocked.id));
    // Once the applier accepts again, the blocked eval places everything.
    h.max_nodes_per_plan = None;
    h.run(&blocked, &cfg()).unwrap();
    assert_eq!(running_per_group(&h, "default", "stuck")["web"], 2);
}

#[test]
fn sysbatch_completions_are_not_placed_again() {
    let mut h = cluster(2);
    let job = mock::job_of_type("once", "sysbatch", 1, 100, 128);
    h.register_and_run(job, &cfg()).unwrap();
    let ids: Vec<_> = h.all_allocs().iter().map(|a| a.id.clone()).collect();
    assert_eq!(ids.len(), 2);
    for id in &ids {
        h.set_client_status(id, ClientStatus::Complete, 1);
    }
    let eval = h.job_eval("default", "once");
    h.run(&eval, &cfg()).unwrap();
    assert_eq!(h.all_allocs().len(), 2);
    // A new node still gets its run.
    h.upsert_node(mock::node(3));
    let eval = h.job_eval("default", "once");
    h.run(&eval, &cfg()).unwrap();
    assert_eq!(h.all_allocs().len(), 3);
}

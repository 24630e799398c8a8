//! The job model survives Nomad JSON unchanged: random jobs round-trip through
//! `serde_json::Value`, canonicalisation is idempotent on them, and Nomad's own
//! JSON job payloads deserialize.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use proptest::collection::{btree_map, vec};
use proptest::option::of as opt;
use proptest::prelude::*;
use sched_core::model::*;
use serde_json::{Value, json};

fn ident() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_-]{0,8}"
}

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,10}"
}

fn dur() -> impl Strategy<Value = Duration> {
    any::<i64>().prop_map(Duration::from_nanos)
}

fn strings() -> impl Strategy<Value = Option<Vec<String>>> {
    opt(vec(text(), 0..3))
}

fn smap() -> impl Strategy<Value = Option<BTreeMap<String, String>>> {
    opt(btree_map(text(), text(), 0..3))
}

/// Arbitrary JSON, nested a few levels, as driver configs and policies hold.
fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        // Binary fractions: serde_json parses these back exactly from text
        // (arbitrary doubles would need its `float_roundtrip` feature).
        (-1_000_000i32..1_000_000).prop_map(|n| Value::from(f64::from(n) / 8.0)),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(ident(), inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

fn vmap() -> impl Strategy<Value = Option<BTreeMap<String, Value>>> {
    opt(btree_map(ident(), json_value(), 0..4))
}

fn constraint() -> BoxedStrategy<Constraint> {
    (opt(text()), opt(text()), opt(text()))
        .prop_map(|(l_target, r_target, operand)| Constraint {
            l_target,
            r_target,
            operand,
        })
        .boxed()
}

fn affinity() -> BoxedStrategy<Affinity> {
    (opt(text()), opt(text()), opt(text()), opt(any::<i8>()))
        .prop_map(|(l_target, r_target, operand, weight)| Affinity {
            l_target,
            r_target,
            operand,
            weight,
        })
        .boxed()
}

fn spread() -> BoxedStrategy<Spread> {
    let target = (opt(text()), opt(any::<u8>()))
        .prop_map(|(value, percent)| SpreadTarget { value, percent });
    (opt(text()), opt(any::<i8>()), opt(vec(target, 0..3)))
        .prop_map(|(attribute, weight, spread_target)| Spread {
            attribute,
            weight,
            spread_target,
        })
        .boxed()
}

fn port() -> BoxedStrategy<Port> {
    (
        opt(ident()),
        opt(any::<i64>()),
        opt(any::<i64>()),
        opt(ident()),
        opt(any::<bool>()),
    )
        .prop_map(|(label, value, to, host_network, ignore_collision)| Port {
            label,
            value,
            to,
            host_network,
            ignore_collision,
        })
        .boxed()
}

fn network() -> BoxedStrategy<NetworkResource> {
    let dns =
        (strings(), strings(), strings()).prop_map(|(servers, searches, options)| DNSConfig {
            servers,
            searches,
            options,
        });
    (
        opt(prop_oneof![
            Just("host".to_owned()),
            Just("bridge".to_owned()),
            text()
        ]),
        opt(text()),
        opt(any::<i64>()),
        opt(dns),
        opt(smap().prop_map(|args| CNIConfig { args })),
        opt(vec(port(), 0..3)),
        opt(vec(port(), 0..3)),
        opt(text()),
    )
        .prop_map(
            |(mode, ip, mbits, dns, cni, reserved_ports, dynamic_ports, hostname)| {
                NetworkResource {
                    mode,
                    ip,
                    mbits,
                    dns,
                    cni,
                    reserved_ports,
                    dynamic_ports,
                    hostname,
                    ..Default::default()
                }
            },
        )
        .boxed()
}

fn check() -> BoxedStrategy<ServiceCheck> {
    let restart = (opt(any::<i64>()), opt(dur()), opt(any::<bool>())).prop_map(
        |(limit, grace, ignore_warnings)| CheckRestart {
            limit,
            grace,
            ignore_warnings,
        },
    );
    (
        (
            opt(text()),
            opt(prop_oneof![
                Just("http".to_owned()),
                Just("tcp".to_owned()),
                text()
            ]),
        ),
        (opt(text()), strings(), opt(text()), opt(text())),
        (opt(dur()), opt(dur()), opt(any::<bool>())),
        opt(btree_map(text(), vec(text(), 0..3), 0..3)),
        opt(restart),
        (opt(text()), opt(any::<bool>()), opt(any::<i64>())),
    )
        .prop_map(
            |(
                (name, r#type),
                (command, args, path, port_label),
                (interval, timeout, tls_skip_verify),
                header,
                check_restart,
                (grpc_service, grpc_use_tls, success_before_passing),
            )| ServiceCheck {
                name,
                r#type,
                command,
                args,
                path,
                port_label,
                interval,
                timeout,
                tls_skip_verify,
                header,
                check_restart,
                grpc_service,
                grpc_use_tls,
                success_before_passing,
                ..Default::default()
            },
        )
        .boxed()
}

fn service() -> BoxedStrategy<Service> {
    let connect =
        btree_map(ident(), json_value(), 0..3).prop_map(|m| Value::Object(m.into_iter().collect()));
    (
        (opt(text()), strings(), strings(), opt(text())),
        (opt(text()), opt(vec(check(), 0..3)), opt(connect)),
        (
            smap(),
            opt(text()),
            opt(prop_oneof![
                Just("nomad".to_owned()),
                Just("consul".to_owned())
            ]),
        ),
    )
        .prop_map(
            |(
                (name, tags, canary_tags, port_label),
                (address_mode, checks, connect),
                (meta, task_name, provider),
            )| Service {
                name,
                tags,
                canary_tags,
                port_label,
                address_mode,
                checks,
                connect,
                meta,
                task_name,
                provider,
                ..Default::default()
            },
        )
        .boxed()
}

fn resources() -> BoxedStrategy<Resources> {
    let device = (opt(text()), opt(any::<u64>()), opt(vec(constraint(), 0..2))).prop_map(
        |(name, count, constraints)| RequestedDevice {
            name,
            count,
            constraints,
            ..Default::default()
        },
    );
    (
        (
            opt(any::<i64>()),
            opt(any::<i64>()),
            opt(any::<i64>()),
            opt(any::<i64>()),
        ),
        opt(vec(network(), 0..2)),
        opt(vec(device, 0..2)),
    )
        .prop_map(
            |((cpu, cores, memory_mb, memory_max_mb), networks, devices)| Resources {
                cpu,
                cores,
                memory_mb,
                memory_max_mb,
                networks,
                devices,
                ..Default::default()
            },
        )
        .boxed()
}

fn restart_policy() -> BoxedStrategy<RestartPolicy> {
    (
        opt(dur()),
        opt(any::<i64>()),
        opt(dur()),
        opt(text()),
        opt(any::<bool>()),
    )
        .prop_map(
            |(interval, attempts, delay, mode, render_templates)| RestartPolicy {
                interval,
                attempts,
                delay,
                mode,
                render_templates,
            },
        )
        .boxed()
}

fn reschedule_policy() -> BoxedStrategy<ReschedulePolicy> {
    (
        opt(any::<i64>()),
        opt(dur()),
        opt(dur()),
        opt(text()),
        opt(dur()),
        opt(any::<bool>()),
    )
        .prop_map(
            |(attempts, interval, delay, delay_function, max_delay, unlimited)| ReschedulePolicy {
                attempts,
                interval,
                delay,
                delay_function,
                max_delay,
                unlimited,
            },
        )
        .boxed()
}

fn update_strategy() -> BoxedStrategy<UpdateStrategy> {
    (
        (opt(dur()), opt(any::<i64>()), opt(text())),
        (opt(dur()), opt(dur()), opt(dur())),
        (opt(any::<i64>()), opt(any::<bool>()), opt(any::<bool>())),
    )
        .prop_map(
            |(
                (stagger, max_parallel, health_check),
                (min_healthy_time, healthy_deadline, progress_deadline),
                (canary, auto_revert, auto_promote),
            )| UpdateStrategy {
                stagger,
                max_parallel,
                health_check,
                min_healthy_time,
                healthy_deadline,
                progress_deadline,
                canary,
                auto_revert,
                auto_promote,
            },
        )
        .boxed()
}

fn template() -> BoxedStrategy<Template> {
    let script =
        (opt(text()), strings(), opt(dur())).prop_map(|(command, args, timeout)| ChangeScript {
            command,
            args,
            timeout,
            ..Default::default()
        });
    (
        (opt(text()), opt(text()), opt(text())),
        (opt(text()), opt(text()), opt(script)),
        (opt(dur()), opt(text()), opt(any::<bool>())),
    )
        .prop_map(
            |(
                (source_path, dest_path, embedded_tmpl),
                (change_mode, change_signal, change_script),
                (splay, perms, err_missing_key),
            )| Template {
                source_path,
                dest_path,
                embedded_tmpl,
                change_mode,
                change_signal,
                change_script,
                splay,
                perms,
                err_missing_key,
                ..Default::default()
            },
        )
        .boxed()
}

fn artifact() -> BoxedStrategy<Artifact> {
    (opt(text()), vmap(), smap(), opt(text()), opt(text()))
        .prop_map(
            |(getter_source, getter_options, getter_headers, getter_mode, relative_dest)| {
                Artifact {
                    getter_source,
                    getter_options,
                    getter_headers,
                    getter_mode,
                    relative_dest,
                    ..Default::default()
                }
            },
        )
        .boxed()
}

fn task() -> BoxedStrategy<Task> {
    let lifecycle = (opt(text()), opt(any::<bool>()))
        .prop_map(|(hook, sidecar)| TaskLifecycle { hook, sidecar });
    (
        (
            opt(ident()),
            opt(prop_oneof![
                Just("raw_exec".to_owned()),
                Just("docker".to_owned())
            ]),
        ),
        (opt(lifecycle), vmap(), smap(), opt(vec(constraint(), 0..2))),
        (
            opt(vec(service(), 0..2)),
            opt(resources()),
            opt(restart_policy()),
        ),
        (
            opt(dur()),
            opt(vec(artifact(), 0..2)),
            opt(vec(template(), 0..2)),
        ),
        (opt(any::<bool>()), opt(dur()), opt(text()), smap()),
    )
        .prop_map(
            |(
                (name, driver),
                (lifecycle, config, env, constraints),
                (services, resources, restart_policy),
                (kill_timeout, artifacts, templates),
                (leader, shutdown_delay, kill_signal, meta),
            )| Task {
                name,
                driver,
                lifecycle,
                config,
                env,
                constraints,
                services,
                resources,
                restart_policy,
                kill_timeout,
                artifacts,
                templates,
                leader,
                shutdown_delay,
                kill_signal,
                meta,
                ..Default::default()
            },
        )
        .boxed()
}

fn group() -> BoxedStrategy<TaskGroup> {
    let scaling = (
        opt(any::<i64>()),
        opt(any::<i64>()),
        vmap(),
        opt(any::<bool>()),
    )
        .prop_map(|(min, max, policy, enabled)| ScalingPolicy {
            min,
            max,
            policy,
            enabled,
            ..Default::default()
        });
    let volume =
        (opt(ident()), opt(text()), opt(any::<bool>())).prop_map(|(r#type, source, read_only)| {
            VolumeRequest {
                r#type,
                source,
                read_only,
                ..Default::default()
            }
        });
    (
        (
            opt(ident()),
            opt(any::<i64>()),
            opt(vec(constraint(), 0..2)),
            opt(vec(affinity(), 0..2)),
        ),
        (
            opt(vec(task(), 0..3)),
            opt(vec(spread(), 0..2)),
            opt(btree_map(ident(), volume, 0..2)),
        ),
        (
            opt(restart_policy()),
            opt(reschedule_policy()),
            opt(update_strategy()),
        ),
        (
            opt(vec(network(), 0..2)),
            opt(vec(service(), 0..2)),
            smap(),
            opt(scaling),
        ),
        opt(dur()),
    )
        .prop_map(
            |(
                (name, count, constraints, affinities),
                (tasks, spreads, volumes),
                (restart_policy, reschedule_policy, update),
                (networks, services, meta, scaling),
                shutdown_delay,
            )| TaskGroup {
                name,
                count,
                constraints,
                affinities,
                tasks,
                spreads,
                volumes,
                restart_policy,
                reschedule_policy,
                update,
                networks,
                services,
                meta,
                scaling,
                shutdown_delay,
                ..Default::default()
            },
        )
        .boxed()
}

fn job() -> BoxedStrategy<Job> {
    let job_type = prop_oneof![
        Just("service".to_owned()),
        Just("batch".to_owned()),
        Just("system".to_owned()),
        Just("sysbatch".to_owned()),
        text(),
    ];
    let periodic = (opt(any::<bool>()), opt(text()), strings(), opt(text())).prop_map(
        |(enabled, spec, specs, time_zone)| PeriodicConfig {
            enabled,
            spec,
            specs,
            time_zone,
            ..Default::default()
        },
    );
    let parameterized =
        (opt(text()), strings(), strings()).prop_map(|(payload, meta_required, meta_optional)| {
            ParameterizedJobConfig {
                payload,
                meta_required,
                meta_optional,
            }
        });
    (
        (opt(text()), opt(text()), opt(ident()), opt(text())),
        (
            opt(job_type),
            opt(any::<i64>()),
            opt(any::<bool>()),
            strings(),
            opt(text()),
        ),
        (
            opt(vec(constraint(), 0..3)),
            opt(vec(affinity(), 0..2)),
            opt(vec(spread(), 0..2)),
        ),
        (
            opt(vec(group(), 0..3)),
            opt(update_strategy()),
            opt(periodic),
            opt(parameterized),
        ),
        (
            opt(reschedule_policy()),
            smap(),
            opt(any::<bool>()),
            opt(any::<u64>()),
        ),
    )
        .prop_map(
            |(
                (region, namespace, id, name),
                (r#type, priority, all_at_once, datacenters, node_pool),
                (constraints, affinities, spreads),
                (task_groups, update, periodic, parameterized_job),
                (reschedule, meta, stop, version),
            )| Job {
                region,
                namespace,
                id,
                name,
                r#type,
                priority,
                all_at_once,
                datacenters,
                node_pool,
                constraints,
                affinities,
                spreads,
                task_groups,
                update,
                periodic,
                parameterized_job,
                reschedule,
                meta,
                stop,
                version,
                ..Default::default()
            },
        )
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn job_json_round_trip(job in job()) {
        let value = serde_json::to_value(&job).unwrap();
        let back: Job = serde_json::from_value(value.clone()).unwrap();
        prop_assert_eq!(&back, &job);
        // And through text, as the HTTP API carries it.
        let text = serde_json::to_string(&job).unwrap();
        let back: Job = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(back, job);
    }

    #[test]
    fn canonicalize_is_idempotent(job in job()) {
        // Validation never panics, even on a job that was not canonicalised.
        let _ = job.validate();
        let mut once = job.clone();
        once.canonicalize();
        let mut twice = once.clone();
        twice.canonicalize();
        prop_assert_eq!(&once, &twice);
        // Validation never panics, whatever it finds.
        let _ = once.validate();
    }

    #[test]
    fn register_request_round_trip(job in job(), enforce in any::<bool>(), index in any::<u64>()) {
        let req = JobRegisterRequest {
            job: Some(job),
            enforce_index: Some(enforce),
            job_modify_index: Some(index),
            ..Default::default()
        };
        let value = serde_json::to_value(&req).unwrap();
        prop_assert!(value.get("Job").is_some());
        let back: JobRegisterRequest = serde_json::from_value(value).unwrap();
        prop_assert_eq!(back, req);
    }
}

const EXAMPLE_SHORT: &str = include_str!("fixtures/example-short.json");
const EXAMPLE_SHORT_BAD: &str = include_str!("fixtures/example-short-bad.json");

#[test]
fn nomad_example_short_deserializes_and_validates() {
    let req: JobRegisterRequest = serde_json::from_str(EXAMPLE_SHORT).unwrap();
    let mut job = req.job.unwrap();
    // Explicit nulls are "not set".
    assert_eq!(job.region, None);
    assert_eq!(job.r#type, None);
    assert_eq!(job.id.as_deref(), Some("example"));
    assert_eq!(job.datacenters, Some(vec!["dc1".to_owned()]));
    let group = &job.task_groups.as_ref().unwrap()[0];
    assert_eq!(group.name.as_deref(), Some("cache"));
    assert_eq!(group.count, None);
    let net = &group.networks.as_ref().unwrap()[0];
    let port = &net.dynamic_ports.as_ref().unwrap()[0];
    assert_eq!((port.label.as_deref(), port.to), (Some("db"), Some(6379)));
    let task = &group.tasks.as_ref().unwrap()[0];
    assert_eq!(task.driver.as_deref(), Some("docker"));
    let config = task.config.as_ref().unwrap();
    assert_eq!(config["image"], json!("redis:7"));
    assert_eq!(config["ports"], json!(["db"]));
    let res = task.resources.as_ref().unwrap();
    assert_eq!(
        (res.cpu, res.memory_mb, res.cores),
        (Some(500), Some(256), None)
    );

    // What we read, we write back the same way.
    let again: Job = serde_json::from_value(serde_json::to_value(&job).unwrap()).unwrap();
    assert_eq!(again, job);

    job.canonicalize();
    assert_eq!(job.validate().map_err(|e| e.to_string()), Ok(()));
    assert_eq!(job.task_groups.as_ref().unwrap()[0].count, Some(1));
}

#[test]
fn nomad_example_short_bad_deserializes_but_fails_validation() {
    // Nomad rejects this job on the server, not while decoding JSON: it has a
    // space in its ID and no datacenters. Canonicalisation fills datacenters
    // with "*" as Nomad's api package does, so the ID is what remains wrong.
    let req: JobRegisterRequest = serde_json::from_str(EXAMPLE_SHORT_BAD).unwrap();
    let mut job = req.job.unwrap();
    assert_eq!(job.datacenters, None);
    let errors = job.validate().unwrap_err().to_string();
    assert!(errors.contains("job: job ID contains a space"), "{errors}");
    assert!(errors.contains("job: missing job datacenters"), "{errors}");
    job.canonicalize();
    let errors = job.validate().unwrap_err();
    assert_eq!(errors.to_string(), "job: job ID contains a space");
}

#[test]
fn unset_fields_stay_absent_and_empty_collections_stay_empty() {
    let input = json!({
        "ID": "j",
        "Datacenters": [],
        "Meta": {},
        "TaskGroups": [{
            "Name": "g",
            "Tasks": [{
                "Name": "t",
                "Env": {},
                "Artifacts": [{"GetterSource": "https://e.com/x", "RelativeDest": ""}],
                "KillTimeout": 22000000000u64
            }]
        }],
        "SomeFutureField": {"ignored": true}
    });
    let job: Job = serde_json::from_value(input.clone()).unwrap();
    let mut expected = input;
    expected.as_object_mut().unwrap().remove("SomeFutureField");
    assert_eq!(serde_json::to_value(&job).unwrap(), expected);
    let task = &job.task_groups.as_ref().unwrap()[0].tasks.as_ref().unwrap()[0];
    assert_eq!(task.kill_timeout, Some(Duration::from_secs(22)));
    assert_eq!(task.kill_timeout.unwrap().to_string(), "22s");
}

#[test]
fn go_field_names_are_used() {
    let job = Job {
        id: Some("x".into()),
        task_groups: Some(vec![TaskGroup {
            ephemeral_disk: Some(EphemeralDisk {
                size_mb: Some(1),
                ..Default::default()
            }),
            tasks: Some(vec![Task {
                resources: Some(Resources {
                    cpu: Some(1),
                    memory_mb: Some(2),
                    memory_max_mb: Some(3),
                    iops: Some(0),
                    networks: Some(vec![NetworkResource {
                        mbits: Some(10),
                        cidr: Some("10.0.0.0/8".into()),
                        ip: Some("10.0.0.1".into()),
                        dns: Some(DNSConfig::default()),
                        cni: Some(CNIConfig::default()),
                        ..Default::default()
                    }]),
                    numa: Some(Numa::default()),
                    ..Default::default()
                }),
                csi_plugin_config: Some(CSIPluginConfig {
                    id: Some("p".into()),
                    ..Default::default()
                }),
                services: Some(vec![Service {
                    port_label: Some("http".into()),
                    task_name: Some("t".into()),
                    checks: Some(vec![ServiceCheck {
                        grpc_service: Some("s".into()),
                        grpc_use_tls: Some(true),
                        tls_skip_verify: Some(false),
                        tls_server_name: Some("n".into()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }]),
                templates: Some(vec![Template {
                    embedded_tmpl: Some("x".into()),
                    left_delim: Some("[[".into()),
                    err_missing_key: Some(true),
                    ..Default::default()
                }]),
                artifacts: Some(vec![Artifact {
                    getter_source: Some("s".into()),
                    relative_dest: Some("d".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }]),
            ..Default::default()
        }]),
        constraints: Some(vec![Constraint {
            l_target: Some("a".into()),
            r_target: Some("b".into()),
            operand: Some("=".into()),
        }]),
        ui: Some(JobUIConfig {
            links: Some(vec![JobUILink {
                label: Some("l".into()),
                url: Some("u".into()),
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let text = serde_json::to_string(&job).unwrap();
    for key in [
        "\"ID\"",
        "\"TaskGroups\"",
        "\"SizeMB\"",
        "\"CPU\"",
        "\"MemoryMB\"",
        "\"MemoryMaxMB\"",
        "\"IOPS\"",
        "\"MBits\"",
        "\"CIDR\"",
        "\"IP\"",
        "\"DNS\"",
        "\"CNI\"",
        "\"NUMA\"",
        "\"CSIPluginConfig\"",
        "\"PortLabel\"",
        "\"TaskName\"",
        "\"GRPCService\"",
        "\"GRPCUseTLS\"",
        "\"TLSSkipVerify\"",
        "\"TLSServerName\"",
        "\"EmbeddedTmpl\"",
        "\"LeftDelim\"",
        "\"ErrMissingKey\"",
        "\"GetterSource\"",
        "\"RelativeDest\"",
        "\"LTarget\"",
        "\"RTarget\"",
        "\"Operand\"",
        "\"UI\"",
        "\"URL\"",
    ] {
        assert!(text.contains(key), "{key} missing from {text}");
    }
}

#[test]
fn cluster_objects_accept_nomad_nulls_and_empty_ids() {
    let alloc: Allocation = serde_json::from_value(json!({
        "ID": "00000000-0000-0000-0000-000000000001",
        "EvalID": "00000000-0000-0000-0000-000000000002",
        "NodeID": "00000000-0000-0000-0000-000000000003",
        "JobID": "web",
        "TaskGroup": "web",
        "DesiredStatus": "run",
        "ClientStatus": "complete",
        "TaskStates": null,
        "DeploymentID": "",
        "PreviousAllocation": "",
        "NextAllocation": null,
        "CreateTime": 5
    }))
    .unwrap();
    assert_eq!(alloc.id, AllocId::from_u128(1));
    assert_eq!(alloc.deployment_id, None);
    assert_eq!(alloc.previous_allocation, None);
    assert!(alloc.task_states.is_empty());
    assert!(alloc.is_terminal());
    let back: Allocation = serde_json::from_value(serde_json::to_value(&alloc).unwrap()).unwrap();
    assert_eq!(back, alloc);

    let eval = Evaluation {
        id: EvalId::from_u128(9),
        status: EvalStatus::Blocked,
        trace_id: "trace-1".into(),
        ..Default::default()
    };
    let v = serde_json::to_value(&eval).unwrap();
    assert_eq!(v["Status"], json!("blocked"));
    assert_eq!(v["TraceID"], json!("trace-1"));
    assert_eq!(serde_json::from_value::<Evaluation>(v).unwrap(), eval);

    let node: Node = serde_json::from_value(json!({
        "ID": "n1", "Status": "ready", "SchedulingEligibility": "eligible",
        "NodeResources": {"Cpu": {"CpuShares": 4000}, "Memory": {"MemoryMB": 8192}},
        "Drivers": {"raw_exec": {"Detected": true, "Healthy": true}}
    }))
    .unwrap();
    assert!(node.is_schedulable());
    assert_eq!(node.node_resources.memory.memory_mb, 8192);

    let mut plan = Plan {
        eval_id: EvalId::from_u128(1),
        ..Default::default()
    };
    plan.node_allocation
        .insert(NodeId::from_u128(3), vec![alloc]);
    let v = serde_json::to_value(&plan).unwrap();
    assert!(v["NodeAllocation"]["00000000-0000-0000-0000-000000000003"].is_array());
    assert_eq!(serde_json::from_value::<Plan>(v).unwrap(), plan);

    let dep = Deployment {
        status: DeploymentStatus::Successful,
        ..Default::default()
    };
    let v = serde_json::to_value(&dep).unwrap();
    assert_eq!(v["Status"], json!("successful"));
}

/// A job with every field of Nomad's job JSON set: nothing may be dropped or
/// renamed on the way through the model.
#[test]
fn every_documented_field_survives() {
    let input: Value = serde_json::from_str(include_str!("fixtures/every-field.json")).unwrap();
    let job: Job = serde_json::from_value(input.clone()).unwrap();
    let output = serde_json::to_value(&job).unwrap();
    assert_eq!(output, input);
    let mut canonical = job.clone();
    canonical.canonicalize();
    let mut twice = canonical.clone();
    twice.canonicalize();
    assert_eq!(twice, canonical);
}

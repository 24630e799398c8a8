//! Host-side tests of the docker driver's pure logic.

use serde_json::json;

use sched_driver_sdk::{PortMapping, Resources, TaskConfig, handle};

use crate::api::{container_state, demux, parse_rfc3339, usage};
use crate::body::{container_name, create_body, pull_path, query_escape, split_image};
use crate::config::DockerConfig;
use crate::{DockerState, NAME, STATE_VERSION, state_of};

fn task(driver_config: &str) -> TaskConfig {
    TaskConfig {
        id: "a1/web".into(),
        name: "web".into(),
        alloc_id: "a1".into(),
        job_id: "job".into(),
        group_name: "g".into(),
        driver_config: driver_config.into(),
        env: vec![
            ("NOMAD_TASK_DIR".into(), "/data/a1/web/local".into()),
            ("NOMAD_ALLOC_DIR".into(), "/data/a1/alloc".into()),
            ("FOO".into(), "task".into()),
            ("KEEP".into(), "1".into()),
        ],
        user: None,
        task_dir: "/data/a1/web".into(),
        alloc_dir: "/data/a1/alloc".into(),
        stdout_path: "/data/a1/alloc/logs/web.stdout.0".into(),
        stderr_path: "/data/a1/alloc/logs/web.stderr.0".into(),
        resources: Resources {
            cpu_mhz: 500,
            cores: 0,
            memory_mb: 256,
            memory_max_mb: 512,
        },
        ports: vec![
            PortMapping {
                label: "http".into(),
                host_ip: "10.0.0.5".into(),
                host_port: 25000,
                task_port: 8080,
            },
            PortMapping {
                label: "db".into(),
                host_ip: "10.0.0.5".into(),
                host_port: 25001,
                task_port: 0,
            },
        ],
        network_mode: "host".into(),
        hostname: "web-1".into(),
        trace_id: "t".into(),
    }
}

#[test]
fn config_checks_name_fields() {
    let e = DockerConfig::parse("{}").unwrap_err();
    assert_eq!(e.message(), "image: missing field");
    let e = DockerConfig::parse(r#"{"image":"x","volumes":["nocolon"]}"#).unwrap_err();
    assert!(e.message().starts_with("volumes[0]:"), "{e:?}");
    let e = DockerConfig::parse(r#"{"image":"x","mounts":[{"type":"nfs","target":"/x"}]}"#)
        .unwrap_err();
    assert!(e.message().starts_with("mounts[0].type:"), "{e:?}");
    let e = DockerConfig::parse(r#"{"image":"x","mounts":[{"target":"/x"}]}"#).unwrap_err();
    assert!(e.message().starts_with("mounts[0].source:"), "{e:?}");
    let e = DockerConfig::parse(r#"{"image":"x","load":"../../etc/img.tar"}"#).unwrap_err();
    assert!(e.message().starts_with("load:"), "{e:?}");
    let e = DockerConfig::parse(r#"{"image":"x","labels":5}"#).unwrap_err();
    assert!(e.message().starts_with("labels:"), "{e:?}");
    let e = DockerConfig::parse(r#"{"image":"x","image_pull_timeout":"later"}"#).unwrap_err();
    assert!(e.message().starts_with("image_pull_timeout:"), "{e:?}");
}

#[test]
fn labels_as_map_or_list() {
    let a = DockerConfig::parse(r#"{"image":"x","labels":{"a":"1"}}"#).unwrap();
    let b = DockerConfig::parse(r#"{"image":"x","labels":[{"a":"1"}]}"#).unwrap();
    assert_eq!(a.labels, b.labels);
    assert_eq!(a.labels["a"], "1");
}

#[test]
fn builds_the_create_body() {
    let t = task(
        r#"{"image":"redis:7","command":"redis-server","args":["--port","8080"],
            "env":{"FOO":"cfg"},"ports":["http","db"],"volumes":["data:/data","local/conf:/etc/r:ro","/srv:/srv"],
            "mounts":[{"type":"tmpfs","target":"/scratch","tmpfs_options":{"size":1048576}},
                      {"type":"bind","source":"local/x","target":"/x","readonly":true}],
            "labels":[{"team":"a"}],"work_dir":"/w","privileged":true,"entrypoint":["/init"]}"#,
    );
    let cfg = DockerConfig::parse(&t.driver_config).unwrap();
    let b = create_body(&cfg, &t).unwrap();
    assert_eq!(b["Image"], "redis:7");
    assert_eq!(b["Cmd"], json!(["redis-server", "--port", "8080"]));
    assert_eq!(b["Entrypoint"], json!(["/init"]));
    assert_eq!(b["WorkingDir"], "/w");
    let env: Vec<&str> = b["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(env.contains(&"FOO=cfg") && !env.contains(&"FOO=task"));
    assert!(env.contains(&"KEEP=1"));
    assert!(env.contains(&"NOMAD_TASK_DIR=/local"));
    assert!(env.contains(&"NOMAD_ALLOC_DIR=/alloc"));
    assert_eq!(b["Labels"]["team"], "a");
    assert_eq!(b["Labels"]["sched.alloc_id"], "a1");
    assert_eq!(b["ExposedPorts"]["8080/tcp"], json!({}));
    assert_eq!(b["ExposedPorts"]["25001/udp"], json!({}));
    let h = &b["HostConfig"];
    assert_eq!(
        h["PortBindings"]["8080/tcp"],
        json!([{"HostIp": "10.0.0.5", "HostPort": "25000"}])
    );
    assert_eq!(
        h["PortBindings"]["25001/tcp"],
        json!([{"HostIp": "10.0.0.5", "HostPort": "25001"}])
    );
    let binds: Vec<&str> = h["Binds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        binds,
        vec![
            "/data/a1/alloc:/alloc",
            "/data/a1/web/local:/local",
            "/data/a1/web/secrets:/secrets",
            "data:/data",
            "/data/a1/web/local/conf:/etc/r:ro",
            "/srv:/srv",
        ]
    );
    assert_eq!(
        h["Mounts"][0],
        json!({"Type": "tmpfs", "Target": "/scratch", "ReadOnly": false, "TmpfsOptions": {"SizeBytes": 1048576}})
    );
    assert_eq!(h["Mounts"][1]["Source"], "/data/a1/web/local/x");
    assert_eq!(h["Privileged"], true);
    assert_eq!(h["CpuShares"], 500);
    assert_eq!(h["Memory"], 512 * 1024 * 1024);
    assert_eq!(h["MemorySwap"], 512 * 1024 * 1024);
    assert_eq!(h["MemoryReservation"], 256 * 1024 * 1024);
    assert!(h.get("NetworkMode").is_none());
    assert_eq!(container_name(&t), "web-a1");
    assert!(b.get("User").is_none());
    let mut t = t;
    t.user = Some("1000:1000".into());
    assert_eq!(create_body(&cfg, &t).unwrap()["User"], "1000:1000");
}

#[test]
fn body_edge_cases() {
    let mut t = task(r#"{"image":"x","args":["a"],"ports":["nope"]}"#);
    let cfg = DockerConfig::parse(&t.driver_config).unwrap();
    let e = create_body(&cfg, &t).unwrap_err();
    assert!(e.message().starts_with("ports[0]:"), "{e:?}");

    let cfg = DockerConfig::parse(r#"{"image":"x","args":["a"]}"#).unwrap();
    t.network_mode = "none".into();
    t.resources = Resources {
        cpu_mhz: 0,
        cores: 0,
        memory_mb: 128,
        memory_max_mb: 0,
    };
    let b = create_body(&cfg, &t).unwrap();
    assert_eq!(b["Cmd"], json!(["a"]));
    assert_eq!(b["HostConfig"]["NetworkMode"], "none");
    assert_eq!(b["HostConfig"]["CpuShares"], 2);
    assert_eq!(b["HostConfig"]["Memory"], 128 * 1024 * 1024);
    assert!(b["HostConfig"].get("MemoryReservation").is_none());
    let cfg = DockerConfig::parse(r#"{"image":"x","network_mode":"host"}"#).unwrap();
    let b = create_body(&cfg, &t).unwrap();
    assert_eq!(b["HostConfig"]["NetworkMode"], "host");
    assert!(b.get("Cmd").is_none());
}

#[test]
fn image_references() {
    assert_eq!(split_image("redis"), ("redis".into(), "latest".into()));
    assert_eq!(split_image("redis:7"), ("redis".into(), "7".into()));
    assert_eq!(
        split_image("reg:5000/team/app"),
        ("reg:5000/team/app".into(), "latest".into())
    );
    assert_eq!(
        split_image("reg:5000/team/app:v1"),
        ("reg:5000/team/app".into(), "v1".into())
    );
    assert_eq!(
        split_image("app@sha256:abc"),
        ("app@sha256:abc".into(), String::new())
    );
    assert_eq!(
        pull_path("reg:5000/app:v1"),
        "/images/create?fromImage=reg%3A5000%2Fapp&tag=v1"
    );
    assert_eq!(query_escape("web 1/a"), "web%201%2Fa");
}

#[test]
fn reads_engine_answers() {
    let inspect = json!({"State": {"Running": false, "ExitCode": 137, "OOMKilled": true,
        "StartedAt": "2024-01-02T03:04:05.5Z", "FinishedAt": "0001-01-01T00:00:00Z"}});
    let c = container_state(&inspect);
    assert!(!c.running);
    let exit = c.exit.unwrap();
    assert_eq!((exit.exit_code, exit.oom_killed), (137, true));
    assert_eq!(c.started_at, Some(1_704_164_645_500_000_000));
    assert_eq!(c.finished_at, None);
    assert!(
        container_state(&json!({"State": {"Running": true}}))
            .exit
            .is_none()
    );

    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(
        parse_rfc3339("2000-03-01T00:00:00+01:00"),
        Some(951_865_200_000_000_000)
    );
    assert_eq!(
        parse_rfc3339("2024-02-29T23:59:59.123456789Z"),
        Some(1_709_251_199_123_456_789)
    );
    assert_eq!(parse_rfc3339("garbage"), None);

    let mut raw = vec![1, 0, 0, 0, 0, 0, 0, 3];
    raw.extend_from_slice(b"out");
    raw.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 3]);
    raw.extend_from_slice(b"err");
    raw.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 9, b'x']);
    assert_eq!(demux(&raw), (b"outx".to_vec(), b"err".to_vec()));

    let stats = json!({"cpu_stats": {"cpu_usage": {"total_usage": 5000}},
        "memory_stats": {"usage": 2048, "stats": {"anon": 1024}}, "pids_stats": {"current": 3}});
    let u = usage(&stats, 9);
    assert_eq!(
        (
            u.timestamp,
            u.cpu_total_ns,
            u.memory_rss,
            u.memory_usage,
            u.pids
        ),
        (9, 5000, 1024, 2048, 3)
    );
}

#[test]
fn handle_state_round_trips() {
    let s = DockerState {
        container_id: "abc".into(),
        name: "web-a1".into(),
        image: "redis:7".into(),
        started_at: 5,
        stdout_path: "/o".into(),
        stderr_path: "/e".into(),
    };
    let h = handle::encode("a1/web", NAME, STATE_VERSION, &s).unwrap();
    assert_eq!(state_of(&h).unwrap(), s);
}

//! The whole path from flags and files to an [`AgentConfig`]: every setting,
//! merge order, flags over files, `-dev`, and refusals.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::config::*;
use super::*;

fn file(name: &str, contents: &str) -> ConfigFile {
    ConfigFile {
        path: PathBuf::from(name),
        contents: contents.to_string(),
    }
}

fn args() -> AgentArgs {
    AgentArgs::default()
}

fn problems(r: Result<AgentConfig, ConfigError>) -> Vec<Problem> {
    match r {
        Err(ConfigError::Invalid(p)) => p,
        other => panic!("expected invalid settings, got {other:?}"),
    }
}

const FULL: &str = r#"
name       = "node-1"
region     = "eu"
datacenter = "eu-west-1"
data_dir   = "/var/lib/sched"
bind_addr  = "10.0.0.5"
log_level  = "warn"

ports {
  http = 5646
  rpc  = 5647
  serf = 5648
}

addresses {
  http = "127.0.0.1"
  rpc  = "10.0.0.6"
}

advertise {
  http = "192.0.2.1"
  rpc  = "192.0.2.1:6000"
}

server {
  enabled          = true
  bootstrap_expect = 3
  server_join {
    start_join     = ["10.0.0.1:4647"]
    retry_join     = ["10.0.0.2", "server-3.example:4647"]
    retry_max      = 5
    retry_interval = "15s"
  }
  raft_multiplier           = 2
  num_schedulers            = 4
  heartbeat_grace           = "20s"
  min_heartbeat_ttl         = "15s"
  max_heartbeats_per_second = 25.5
}

client {
  enabled    = true
  servers    = ["10.0.0.1:4647"]
  state_dir  = "/var/lib/sched/client-state"
  alloc_dir  = "/var/lib/sched/allocs"
  node_class = "compute"
  node_pool  = "batch"
  meta {
    rack = "r1"
  }
  options = {
    "driver.raw_exec.enable" = "1"
  }
  reserved {
    cpu            = 500
    memory         = 512
    disk           = 1024
    reserved_ports = "22,8000-8010"
  }
  host_volume "data" {
    path      = "/srv/data"
    read_only = true
  }
  drain_on_shutdown {
    deadline = "5m"
    force    = true
  }
  gc_interval              = "2m"
  fingerprint_interval     = "45s"
  gc_disk_usage_threshold  = 90
  gc_inode_usage_threshold = 75.5
  gc_max_allocs            = 100
  gc_parallel_destroys     = 4
}

plugin "docker" {
  capabilities = ["docker", "log"]
  config {
    allow_privileged = false
  }
}

plugin "raw_exec" {
  config {
    enabled = true
  }
}

telemetry {
  collection_interval        = "5s"
  disable_hostname           = true
  publish_allocation_metrics = true
  publish_node_metrics       = true
  prometheus_metrics         = true
}
"#;

#[test]
fn every_setting_reaches_the_config() {
    let c = from_sources(&args(), &[file("full.hcl", FULL)]).expect("valid");
    let expected = AgentConfig {
        name: Some("node-1".into()),
        region: "eu".into(),
        datacenter: "eu-west-1".into(),
        data_dir: Some("/var/lib/sched".into()),
        bind_addr: "10.0.0.5".parse().expect("ip"),
        log_level: tracing::Level::WARN,
        ports: Ports {
            http: 5646,
            rpc: 5647,
            serf: 5648,
        },
        addresses: Addresses {
            http: "127.0.0.1".parse().expect("ip"),
            rpc: "10.0.0.6".parse().expect("ip"),
        },
        advertise: Advertise {
            http: Some("192.0.2.1:5646".parse().expect("addr")),
            rpc: Some("192.0.2.1:6000".parse().expect("addr")),
        },
        server: ServerConfig {
            enabled: true,
            bootstrap_expect: Some(3),
            server_join: ServerJoin {
                start_join: vec!["10.0.0.1:4647".into()],
                retry_join: vec!["10.0.0.2".into(), "server-3.example:4647".into()],
                retry_max: 5,
                retry_interval: Duration::from_secs(15),
            },
            raft_multiplier: 2,
            num_schedulers: Some(4),
            heartbeat_grace: Duration::from_secs(20),
            min_heartbeat_ttl: Duration::from_secs(15),
            max_heartbeats_per_second: 25.5,
        },
        client: ClientConfig {
            enabled: true,
            servers: vec!["10.0.0.1:4647".into()],
            server_join: ServerJoin {
                retry_interval: Duration::from_secs(30),
                ..ServerJoin::default()
            },
            state_dir: Some("/var/lib/sched/client-state".into()),
            alloc_dir: Some("/var/lib/sched/allocs".into()),
            node_class: Some("compute".into()),
            node_pool: "batch".into(),
            meta: BTreeMap::from([("rack".into(), "r1".into())]),
            options: BTreeMap::from([("driver.raw_exec.enable".into(), "1".into())]),
            reserved: Reserved {
                cpu: 500,
                memory_mb: 512,
                disk_mb: 1024,
                ports: vec![(22, 22), (8000, 8010)],
            },
            host_volumes: BTreeMap::from([(
                "data".into(),
                HostVolume {
                    path: "/srv/data".into(),
                    read_only: true,
                },
            )]),
            drain_on_shutdown: Some(DrainOnShutdown {
                deadline: Duration::from_secs(300),
                force: true,
                ignore_system_jobs: false,
            }),
            fingerprint_interval: Duration::from_secs(45),
            gc: ClientGc {
                interval: Duration::from_secs(120),
                disk_usage_threshold: 90.0,
                inode_usage_threshold: 75.5,
                max_allocs: 100,
                parallel_destroys: 4,
            },
        },
        plugins: BTreeMap::from([
            (
                "docker".into(),
                PluginConfig {
                    capabilities: Some(vec!["docker".into(), "log".into()]),
                    config: serde_json::json!({"allow_privileged": false}),
                },
            ),
            (
                "raw_exec".into(),
                PluginConfig {
                    capabilities: None,
                    config: serde_json::json!({"enabled": true}),
                },
            ),
        ]),
        telemetry: Telemetry {
            collection_interval: Duration::from_secs(5),
            disable_hostname: true,
            publish_allocation_metrics: true,
            publish_node_metrics: true,
            prometheus_metrics: true,
        },
        dev: false,
        files: vec!["full.hcl".into()],
    };
    assert_eq!(c, expected);
    assert_eq!(
        c.http_bind(),
        "127.0.0.1:5646".parse::<SocketAddr>().expect("addr")
    );
    assert_eq!(
        c.rpc_bind(),
        "10.0.0.6:5647".parse::<SocketAddr>().expect("addr")
    );
}

#[test]
fn defaults_are_nomads() {
    let c = from_sources(
        &args(),
        &[file(
            "a.hcl",
            "data_dir = \"/d\"\nserver {\n  enabled = true\n}\n",
        )],
    )
    .expect("valid");
    assert_eq!(c.name, None);
    assert_eq!(
        (c.region.as_str(), c.datacenter.as_str()),
        ("global", "dc1")
    );
    assert_eq!(c.bind_addr, IpAddr::from([0, 0, 0, 0]));
    assert_eq!(c.addresses.http, c.bind_addr);
    assert_eq!(
        c.ports,
        Ports {
            http: 4646,
            rpc: 4647,
            serf: 4648
        }
    );
    assert_eq!(c.log_level, tracing::Level::INFO);
    assert_eq!(c.server.bootstrap_expect, None);
    assert_eq!(c.server.raft_multiplier, 1);
    assert_eq!(c.server.heartbeat_grace, Duration::from_secs(10));
    assert_eq!(c.server.max_heartbeats_per_second, 50.0);
    assert!(!c.client.enabled);
    assert_eq!(c.client.node_pool, "default");
    assert_eq!(c.client.drain_on_shutdown, None);
    assert_eq!(c.client.gc.max_allocs, 50);
    assert!(c.plugins.is_empty());
    assert!(!c.dev);
}

#[test]
fn dev_runs_both_halves_on_loopback_with_the_builtin_drivers() {
    let c = from_sources(
        &AgentArgs {
            dev: true,
            ..args()
        },
        &[],
    )
    .expect("valid");
    assert!(c.dev && c.server.enabled && c.client.enabled);
    assert_eq!(c.bind_addr, IpAddr::from([127, 0, 0, 1]));
    assert_eq!(
        c.http_bind(),
        "127.0.0.1:4646".parse::<SocketAddr>().expect("addr")
    );
    assert_eq!(
        c.rpc_bind(),
        "127.0.0.1:4647".parse::<SocketAddr>().expect("addr")
    );
    assert_eq!(c.server.bootstrap_expect, Some(1));
    assert_eq!(c.data_dir, None, "a temporary directory is made at start");
    assert_eq!(
        c.plugins.keys().map(String::as_str).collect::<Vec<_>>(),
        ["docker", "exec", "raw_exec"]
    );
}

#[test]
fn later_files_win_setting_by_setting_and_maps_merge_by_key() {
    let a = file(
        "a.hcl",
        "region = \"a\"\ndatacenter = \"dc-a\"\ndata_dir = \"/a\"\nclient {\n  enabled = true\n  servers = [\"10.0.0.1\"]\n  meta {\n    rack = \"r1\"\n    zone = \"z1\"\n  }\n}\nplugin \"docker\" {\n  config {\n    x = 1\n  }\n}\n",
    );
    let b = file(
        "b.hcl",
        "region = \"b\"\nclient {\n  servers = [\"10.0.0.2\"]\n  meta {\n    zone = \"z2\"\n  }\n}\nplugin \"exec\" {}\n",
    );
    let c = from_sources(&args(), &[a.clone(), b.clone()]).expect("valid");
    assert_eq!(c.region, "b");
    assert_eq!(c.datacenter, "dc-a");
    assert_eq!(c.client.servers, ["10.0.0.2"], "lists replace");
    assert_eq!(
        c.client.meta,
        BTreeMap::from([("rack".into(), "r1".into()), ("zone".into(), "z2".into())])
    );
    assert_eq!(c.plugins.len(), 2);
    assert_eq!(c.plugins["docker"].config, serde_json::json!({"x": 1}));
    assert_eq!(c.files, [PathBuf::from("a.hcl"), PathBuf::from("b.hcl")]);
    // The other order, the other winner.
    let c = from_sources(&args(), &[b, a]).expect("valid");
    assert_eq!(c.region, "a");
    assert_eq!(c.client.meta["zone"], "z1");
}

#[test]
fn flags_win_over_files() {
    let f = file(
        "a.hcl",
        "name = \"f\"\nregion = \"f\"\ndatacenter = \"f\"\ndata_dir = \"/f\"\nbind_addr = \"10.0.0.1\"\nlog_level = \"ERROR\"\nports {\n  http = 1000\n  rpc = 1001\n}\nserver {\n  enabled = false\n  bootstrap_expect = 5\n}\nclient {\n  enabled = false\n  node_class = \"f\"\n  servers = [\"10.9.9.9\"]\n  meta {\n    k = \"f\"\n  }\n}\n",
    );
    let flags = AgentArgs {
        server: true,
        client: true,
        data_dir: Some("/flag".into()),
        bind: Some("10.0.0.2".into()),
        http_port: Some("2000".into()),
        rpc_port: Some("2001".into()),
        bootstrap_expect: Some("3".into()),
        join: vec!["10.0.0.3:4647".into()],
        retry_join: vec!["10.0.0.4".into(), "10.0.0.5".into()],
        servers: vec!["10.0.0.6,10.0.0.7:4647".into(), "10.0.0.8".into()],
        node: Some("flag-node".into()),
        dc: Some("flag-dc".into()),
        region: Some("flag-region".into()),
        log_level: Some("trace".into()),
        node_class: Some("flag-class".into()),
        meta: vec!["k=flag".into(), "other=a=b".into()],
        ..args()
    };
    let c = from_sources(&flags, &[f]).expect("valid");
    assert!(c.server.enabled && c.client.enabled);
    assert_eq!(c.name.as_deref(), Some("flag-node"));
    assert_eq!(c.region, "flag-region");
    assert_eq!(c.datacenter, "flag-dc");
    assert_eq!(c.data_dir, Some(PathBuf::from("/flag")));
    assert_eq!(c.bind_addr, IpAddr::from([10, 0, 0, 2]));
    assert_eq!(c.log_level, tracing::Level::TRACE);
    assert_eq!((c.ports.http, c.ports.rpc), (2000, 2001));
    assert_eq!(c.server.bootstrap_expect, Some(3));
    assert_eq!(c.server.server_join.start_join, ["10.0.0.3:4647"]);
    assert_eq!(c.server.server_join.retry_join, ["10.0.0.4", "10.0.0.5"]);
    assert_eq!(c.client.servers, ["10.0.0.6", "10.0.0.7:4647", "10.0.0.8"]);
    assert_eq!(c.client.node_class.as_deref(), Some("flag-class"));
    assert_eq!(c.client.meta["k"], "flag");
    assert_eq!(c.client.meta["other"], "a=b");
}

#[test]
fn files_win_over_dev_defaults() {
    let c = from_sources(
        &AgentArgs {
            dev: true,
            ..args()
        },
        &[file(
            "a.hcl",
            "bind_addr = \"0.0.0.0\"\nports {\n  http = 8080\n}\n",
        )],
    )
    .expect("valid");
    assert_eq!(c.bind_addr, IpAddr::from([0, 0, 0, 0]));
    assert_eq!(c.ports.http, 8080);
    assert!(c.server.enabled, "the rest of -dev stays");
}

#[test]
fn problems_name_the_setting_and_where_it_came_from() {
    let cases: &[(&str, AgentArgs, &str)] = &[
        (
            "data_dir = \"/d\"\nserver {\n  enabled = true\n}\nports {\n  http = 70000\n}\n",
            args(),
            "a.hcl:6:10: ports.http: 70000 is out of range",
        ),
        (
            "data_dir = \"/d\"\nserver {\n  enabled = true\n}\nports {\n  rpc = 4646\n}\n",
            args(),
            "a.hcl:6:9: ports.rpc: 4646 is also ports.http",
        ),
        (
            "data_dir = \"/d\"\nserver {\n  enabled = true\n  bootstrap_expect = 0\n}\n",
            args(),
            "a.hcl:4:22: server.bootstrap_expect: 0 is out of range: expected 1 to 1000",
        ),
        (
            "server {\n  enabled = true\n}\n",
            args(),
            "data_dir: is required",
        ),
        (
            "data_dir = \"/d\"\n",
            args(),
            "the agent runs neither a server nor a client",
        ),
        (
            "data_dir = \"/d\"\nbind_addr = \"localhost\"\nserver {\n  enabled = true\n}\n",
            args(),
            "a.hcl:2:13: bind_addr: \"localhost\" is not an IP address",
        ),
        (
            "data_dir = \"/d\"\nserver {\n  enabled = true\n}\nadvertise {\n  rpc = \"0.0.0.0\"\n}\n",
            args(),
            "advertise.rpc: \"0.0.0.0\" cannot be advertised",
        ),
        (
            "data_dir = \"/d\"\nserver {\n  enabled = true\n}\nadvertise {\n  http = \"host:1:2\"\n}\n",
            args(),
            "advertise.http: \"host:1:2\" is not an IP address or IP:port",
        ),
        (
            "data_dir = \"/d\"\nlog_level = \"loud\"\nserver {\n  enabled = true\n}\n",
            args(),
            "log_level: \"loud\" is not a level",
        ),
        (
            "data_dir = \"/d\"\nclient {\n  enabled = true\n}\n",
            args(),
            "client.servers: a client without a server",
        ),
        (
            "data_dir = \"/d\"\nclient {\n  enabled = true\n  servers = [\"a b\"]\n}\n",
            args(),
            "a.hcl:4:13: client.servers: \"a b\" is not a host or host:port",
        ),
        (
            "data_dir = \"/d\"\nclient {\n  enabled = true\n  servers = [\"s:1\"]\n  host_volume \"v\" {\n    read_only = true\n  }\n}\n",
            args(),
            "a.hcl:5:3: client.host_volume.v: needs a path",
        ),
        (
            "data_dir = \"/d\"\nclient {\n  enabled = true\n  servers = [\"s:1\"]\n  reserved {\n    reserved_ports = \"9-1\"\n  }\n}\n",
            args(),
            "client.reserved.reserved_ports: \"9-1\": the range is backwards",
        ),
        (
            "data_dir = \"/d\"\nserver {\n  enabled = true\n  raft_multiplier = 11\n}\n",
            args(),
            "server.raft_multiplier: 11 is out of range",
        ),
        (
            "data_dir = \"/d\"\nserver {\n  enabled = true\n  min_heartbeat_ttl = \"0s\"\n}\n",
            args(),
            "server.min_heartbeat_ttl: must be longer than zero",
        ),
        (
            "data_dir = \"/d\"\nserver {\n  enabled = true\n  max_heartbeats_per_second = 0\n}\n",
            args(),
            "server.max_heartbeats_per_second: 0 is out of range",
        ),
        (
            "data_dir = \"/d\"\nregion = \"\"\nserver {\n  enabled = true\n}\n",
            args(),
            "a.hcl:2:10: region: must not be empty",
        ),
        (
            "data_dir = \"/d\"\n",
            AgentArgs {
                server: true,
                http_port: Some("0".into()),
                ..args()
            },
            "flag -http-port: ports.http: 0 is out of range",
        ),
        (
            "data_dir = \"/d\"\n",
            AgentArgs {
                server: true,
                rpc_port: Some("http".into()),
                ..args()
            },
            "flag -rpc-port: ports.rpc: \"http\" is not a whole number",
        ),
        (
            "data_dir = \"/d\"\n",
            AgentArgs {
                server: true,
                bootstrap_expect: Some("0".into()),
                ..args()
            },
            "flag -bootstrap-expect: server.bootstrap_expect: 0 is out of range",
        ),
        (
            "data_dir = \"/d\"\n",
            AgentArgs {
                server: true,
                meta: vec!["novalue".into()],
                ..args()
            },
            "flag -meta: client.meta: \"novalue\" is not key=value",
        ),
        (
            "data_dir = \"/d\"\n",
            AgentArgs {
                server: true,
                join: vec!["10.0.0.1:99999".into()],
                ..args()
            },
            "flag -join: server.server_join.start_join",
        ),
        (
            "data_dir = \"/d\"\n",
            AgentArgs {
                server: true,
                bind: Some("nope".into()),
                ..args()
            },
            "flag -bind: bind_addr: \"nope\" is not an IP address",
        ),
    ];
    for (src, flags, want) in cases {
        let found = problems(from_sources(flags, &[file("a.hcl", src)]));
        let text = found
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(text.contains(want), "{src}\nwanted: {want}\ngot: {text}");
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let found = problems(from_sources(
        &args(),
        &[file("a.hcl", "ports {\n  http = 0\n  rpc = 0\n}\n")],
    ));
    // Both ports, the missing data_dir, and no role enabled.
    assert!(found.len() >= 4, "{found:?}");
}

#[test]
fn file_errors_carry_file_line_and_column() {
    let e = from_sources(
        &args(),
        &[file("bad.hcl", "server {\n  enabeld = true\n}\n")],
    )
    .expect_err("unknown setting");
    let ConfigError::File(diags) = &e else {
        panic!("expected file diagnostics, got {e:?}");
    };
    assert_eq!(diags.0[0].location(), "bad.hcl:2:3");
    assert!(e.to_string().contains("did you mean \"enabled\""), "{e}");
}

#[test]
fn config_directories_load_hcl_files_in_name_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("b.hcl"), "region = \"b\"\n").expect("write");
    std::fs::write(
        dir.path().join("a.hcl"),
        "region = \"a\"\ndatacenter = \"a\"\ndata_dir = \"/d\"\nserver {\n  enabled = true\n}\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("notes.txt"), "not config").expect("write");
    let extra = dir.path().join("extra.conf");
    std::fs::write(&extra, "datacenter = \"x\"\n").expect("write");
    let c = load(&AgentArgs {
        config: vec![dir.path().to_path_buf(), extra.clone()],
        ..args()
    })
    .expect("valid");
    assert_eq!(c.region, "b");
    assert_eq!(c.datacenter, "x");
    assert_eq!(
        c.files,
        [dir.path().join("a.hcl"), dir.path().join("b.hcl"), extra]
    );
}

#[test]
fn unreadable_paths_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing.hcl");
    let e = load(&AgentArgs {
        config: vec![missing.clone()],
        ..args()
    })
    .expect_err("missing");
    assert!(
        matches!(&e, ConfigError::Read { path, .. } if *path == missing),
        "{e:?}"
    );
    let json = dir.path().join("agent.json");
    std::fs::write(&json, "{}").expect("write");
    let e = load(&AgentArgs {
        config: vec![dir.path().to_path_buf()],
        ..args()
    })
    .expect_err("json");
    assert!(matches!(e, ConfigError::Unreadable { .. }), "{e:?}");
}

#[test]
fn run_names_the_listener_whose_port_is_taken() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("temp dir");
    let c = from_sources(
        &AgentArgs {
            dev: true,
            data_dir: Some(dir.path().to_path_buf()),
            http_port: Some(port.to_string()),
            ..args()
        },
        &[],
    )
    .expect("valid");
    let e = runtime
        .block_on(run(c, std::future::pending()))
        .expect_err("the port is taken");
    assert!(matches!(e, AgentError::Bind { what: "HTTP", .. }), "{e:?}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
}

#[test]
fn dev_gets_a_temporary_data_dir_removed_on_drop() {
    let root = tempfile::tempdir().expect("temp dir");
    let mut c = from_sources(
        &AgentArgs {
            dev: true,
            ..args()
        },
        &[],
    )
    .expect("valid");
    let dir = prepare_data_dir(&mut c, root.path()).expect("temp data dir");
    let path = dir.path().to_path_buf();
    assert_eq!(c.data_dir.as_deref(), Some(path.as_path()));
    assert!(path.is_dir());
    drop(dir);
    assert!(!path.exists());
}

#[test]
fn plugin_blocks_read_as_the_client_reads_them() {
    let c = from_sources(&args(), &[file("full.hcl", FULL)]).expect("valid");
    let grants =
        sched_client::driver_host::grants_from_agent_config(FULL).expect("client reads it");
    assert_eq!(grants.len(), c.plugins.len());
    for grant in grants {
        let plugin = &c.plugins[&grant.name];
        assert_eq!(plugin.config, grant.config, "{}", grant.name);
        if let Some(names) = &plugin.capabilities {
            let granted: Vec<String> = grant.capabilities.iter().map(|c| c.to_string()).collect();
            let mut names = names.clone();
            names.sort();
            assert_eq!(names, granted, "{}", grant.name);
        }
    }
}

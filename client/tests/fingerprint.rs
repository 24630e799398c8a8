//! The fingerprint against what `/proc` says about this machine.
#![allow(clippy::unwrap_used)]

use sched_client::ClientConfig;
use sched_client::driver_host::{DriverHost, HostConfig};
use sched_client::fingerprint::fingerprint;
use sched_core::model::NodeId;

fn proc_cpus() -> u32 {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap();
    text.lines().filter(|l| l.starts_with("processor")).count() as u32
}

fn proc_mem_total_bytes() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = text.lines().find(|l| l.starts_with("MemTotal:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[test]
fn node_matches_proc() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ClientConfig::new(dir.path().join("state"), dir.path().join("alloc"));
    cfg.meta.insert("rack".into(), "r1".into());
    cfg.node_class = "batch".into();
    cfg.reserved.memory_mb = 256;
    let host = DriverHost::new(HostConfig {
        cache_dir: std::env::temp_dir().join("sched-test-driver-cache"),
        ..HostConfig::default()
    })
    .unwrap();
    let id = NodeId::generate();
    let node = fingerprint(&id, &cfg, &host).unwrap();
    let a = &node.attributes;

    let cores = proc_cpus();
    assert_eq!(a["cpu.numcores"], cores.to_string());
    assert_eq!(node.node_resources.cpu.total_cpu_cores, cores);
    let mhz: i64 = a["cpu.frequency"].parse().unwrap();
    assert!(mhz > 0);
    assert_eq!(a["cpu.totalcompute"], (mhz * i64::from(cores)).to_string());
    assert_eq!(node.node_resources.cpu.cpu_shares, mhz * i64::from(cores));

    let mem = proc_mem_total_bytes();
    assert_eq!(a["memory.totalbytes"], mem.to_string());
    assert_eq!(
        node.node_resources.memory.memory_mb,
        (mem / (1024 * 1024)) as i64
    );

    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(a["kernel.version"], release.trim());
    assert_eq!(a["kernel.name"], "linux");
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(a["unique.hostname"], host_name.trim());
    assert_eq!(node.name, host_name.trim());
    let cgroup = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "v2"
    } else {
        "v1"
    };
    assert_eq!(a["cgroup.version"], cgroup);
    assert!(a.contains_key("os.name") && a.contains_key("cpu.arch"));
    assert!(
        a["unique.network.ip-address"]
            .parse::<std::net::IpAddr>()
            .is_ok()
    );
    assert!(node.node_resources.disk.disk_mb > 0);

    // raw_exec works everywhere: healthy, with its attribute.
    assert_eq!(a["driver.raw_exec"], "1");
    assert!(node.drivers["raw_exec"].healthy);
    // Config-driven parts.
    assert_eq!(node.meta["rack"], "r1");
    assert_eq!(node.node_class, "batch");
    assert_eq!(node.reserved_resources.memory.memory_mb, 256);
    assert!(node.computed_class.starts_with("v1:"));
    // The same machine and config give the same class.
    let again = fingerprint(&NodeId::generate(), &cfg, &host).unwrap();
    assert_eq!(again.computed_class, node.computed_class);
}

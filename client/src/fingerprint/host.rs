//! The host probes: sysinfo for what it reads portably, `/proc` and `/sys`
//! for what it does not (the CPU clock in VMs that hide cpufreq, the cgroup
//! version).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use sched_core::model::NetworkResource;
use sysinfo::{Networks, System};

use super::FingerprintError;
use crate::config::ClientConfig;

/// What the probes found.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    /// Nomad-named attributes (`cpu.numcores`, `kernel.name`, ...).
    pub attributes: BTreeMap<String, String>,
    /// The host name.
    pub hostname: String,
    /// Logical CPUs.
    pub cores: u32,
    /// Cores times the per-core clock, in MHz.
    pub total_mhz: i64,
    /// Physical memory.
    pub memory_bytes: u64,
    /// Free space on the alloc dir's file system.
    pub disk_free_bytes: u64,
    /// The node's network interfaces with their addresses.
    pub networks: Vec<NetworkResource>,
}

/// Runs every probe.
pub fn probe(config: &ClientConfig) -> Result<HostFacts, FingerprintError> {
    let mut sys = System::new().map_err(|e| FingerprintError::System(e.to_string()))?;
    sys.refresh_cpu_all();
    sys.refresh_memory();
    let mut attrs = BTreeMap::new();
    let mut facts = HostFacts::default();

    // CPU: count, clock, model.
    let cpus = sys.cpus();
    facts.cores = u32::try_from(cpus.len()).unwrap_or(u32::MAX).max(1);
    let sysinfo_mhz = cpus.iter().map(|c| c.frequency()).max().unwrap_or(0);
    let mhz = cpu_max_mhz()
        .or((sysinfo_mhz > 0).then_some(sysinfo_mhz))
        .or_else(cpuinfo_mhz)
        .unwrap_or(1000);
    facts.total_mhz = i64::try_from(mhz.saturating_mul(u64::from(facts.cores))).unwrap_or(i64::MAX);
    attrs.insert("cpu.numcores".into(), facts.cores.to_string());
    attrs.insert("cpu.frequency".into(), mhz.to_string());
    attrs.insert("cpu.totalcompute".into(), facts.total_mhz.to_string());
    attrs.insert("cpu.reservablecores".into(), facts.cores.to_string());
    if let Some(model) = cpus.first().map(|c| c.brand().trim().to_string())
        && !model.is_empty()
    {
        attrs.insert("cpu.modelname".into(), model);
    }
    attrs.insert("cpu.arch".into(), go_arch(&System::cpu_arch()).to_string());

    // Memory.
    facts.memory_bytes = sys.total_memory();
    attrs.insert("memory.totalbytes".into(), facts.memory_bytes.to_string());

    // Kernel and OS.
    let kernel_name = read_trimmed("/proc/sys/kernel/ostype")
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    attrs.insert("kernel.name".into(), kernel_name);
    if let Some(release) =
        read_trimmed("/proc/sys/kernel/osrelease").or_else(|| System::kernel_version().ok())
    {
        attrs.insert("kernel.version".into(), release);
    }
    attrs.insert("kernel.arch".into(), System::cpu_arch());
    attrs.insert("os.name".into(), System::distribution_id());
    if let Ok(v) = System::os_version() {
        attrs.insert("os.version".into(), v);
    }
    attrs.insert("os.signals".into(), SIGNALS.join(","));

    // Host name.
    facts.hostname = System::host_name()
        .ok()
        .or_else(|| read_trimmed("/proc/sys/kernel/hostname"))
        .unwrap_or_else(|| "localhost".into());
    attrs.insert("unique.hostname".into(), facts.hostname.clone());

    // Cgroups.
    if let Some(v) = cgroup_version(Path::new("/sys/fs/cgroup")) {
        attrs.insert("cgroup.version".into(), v.to_string());
    }

    // Network.
    let (networks, ip) = networks(config.network_interface.as_deref());
    facts.networks = networks;
    if let Some(ip) = ip {
        attrs.insert("unique.network.ip-address".into(), ip.to_string());
    }

    // Disk of the alloc dir.
    std::fs::create_dir_all(&config.alloc_dir).ok();
    let st =
        nix::sys::statvfs::statvfs(&config.alloc_dir).map_err(|source| FingerprintError::Disk {
            path: config.alloc_dir.clone(),
            source,
        })?;
    let frag = st.fragment_size();
    facts.disk_free_bytes = st.blocks_available().saturating_mul(frag);
    attrs.insert(
        "unique.storage.volume".into(),
        config.alloc_dir.display().to_string(),
    );
    attrs.insert(
        "unique.storage.bytestotal".into(),
        st.blocks().saturating_mul(frag).to_string(),
    );
    attrs.insert(
        "unique.storage.bytesfree".into(),
        facts.disk_free_bytes.to_string(),
    );
    attrs.insert(
        "sched.version".into(),
        env!("CARGO_PKG_VERSION").to_string(),
    );

    facts.attributes = attrs;
    Ok(facts)
}

/// The signals tasks may be sent (Nomad's `os.signals`).
const SIGNALS: &[&str] = &[
    "SIGABRT", "SIGALRM", "SIGBUS", "SIGCHLD", "SIGCONT", "SIGFPE", "SIGHUP", "SIGILL", "SIGINT",
    "SIGIO", "SIGKILL", "SIGPIPE", "SIGPROF", "SIGQUIT", "SIGSEGV", "SIGSTOP", "SIGSYS", "SIGTERM",
    "SIGTRAP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGUSR1", "SIGUSR2", "SIGWINCH",
    "SIGXCPU", "SIGXFSZ",
];

/// Go's name for an architecture, as Nomad publishes `cpu.arch`.
pub fn go_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" | "i686" | "i386" => "386",
        other => other,
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The highest clock cpufreq reports, in MHz (absent in many VMs).
fn cpu_max_mhz() -> Option<u64> {
    let khz: u64 = read_trimmed("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")?
        .parse()
        .ok()?;
    (khz > 0).then_some(khz / 1000)
}

/// The clock `/proc/cpuinfo` reports, in MHz.
fn cpuinfo_mhz() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .filter_map(|l| l.strip_prefix("cpu MHz"))
        .filter_map(|rest| rest.split(':').nth(1))
        .filter_map(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
        .max()
        .filter(|v| *v > 0)
}

/// `v2` where the unified hierarchy is mounted at `root`, `v1` where the
/// legacy per-controller hierarchies are.
pub fn cgroup_version(root: &Path) -> Option<&'static str> {
    if root.join("cgroup.controllers").exists() {
        Some("v2")
    } else if root.join("cpu").exists() || root.join("memory").exists() {
        Some("v1")
    } else {
        None
    }
}

/// The interfaces with addresses, and the address tasks' ports bind to: the
/// configured interface's, else the first non-loopback IPv4, else loopback.
fn networks(wanted: Option<&str>) -> (Vec<NetworkResource>, Option<IpAddr>) {
    let Ok(list) = Networks::new_with_refreshed_list() else {
        return (Vec::new(), None);
    };
    let mut names: Vec<_> = list.keys().cloned().collect();
    names.sort();
    let mut out = Vec::new();
    let mut chosen: Option<IpAddr> = None;
    let mut loopback: Option<IpAddr> = None;
    for name in names {
        let Some(data) = list.get(&name) else {
            continue;
        };
        let name = name.to_string_lossy().to_string();
        for net in data.ip_networks() {
            if !net.addr.is_ipv4() {
                continue;
            }
            let is_wanted = wanted.is_some_and(|w| w == name);
            if net.addr.is_loopback() {
                loopback.get_or_insert(net.addr);
            } else if wanted.is_none() {
                chosen.get_or_insert(net.addr);
            }
            if is_wanted {
                chosen = Some(net.addr);
            }
            out.push(NetworkResource {
                mode: Some("host".into()),
                device: Some(name.clone()),
                cidr: Some(format!("{}/{}", net.addr, net.prefix)),
                ip: Some(net.addr.to_string()),
                ..NetworkResource::default()
            });
        }
    }
    (out, chosen.or(loopback))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_names_follow_go() {
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
        assert_eq!(go_arch("riscv64"), "riscv64");
    }

    #[test]
    fn cgroup_version_from_the_hierarchy() {
        let d = tempfile::tempdir().expect("temp dir");
        assert_eq!(cgroup_version(d.path()), None);
        std::fs::create_dir(d.path().join("memory")).expect("mkdir");
        assert_eq!(cgroup_version(d.path()), Some("v1"));
        std::fs::write(d.path().join("cgroup.controllers"), "cpu memory").expect("write");
        assert_eq!(cgroup_version(d.path()), Some("v2"));
    }
}

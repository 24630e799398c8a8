//! The task's cgroups: limits, accounting, OOM detection, and the list of
//! every process of a sandbox, on cgroup v1 and v2.
//!
//! [`Cgroups::detect`] reads `/proc/self/mountinfo`. If a v1 hierarchy holds
//! the memory controller the machine is v1 (or hybrid: a v2 mount without
//! controllers next to v1 ones counts as v1); otherwise the cgroup2 mount is
//! used. A task's cgroup is `sched/<name>` under each hierarchy root:
//!
//! | | v1 | v2 |
//! |---|---|---|
//! | hierarchies | cpu, cpuacct, memory, pids (each mount once) | the unified tree, with `+cpu +memory +pids` enabled down to `sched/` |
//! | cpu (when cpu MHz > 0) | `cpu.shares` = cpu MHz (at least 2) | `cpu.weight` = the same shares converted as runc does |
//! | memory | `memory.limit_in_bytes` (and `memory.memsw.limit_in_bytes`, so no swap) = max(memory, memory max); `memory.soft_limit_in_bytes` = memory when max is higher | `memory.max` = the same, `memory.swap.max` = 0, `memory.low` = memory when max is higher |
//! | OOM | `oom_kill` in `memory.oom_control` (`failcnt` on kernels without it) | `oom_kill` in `memory.events` |
//! | usage | `cpuacct.usage`, `memory.usage_in_bytes`, `total_rss` of `memory.stat` | `usage_usec` of `cpu.stat`, `memory.current`, `anon` of `memory.stat` |
//!
//! Not handled here: reserved cores (`cores`; the client's cpuset manager
//! owns which cores a task gets), pid limits, devices, block I/O.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::Resources;
use super::error::IsolationError;

/// The parent of every task cgroup, under each hierarchy.
pub const PARENT: &str = "sched";

/// Where the machine's cgroup controllers are mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cgroups {
    /// cgroup v1: one mount per controller (or co-mounted ones).
    V1 {
        /// The cpu controller's mount.
        cpu: PathBuf,
        /// The cpuacct controller's mount (may equal `cpu`).
        cpuacct: Option<PathBuf>,
        /// The memory controller's mount.
        memory: PathBuf,
        /// The pids controller's mount.
        pids: Option<PathBuf>,
    },
    /// cgroup v2: the unified hierarchy's mount.
    V2 {
        /// The cgroup2 mount (usually /sys/fs/cgroup).
        root: PathBuf,
    },
}

/// One task's cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskCgroup {
    version: Cgroups,
    /// `sched/<name>` in every hierarchy, each once.
    dirs: Vec<PathBuf>,
}

/// What a cgroup's counters say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CgroupUsage {
    /// CPU time, user + system, in nanoseconds.
    pub cpu_total_ns: u64,
    /// Resident (anonymous) memory in bytes.
    pub memory_rss: u64,
    /// Memory charged to the cgroup in bytes.
    pub memory_usage: u64,
    /// Processes in the cgroup.
    pub pids: u32,
}

fn read(path: &Path) -> Result<String, IsolationError> {
    fs::read_to_string(path).map_err(|e| IsolationError::io(format!("read {}", path.display()), e))
}

fn write(path: &Path, value: &str) -> Result<(), IsolationError> {
    tracing::debug!(file = %path.display(), value, "cgroup write");
    fs::write(path, value)
        .map_err(|e| IsolationError::io(format!("write {value:?} to {}", path.display()), e))
}

/// The number after `key` in a "key value" per line file.
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

fn number(path: &Path) -> u64 {
    fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// runc's conversion of v1 cpu shares to a v2 cpu weight.
pub fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// A cgroup name from the sandbox root: `<alloc-id>.<task>` (the root is
/// `<alloc dir>/<task>`), restricted to characters safe in a path.
pub fn name_for_root(root: &Path) -> String {
    let mut parts: Vec<String> = root
        .components()
        .rev()
        .take(2)
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .chars()
                .map(|ch| {
                    if ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' {
                        ch
                    } else {
                        '_'
                    }
                })
                .collect()
        })
        .collect();
    parts.reverse();
    let name = parts.join(".");
    name.chars().take(200).collect()
}

impl Cgroups {
    /// Detects the machine's cgroups from `/proc/self/mountinfo`.
    pub fn detect() -> Result<Self, IsolationError> {
        let text = read(Path::new("/proc/self/mountinfo"))?;
        Self::from_mountinfo(&text)
    }

    /// Detects cgroups from the text of a mountinfo file.
    pub fn from_mountinfo(text: &str) -> Result<Self, IsolationError> {
        let (mut cpu, mut cpuacct, mut memory, mut pids, mut unified) =
            (None, None, None, None, None);
        for line in text.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let Some(mount_point) = left.split(' ').nth(4) else {
                continue;
            };
            let mut right = right.split(' ');
            let (Some(fstype), _, Some(options)) = (right.next(), right.next(), right.next())
            else {
                continue;
            };
            let mount_point = PathBuf::from(mount_point);
            match fstype {
                "cgroup2" => unified = unified.or(Some(mount_point)),
                "cgroup" => {
                    for opt in options.split(',') {
                        let slot = match opt {
                            "cpu" => &mut cpu,
                            "cpuacct" => &mut cpuacct,
                            "memory" => &mut memory,
                            "pids" => &mut pids,
                            _ => continue,
                        };
                        if slot.is_none() {
                            *slot = Some(mount_point.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        match (memory, cpu, unified) {
            (Some(memory), Some(cpu), _) => Ok(Self::V1 {
                cpu,
                cpuacct,
                memory,
                pids,
            }),
            (Some(_), None, _) => Err(IsolationError::Cgroup(
                "cgroup v1 without the cpu controller mounted".into(),
            )),
            (None, _, Some(root)) => Ok(Self::V2 { root }),
            (None, _, None) => Err(IsolationError::Cgroup(
                "no cgroup memory controller is mounted".into(),
            )),
        }
    }

    /// "v1" or "v2".
    pub fn version(&self) -> &'static str {
        match self {
            Self::V1 { .. } => "v1",
            Self::V2 { .. } => "v2",
        }
    }

    fn hierarchies(&self) -> Vec<PathBuf> {
        match self {
            Self::V1 {
                cpu,
                cpuacct,
                memory,
                pids,
            } => {
                let mut all = vec![cpu.clone()];
                for p in [cpuacct.as_ref(), Some(memory), pids.as_ref()]
                    .into_iter()
                    .flatten()
                {
                    if !all.contains(p) {
                        all.push(p.clone());
                    }
                }
                all
            }
            Self::V2 { root } => vec![root.clone()],
        }
    }

    /// The cgroup `name` would have (whether or not it exists).
    pub fn task(&self, name: &str) -> TaskCgroup {
        TaskCgroup {
            version: self.clone(),
            dirs: self
                .hierarchies()
                .into_iter()
                .map(|h| h.join(PARENT).join(name))
                .collect(),
        }
    }

    /// Creates `sched/<name>` with `resources`' limits. A leftover cgroup of
    /// that name (a previous run of the task) is removed first if it is
    /// empty; one with processes is an error. On failure nothing is left.
    pub fn create(&self, name: &str, resources: &Resources) -> Result<TaskCgroup, IsolationError> {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(IsolationError::Cgroup(format!(
                "invalid cgroup name {name:?}"
            )));
        }
        let cg = self.task(name);
        if cg.dirs.iter().any(|d| d.exists()) {
            if !cg.pids().is_empty() {
                return Err(IsolationError::Cgroup(format!(
                    "cgroup {} still has processes",
                    cg.dirs
                        .first()
                        .map(|d| d.display().to_string())
                        .unwrap_or_default()
                )));
            }
            cg.remove()?;
        }
        if let Self::V2 { root } = self {
            enable_controllers(root)?;
            let parent = root.join(PARENT);
            fs::create_dir_all(&parent).map_err(|e| {
                IsolationError::io(format!("create cgroup {}", parent.display()), e)
            })?;
            enable_controllers(&parent)?;
        }
        let mut made = Vec::new();
        let result = (|| {
            for dir in &cg.dirs {
                fs::create_dir_all(dir).map_err(|e| {
                    IsolationError::io(format!("create cgroup {}", dir.display()), e)
                })?;
                made.push(dir.clone());
            }
            cg.limit(resources)
        })();
        if let Err(e) = result {
            for dir in made.iter().rev() {
                let _ = fs::remove_dir(dir);
            }
            return Err(e);
        }
        tracing::debug!(
            cgroup = name,
            version = self.version(),
            "created task cgroup"
        );
        Ok(cg)
    }
}

/// Enables cpu, memory and pids (those available) for `dir`'s children.
fn enable_controllers(dir: &Path) -> Result<(), IsolationError> {
    let available = read(&dir.join("cgroup.controllers"))?;
    let wanted: Vec<String> = ["cpu", "memory", "pids"]
        .into_iter()
        .filter(|c| available.split_whitespace().any(|a| a == *c))
        .map(|c| format!("+{c}"))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let subtree = dir.join("cgroup.subtree_control");
    let enabled = fs::read_to_string(&subtree).unwrap_or_default();
    if wanted
        .iter()
        .all(|w| enabled.split_whitespace().any(|e| e == &w[1..]))
    {
        return Ok(());
    }
    write(&subtree, &wanted.join(" "))
}

impl TaskCgroup {
    /// The cgroup's directories, one per hierarchy.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    fn dir_of(&self, hierarchy: Option<&PathBuf>) -> Option<&PathBuf> {
        let h = hierarchy?;
        self.dirs.iter().find(|d| d.starts_with(h))
    }

    fn memory_dir(&self) -> Option<&PathBuf> {
        match &self.version {
            Cgroups::V1 { memory, .. } => self.dir_of(Some(memory)),
            Cgroups::V2 { .. } => self.dirs.first(),
        }
    }

    fn limit(&self, r: &Resources) -> Result<(), IsolationError> {
        let shares = u64::from(r.cpu_mhz).max(2);
        let memory = u64::from(r.memory_mb) * 1024 * 1024;
        let max = u64::from(r.memory_max_mb.max(r.memory_mb)) * 1024 * 1024;
        match &self.version {
            Cgroups::V1 {
                cpu, memory: mem, ..
            } => {
                if let (Some(dir), true) = (self.dir_of(Some(cpu)), r.cpu_mhz > 0) {
                    write(&dir.join("cpu.shares"), &shares.to_string())?;
                }
                if let (Some(dir), true) = (self.dir_of(Some(mem)), max > 0) {
                    write(&dir.join("memory.limit_in_bytes"), &max.to_string())?;
                    let memsw = dir.join("memory.memsw.limit_in_bytes");
                    if memsw.exists() {
                        write(&memsw, &max.to_string())?;
                    }
                    if max > memory && memory > 0 {
                        write(&dir.join("memory.soft_limit_in_bytes"), &memory.to_string())?;
                    }
                }
            }
            Cgroups::V2 { .. } => {
                let Some(dir) = self.dirs.first() else {
                    return Ok(());
                };
                if r.cpu_mhz > 0 {
                    write(
                        &dir.join("cpu.weight"),
                        &shares_to_weight(shares).to_string(),
                    )?;
                }
                if max > 0 {
                    write(&dir.join("memory.max"), &max.to_string())?;
                    let swap = dir.join("memory.swap.max");
                    if swap.exists() {
                        write(&swap, "0")?;
                    }
                    if max > memory && memory > 0 {
                        write(&dir.join("memory.low"), &memory.to_string())?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The `cgroup.procs` files the sandbox's first process joins.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// Every process in the cgroup (host pids).
    pub fn pids(&self) -> Vec<u32> {
        let mut all = Vec::new();
        for dir in &self.dirs {
            if let Ok(text) = fs::read_to_string(dir.join("cgroup.procs")) {
                for pid in text.lines().filter_map(|l| l.trim().parse::<u32>().ok()) {
                    if !all.contains(&pid) {
                        all.push(pid);
                    }
                }
            }
        }
        all
    }

    /// Whether the kernel's OOM killer killed a process of this cgroup.
    pub fn oom_killed(&self) -> bool {
        let Some(dir) = self.memory_dir() else {
            return false;
        };
        let file = match self.version {
            Cgroups::V1 { .. } => "memory.oom_control",
            Cgroups::V2 { .. } => "memory.events",
        };
        let text = fs::read_to_string(dir.join(file)).unwrap_or_default();
        match keyed(&text, "oom_kill") {
            Some(kills) => kills > 0,
            // v1 before Linux 4.13 has no oom_kill counter: the limit having
            // been hit is the closest sign (it also counts reclaims that
            // succeeded, so it can say yes for a task that was not killed).
            None if matches!(self.version, Cgroups::V1 { .. }) => {
                number(&dir.join("memory.memsw.failcnt")) > 0
                    || number(&dir.join("memory.failcnt")) > 0
            }
            None => false,
        }
    }

    /// The cgroup's counters.
    pub fn usage(&self) -> CgroupUsage {
        let mut usage = CgroupUsage {
            pids: u32::try_from(self.pids().len()).unwrap_or(u32::MAX),
            ..CgroupUsage::default()
        };
        match &self.version {
            Cgroups::V1 {
                cpu,
                cpuacct,
                memory,
                ..
            } => {
                if let Some(dir) = self
                    .dir_of(cpuacct.as_ref())
                    .or_else(|| self.dir_of(Some(cpu)))
                {
                    usage.cpu_total_ns = number(&dir.join("cpuacct.usage"));
                }
                if let Some(dir) = self.dir_of(Some(memory)) {
                    usage.memory_usage = number(&dir.join("memory.usage_in_bytes"));
                    let stat = fs::read_to_string(dir.join("memory.stat")).unwrap_or_default();
                    usage.memory_rss = keyed(&stat, "total_rss")
                        .or_else(|| keyed(&stat, "rss"))
                        .unwrap_or(0);
                }
            }
            Cgroups::V2 { .. } => {
                if let Some(dir) = self.dirs.first() {
                    let stat = fs::read_to_string(dir.join("cpu.stat")).unwrap_or_default();
                    usage.cpu_total_ns =
                        keyed(&stat, "usage_usec").unwrap_or(0).saturating_mul(1000);
                    usage.memory_usage = number(&dir.join("memory.current"));
                    let stat = fs::read_to_string(dir.join("memory.stat")).unwrap_or_default();
                    usage.memory_rss = keyed(&stat, "anon").unwrap_or(0);
                }
            }
        }
        usage
    }

    /// Removes the cgroup's directories (which must hold no process),
    /// retrying for a moment while exiting processes leave.
    pub fn remove(&self) -> Result<(), IsolationError> {
        let deadline = Instant::now() + Duration::from_secs(2);
        for dir in &self.dirs {
            loop {
                match fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == ErrorKind::NotFound => break,
                    Err(e)
                        if Instant::now() < deadline && e.raw_os_error() == Some(libc::EBUSY) =>
                    {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) => {
                        return Err(IsolationError::io(
                            format!("remove cgroup {}", dir.display()),
                            e,
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 31 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_machine_is_v1() {
        let cg = Cgroups::from_mountinfo(HYBRID).unwrap();
        assert_eq!(
            cg,
            Cgroups::V1 {
                cpu: "/sys/fs/cgroup/cpu".into(),
                cpuacct: Some("/sys/fs/cgroup/cpuacct".into()),
                memory: "/sys/fs/cgroup/memory".into(),
                pids: Some("/sys/fs/cgroup/pids".into()),
            }
        );
        assert_eq!(cg.task("a.b").dirs().len(), 4);
    }

    #[test]
    fn co_mounted_controllers_are_one_hierarchy() {
        let text = "1 0 0:1 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n2 0 0:2 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let cg = Cgroups::from_mountinfo(text).unwrap();
        assert_eq!(cg.task("x").dirs().len(), 2);
    }

    #[test]
    fn unified_machine_is_v2() {
        let text = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            Cgroups::from_mountinfo(text).unwrap(),
            Cgroups::V2 {
                root: "/sys/fs/cgroup".into()
            }
        );
        assert!(Cgroups::from_mountinfo("").is_err());
    }

    #[test]
    fn weight_conversion_matches_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(0), 1);
    }

    #[test]
    fn names_come_from_alloc_and_task() {
        assert_eq!(
            name_for_root(Path::new("/data/alloc/1234-ab/web")),
            "1234-ab.web"
        );
        assert_eq!(name_for_root(Path::new("/x/a b/t:1")), "a_b.t_1");
    }

    /// The v2 path against a fake unified hierarchy (this machine mounts v1).
    #[test]
    fn v2_writes_limits_and_reads_counters() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        fs::write(
            root.join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        fs::create_dir(root.join(PARENT)).unwrap();
        fs::write(
            root.join(PARENT).join("cgroup.controllers"),
            "cpu memory pids\n",
        )
        .unwrap();
        let cgroups = Cgroups::V2 { root: root.clone() };
        let resources = Resources {
            cpu_mhz: 500,
            cores: 0,
            memory_mb: 64,
            memory_max_mb: 128,
        };
        let cg = cgroups.create("alloc.task", &resources).unwrap();
        let task = root.join("sched/alloc.task");
        assert_eq!(cg.dirs(), std::slice::from_ref(&task));
        let file = |p: &Path| fs::read_to_string(p).unwrap();
        assert_eq!(
            file(&root.join("cgroup.subtree_control")),
            "+cpu +memory +pids"
        );
        assert_eq!(
            file(&root.join("sched/cgroup.subtree_control")),
            "+cpu +memory +pids"
        );
        assert_eq!(
            file(&task.join("cpu.weight")),
            shares_to_weight(500).to_string()
        );
        assert_eq!(file(&task.join("memory.max")), (128u64 << 20).to_string());
        assert_eq!(file(&task.join("memory.low")), (64u64 << 20).to_string());

        fs::write(
            task.join("memory.events"),
            "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n",
        )
        .unwrap();
        assert!(!cg.oom_killed());
        fs::write(
            task.join("memory.events"),
            "low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\n",
        )
        .unwrap();
        assert!(cg.oom_killed());

        fs::write(task.join("cgroup.procs"), "12\n34\n").unwrap();
        fs::write(
            task.join("cpu.stat"),
            "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n",
        )
        .unwrap();
        fs::write(task.join("memory.current"), "4096\n").unwrap();
        fs::write(task.join("memory.stat"), "anon 2048\nfile 1024\n").unwrap();
        assert_eq!(
            cg.usage(),
            CgroupUsage {
                cpu_total_ns: 1_500_000,
                memory_rss: 2048,
                memory_usage: 4096,
                pids: 2
            }
        );
        // A leftover cgroup with processes is not reused.
        let err = cgroups.create("alloc.task", &resources).unwrap_err();
        assert!(err.to_string().contains("still has processes"), "{err}");
    }

    #[test]
    fn v1_oom_control_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let cgroups = Cgroups::V1 {
            cpu: dir.path().join("cpu"),
            cpuacct: None,
            memory: dir.path().join("memory"),
            pids: None,
        };
        let cg = cgroups
            .create(
                "t",
                &Resources {
                    cpu_mhz: 100,
                    cores: 0,
                    memory_mb: 32,
                    memory_max_mb: 0,
                },
            )
            .unwrap();
        let mem = dir.path().join("memory/sched/t");
        assert_eq!(
            fs::read_to_string(mem.join("memory.limit_in_bytes")).unwrap(),
            (32u64 << 20).to_string()
        );
        assert!(!mem.join("memory.soft_limit_in_bytes").exists());
        assert_eq!(
            fs::read_to_string(dir.path().join("cpu/sched/t/cpu.shares")).unwrap(),
            "100"
        );
        fs::write(
            mem.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        )
        .unwrap();
        assert!(cg.oom_killed());
    }
}

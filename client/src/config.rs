//! The client's configuration as plain data. Parsing it from the agent's
//! config file is the agent's business; this is what the client needs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Resources the node keeps for the OS and the agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReservedResources {
    /// CPU in MHz.
    pub cpu_mhz: i64,
    /// Memory in MB.
    pub memory_mb: i64,
    /// Disk in MB.
    pub disk_mb: i64,
    /// Ports no allocation may take, such as `22,80,8000-8080`.
    pub reserved_ports: String,
}

/// How the client runs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Where the client keeps its state (`client/state.db`, the node id).
    pub state_dir: PathBuf,
    /// Where allocation directories are made.
    pub alloc_dir: PathBuf,
    /// The node's name; the host name when `None`.
    pub node_name: Option<String>,
    /// Region the node is in.
    pub region: String,
    /// Datacenter the node is in.
    pub datacenter: String,
    /// Operator-chosen class for constraints.
    pub node_class: String,
    /// Node pool the node joins.
    pub node_pool: String,
    /// Operator metadata, published as the node's meta.
    pub meta: BTreeMap<String, String>,
    /// Resources held back.
    pub reserved: ReservedResources,
    /// The interface whose address tasks' ports bind to; the first
    /// non-loopback interface with an IPv4 address when `None`.
    pub network_interface: Option<String>,
    /// Address of the client's HTTP API, published on the node.
    pub http_addr: String,
    /// At most one batch of allocation updates is sent per interval.
    pub update_interval: Duration,
    /// How soon after a start a running task's driver is first asked
    /// whether it exited; the interval doubles while the task runs, up to
    /// `task_poll_max_interval` (each ask is a WASM driver call).
    pub task_poll_interval: Duration,
    /// The longest interval between asks: how late, at most, the exit of a
    /// long-running task is noticed.
    pub task_poll_max_interval: Duration,
    /// How long one long poll for allocations may wait at the servers.
    pub alloc_watch_wait: Duration,
    /// How long [`crate::Client::start`] keeps trying to register.
    pub register_timeout: Duration,
    /// Terminal allocations kept on disk before the oldest are removed.
    pub gc_max_allocs: usize,
    /// Disk usage (percent of the alloc dir's file system) above which
    /// terminal allocations are removed, oldest first.
    pub gc_disk_usage_threshold: f64,
    /// How often garbage collection and usage sampling run.
    pub gc_interval: Duration,
    /// How often node and task usage is sampled.
    pub stats_interval: Duration,
    /// How often the node is fingerprinted again; a change the servers
    /// schedule against (attributes, resources, drivers' health) is sent
    /// to them by registering the node again.
    pub fingerprint_interval: Duration,
}

impl ClientConfig {
    /// A config with Nomad's defaults for everything but the directories.
    pub fn new(state_dir: PathBuf, alloc_dir: PathBuf) -> Self {
        ClientConfig {
            state_dir,
            alloc_dir,
            node_name: None,
            region: "global".into(),
            datacenter: "dc1".into(),
            node_class: String::new(),
            node_pool: "default".into(),
            meta: BTreeMap::new(),
            reserved: ReservedResources::default(),
            network_interface: None,
            http_addr: String::new(),
            update_interval: Duration::from_millis(200),
            task_poll_interval: Duration::from_secs(1),
            task_poll_max_interval: Duration::from_secs(5),
            alloc_watch_wait: Duration::from_secs(30),
            register_timeout: Duration::from_secs(30),
            gc_max_allocs: 50,
            gc_disk_usage_threshold: 80.0,
            gc_interval: Duration::from_secs(60),
            stats_interval: Duration::from_secs(10),
            fingerprint_interval: Duration::from_secs(30),
        }
    }
}

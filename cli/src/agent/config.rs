//! The agent's configuration as plain data: what the server assembly and the
//! client read to start. Built by [`load`](super::load) from defaults, `-dev`,
//! config files and flags; every value here has already been validated.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Where a setting's value came from, so that an error can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The built-in default.
    Default,
    /// The `-dev` defaults.
    Dev,
    /// A command-line flag, named as the user writes it (`-http-port`).
    Flag(&'static str),
    /// A config file.
    File {
        /// The file as given or found in a `-config` directory.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("the default"),
            Origin::Dev => f.write_str("-dev"),
            Origin::Flag(flag) => write!(f, "flag {flag}"),
            Origin::File { file, line, column } => write!(f, "{file}:{line}:{column}"),
        }
    }
}

/// Everything an agent needs to start its server and client.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    /// The node's name; `None` means the machine's host name, which the
    /// agent looks up when it starts (reading it is I/O this data avoids).
    pub name: Option<String>,
    /// The region this agent belongs to.
    pub region: String,
    /// The datacenter this agent belongs to.
    pub datacenter: String,
    /// Where the server and client keep their state. Always set unless
    /// [`dev`](Self::dev) is true, in which case `None` asks for a temporary
    /// directory removed on exit.
    pub data_dir: Option<PathBuf>,
    /// The address every listener binds to unless [`addresses`](Self::addresses) says otherwise.
    pub bind_addr: IpAddr,
    /// The most detailed log level written.
    pub log_level: tracing::Level,
    /// The listening ports.
    pub ports: Ports,
    /// The addresses the HTTP and RPC listeners bind to.
    pub addresses: Addresses,
    /// The addresses other agents and users are told to use.
    pub advertise: Advertise,
    /// The server half.
    pub server: ServerConfig,
    /// The client half.
    pub client: ClientConfig,
    /// Driver plugins by name, in name order.
    pub plugins: BTreeMap<String, PluginConfig>,
    /// Metrics settings.
    pub telemetry: Telemetry,
    /// Whether `-dev` was given: one process, in memory-like throwaway state.
    pub dev: bool,
    /// The config files read, in the order they were applied.
    pub files: Vec<PathBuf>,
}

/// The listening ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// The HTTP API (Nomad's 4646).
    pub http: u16,
    /// Client and server RPC, the gRPC transport (4647).
    pub rpc: u16,
    /// Server gossip (4648); reserved so that it never collides with the others.
    pub serf: u16,
}

/// Bind addresses of the listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addresses {
    /// The HTTP API's.
    pub http: IpAddr,
    /// The RPC listener's.
    pub rpc: IpAddr,
}

/// Advertised addresses: what the agent tells others to dial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advertise {
    /// The HTTP API's; `None` means the bind address when it is a concrete
    /// one, else an address of this machine picked when the agent starts.
    pub http: Option<SocketAddr>,
    /// The RPC listener's, with the same rule.
    pub rpc: Option<SocketAddr>,
}

/// The `server` block.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Whether this agent runs a server.
    pub enabled: bool,
    /// How many servers to wait for before the first election. `None`: never
    /// bootstrap a cluster, wait to be joined to an existing one.
    pub bootstrap_expect: Option<u32>,
    /// How this server finds the others.
    pub server_join: ServerJoin,
    /// Scales Raft's timeouts (1 is the fastest, 10 the slowest).
    pub raft_multiplier: u32,
    /// Scheduler workers; `None` means one per CPU core.
    pub num_schedulers: Option<u32>,
    /// Extra time a client gets past its heartbeat TTL before it is marked down.
    pub heartbeat_grace: Duration,
    /// The shortest heartbeat TTL handed to a client.
    pub min_heartbeat_ttl: Duration,
    /// The heartbeat rate the servers aim for across all clients, which
    /// stretches TTLs in big clusters.
    pub max_heartbeats_per_second: f64,
}

/// `server_join`: the RPC addresses of servers to join.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerJoin {
    /// Joined once at start (`-join`); failure ends the agent.
    pub start_join: Vec<String>,
    /// Joined until it works (`-retry-join`).
    pub retry_join: Vec<String>,
    /// Attempts for `retry_join`; 0 means no limit.
    pub retry_max: u32,
    /// The pause between attempts.
    pub retry_interval: Duration,
}

/// The `client` block.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// Whether this agent runs a client.
    pub enabled: bool,
    /// Servers' RPC addresses (`host:port`, port defaulting to 4647).
    pub servers: Vec<String>,
    /// How the client finds servers when `servers` is empty.
    pub server_join: ServerJoin,
    /// The client's state; `None` means `<data_dir>/client`.
    pub state_dir: Option<PathBuf>,
    /// Allocation directories; `None` means `<data_dir>/alloc`.
    pub alloc_dir: Option<PathBuf>,
    /// The node class constraints can match on.
    pub node_class: Option<String>,
    /// The node pool this node joins.
    pub node_pool: String,
    /// Node metadata, `meta.*` in constraints.
    pub meta: BTreeMap<String, String>,
    /// Driver and fingerprinter options (`driver.raw_exec.enable` and the like).
    pub options: BTreeMap<String, String>,
    /// Resources kept back from scheduling.
    pub reserved: Reserved,
    /// Host volumes by name.
    pub host_volumes: BTreeMap<String, HostVolume>,
    /// Drain the node before the agent exits; `None` means do not.
    pub drain_on_shutdown: Option<DrainOnShutdown>,
    /// Garbage collection of terminal allocations.
    pub gc: ClientGc,
    /// How often the node is fingerprinted again (changes are sent to the
    /// servers).
    pub fingerprint_interval: Duration,
}

/// Resources kept back from scheduling on a client.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reserved {
    /// CPU in MHz.
    pub cpu: u64,
    /// Memory in MB.
    pub memory_mb: u64,
    /// Disk in MB.
    pub disk_mb: u64,
    /// Ports no allocation gets, as inclusive ranges.
    pub ports: Vec<(u16, u16)>,
}

/// A directory of the host that jobs may mount by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostVolume {
    /// The host path.
    pub path: PathBuf,
    /// Whether every mount of it is read-only.
    pub read_only: bool,
}

/// `drain_on_shutdown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainOnShutdown {
    /// How long the drain may take before remaining allocations are stopped.
    pub deadline: Duration,
    /// Stop allocations at once instead of migrating them.
    pub force: bool,
    /// Leave system jobs running.
    pub ignore_system_jobs: bool,
}

/// The client's garbage collection of terminal allocations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClientGc {
    /// How often the collector runs.
    pub interval: Duration,
    /// Disk usage percentage above which allocations are collected.
    pub disk_usage_threshold: f64,
    /// Inode usage percentage above which allocations are collected.
    pub inode_usage_threshold: f64,
    /// Terminal allocations kept before the oldest are collected.
    pub max_allocs: u32,
    /// Allocations destroyed at the same time.
    pub parallel_destroys: u32,
}

/// A `plugin "NAME"` block, in the shape the client's driver host reads.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginConfig {
    /// Capability names granted to the driver; `None` keeps a built-in
    /// driver's default grant (and gives any other driver none).
    pub capabilities: Option<Vec<String>>,
    /// The driver's own config, handed to it unchanged.
    pub config: serde_json::Value,
}

/// The `telemetry` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Telemetry {
    /// How often runtime metrics are sampled.
    pub collection_interval: Duration,
    /// Leave the host name out of metric names.
    pub disable_hostname: bool,
    /// Publish per-allocation metrics.
    pub publish_allocation_metrics: bool,
    /// Publish per-node metrics.
    pub publish_node_metrics: bool,
    /// Serve `/v1/metrics?format=prometheus`.
    pub prometheus_metrics: bool,
}

impl AgentConfig {
    /// The HTTP listener's bind address.
    pub fn http_bind(&self) -> SocketAddr {
        SocketAddr::new(self.addresses.http, self.ports.http)
    }

    /// The RPC listener's bind address.
    pub fn rpc_bind(&self) -> SocketAddr {
        SocketAddr::new(self.addresses.rpc, self.ports.rpc)
    }
}

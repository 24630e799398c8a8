//! The merged settings into a typed [`AgentConfig`], with the rules no single
//! setting can check alone (distinct ports, a server or a client enabled, a
//! data directory unless `-dev`). Each problem names the setting and where
//! its value came from.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::config::{
    Addresses, Advertise, AgentConfig, ClientConfig, ClientGc, DrainOnShutdown, HostVolume, Origin,
    PluginConfig, Ports, Reserved, ServerConfig, ServerJoin, Telemetry,
};
use super::layer::{Layer, Value};

/// Default ports, as Nomad's.
pub(crate) const DEFAULT_HTTP_PORT: u16 = 4646;
pub(crate) const DEFAULT_RPC_PORT: u16 = 4647;
const DEFAULT_SERF_PORT: u16 = 4648;

/// One invalid setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The setting, as a config file spells it (`server.bootstrap_expect`).
    pub setting: String,
    /// Where its value came from.
    pub origin: Origin,
    /// What is wrong and what would be right.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.origin {
            // A default is nowhere the user can go to fix it: name the setting alone.
            Origin::Default => write!(f, "{}: {}", self.setting, self.message),
            _ => write!(f, "{}: {}: {}", self.origin, self.setting, self.message),
        }
    }
}

struct Builder<'a> {
    layer: &'a Layer,
    problems: Vec<Problem>,
}

impl Builder<'_> {
    fn origin(&self, path: &[&str]) -> Origin {
        self.layer
            .get(path)
            .map(|s| s.origin.clone())
            .unwrap_or(Origin::Default)
    }

    fn problem(&mut self, path: &[&str], message: impl Into<String>) {
        self.problems.push(Problem {
            setting: path.join("."),
            origin: self.origin(path),
            message: message.into(),
        });
    }

    fn value(&self, path: &[&str]) -> Option<&Value> {
        self.layer.get(path).map(|s| &s.value)
    }

    fn opt_str(&self, path: &[&str]) -> Option<String> {
        match self.value(path) {
            Some(Value::Str(s)) => Some(s.clone()),
            _ => None,
        }
    }

    fn string(&mut self, path: &[&str], default: &str) -> String {
        let s = self.opt_str(path).unwrap_or_else(|| default.to_string());
        if s.trim().is_empty() {
            self.problem(path, "must not be empty");
        }
        s
    }

    fn nonempty_opt(&mut self, path: &[&str]) -> Option<String> {
        let s = self.opt_str(path)?;
        if s.trim().is_empty() {
            self.problem(path, "must not be empty");
        }
        Some(s)
    }

    fn bool(&self, path: &[&str], default: bool) -> bool {
        match self.value(path) {
            Some(Value::Bool(b)) => *b,
            _ => default,
        }
    }

    fn opt_int(&self, path: &[&str]) -> Option<i64> {
        match self.value(path) {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        }
    }

    /// A whole number in `min..=max`, or `default` when unset.
    fn int_in<T: TryFrom<i64> + Copy>(
        &mut self,
        path: &[&str],
        default: T,
        min: i64,
        max: i64,
    ) -> T {
        match self.opt_int(path) {
            None => default,
            Some(v) if (min..=max).contains(&v) => T::try_from(v).unwrap_or(default),
            Some(v) => {
                self.problem(
                    path,
                    format!("{v} is out of range: expected {min} to {max}"),
                );
                default
            }
        }
    }

    fn opt_int_in(&mut self, path: &[&str], min: i64, max: i64) -> Option<u32> {
        self.opt_int(path)?;
        Some(self.int_in(path, 0u32, min, max))
    }

    fn float_in(&mut self, path: &[&str], default: f64, min: f64, max: f64) -> f64 {
        match self.value(path) {
            Some(Value::Float(v)) if v.is_finite() && *v >= min && *v <= max => *v,
            Some(Value::Float(v)) => {
                self.problem(
                    path,
                    format!("{v} is out of range: expected {min} to {max}"),
                );
                default
            }
            _ => default,
        }
    }

    fn duration(&mut self, path: &[&str], default: Duration, positive: bool) -> Duration {
        match self.value(path) {
            Some(Value::Duration(d)) if positive && d.is_zero() => {
                self.problem(path, "must be longer than zero");
                default
            }
            Some(Value::Duration(d)) => *d,
            _ => default,
        }
    }

    fn list(&self, path: &[&str]) -> Vec<String> {
        match self.value(path) {
            Some(Value::List(l)) => l.clone(),
            _ => Vec::new(),
        }
    }

    fn ip(&mut self, path: &[&str], default: IpAddr) -> IpAddr {
        match self.opt_str(path) {
            None => default,
            Some(s) => match s.trim().parse::<IpAddr>() {
                Ok(ip) => ip,
                Err(_) => {
                    self.problem(path, format!("\"{s}\" is not an IP address"));
                    default
                }
            },
        }
    }

    fn port(&mut self, path: &[&str], default: u16) -> u16 {
        self.int_in(path, default, 1, i64::from(u16::MAX))
    }

    fn map(&self, prefix: &[&str]) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for key in self.layer.children(prefix) {
            let mut path: Vec<&str> = prefix.to_vec();
            path.push(&key);
            if let Some(v) = self.opt_str(&path) {
                out.insert(key.clone(), v);
            }
        }
        out
    }

    /// Server addresses: `host` or `host:port`, each checked.
    fn addresses(&mut self, path: &[&str]) -> Vec<String> {
        let list = self.list(path);
        for a in &list {
            if let Err(msg) = check_host_port(a) {
                self.problem(path, msg);
            }
        }
        list
    }

    fn advertise(&mut self, path: &[&str], port: u16) -> Option<SocketAddr> {
        let s = self.opt_str(path)?;
        let s = s.trim();
        let parsed = s
            .parse::<SocketAddr>()
            .ok()
            .or_else(|| s.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, port)));
        match parsed {
            Some(a) if a.ip().is_unspecified() => {
                self.problem(
                    path,
                    format!(
                        "\"{s}\" cannot be advertised: others cannot dial an unspecified address"
                    ),
                );
                None
            }
            Some(a) => Some(a),
            None => {
                self.problem(path, format!("\"{s}\" is not an IP address or IP:port"));
                None
            }
        }
    }

    fn server_join(&mut self, prefix: &str) -> ServerJoin {
        ServerJoin {
            start_join: self.addresses(&[prefix, "server_join", "start_join"]),
            retry_join: self.addresses(&[prefix, "server_join", "retry_join"]),
            retry_max: self.int_in(
                &[prefix, "server_join", "retry_max"],
                0,
                0,
                i64::from(u32::MAX),
            ),
            retry_interval: self.duration(
                &[prefix, "server_join", "retry_interval"],
                Duration::from_secs(30),
                true,
            ),
        }
    }
}

/// Checks `host` or `host:port` (an IPv6 address in brackets when it has a port).
fn check_host_port(a: &str) -> Result<(), String> {
    let a = a.trim();
    if a.is_empty() {
        return Err("an address must not be empty".into());
    }
    if a.parse::<SocketAddr>().is_ok() || a.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let (host, port) = match a.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (a, None),
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
    if !host_ok {
        return Err(format!("\"{a}\" is not a host or host:port"));
    }
    if let Some(p) = port {
        match p.parse::<u16>() {
            Ok(n) if n > 0 => {}
            _ => return Err(format!("\"{a}\": the port must be 1 to 65535")),
        }
    }
    Ok(())
}

/// Parses Nomad's reserved port list: "22,80,8000-8100".
pub(crate) fn parse_port_ranges(s: &str) -> Result<Vec<(u16, u16)>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let port = |p: &str| -> Result<u16, String> {
            match p.trim().parse::<u16>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("\"{p}\" is not a port (1 to 65535)")),
            }
        };
        let range = match part.split_once('-') {
            Some((a, b)) => (port(a)?, port(b)?),
            None => (port(part)?, port(part)?),
        };
        if range.0 > range.1 {
            return Err(format!("\"{part}\": the range is backwards"));
        }
        out.push(range);
    }
    Ok(out)
}

/// Builds the config from the merged settings. `dev` allows a missing data directory.
pub(crate) fn build(
    layer: &Layer,
    dev: bool,
    files: Vec<PathBuf>,
) -> Result<AgentConfig, Vec<Problem>> {
    let mut b = Builder {
        layer,
        problems: Vec::new(),
    };
    let name = b.nonempty_opt(&["name"]);
    let region = b.string(&["region"], "global");
    let datacenter = b.string(&["datacenter"], "dc1");
    let data_dir = b.nonempty_opt(&["data_dir"]).map(PathBuf::from);
    if data_dir.is_none() && !dev {
        b.problem(
            &["data_dir"],
            "is required: set data_dir in a config file or pass -data-dir (or run -dev)",
        );
    }
    let bind_addr = b.ip(&["bind_addr"], IpAddr::from([0, 0, 0, 0]));
    let log_level = match b.opt_str(&["log_level"]) {
        None => tracing::Level::INFO,
        Some(s) => match s.trim().to_ascii_uppercase().as_str() {
            "TRACE" => tracing::Level::TRACE,
            "DEBUG" => tracing::Level::DEBUG,
            "INFO" => tracing::Level::INFO,
            "WARN" => tracing::Level::WARN,
            "ERR" | "ERROR" => tracing::Level::ERROR,
            _ => {
                b.problem(
                    &["log_level"],
                    format!("\"{s}\" is not a level: expected TRACE, DEBUG, INFO, WARN or ERROR"),
                );
                tracing::Level::INFO
            }
        },
    };

    let ports = Ports {
        http: b.port(&["ports", "http"], DEFAULT_HTTP_PORT),
        rpc: b.port(&["ports", "rpc"], DEFAULT_RPC_PORT),
        serf: b.port(&["ports", "serf"], DEFAULT_SERF_PORT),
    };
    let named = [
        ("http", ports.http),
        ("rpc", ports.rpc),
        ("serf", ports.serf),
    ];
    for (i, (later, port)) in named.iter().enumerate() {
        if let Some((earlier, _)) = named[..i].iter().find(|(_, p)| p == port) {
            b.problem(
                &["ports", later],
                format!("{port} is also ports.{earlier}: each listener needs its own port"),
            );
        }
    }
    let addresses = Addresses {
        http: b.ip(&["addresses", "http"], bind_addr),
        rpc: b.ip(&["addresses", "rpc"], bind_addr),
    };
    let advertise = Advertise {
        http: b.advertise(&["advertise", "http"], ports.http),
        rpc: b.advertise(&["advertise", "rpc"], ports.rpc),
    };

    let server = ServerConfig {
        enabled: b.bool(&["server", "enabled"], false),
        bootstrap_expect: b.opt_int_in(&["server", "bootstrap_expect"], 1, 1000),
        server_join: b.server_join("server"),
        raft_multiplier: b.int_in(&["server", "raft_multiplier"], 1, 1, 10),
        num_schedulers: b.opt_int_in(&["server", "num_schedulers"], 0, 1024),
        heartbeat_grace: b.duration(
            &["server", "heartbeat_grace"],
            Duration::from_secs(10),
            false,
        ),
        min_heartbeat_ttl: b.duration(
            &["server", "min_heartbeat_ttl"],
            Duration::from_secs(10),
            true,
        ),
        max_heartbeats_per_second: b.float_in(
            &["server", "max_heartbeats_per_second"],
            50.0,
            f64::MIN_POSITIVE,
            1e6,
        ),
    };

    let reserved_ports = match b.opt_str(&["client", "reserved", "reserved_ports"]) {
        None => Vec::new(),
        Some(s) => parse_port_ranges(&s).unwrap_or_else(|msg| {
            b.problem(&["client", "reserved", "reserved_ports"], msg);
            Vec::new()
        }),
    };
    let mut host_volumes = BTreeMap::new();
    for vol in layer.children(&["client", "host_volume"]) {
        let path = b.opt_str(&["client", "host_volume", &vol, "path"]);
        match path.filter(|p| !p.trim().is_empty()) {
            Some(p) => {
                host_volumes.insert(
                    vol.clone(),
                    HostVolume {
                        path: PathBuf::from(p),
                        read_only: b.bool(&["client", "host_volume", &vol, "read_only"], false),
                    },
                );
            }
            None => b.problem(
                &["client", "host_volume", &vol],
                "needs a path: host_volume \"NAME\" { path = \"/srv/data\" }",
            ),
        }
    }
    let drain_on_shutdown = b
        .value(&["client", "drain_on_shutdown"])
        .is_some()
        .then(|| DrainOnShutdown {
            deadline: b.duration(
                &["client", "drain_on_shutdown", "deadline"],
                Duration::from_secs(3600),
                true,
            ),
            force: b.bool(&["client", "drain_on_shutdown", "force"], false),
            ignore_system_jobs: b.bool(
                &["client", "drain_on_shutdown", "ignore_system_jobs"],
                false,
            ),
        });
    let client = ClientConfig {
        enabled: b.bool(&["client", "enabled"], false),
        servers: b.addresses(&["client", "servers"]),
        server_join: b.server_join("client"),
        state_dir: b.nonempty_opt(&["client", "state_dir"]).map(PathBuf::from),
        alloc_dir: b.nonempty_opt(&["client", "alloc_dir"]).map(PathBuf::from),
        node_class: b.nonempty_opt(&["client", "node_class"]),
        node_pool: b.string(&["client", "node_pool"], "default"),
        meta: b.map(&["client", "meta"]),
        options: b.map(&["client", "options"]),
        reserved: Reserved {
            cpu: b.int_in(&["client", "reserved", "cpu"], 0, 0, i64::MAX),
            memory_mb: b.int_in(&["client", "reserved", "memory"], 0, 0, i64::MAX),
            disk_mb: b.int_in(&["client", "reserved", "disk"], 0, 0, i64::MAX),
            ports: reserved_ports,
        },
        host_volumes,
        drain_on_shutdown,
        fingerprint_interval: b.duration(
            &["client", "fingerprint_interval"],
            Duration::from_secs(30),
            true,
        ),
        gc: ClientGc {
            interval: b.duration(&["client", "gc_interval"], Duration::from_secs(60), true),
            disk_usage_threshold: b.float_in(
                &["client", "gc_disk_usage_threshold"],
                80.0,
                0.0,
                100.0,
            ),
            inode_usage_threshold: b.float_in(
                &["client", "gc_inode_usage_threshold"],
                70.0,
                0.0,
                100.0,
            ),
            max_allocs: b.int_in(&["client", "gc_max_allocs"], 50, 1, i64::from(u32::MAX)),
            parallel_destroys: b.int_in(&["client", "gc_parallel_destroys"], 2, 1, 1024),
        },
    };

    let mut plugins = BTreeMap::new();
    for name in layer.children(&["plugin"]) {
        let capabilities = match b.value(&["plugin", &name, "capabilities"]) {
            Some(Value::List(l)) => Some(l.clone()),
            _ => None,
        };
        let config = match b.value(&["plugin", &name, "config"]) {
            Some(Value::Json(v)) => v.clone(),
            _ => serde_json::Value::Object(serde_json::Map::new()),
        };
        plugins.insert(
            name,
            PluginConfig {
                capabilities,
                config,
            },
        );
    }

    let telemetry = Telemetry {
        collection_interval: b.duration(
            &["telemetry", "collection_interval"],
            Duration::from_secs(1),
            true,
        ),
        disable_hostname: b.bool(&["telemetry", "disable_hostname"], false),
        publish_allocation_metrics: b.bool(&["telemetry", "publish_allocation_metrics"], false),
        publish_node_metrics: b.bool(&["telemetry", "publish_node_metrics"], false),
        prometheus_metrics: b.bool(&["telemetry", "prometheus_metrics"], false),
    };

    if !server.enabled && !client.enabled {
        b.problems.push(Problem {
            setting: "server.enabled, client.enabled".into(),
            origin: Origin::Default,
            message: "the agent runs neither a server nor a client: pass -server, -client or -dev, or set enabled = true in a server or client block".into(),
        });
    }
    if client.enabled
        && !server.enabled
        && client.servers.is_empty()
        && client.server_join.start_join.is_empty()
        && client.server_join.retry_join.is_empty()
    {
        b.problem(
            &["client", "servers"],
            "a client without a server in the same agent needs servers to talk to: pass -servers or set client { servers = [\"10.0.0.1:4647\"] }",
        );
    }

    if !b.problems.is_empty() {
        return Err(b.problems);
    }
    Ok(AgentConfig {
        name,
        region,
        datacenter,
        data_dir,
        bind_addr,
        log_level,
        ports,
        addresses,
        advertise,
        server,
        client,
        plugins,
        telemetry,
        dev,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ranges_parse_like_nomads() {
        assert_eq!(
            parse_port_ranges("22, 80,8000-8002"),
            Ok(vec![(22, 22), (80, 80), (8000, 8002)])
        );
        assert_eq!(parse_port_ranges(""), Ok(vec![]));
        assert!(parse_port_ranges("0").is_err());
        assert!(parse_port_ranges("90-80").is_err());
        assert!(parse_port_ranges("http").is_err());
        assert!(parse_port_ranges("70000").is_err());
    }

    #[test]
    fn host_ports_are_checked() {
        for ok in [
            "10.0.0.1",
            "10.0.0.1:4647",
            "[::1]:4647",
            "::1",
            "server-1.example:4647",
        ] {
            assert_eq!(check_host_port(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a b", "host:0", "host:x", ":4647"] {
            assert!(check_host_port(bad).is_err(), "{bad}");
        }
    }
}

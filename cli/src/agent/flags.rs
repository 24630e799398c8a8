//! `sched agent`'s command-line flags, and the two layers they make: the
//! `-dev` defaults under the config files and the flags over them.

use std::path::PathBuf;

use super::build::Problem;
use super::config::Origin;
use super::layer::{Layer, Value};

/// `sched agent` flags, with Nomad's names.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AgentArgs {
    /// Run a server and a client in one process on 127.0.0.1 with a
    /// temporary data directory removed on exit.
    #[arg(long)]
    pub dev: bool,
    /// Run a server.
    #[arg(long)]
    pub server: bool,
    /// Run a client.
    #[arg(long)]
    pub client: bool,
    /// A config file or a directory of *.hcl files; repeat to merge several, later ones winning.
    #[arg(long, value_name = "PATH")]
    pub config: Vec<PathBuf>,
    /// Where the agent keeps its state.
    #[arg(long = "data-dir", value_name = "PATH")]
    pub data_dir: Option<PathBuf>,
    /// The address every listener binds to.
    #[arg(long, value_name = "IP")]
    pub bind: Option<String>,
    /// The HTTP API's port.
    #[arg(long = "http-port", value_name = "PORT")]
    pub http_port: Option<String>,
    /// The RPC port.
    #[arg(long = "rpc-port", value_name = "PORT")]
    pub rpc_port: Option<String>,
    /// Servers to wait for before the first election.
    #[arg(long = "bootstrap-expect", value_name = "N")]
    pub bootstrap_expect: Option<String>,
    /// A server's RPC address to join at start; repeatable.
    #[arg(long, value_name = "ADDR")]
    pub join: Vec<String>,
    /// A server's RPC address to join, retrying until it works; repeatable.
    #[arg(long = "retry-join", value_name = "ADDR")]
    pub retry_join: Vec<String>,
    /// Servers a client talks to (comma-separated or repeated).
    #[arg(long, value_name = "ADDRS")]
    pub servers: Vec<String>,
    /// The node's name.
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// The datacenter.
    #[arg(long, value_name = "DC")]
    pub dc: Option<String>,
    /// The region.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// TRACE, DEBUG, INFO, WARN or ERROR.
    #[arg(long = "log-level", value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// The client's node class.
    #[arg(long = "node-class", value_name = "CLASS")]
    pub node_class: Option<String>,
    /// Client metadata, key=value; repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    pub meta: Vec<String>,
}

/// What `-dev` sets: one process running both halves on the loopback
/// address with the built-in drivers, bootstrapping a one-server cluster.
pub(crate) fn dev_layer() -> Layer {
    let mut l = Layer::default();
    let o = || Origin::Dev;
    l.set(&["bind_addr"], Value::Str("127.0.0.1".into()), o());
    l.set(&["log_level"], Value::Str("DEBUG".into()), o());
    l.set(&["server", "enabled"], Value::Bool(true), o());
    l.set(&["server", "bootstrap_expect"], Value::Int(1), o());
    l.set(&["client", "enabled"], Value::Bool(true), o());
    for driver in ["raw_exec", "exec", "docker"] {
        l.set(&["plugin", driver], Value::Present, o());
    }
    l
}

/// The flags as a layer over the files.
pub(crate) fn flags_layer(args: &AgentArgs) -> Result<Layer, Vec<Problem>> {
    let mut l = Layer::default();
    let mut problems = Vec::new();
    let str_flag = |l: &mut Layer, flag: &'static str, path: &[&str], v: &Option<String>| {
        if let Some(v) = v {
            l.set(path, Value::Str(v.clone()), Origin::Flag(flag));
        }
    };
    let mut int_flag = |l: &mut Layer, flag: &'static str, path: &[&str], v: &Option<String>| {
        if let Some(v) = v {
            match v.trim().parse::<i64>() {
                Ok(n) => l.set(path, Value::Int(n), Origin::Flag(flag)),
                Err(_) => problems.push(Problem {
                    setting: path.join("."),
                    origin: Origin::Flag(flag),
                    message: format!("\"{v}\" is not a whole number"),
                }),
            }
        }
    };
    int_flag(&mut l, "-http-port", &["ports", "http"], &args.http_port);
    int_flag(&mut l, "-rpc-port", &["ports", "rpc"], &args.rpc_port);
    int_flag(
        &mut l,
        "-bootstrap-expect",
        &["server", "bootstrap_expect"],
        &args.bootstrap_expect,
    );
    if args.server {
        l.set(
            &["server", "enabled"],
            Value::Bool(true),
            Origin::Flag("-server"),
        );
    }
    if args.client {
        l.set(
            &["client", "enabled"],
            Value::Bool(true),
            Origin::Flag("-client"),
        );
    }
    let data_dir = args.data_dir.as_ref().map(|p| p.display().to_string());
    str_flag(&mut l, "-data-dir", &["data_dir"], &data_dir);
    str_flag(&mut l, "-bind", &["bind_addr"], &args.bind);
    str_flag(&mut l, "-node", &["name"], &args.node);
    str_flag(&mut l, "-dc", &["datacenter"], &args.dc);
    str_flag(&mut l, "-region", &["region"], &args.region);
    str_flag(&mut l, "-log-level", &["log_level"], &args.log_level);
    str_flag(
        &mut l,
        "-node-class",
        &["client", "node_class"],
        &args.node_class,
    );
    if !args.join.is_empty() {
        l.set(
            &["server", "server_join", "start_join"],
            Value::List(args.join.clone()),
            Origin::Flag("-join"),
        );
    }
    if !args.retry_join.is_empty() {
        l.set(
            &["server", "server_join", "retry_join"],
            Value::List(args.retry_join.clone()),
            Origin::Flag("-retry-join"),
        );
    }
    if !args.servers.is_empty() {
        let servers = args
            .servers
            .iter()
            .flat_map(|s| s.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        l.set(
            &["client", "servers"],
            Value::List(servers),
            Origin::Flag("-servers"),
        );
    }
    for m in &args.meta {
        match m.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => l.set(
                &["client", "meta", k.trim()],
                Value::Str(v.to_string()),
                Origin::Flag("-meta"),
            ),
            _ => problems.push(Problem {
                setting: "client.meta".into(),
                origin: Origin::Flag("-meta"),
                message: format!("\"{m}\" is not key=value"),
            }),
        }
    }
    if problems.is_empty() {
        Ok(l)
    } else {
        Err(problems)
    }
}

//! The agent's client half: the driver host with the grants from the
//! agent's plugin blocks, the client's settings from the agent's, and the
//! gRPC connection to the servers.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use sched_client::driver_host::{Capability, CapabilitySet, DriverGrant, DriverHost, HostConfig};
use sched_client::{
    AllocUpdate, Client, ClientConfig, ConnError, HeartbeatResponse, RegisterResponse, ServerConn,
};
use sched_core::model::{Allocation, Node, NodeId};
use sched_server::fsm::AllocClientUpdate;
use sched_server::rpc::node::{NodeCallError, NodeClient};
use tokio::sync::watch;

use super::config::AgentConfig;
use super::start::{AgentError, agent_name};

/// A running client half.
#[derive(Debug)]
pub struct RunningClient {
    shared: super::client_api::SharedClient,
}

impl RunningClient {
    /// The client as the HTTP API's client endpoints reach it.
    pub(crate) fn api(&self) -> Arc<dyn sched_server::http::ClientApi> {
        Arc::new(self.shared.clone())
    }

    /// Stops the client. Its tasks keep running: a restarted client
    /// re-attaches to them (a drain is how tasks are moved away).
    pub async fn stop(self) {
        let client = self.shared.client.write().ok().and_then(|mut c| c.take());
        if let Some(client) = client {
            client.shutdown().await;
        }
    }
}

/// Starts the client against `servers` (gRPC addresses).
pub async fn start(
    config: &AgentConfig,
    servers: Vec<String>,
    shutdown: watch::Receiver<bool>,
) -> Result<RunningClient, AgentError> {
    let data_dir = config.data_dir.clone().unwrap_or_else(|| ".".into());
    let host_config = HostConfig {
        // A -dev agent's data dir is new each time: its compiled drivers go
        // to the machine-wide cache instead, so only the first start pays
        // for compiling them.
        cache_dir: if config.dev {
            HostConfig::default().cache_dir
        } else {
            data_dir.join("driver-cache")
        },
        plugin_dir: Some(data_dir.join("plugins")).filter(|d| d.is_dir()),
        grants: grants(config)?,
        builtins: true,
        capabilities: CapabilitySet::all(Default::default()),
        ..HostConfig::default()
    };
    // Compiling the driver components takes CPU time: off the async
    // workers, so the API keeps answering meanwhile.
    let host = tokio::task::spawn_blocking(move || DriverHost::new(host_config))
        .await
        .map_err(|e| AgentError::Client(format!("the driver host: {e}")))?
        .map_err(|e| AgentError::Client(format!("the driver host: {e}")))?;
    let client_config = client_config(config, &data_dir);
    let alloc_root = client_config.alloc_dir.clone();
    let conn = Arc::new(GrpcConn {
        nodes: NodeClient::new(servers),
    });
    let client = Client::start(client_config, conn, host, shutdown)
        .await
        .map_err(|e| AgentError::Client(e.to_string()))?;
    Ok(RunningClient {
        shared: super::client_api::SharedClient {
            client: Arc::new(std::sync::RwLock::new(Some(client))),
            alloc_root,
        },
    })
}

/// The drivers' grants: the built-in defaults, changed by `plugin` blocks.
fn grants(config: &AgentConfig) -> Result<Vec<DriverGrant>, AgentError> {
    let mut out = Vec::new();
    for (name, plugin) in &config.plugins {
        let mut grant = DriverGrant::builtin(name).unwrap_or_else(|| DriverGrant::none(name));
        if let Some(caps) = &plugin.capabilities {
            grant.capabilities = caps
                .iter()
                .map(|c| {
                    c.parse::<Capability>().map_err(|e| {
                        AgentError::Client(format!("plugin {name:?}: capabilities: {e}"))
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        grant.config = plugin.config.clone();
        out.push(grant);
    }
    Ok(out)
}

fn client_config(config: &AgentConfig, data_dir: &std::path::Path) -> ClientConfig {
    let c = &config.client;
    let mut out = ClientConfig::new(
        c.state_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("client")),
        c.alloc_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("alloc")),
    );
    out.node_name = Some(agent_name(config));
    out.region = config.region.clone();
    out.datacenter = config.datacenter.clone();
    out.node_class = c.node_class.clone().unwrap_or_default();
    out.node_pool = c.node_pool.clone();
    out.meta = c.meta.clone();
    out.reserved.cpu_mhz = i64::try_from(c.reserved.cpu).unwrap_or(i64::MAX);
    out.reserved.memory_mb = i64::try_from(c.reserved.memory_mb).unwrap_or(i64::MAX);
    out.reserved.disk_mb = i64::try_from(c.reserved.disk_mb).unwrap_or(i64::MAX);
    out.reserved.reserved_ports = c
        .reserved
        .ports
        .iter()
        .map(|(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    out.http_addr = config.http_bind().to_string();
    out.gc_max_allocs = c.gc.max_allocs as usize;
    out.gc_disk_usage_threshold = c.gc.disk_usage_threshold;
    out.gc_interval = c.gc.interval;
    out.fingerprint_interval = c.fingerprint_interval;
    out.stats_interval = config
        .telemetry
        .collection_interval
        .max(Duration::from_secs(1));
    out
}

/// The client's [`ServerConn`] over the servers' gRPC node service.
#[derive(Debug)]
struct GrpcConn {
    nodes: NodeClient,
}

fn conn_error(err: NodeCallError) -> ConnError {
    match err {
        NodeCallError::Unreachable { .. } => ConnError::Unavailable(err.to_string()),
        NodeCallError::UnknownNode(id) => ConnError::UnknownNode(id),
        NodeCallError::Rejected(m) => ConnError::Rejected(m),
    }
}

impl ServerConn for GrpcConn {
    fn register(&self, node: Node) -> BoxFuture<'_, Result<RegisterResponse, ConnError>> {
        Box::pin(async move {
            let r = self.nodes.register(&node).await.map_err(conn_error)?;
            Ok(RegisterResponse {
                heartbeat_ttl: r.heartbeat_ttl,
            })
        })
    }

    fn heartbeat(&self, node_id: &NodeId) -> BoxFuture<'_, Result<HeartbeatResponse, ConnError>> {
        let id = node_id.clone();
        Box::pin(async move {
            let r = self.nodes.heartbeat(&id).await.map_err(conn_error)?;
            Ok(HeartbeatResponse {
                heartbeat_ttl: r.heartbeat_ttl,
            })
        })
    }

    fn allocations(
        &self,
        node_id: &NodeId,
        index: u64,
        wait: Duration,
    ) -> BoxFuture<'_, Result<(Vec<Allocation>, u64), ConnError>> {
        let id = node_id.clone();
        Box::pin(async move {
            self.nodes
                .allocations(&id, index, wait)
                .await
                .map_err(conn_error)
        })
    }

    fn update_allocs(&self, updates: Vec<AllocUpdate>) -> BoxFuture<'_, Result<(), ConnError>> {
        Box::pin(async move {
            let updates: Vec<AllocClientUpdate> = updates
                .into_iter()
                .map(|u| AllocClientUpdate {
                    alloc_id: u.alloc_id,
                    client_status: u.client_status,
                    client_description: u.client_description,
                    task_states: u.task_states,
                    healthy: u.deployment_status.and_then(|d| d.healthy),
                })
                .collect();
            self.nodes
                .update_allocs(&updates)
                .await
                .map(|_| ())
                .map_err(conn_error)
        })
    }
}

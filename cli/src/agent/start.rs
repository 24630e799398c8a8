//! Starting the agent from its config: the data directory, the listeners,
//! the server half with its HTTP API, and the client half, in that order.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sched_server::http::{ClientSlot, HttpLimits, client_router, router, serve};
use sched_server::server::{HttpBackend, Server, ServerConfig};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::config::AgentConfig;

/// Why the agent could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A listener could not be bound (the port is taken, the address is not
    /// this machine's).
    #[error("cannot listen for {what} on {addr}: {source}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The server failed to start.
    #[error("the server failed to start: {0}")]
    Server(#[from] sched_server::server::ServerError),
    /// The client failed to start.
    #[error("the client failed to start: {0}")]
    Client(String),
    /// A client-only agent has no servers to talk to.
    #[error(
        "a client needs servers: set client.servers or -servers, or run a server in this agent"
    )]
    NoServers,
    /// The `-dev` temporary data directory could not be created.
    #[error("cannot create a temporary data directory: {0}")]
    TempDataDir(std::io::Error),
}

/// The agent's data directory, and whether it goes away when the agent exits.
#[derive(Debug)]
pub enum DataDir {
    /// A directory the operator chose; kept.
    Kept(PathBuf),
    /// A `-dev` directory, removed when this value drops.
    Temporary(tempfile::TempDir),
}

impl DataDir {
    /// The directory.
    pub fn path(&self) -> &std::path::Path {
        match self {
            DataDir::Kept(p) => p,
            DataDir::Temporary(t) => t.path(),
        }
    }
}

/// Makes sure the config has a data directory: a `-dev` agent without one
/// gets a fresh temporary directory under `temp_root`, written into the config.
/// Keep the returned value alive for as long as the agent runs.
pub fn prepare_data_dir(
    config: &mut AgentConfig,
    temp_root: &std::path::Path,
) -> Result<DataDir, AgentError> {
    if let Some(p) = &config.data_dir {
        return Ok(DataDir::Kept(p.clone()));
    }
    let dir = tempfile::Builder::new()
        .prefix("sched-dev-")
        .tempdir_in(temp_root)
        .map_err(AgentError::TempDataDir)?;
    config.data_dir = Some(dir.path().to_path_buf());
    Ok(DataDir::Temporary(dir))
}

/// Runs the agent until `shutdown` completes, then stops it cleanly: the
/// listeners are bound first (a taken port fails at once), then the server,
/// its HTTP API, and the client, which are stopped in the reverse order.
pub async fn run(
    config: AgentConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AgentError> {
    let (stop, stopped) = watch::channel(false);
    let mut shutdown = Box::pin(shutdown);
    let starting = start_parts(&config, stopped);
    // A server waiting for its peers may wait long: a signal meanwhile ends
    // the agent at once.
    let (server, http_task, client, http_addr) = tokio::select! {
        started = starting => started?,
        _ = &mut shutdown => {
            tracing::info!("agent stopped while starting");
            return Ok(());
        }
    };
    tracing::info!(http = %http_addr, "agent started");

    shutdown.await;
    tracing::info!("agent stopping");
    let _ = stop.send(true);
    if let Some(client) = client {
        client.stop().await;
    }
    if let Some(t) = http_task {
        let abort = t.abort_handle();
        if tokio::time::timeout(Duration::from_secs(5), t)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
    if let Some(server) = server {
        server.shutdown().await;
    }
    tracing::info!("agent stopped");
    Ok(())
}

/// What a started agent runs.
type Parts = (
    Option<Server>,
    Option<tokio::task::JoinHandle<()>>,
    Option<super::client::RunningClient>,
    SocketAddr,
);

/// Starts the agent's parts in order; `stopped` turning true stops them.
async fn start_parts(
    config: &AgentConfig,
    stopped: watch::Receiver<bool>,
) -> Result<Parts, AgentError> {
    // Stage 1: the listeners.
    let http_bind = config.http_bind();
    let http = bind("HTTP", http_bind).await?;
    let http_addr = http.local_addr().unwrap_or(http_bind);
    let rpc = if config.server.enabled {
        Some(bind("RPC", config.rpc_bind()).await?)
    } else {
        None
    };
    // Stage 2: the server, forming or joining its cluster.
    let server = match rpc {
        Some(rpc) => Some(Server::start(server_config(config), rpc, http_addr).await?),
        None => None,
    };
    // Stage 3: the HTTP API, served by this agent's server; a client-only
    // agent serves only the client endpoints. The client joins the slot
    // once started.
    let slot = ClientSlot::new();
    let app = match &server {
        Some(server) => {
            let backend: Arc<dyn sched_server::http::Backend> = Arc::new(HttpBackend::new(
                server.handle(),
                config.client.enabled,
                advertised_http(config, http_addr),
            ));
            client_router(slot.clone(), Some(Arc::clone(&backend)))
                .merge(router(backend, HttpLimits::default()))
        }
        None => client_router(slot.clone(), None),
    };
    let mut done = stopped.clone();
    let http_task = Some(tokio::spawn(async move {
        let shutdown = async move {
            let _ = done.wait_for(|s| *s).await;
        };
        if let Err(err) = serve(http, app, shutdown).await {
            tracing::error!(error = %err, "HTTP API stopped with an error");
        }
    }));
    // Stage 4: the client, talking to this agent's server or the listed ones.
    let client = if config.client.enabled {
        let servers = client_servers(config, server.as_ref().map(|s| s.rpc_addr()));
        if servers.is_empty() {
            return Err(AgentError::NoServers);
        }
        let client = super::client::start(config, servers, stopped.clone()).await?;
        slot.set(client.api());
        Some(client)
    } else {
        None
    };
    Ok((server, http_task, client, http_addr))
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, AgentError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| AgentError::Bind { what, addr, source })
}

/// The name an agent goes by: its configured name, else the host's.
pub fn agent_name(config: &AgentConfig) -> String {
    config.name.clone().unwrap_or_else(|| {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "sched".into())
    })
}

fn advertised_http(config: &AgentConfig, bound: SocketAddr) -> String {
    config.advertise.http.unwrap_or(bound).to_string()
}

/// The server half's settings, from the agent's.
fn server_config(config: &AgentConfig) -> ServerConfig {
    let data_dir = config
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    let mut c = ServerConfig::new(data_dir);
    c.name = agent_name(config);
    c.region = config.region.clone();
    c.datacenter = config.datacenter.clone();
    c.advertise_rpc = config.advertise.rpc.map(|a| a.to_string());
    c.advertise_http = config.advertise.http.map(|a| a.to_string());
    let join = &config.server.server_join;
    c.join = join
        .start_join
        .iter()
        .chain(&join.retry_join)
        .cloned()
        .collect();
    c.retry_interval = join.retry_interval;
    // Without bootstrap_expect a server never founds a cluster: it waits to
    // be joined (Nomad's behaviour).
    c.bootstrap_expect = config
        .server
        .bootstrap_expect
        .map_or(usize::MAX, |n| n as usize);
    let multiplier = config.server.raft_multiplier.max(1);
    c.raft.tick *= multiplier;
    if let Some(n) = config.server.num_schedulers {
        c.scheduling.worker.workers = n as usize;
    }
    c.heartbeat.grace = config.server.heartbeat_grace;
    c.heartbeat.min_ttl = config.server.min_heartbeat_ttl;
    c.heartbeat.max_per_second = config.server.max_heartbeats_per_second;
    c
}

/// The gRPC addresses the client talks to: its configured servers, else this
/// agent's own server.
fn client_servers(config: &AgentConfig, own: Option<SocketAddr>) -> Vec<String> {
    let listed: Vec<String> = config
        .client
        .servers
        .iter()
        .chain(&config.client.server_join.retry_join)
        .chain(&config.client.server_join.start_join)
        .cloned()
        .collect();
    if !listed.is_empty() {
        return listed;
    }
    own.map(|a| vec![a.to_string()]).unwrap_or_default()
}

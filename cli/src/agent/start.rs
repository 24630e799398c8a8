//! Starting the agent from its config: the data directory, then the server
//! and client halves. The halves are not part of this build yet, so [`run`]
//! says so instead of pretending to start them.

use std::future::Future;
use std::path::PathBuf;

use super::config::AgentConfig;

/// Why the agent could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// This build has no server assembly to start.
    #[error("the agent cannot start a server yet: this build of sched does not include the server")]
    ServerUnavailable,
    /// This build has no client assembly to start.
    #[error("the agent cannot start a client yet: this build of sched does not include the client")]
    ClientUnavailable,
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

/// Runs the agent until `shutdown` completes, then stops it cleanly.
///
/// This is the one call the server and client assembly replaces: it gets the
/// validated config and the shutdown signal, and returns when the agent has
/// stopped. Until that assembly exists it refuses to start.
pub async fn run(
    config: AgentConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AgentError> {
    // Nothing is started, so there is nothing for the signal to stop.
    drop(shutdown);
    if config.server.enabled {
        return Err(AgentError::ServerUnavailable);
    }
    Err(AgentError::ClientUnavailable)
}

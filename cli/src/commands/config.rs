//! `sched config validate`: checks agent config files without starting
//! anything, as `nomad config validate` does.

use std::io::Write;
use std::path::PathBuf;

use sched_cli::agent::{self, AgentArgs, ConfigError};

use crate::exit::user;

/// `sched config ...`
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Check agent config files (or directories of them), merged in order.
    Validate {
        /// The files or directories.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
}

/// Runs `sched config ...`.
pub fn run(cmd: &ConfigCommand) -> anyhow::Result<()> {
    let ConfigCommand::Validate { paths } = cmd;
    let args = AgentArgs {
        config: paths.clone(),
        ..AgentArgs::default()
    };
    agent::load(&args).map_err(|e| match e {
        ConfigError::File(_) | ConfigError::Invalid(_) => user(e.to_string()),
        _ => user(format!("error: {e}")),
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "Configuration is valid!")?;
    Ok(())
}

//! The agent's configuration and start-up: Nomad's agent config files and
//! flags into one validated [`AgentConfig`], the summary printed at start,
//! and [`run`], the single call that starts the server and client halves.
//!
//! Sources apply in Nomad's order, each later one winning setting by setting:
//! built-in defaults, `-dev`, every `-config` file or directory (files of a
//! directory in name order), then the other flags. Errors name the setting
//! and where its value came from (file:line:col or the flag).
//!
//! This module does not own the server or the client: [`run`] is where the
//! assembly that starts them plugs in. Its only I/O is reading config files
//! (in [`load`]) and creating the `-dev` data directory.

mod build;
mod client;
mod client_api;
pub mod config;
mod file;
mod flags;
mod layer;
mod schema;
mod start;
mod summary;

use std::path::{Path, PathBuf};

pub use build::Problem;
pub use config::AgentConfig;
pub use flags::AgentArgs;
pub use start::{AgentError, DataDir, prepare_data_dir, run};
pub use summary::summary;

use sched_core::jobspec::{Diagnostics, MAX_SOURCE_BYTES};

/// A `-config` directory holding more files than this is refused: agent
/// configs are a handful of files, and the bound keeps start-up bounded.
pub const MAX_CONFIG_FILES: usize = 256;

/// Why no [`AgentConfig`] could be made; each says what to fix and where.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A `-config` path could not be read.
    #[error("cannot read agent config {}: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A `-config` path is not something the agent reads (too big, too many
    /// files, a JSON config).
    #[error("agent config {}: {reason}", path.display())]
    Unreadable {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A config file's text is wrong: syntax, unknown names, values of the
    /// wrong kind. Rendered with file:line:col and the offending line.
    #[error("{0}")]
    File(Diagnostics),
    /// Settings that are well-formed but wrong, alone or together.
    #[error("{}", render_problems(.0))]
    Invalid(Vec<Problem>),
}

fn render_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("error: {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One config file's name and text.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// The path, shown in errors and origins.
    pub path: PathBuf,
    /// The HCL text.
    pub contents: String,
}

/// Reads every `-config` path and builds the config from them and the flags.
pub fn load(args: &AgentArgs) -> Result<AgentConfig, ConfigError> {
    let mut files = Vec::new();
    for path in &args.config {
        read_config_path(path, &mut files)?;
    }
    from_sources(args, &files)
}

/// Builds the config from the flags and config texts already read, in order.
pub fn from_sources(args: &AgentArgs, files: &[ConfigFile]) -> Result<AgentConfig, ConfigError> {
    let mut merged = if args.dev {
        flags::dev_layer()
    } else {
        layer::Layer::default()
    };
    for f in files {
        let name = f.path.display().to_string();
        let layer = file::parse(&name, &f.contents).map_err(ConfigError::File)?;
        merged.merge(layer);
    }
    merged.merge(flags::flags_layer(args).map_err(ConfigError::Invalid)?);
    build::build(
        &merged,
        args.dev,
        files.iter().map(|f| f.path.clone()).collect(),
    )
    .map_err(ConfigError::Invalid)
}

/// Reads one `-config` path: a file, or a directory's `*.hcl` files in name order.
fn read_config_path(path: &Path, out: &mut Vec<ConfigFile>) -> Result<(), ConfigError> {
    let read_err = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if !meta.is_dir() {
        out.push(read_config_file(path)?);
        return Ok(());
    }
    let mut names = Vec::new();
    for entry in std::fs::read_dir(path).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let p = entry.path();
        let is_file = entry.file_type().map_err(read_err)?.is_file();
        if is_file && p.extension().is_some_and(|e| e == "hcl" || e == "json") {
            names.push(p);
            if names.len() > MAX_CONFIG_FILES {
                return Err(ConfigError::Unreadable {
                    path: path.to_path_buf(),
                    reason: format!("more than {MAX_CONFIG_FILES} config files"),
                });
            }
        }
    }
    names.sort();
    for p in names {
        out.push(read_config_file(&p)?);
    }
    Ok(())
}

fn read_config_file(path: &Path) -> Result<ConfigFile, ConfigError> {
    if path.extension().is_some_and(|e| e == "json") {
        return Err(ConfigError::Unreadable {
            path: path.to_path_buf(),
            reason: "JSON agent configs are not supported; write the config in HCL".into(),
        });
    }
    let read_err = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(read_err)?.len();
    if len > MAX_SOURCE_BYTES as u64 {
        return Err(ConfigError::Unreadable {
            path: path.to_path_buf(),
            reason: format!("{len} bytes; config files are limited to {MAX_SOURCE_BYTES} bytes"),
        });
    }
    let contents = std::fs::read_to_string(path).map_err(read_err)?;
    Ok(ConfigFile {
        path: path.to_path_buf(),
        contents,
    })
}

#[cfg(test)]
mod tests;

//! Reading a job file from the command line: the file (or stdin), its
//! `-var`/`-var-file` values, the `NOMAD_VAR_*`/`SCHED_VAR_*` environment,
//! and the file functions rooted at the job file's directory.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sched_core::jobspec::{self, Diagnostics, MAX_SOURCE_BYTES, ParseOptions, Severity, VarFile};

use crate::exit::user;

/// The variable flags shared by every command that reads a job file.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct VarArgs {
    /// Set a variable: -var name=value (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Read variables from an HCL file of name = value lines (repeatable).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

/// Reads a text file of at most `limit` bytes; `-` is stdin.
pub fn read_text(path: &Path, limit: usize) -> anyhow::Result<String> {
    let shown = path.display();
    let mut bytes = Vec::new();
    let res = if path == Path::new("-") {
        std::io::stdin()
            .take(limit as u64 + 1)
            .read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(limit as u64 + 1).read_to_end(&mut bytes))
    };
    res.map_err(|e| user(format!("error: cannot read {shown}: {e}")))?;
    if bytes.len() > limit {
        return Err(user(format!(
            "error: {shown} is larger than {limit} bytes; job files are limited to that size"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        user(format!(
            "error: {shown} is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Parses the job file at `path` with the variables given on the command line.
pub fn parse(path: &Path, vars: &VarArgs) -> anyhow::Result<jobspec::Parsed> {
    let src = read_text(path, MAX_SOURCE_BYTES)?;
    let mut opts = ParseOptions {
        arg_vars: vars.vars.clone(),
        env: std::env::vars()
            .filter(|(k, _)| k.starts_with("NOMAD_VAR_") || k.starts_with("SCHED_VAR_"))
            .collect(),
        fs: Some(Arc::new(jobspec::StdFileSource)),
        base_dir: path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
        home_dir: std::env::var_os("HOME").map(PathBuf::from),
        now: chrono::Utc::now(),
        ..ParseOptions::default()
    };
    for f in &vars.var_files {
        opts.var_files.push(VarFile {
            name: f.display().to_string(),
            contents: read_text(f, MAX_SOURCE_BYTES)?,
        });
    }
    let name = path.display().to_string();
    let parsed = jobspec::parse(&name, &src, &opts).map_err(|d| user(render(&d)))?;
    for w in &parsed.warnings {
        eprintln!("{w}");
    }
    Ok(parsed)
}

/// Diagnostics as the terminal shows them, with a count at the end.
pub fn render(d: &Diagnostics) -> String {
    let errors = d.0.iter().filter(|x| x.severity == Severity::Error).count();
    let plural = if errors == 1 { "" } else { "s" };
    format!("{d}\n\n{errors} error{plural}")
}

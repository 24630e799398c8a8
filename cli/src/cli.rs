//! The command tree, with Nomad's names and flags.
//!
//! Nomad writes long flags with one dash (`-var`, `-output`); clap wants two.
//! [`normalize_args`] rewrites the one-dash form so both are accepted.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::commands::{alloc, eval, job, node};
use crate::jobfile::VarArgs;

/// sched: a Nomad-style workload scheduler.
#[derive(Debug, Parser)]
#[command(name = "sched", version, about, long_about = None, disable_help_subcommand = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with jobs: run, validate, plan, status, stop, ...
    #[command(subcommand)]
    Job(JobCommand),
    /// Run a job (alias of `job run`).
    Run(JobRun),
    /// Rewrite job files in canonical HCL style.
    Fmt(Fmt),
    /// Print the version.
    Version,
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell.
    Completion {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Run a sched agent (server, client, or both with -dev).
    Agent(Box<sched_cli::agent::AgentArgs>),
    /// Work with agent config files.
    #[command(subcommand)]
    Config(crate::commands::config::ConfigCommand),
    /// Work with allocations.
    #[command(subcommand)]
    Alloc(AllocCommand),
    /// Work with evaluations.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Work with deployments: list, status, promote, fail, pause, resume.
    #[command(subcommand)]
    Deployment(crate::commands::deployment::DeploymentCommand),
    /// Work with client nodes.
    #[command(subcommand)]
    Node(NodeCommand),
    /// Work with servers.
    #[command(subcommand)]
    Server(crate::commands::server::ServerCommand),
    /// Show anything by ID prefix.
    Status(crate::commands::status::StatusArgs),
    /// Operator commands: raft, snapshot.
    #[command(subcommand)]
    Operator(crate::commands::operator::OperatorCommand),
    /// Work with variables.
    Var(Later),
    /// Work with services.
    Service(Later),
    /// Gather log lines by trace ID from every node.
    Logs(Later),
}

/// `sched job ...`
#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Submit a job (with -output: print the JSON that would be submitted).
    Run(JobRun),
    /// Check a job file: syntax, variables, and the job's rules.
    Validate(JobValidate),
    /// Write an example job file to start from.
    Init(JobInit),
    /// Show what a submission would change.
    Plan(job::PlanArgs),
    /// Show a job's status.
    Status(job::StatusArgs),
    /// Stop a job.
    Stop(job::StopArgs),
    /// Show a job's submitted definition.
    Inspect(job::IdArgs),
    /// Show a job's versions.
    History(job::HistoryArgs),
    /// Go back to an earlier version.
    Revert(job::RevertArgs),
    /// Dispatch a parameterized job.
    Dispatch(job::DispatchArgs),
    /// Promote the canaries of the job's latest deployment.
    Promote(crate::commands::deployment::JobPromoteArgs),
    /// Periodic job commands.
    #[command(subcommand)]
    Periodic(job::PeriodicCommand),
    /// Change a group's count.
    Scale(job::ScaleArgs),
    /// List a job's allocations.
    Allocs(job::IdArgs),
    /// Create a new evaluation for a job.
    Eval(job::IdArgs),
}

/// `sched alloc ...`
#[derive(Debug, Subcommand)]
pub enum AllocCommand {
    /// Show an allocation's tasks and their events.
    Status(alloc::AllocArgs),
    /// Stop an allocation (it is replaced if its job still wants it).
    Stop(alloc::AllocArgs),
    /// Show a task's stdout or stderr.
    Logs(Box<crate::commands::alloc_logs::AllocLogsArgs>),
    /// Send a signal to a task (or every running task) of an allocation.
    Signal(crate::commands::alloc_ops::SignalArgs),
    /// Restart a task (or every running task) of an allocation in place.
    Restart(crate::commands::alloc_ops::RestartArgs),
    /// Run a command in a running task and print its output.
    Exec(crate::commands::alloc_ops::ExecArgs),
}

/// `sched eval ...`
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Show an evaluation and why it could not place.
    Status(eval::EvalArgs),
    /// List evaluations.
    List(eval::ListArgs),
}

/// `sched node ...`
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// List nodes, or show one with its allocations.
    Status(node::StatusArgs),
    /// Move allocations off a node.
    Drain(node::DrainArgs),
    /// Allow or stop new placements on a node.
    Eligibility(node::EligibilityArgs),
}

/// `sched job run`
#[derive(Debug, clap::Args)]
pub struct JobRun {
    /// The job file (HCL or JSON); `-` reads stdin.
    pub file: PathBuf,
    /// Print the job as the API's JSON instead of submitting it.
    #[arg(long)]
    pub output: bool,
    /// Return at once instead of monitoring the evaluation.
    #[arg(long)]
    pub detach: bool,
    /// Submit only if the job's modify index matches.
    #[arg(long = "check-index", value_name = "INDEX")]
    pub check_index: Option<u64>,
    /// How long to wait for a service's allocations to run (default 5m).
    #[arg(long)]
    pub timeout: Option<String>,
    #[command(flatten)]
    pub vars: VarArgs,
    #[command(flatten)]
    pub api: crate::commands::status::ApiArgs,
}

/// `sched job validate`
#[derive(Debug, clap::Args)]
pub struct JobValidate {
    /// The job file (HCL or JSON); `-` reads stdin.
    pub file: PathBuf,
    /// Print the validated job as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub vars: VarArgs,
}

/// `sched job init`
#[derive(Debug, clap::Args)]
pub struct JobInit {
    /// Where to write the example.
    #[arg(default_value = "example.nomad.hcl")]
    pub file: PathBuf,
}

/// `sched fmt`
#[derive(Debug, clap::Args)]
pub struct Fmt {
    /// Files or directories (default: the current directory); `-` formats stdin to stdout.
    pub paths: Vec<PathBuf>,
    /// Exit 1 when any file is not formatted; change nothing.
    #[arg(long)]
    pub check: bool,
    /// Print the names of files whose formatting differs.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub list: bool,
    /// Write the result back to the file.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub write: bool,
    /// Descend into directories.
    #[arg(long)]
    pub recursive: bool,
}

/// A command whose work arrives with the server, client and driver pieces:
/// it accepts any arguments and explains that it is not available yet.
#[derive(Debug, clap::Args)]
pub struct Later {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub args: Vec<String>,
}

/// Turns Nomad-style `-flag` into `--flag` (`-var=x` into `--var=x`), leaving
/// short flags (`-h`, `-V`), negative numbers, `-` and everything after `--` alone.
///
/// `alloc exec` passes its command line through untouched: everything from
/// the command (the second positional argument) on belongs to the command.
pub fn normalize_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let args: Vec<OsString> = args.into_iter().collect();
    let exec =
        args.get(1).is_some_and(|a| a == "alloc") && args.get(2).is_some_and(|a| a == "exec");
    let mut positionals = 0usize;
    let mut value_next = false;
    let mut out = Vec::new();
    let mut passthrough = false;
    for (i, arg) in args.into_iter().enumerate() {
        if i == 0 || passthrough {
            out.push(arg);
            continue;
        }
        let Some(s) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if exec && i > 2 {
            if value_next {
                value_next = false;
            } else if !s.starts_with('-') {
                positionals += 1;
                if positionals == 2 {
                    passthrough = true;
                }
            } else {
                let name = s.trim_start_matches('-');
                value_next = !name.contains('=') && matches!(name, "task" | "address");
            }
        }
        if s == "--" {
            passthrough = true;
            out.push(arg);
            continue;
        }
        let long_single = s.starts_with('-')
            && !s.starts_with("--")
            && s.len() > 2
            && s[1..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic());
        if long_single {
            out.push(OsString::from(format!("-{s}")));
        } else {
            out.push(arg);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(args: &[&str]) -> Vec<String> {
        normalize_args(args.iter().map(OsString::from))
            .into_iter()
            .map(|s| s.into_string().unwrap_or_default())
            .collect()
    }

    #[test]
    fn nomad_flags_become_long_flags() {
        assert_eq!(
            norm(&[
                "sched", "job", "run", "-output", "-var", "a=-1", "-var=b=2", "-h", "-", "-5",
                "--", "-x"
            ]),
            [
                "sched",
                "job",
                "run",
                "--output",
                "--var",
                "a=-1",
                "--var=b=2",
                "-h",
                "-",
                "-5",
                "--",
                "-x"
            ]
        );
    }

    #[test]
    fn an_exec_command_line_is_left_as_it_is() {
        assert_eq!(
            norm(&[
                "sched", "alloc", "exec", "-task", "web", "-i=false", "ab12", "sh", "-lc", "-x"
            ]),
            [
                "sched",
                "alloc",
                "exec",
                "--task",
                "web",
                "--i=false",
                "ab12",
                "sh",
                "-lc",
                "-x"
            ]
        );
        assert_eq!(
            norm(&["sched", "alloc", "signal", "-task", "web", "ab12"]),
            ["sched", "alloc", "signal", "--task", "web", "ab12"]
        );
    }

    #[test]
    fn the_command_tree_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

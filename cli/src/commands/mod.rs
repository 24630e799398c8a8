//! One module per command family; [`run`] dispatches the parsed command line.

mod agent;
pub mod alloc_logs;
pub mod config;
mod fmt;
mod job;
pub mod operator;
pub mod server;
pub mod status;

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, Command, JobCommand};
use crate::exit::user;

/// Runs one command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Job(JobCommand::Run(args)) | Command::Run(args) => job::run(&args),
        Command::Job(JobCommand::Validate(args)) => job::validate(&args),
        Command::Job(JobCommand::Init(args)) => job::init(&args),
        Command::Job(other) => later(&format!("job {}", job_name(&other))),
        Command::Fmt(args) => fmt::run(&args),
        Command::Version => println_out(&format!("sched v{}", env!("CARGO_PKG_VERSION"))),
        Command::Completion { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "sched", &mut std::io::stdout());
            Ok(())
        }
        Command::Agent(args) => agent::run(&args),
        Command::Config(cmd) => config::run(&cmd),
        Command::Alloc(crate::cli::AllocCommand::Logs(args)) => alloc_logs::run(&args),
        Command::Alloc(crate::cli::AllocCommand::Other(args)) => later(&format!(
            "alloc {}",
            args.first().map_or("", String::as_str)
        )),
        Command::Eval(_) => later("eval"),
        Command::Node(_) => later("node"),
        Command::Server(cmd) => server::run(&cmd),
        Command::Status(args) => status::run(&args),
        Command::Operator(cmd) => operator::run(&cmd),
        Command::Var(_) => later("var"),
        Command::Service(_) => later("service"),
        Command::Logs(_) => later("logs"),
    }
}

fn job_name(c: &JobCommand) -> &'static str {
    match c {
        JobCommand::Run(_) => "run",
        JobCommand::Validate(_) => "validate",
        JobCommand::Init(_) => "init",
        JobCommand::Plan(_) => "plan",
        JobCommand::Status(_) => "status",
        JobCommand::Stop(_) => "stop",
        JobCommand::Inspect(_) => "inspect",
        JobCommand::History(_) => "history",
        JobCommand::Revert(_) => "revert",
        JobCommand::Dispatch(_) => "dispatch",
        JobCommand::Promote(_) => "promote",
        JobCommand::Periodic(_) => "periodic",
        JobCommand::Scale(_) => "scale",
        JobCommand::Allocs(_) => "allocs",
        JobCommand::Eval(_) => "eval",
    }
}

/// The answer of a command whose server or client side is not built yet.
fn later(name: &str) -> anyhow::Result<()> {
    Err(user(format!(
        "error: `sched {name}` is not available yet: it needs a sched agent (servers and clients), which this build does not include yet.\n\
         Available now: sched job validate, sched job run -output, sched job init, sched fmt, sched version, sched completion."
    )))
}

/// Writes a line to stdout; a closed pipe is not an error worth a trace.
fn println_out(line: &str) -> anyhow::Result<()> {
    print_out(&format!("{line}\n"))
}

/// Writes text to stdout as it is; a closed pipe is not an error worth a trace.
fn print_out(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

//! One module per command family; [`run`] dispatches the parsed command line.

mod agent;
pub mod alloc;
pub mod alloc_logs;
pub mod alloc_ops;
pub mod config;
pub mod deployment;
pub mod eval;
mod fmt;
pub mod job;
mod lookup;
mod monitor;
pub mod node;
pub mod operator;
pub mod operator_scheduler;
pub mod server;
pub mod status;

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{AllocCommand, Cli, Command, EvalCommand, JobCommand, NodeCommand};
use crate::exit::user;

/// Runs one command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Job(JobCommand::Run(args)) | Command::Run(args) => job::run(&args),
        Command::Job(JobCommand::Validate(args)) => job::validate(&args),
        Command::Job(JobCommand::Init(args)) => job::init(&args),
        Command::Job(JobCommand::Plan(args)) => job::plan(&args),
        Command::Job(JobCommand::Status(args)) => job::status(&args),
        Command::Job(JobCommand::Stop(args)) => job::stop(&args),
        Command::Job(JobCommand::Inspect(args)) => job::inspect(&args),
        Command::Job(JobCommand::History(args)) => job::history(&args),
        Command::Job(JobCommand::Revert(args)) => job::revert(&args),
        Command::Job(JobCommand::Dispatch(args)) => job::dispatch(&args),
        Command::Job(JobCommand::Periodic(cmd)) => job::periodic(&cmd),
        Command::Job(JobCommand::Scale(args)) => job::scale(&args),
        Command::Job(JobCommand::Allocs(args)) => job::allocs(&args),
        Command::Job(JobCommand::Eval(args)) => job::eval(&args),
        Command::Job(JobCommand::Promote(args)) => deployment::job_promote(&args),
        Command::Fmt(args) => fmt::run(&args),
        Command::Version => println_out(&format!("sched v{}", env!("CARGO_PKG_VERSION"))),
        Command::Completion { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "sched", &mut std::io::stdout());
            Ok(())
        }
        Command::Agent(args) => agent::run(&args),
        Command::Config(cmd) => config::run(&cmd),
        Command::Alloc(AllocCommand::Logs(args)) => alloc_logs::run(&args),
        Command::Alloc(AllocCommand::Status(args)) => alloc::status(&args),
        Command::Alloc(AllocCommand::Stop(args)) => alloc::stop(&args),
        Command::Alloc(AllocCommand::Signal(args)) => alloc_ops::signal(&args),
        Command::Alloc(AllocCommand::Restart(args)) => alloc_ops::restart(&args),
        Command::Alloc(AllocCommand::Exec(args)) => alloc_ops::exec(&args),
        Command::Deployment(cmd) => deployment::run(&cmd),
        Command::Eval(EvalCommand::Status(args)) => eval::status(&args),
        Command::Eval(EvalCommand::List(args)) => eval::list(&args),
        Command::Node(NodeCommand::Status(args)) => node::status(&args),
        Command::Node(NodeCommand::Drain(args)) => node::drain(&args),
        Command::Node(NodeCommand::Eligibility(args)) => node::eligibility(&args),
        Command::Server(cmd) => server::run(&cmd),
        Command::Status(args) => status::run(&args),
        Command::Operator(cmd) => operator::run(&cmd),
        Command::Var(_) => later("var"),
        Command::Service(_) => later("service"),
        Command::Logs(_) => later("logs"),
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

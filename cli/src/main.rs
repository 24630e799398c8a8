//! The `sched` binary: the agent and every user command.
//!
//! `main` parses the command line (accepting Nomad's single-dash long flags
//! such as `-var` as well as `--var`), runs the command, and maps the outcome
//! to the exit code: 0 ok, 1 a user error (bad input, bad job file), 2 an
//! internal error.

mod cli;
mod commands;
mod exit;
mod jobfile;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::normalize_args(std::env::args_os());
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit::report(&e),
    }
}

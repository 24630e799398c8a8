//! Exit codes and how failures are shown.

use std::fmt;
use std::process::ExitCode;

/// A failure caused by what the user gave us (a bad job file, a missing
/// file, a command that is not available yet): exit code 1, no stack trace.
#[derive(Debug)]
pub struct UserError(pub String);

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UserError {}

/// Shorthand for a user error.
pub fn user(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UserError(msg.into()))
}

/// Prints the error and returns the exit code for it.
pub fn report(e: &anyhow::Error) -> ExitCode {
    if let Some(Silent(code)) = e.downcast_ref::<Silent>() {
        return ExitCode::from(*code);
    }
    match e.downcast_ref::<UserError>() {
        Some(u) => {
            eprintln!("{u}");
            ExitCode::from(1)
        }
        None => {
            eprintln!("internal error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// An outcome the command already explained on its own output that still
/// ends with a non-zero code: 2 when placement or a task failed, 1 when
/// `job plan` finds changes (as Nomad's commands answer).
#[derive(Debug)]
pub struct Silent(pub u8);

impl fmt::Display for Silent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit code {}", self.0)
    }
}

impl std::error::Error for Silent {}

/// Shorthand for an already-explained non-zero exit.
pub fn silent(code: u8) -> anyhow::Error {
    anyhow::Error::new(Silent(code))
}

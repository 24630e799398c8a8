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

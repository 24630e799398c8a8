//! The library half of the `sched` binary: what other parts of the project
//! build on, starting with the agent's configuration, which the server
//! assembly and the client both read.
//!
//! The commands themselves live in the binary; this crate holds no command
//! dispatch and no output formatting of user commands.
#![deny(missing_docs)]

pub mod agent;

//! The finite state machine: the only writer of the replicated state.
//!
//! Owns the [`Command`] enum (every change proposed through Raft) and its
//! deterministic application onto the [`state`](crate::state) store. It does
//! not decide anything: timestamps, IDs and evaluations are chosen by the
//! proposer and carried in the command, so every server applies the same log
//! to the same bytes.

mod command;

pub use command::{AllocClientUpdate, AllocStop, Command, CommandResponse, ServerEntry};

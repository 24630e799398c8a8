//! The core of sched: the data model every other crate speaks and the job
//! specification front end that turns Nomad-format HCL (or Nomad JSON) into it.
//!
//! This crate owns:
//! - [`model`]: jobs, task groups, tasks and everything they hold, plus nodes,
//!   allocations, evaluations, plans and deployments, serialised exactly as
//!   Nomad's HTTP API does (PascalCase keys, durations as integer nanoseconds).
//! - [`jobspec`]: HCL2 parsing and evaluation (variables, locals, functions,
//!   dynamic blocks), Nomad's reshaping rules, diagnostics with file, line and
//!   column, and canonical formatting.
//!
//! It does not do I/O: callers hand in file contents, environment entries, the
//! clock and (when allowed) a file system for `file()`; it has no async runtime.
#![deny(missing_docs)]

pub mod jobspec;
pub mod model;

//! The data model: jobs as users write them and the cluster objects servers
//! and clients exchange, serialised exactly as Nomad's HTTP API does
//! (PascalCase Go field names, durations as integer nanoseconds).
//!
//! This module owns:
//! - the job tree ([`Job`], [`TaskGroup`], [`Task`] and everything they hold),
//!   mirroring Nomad's `api.Job`: every field a job file can set is an
//!   `Option`, so "not set" survives a JSON round trip;
//! - [`Job::canonicalize`], which fills Nomad's defaults, and
//!   [`Job::validate`], which reports every rule a job breaks at once;
//! - cluster objects ([`Node`], [`Allocation`], [`Evaluation`], [`Plan`],
//!   [`PlanResult`], [`Deployment`]) with concrete fields and typed IDs.
//!
//! It does not own parsing (see [`crate::jobspec`]), storage, scheduling or
//! any I/O: these are plain values.

mod alloc;
mod canonicalize;
mod constraint;
mod deployment;
mod duration;
mod eval;
mod group;
mod ids;
mod job;
mod network;
mod node;
mod periodic;
mod plan;
mod policy;
mod resources;
mod scaling;
mod scheduler_config;
mod service;
pub mod small_map;
mod task;
mod template;
mod validate;
mod variable;
mod volume;

pub use alloc::*;
pub use constraint::*;
pub use deployment::*;
pub use duration::*;
pub use eval::*;
pub use group::*;
pub use ids::{AllocId, DeploymentId, EvalId, NodeId};
pub use job::*;
pub use network::*;
pub use node::*;
pub use periodic::*;
pub use plan::*;
pub use policy::*;
pub use resources::*;
pub use scaling::*;
pub use scheduler_config::*;
pub use service::*;
pub use small_map::SmallMap;
pub use task::*;
pub use template::*;
pub use validate::{PathSegment, ValidationError, ValidationErrors};
pub use variable::Variable;
pub use volume::*;

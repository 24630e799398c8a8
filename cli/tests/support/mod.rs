//! Helpers shared by the black-box tests that run the `sched` binary: the
//! Docker cluster kit and deadline-bounded polling. Each test file includes
//! this module with `mod support;` and uses the parts it needs; the agents
//! themselves are started by the test files, which know their flags.
#![allow(dead_code)]

pub mod docker_cluster;
pub mod poll;

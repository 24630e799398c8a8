//! Helpers shared by the server's black-box tests. Each test file includes
//! this module with `mod support;` and uses the parts it needs.
#![allow(dead_code)]

pub mod docker_cluster;

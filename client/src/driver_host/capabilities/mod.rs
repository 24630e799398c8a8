//! The capabilities the host grants drivers, each a plain service the WIT
//! bindings adapt to.

pub mod docker;
pub mod isolated_process;

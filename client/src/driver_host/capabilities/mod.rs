//! The capabilities the host grants drivers.

pub mod isolated_process;

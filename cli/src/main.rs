//! The `sched` binary.
fn main() {}

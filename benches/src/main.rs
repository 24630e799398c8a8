//! sched's benchmarks.
fn main() {}

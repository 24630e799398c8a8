//! sched's benchmarks as a library: each benchmark is a module with a `run`
//! that prints its figures, shared by the `sched-bench` binary and the
//! criterion benchmarks in `benches/`. Figures are measured, never asserted
//! (that is what tests are for).

#![deny(missing_docs)]

pub mod agent_start;
pub mod c1m;
pub mod client_idle;
pub mod driver_start;
pub mod heartbeats;
pub mod http;
pub mod packing;
pub mod parse;
pub mod raft;
pub mod raft_grpc;
pub mod rpc;
pub mod run_to_running;
pub mod state_memory;
pub mod system_100k;

/// A benchmark: its name and the function that runs it and prints its figures.
pub type Bench = (&'static str, fn() -> anyhow::Result<()>);

/// Every benchmark, in the order `all` runs them.
pub const BENCHES: &[Bench] = &[
    ("parse", parse::run),
    ("packing", packing::run),
    ("driver-start", driver_start::run),
    ("http", http::run),
    ("client-idle", client_idle::run),
    ("raft", raft::run),
    ("state-memory", state_memory::run),
    ("rpc", rpc::run),
    ("raft-grpc", raft_grpc::run),
    ("c1m", c1m::run),
    ("system-100k", system_100k::run),
    ("heartbeats", heartbeats::run),
    ("run-to-running", run_to_running::run),
    ("agent-start", agent_start::run),
];

/// Prints one figure in the `NAME.metric value unit` form.
pub fn figure(bench: &str, metric: &str, value: f64, unit: &str) {
    let shown = if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.4}")
    };
    #[allow(clippy::print_stdout)]
    {
        println!("{bench}.{metric} {shown} {unit}");
    }
}

//! sched's benchmarks: `cargo run --release -p sched-bench -- NAME` runs one
//! and prints one `NAME.metric value unit` line per figure; `-- all` runs
//! them all. Each benchmark lives in its own module; figures are measured,
//! never asserted (that is what tests are for).

mod driver_start;
mod parse;

use std::process::ExitCode;

/// A benchmark: its name and the function that runs it and prints its figures.
type Bench = (&'static str, fn() -> anyhow::Result<()>);

/// Every benchmark, in the order `all` runs them.
const BENCHES: &[Bench] = &[("parse", parse::run), ("driver-start", driver_start::run)];

fn main() -> ExitCode {
    let names: Vec<String> = std::env::args().skip(1).collect();
    if names.is_empty() {
        eprintln!("usage: sched-bench NAME... | all\nbenchmarks: {}", list());
        return ExitCode::from(1);
    }
    for name in &names {
        let selected: Vec<&Bench> = if name == "all" {
            BENCHES.iter().collect()
        } else {
            match BENCHES.iter().find(|(n, _)| n == name) {
                Some(b) => vec![b],
                None => {
                    eprintln!("unknown benchmark {name:?}; benchmarks: {}", list());
                    return ExitCode::from(1);
                }
            }
        };
        for (n, run) in selected {
            if let Err(e) = run() {
                eprintln!("{n}: {e:#}");
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}

fn list() -> String {
    BENCHES
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

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

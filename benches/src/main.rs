//! `cargo run --release -p sched-bench -- NAME` runs one benchmark and prints
//! one `NAME.metric value unit` line per figure; `-- all` runs them all.

use std::process::ExitCode;

use sched_bench::{BENCHES, Bench};

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

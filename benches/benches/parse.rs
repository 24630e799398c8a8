//! Criterion micro-benchmarks of the jobspec front end: one small and one
//! large job file, parse only and parse + canonicalize + validate.

use criterion::{Criterion, criterion_group, criterion_main};
use sched_core::jobspec::{ParseOptions, parse};

const SMALL: &str = include_str!("../../jobspecs/hello-raw-exec.nomad.hcl");
const LARGE: &str = include_str!("../../jobspecs/variables-locals.nomad.hcl");

fn bench(c: &mut Criterion) {
    let opts = ParseOptions::default();
    for (name, src) in [("small", SMALL), ("variables", LARGE)] {
        c.bench_function(&format!("parse/{name}"), |b| {
            b.iter(|| parse(name, std::hint::black_box(src), &opts).map(|p| p.job))
        });
        c.bench_function(&format!("parse_validate/{name}"), |b| {
            b.iter(|| {
                let mut job = parse(name, std::hint::black_box(src), &opts)
                    .map(|p| p.job)
                    .ok();
                if let Some(j) = job.as_mut() {
                    j.canonicalize();
                    let _ = j.validate();
                }
                job
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Criterion benchmarks of the jobspec front end: the whole Nomad corpus
//! parsed, canonicalized and validated (files/s), and one small job file.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sched_bench::parse::{corpus_files, parse_one};
use sched_core::jobspec::ParseOptions;

const SMALL: &str = include_str!("../../jobspecs/hello-raw-exec.nomad.hcl");

fn bench(c: &mut Criterion) {
    let opts = ParseOptions::default();
    let files = corpus_files().unwrap_or_default();
    let mut group = c.benchmark_group("jobspec");
    if !files.is_empty() {
        group.throughput(Throughput::Elements(files.len() as u64));
        group.bench_function("corpus", |b| {
            b.iter(|| {
                files
                    .iter()
                    .filter(|(n, s)| parse_one(n, std::hint::black_box(s), &opts))
                    .count()
            })
        });
    }
    group.throughput(Throughput::Elements(1));
    group.bench_function("hello", |b| {
        b.iter(|| parse_one("hello", std::hint::black_box(SMALL), &opts))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

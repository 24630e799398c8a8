//! Criterion benchmarks of the jobspec front end: the whole Nomad corpus
//! parsed, canonicalized and validated (files/s), and one small job file.

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sched_core::jobspec::{ParseOptions, parse};

const SMALL: &str = include_str!("../../jobspecs/hello-raw-exec.nomad.hcl");

fn corpus() -> Vec<(String, String)> {
    let root = std::env::var_os("SCHED_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"));
    let dir = root.join("nomad-jobspecs");
    let index = std::fs::read_to_string(dir.join("INDEX.tsv")).unwrap_or_default();
    index
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .filter_map(|name| {
            Some((
                name.to_string(),
                std::fs::read_to_string(dir.join(name)).ok()?,
            ))
        })
        .collect()
}

fn parse_validate(name: &str, src: &str, opts: &ParseOptions) -> bool {
    match parse(name, src, opts) {
        Ok(p) => {
            let mut job = p.job;
            job.canonicalize();
            job.validate().is_ok()
        }
        Err(_) => false,
    }
}

fn bench(c: &mut Criterion) {
    let opts = ParseOptions::default();
    let files = corpus();
    let mut group = c.benchmark_group("jobspec");
    if !files.is_empty() {
        group.throughput(Throughput::Elements(files.len() as u64));
        group.bench_function("corpus", |b| {
            b.iter(|| {
                files
                    .iter()
                    .filter(|(n, s)| parse_validate(n, std::hint::black_box(s), &opts))
                    .count()
            })
        });
    }
    group.throughput(Throughput::Elements(1));
    group.bench_function("hello", |b| {
        b.iter(|| parse_validate("hello", std::hint::black_box(SMALL), &opts))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

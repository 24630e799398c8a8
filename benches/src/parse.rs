//! `parse`: the whole Nomad corpus (and sched's own examples) parsed,
//! canonicalized and validated on one core, as `sched job validate` would.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use sched_core::jobspec::{ParseOptions, parse};

use crate::figure;

/// Passes over the corpus; the median pass is reported.
const PASSES: usize = 30;

/// The corpus files: `$SCHED_CORPUS_DIR` or `shared/corpus` beside the repository.
pub fn corpus_files() -> anyhow::Result<Vec<(String, String)>> {
    let root = std::env::var_os("SCHED_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"));
    let index = root.join("nomad-jobspecs/INDEX.tsv");
    let text = std::fs::read_to_string(&index)
        .with_context(|| format!("reading {} (set SCHED_CORPUS_DIR)", index.display()))?;
    let mut files = Vec::new();
    for line in text.lines().skip(1) {
        let name = line.split('\t').next().unwrap_or_default();
        let src = std::fs::read_to_string(root.join("nomad-jobspecs").join(name))?;
        files.push((name.to_string(), src));
    }
    Ok(files)
}

/// Parses, canonicalizes and validates one file; errors count as work done.
pub fn parse_one(name: &str, src: &str, opts: &ParseOptions) -> bool {
    match parse(name, src, opts) {
        Ok(p) => {
            let mut job = p.job;
            job.canonicalize();
            job.validate().is_ok()
        }
        Err(_) => false,
    }
}

/// Runs the benchmark.
pub fn run() -> anyhow::Result<()> {
    let files = corpus_files()?;
    let bytes: usize = files.iter().map(|(_, s)| s.len()).sum();
    let opts = ParseOptions::default();
    let mut passes = Vec::with_capacity(PASSES);
    for _ in 0..PASSES {
        let start = Instant::now();
        for (name, src) in &files {
            std::hint::black_box(parse_one(name, src, &opts));
        }
        passes.push(start.elapsed().as_secs_f64());
    }
    passes.sort_by(f64::total_cmp);
    let median = passes[PASSES / 2];
    let best = passes[0];
    figure("parse", "files", files.len() as f64, "files");
    figure("parse", "corpus_ms", median * 1e3, "ms");
    figure("parse", "corpus_best_ms", best * 1e3, "ms");
    figure("parse", "files_per_sec", files.len() as f64 / median, "1/s");
    figure("parse", "mb_per_sec", bytes as f64 / median / 1e6, "MB/s");
    Ok(())
}

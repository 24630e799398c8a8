//! `sched fmt`: canonical formatting of job files, in place or checked.

use std::path::{Path, PathBuf};

use sched_core::jobspec::{MAX_SOURCE_BYTES, fmt::format};

use crate::cli::Fmt;
use crate::exit::user;
use crate::jobfile::read_text;

/// Formats the given files and directories.
pub fn run(args: &Fmt) -> anyhow::Result<()> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let mut files = Vec::new();
    for p in &paths {
        if p.is_dir() {
            collect(p, args.recursive, &mut files)?;
        } else {
            files.push(p.clone());
        }
    }
    let mut unformatted = Vec::new();
    let mut errors = Vec::new();
    for f in &files {
        let src = read_text(f, MAX_SOURCE_BYTES)?;
        let out = match format(&src) {
            Ok(out) => out,
            Err(e) => {
                errors.push(format!("error: {}:{e}", f.display()));
                continue;
            }
        };
        if f == Path::new("-") {
            if args.check && out != src {
                unformatted.push(f.clone());
            } else if !args.check {
                super::print_out(&out)?;
            }
            continue;
        }
        if out == src {
            continue;
        }
        unformatted.push(f.clone());
        if args.list {
            super::println_out(&f.display().to_string())?;
        }
        if args.check {
            continue;
        }
        if args.write {
            std::fs::write(f, &out)
                .map_err(|e| user(format!("error: cannot write {}: {e}", f.display())))?;
        } else {
            super::print_out(&out)?;
        }
    }
    if !errors.is_empty() {
        return Err(user(errors.join("\n")));
    }
    if args.check && !unformatted.is_empty() {
        return Err(user(format!(
            "{} file(s) are not in canonical format; run `sched fmt` to fix them",
            unformatted.len()
        )));
    }
    Ok(())
}

/// Job files in a directory: *.hcl and *.nomad, as `nomad fmt` takes them.
fn collect(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| user(format!("error: cannot read {}: {e}", dir.display())))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if recursive {
                collect(&path, recursive, out)?;
            }
        } else if path.extension().is_some_and(|e| e == "hcl" || e == "nomad") {
            out.push(path);
        }
    }
    Ok(())
}

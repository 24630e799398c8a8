//! `sched job run`, `sched job validate`, `sched job init`.

use std::path::Path;

use crate::cli::{JobInit, JobRun, JobValidate};
use crate::exit::user;
use crate::jobfile;

/// The example `sched job init` writes: the quick-start job.
const EXAMPLE: &str = include_str!("../../../jobspecs/hello-raw-exec.nomad.hcl");

/// `job run`: with -output, print `{"Job": ...}` as `nomad job run -output` does.
pub fn run(args: &JobRun) -> anyhow::Result<()> {
    let parsed = jobfile::parse(&args.file, &args.vars)?;
    if args.output {
        let body = serde_json::json!({ "Job": parsed.job });
        return super::println_out(&serde_json::to_string_pretty(&body)?);
    }
    let mut job = parsed.job;
    job.canonicalize();
    job.validate()
        .map_err(|e| user(format!("error: the job is not valid:\n{e}")))?;
    super::later("job run")
}

/// `job validate`: syntax, variables, then the job's own rules.
pub fn validate(args: &JobValidate) -> anyhow::Result<()> {
    let parsed = jobfile::parse(&args.file, &args.vars)?;
    let mut job = parsed.job;
    job.canonicalize();
    if let Err(e) = job.validate() {
        return Err(user(format!(
            "Job validation errors in {}:\n{e}",
            args.file.display()
        )));
    }
    if args.json {
        return super::println_out(&serde_json::to_string_pretty(&job)?);
    }
    super::println_out("Job validation successful")
}

/// `job init`: writes the example job, never over an existing file.
pub fn init(args: &JobInit) -> anyhow::Result<()> {
    write_new(&args.file, EXAMPLE)?;
    super::println_out(&format!(
        "Example job file written to {}\nRun it with: sched run {}",
        args.file.display(),
        args.file.display()
    ))
}

fn write_new(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => user(format!(
                "error: {} already exists; not overwriting it",
                path.display()
            )),
            _ => user(format!("error: cannot create {}: {e}", path.display())),
        })?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}

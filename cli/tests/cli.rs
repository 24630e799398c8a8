//! The `sched` binary, black box: exit codes, messages, and output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sched(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sched"))
        .args(args)
        .env_remove("NOMAD_VAR_region")
        .output()
        .expect("sched runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("sched-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch dir");
        Scratch(p)
    }
    fn file(&self, name: &str, contents: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, contents).expect("write");
        p.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn every_example_job_validates() {
    let mut n = 0;
    for entry in std::fs::read_dir(repo().join("jobspecs")).expect("jobspecs/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "hcl") {
            let out = sched(&["job", "validate", path.to_str().expect("utf-8 path")]);
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                text(&out.stderr)
            );
            assert_eq!(text(&out.stdout).trim(), "Job validation successful");
            n += 1;
        }
    }
    assert!(n >= 12, "only {n} example jobs");
}

#[test]
fn run_output_prints_the_api_json() {
    let out = sched(&[
        "job",
        "run",
        "-output",
        repo()
            .join("jobspecs/hello-raw-exec.nomad.hcl")
            .to_str()
            .expect("path"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["Job"]["ID"], "hello");
    assert_eq!(v["Job"]["TaskGroups"][0]["Tasks"][0]["Driver"], "raw_exec");
    // The same through `sched run` and with two-dash flags.
    let out2 = sched(&[
        "run",
        "--output",
        repo()
            .join("jobspecs/hello-raw-exec.nomad.hcl")
            .to_str()
            .expect("path"),
    ]);
    assert_eq!(out.stdout, out2.stdout);
}

#[test]
fn variables_from_flags_files_and_environment() {
    let s = Scratch::new("vars");
    let job = s.file("j.hcl", "variable \"dc\" {\n  type = string\n}\nvariable \"n\" {\n  type    = number\n  default = 1\n}\njob \"v\" {\n  datacenters = [var.dc]\n  priority    = var.n\n}\n");
    let vf = s.file("v.hcl", "dc = \"from-file\"\n");
    let out = sched(&[
        "job",
        "run",
        "-output",
        "-var-file",
        &vf,
        "-var",
        "n=70",
        &job,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["Job"]["Datacenters"][0], "from-file");
    assert_eq!(v["Job"]["Priority"], 70);
    let out = Command::new(env!("CARGO_BIN_EXE_sched"))
        .args(["job", "run", "-output", &job])
        .env("NOMAD_VAR_dc", "from-env")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("from-env"));
    // Unset: a clear error naming the variable and how to set it.
    let out = sched(&["job", "validate", &job]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("Unset variable \"dc\""),
        "{}",
        text(&out.stderr)
    );
    let out = sched(&["job", "validate", "-var-file", "/does/not/exist.hcl", &job]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("/does/not/exist.hcl"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_bad_job_file_names_file_line_and_column() {
    let s = Scratch::new("bad");
    let job = s.file(
        "bad.nomad.hcl",
        "job \"x\" {\n  group \"g\" {\n    cuont = 2\n  }\n}\n",
    );
    let out = sched(&["job", "validate", &job]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("bad.nomad.hcl:3:5"), "{err}");
    assert!(err.contains("did you mean \"count\"?"), "{err}");
    assert!(err.contains("3 |     cuont = 2"), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    // Invalid by the job's rules rather than by syntax.
    let job = s.file("rules.hcl", "job \"x\" {\n  group \"g\" {\n    count = -1\n    task \"t\" {\n      driver = \"raw_exec\"\n    }\n  }\n}\n");
    let out = sched(&["job", "validate", &job]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("group \"g\""),
        "{}",
        text(&out.stderr)
    );
    // A run with a bad file fails before anything else.
    let out = sched(&["run", &job]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not valid"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn unreadable_inputs_are_user_errors() {
    let out = sched(&["job", "validate", "/no/such/job.hcl"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read /no/such/job.hcl"));
    let s = Scratch::new("binary");
    let p = s.0.join("bin.hcl");
    std::fs::write(&p, [0xff, 0xfe, 0x00, 0x41]).expect("write");
    let out = sched(&["job", "validate", p.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not UTF-8"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn fmt_checks_and_rewrites() {
    let corpus = repo().join("../shared/corpus/nomad-jobspecs");
    let input = std::fs::read_to_string(corpus.join("command__testdata__fmt__job.in.hcl"))
        .expect("fmt fixture");
    let want = std::fs::read_to_string(corpus.join("command__testdata__fmt__job.out.hcl"))
        .expect("fmt fixture");
    let s = Scratch::new("fmt");
    let f = s.file("job.nomad.hcl", &input);
    let out = sched(&["fmt", "-check", &f]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&f).expect("read"),
        input,
        "-check changes nothing"
    );
    let out = sched(&["fmt", &f]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&f).expect("read"), want);
    let out = sched(&["fmt", "-check", &f]);
    assert!(out.status.success());
    let broken = s.file("broken.hcl", "job \"x\" {\n  a = \"open\n}\n");
    let out = sched(&["fmt", &broken]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("broken.hcl:"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn init_writes_a_job_that_validates_and_never_overwrites() {
    let s = Scratch::new("init");
    let f = s.0.join("example.nomad.hcl");
    let fs = f.to_str().expect("path");
    let out = sched(&["job", "init", fs]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(sched(&["job", "validate", fs]).status.success());
    let out = sched(&["job", "init", fs]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("already exists"));
}

#[test]
fn commands_not_built_yet_say_so() {
    for args in [&["var", "list"][..], &["service", "list"]] {
        let out = sched(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            text(&out.stderr).contains("is not available yet"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn version_help_and_completion() {
    let out = sched(&["version"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).starts_with("sched v"));
    assert!(sched(&["--help"]).status.success());
    let out = sched(&["completion", "bash"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("sched"));
    let out = sched(&["job", "frobnicate"]);
    assert_eq!(out.status.code(), Some(1));
}

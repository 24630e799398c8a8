//! Nomad's own job files: every `valid` file parses, every `invalid` one is
//! refused with an error that points at the offending line.

mod support;

use sched_core::jobspec::parse;
use support::{index, options_for};

/// Valid files sched does not accept, with the reason. Empty: all are accepted.
const EXCLUDED: &[(&str, &str)] = &[];

/// For each invalid file, text the reported source line must contain.
const INVALID_LINES: &[(&str, &str)] = &[
    ("jobspec__test-fixtures__bad-artifact.hcl", "bad"),
    ("jobspec__test-fixtures__bad-ports.hcl", "port"),
    ("jobspec__test-fixtures__basic_wrong_key.hcl", "nterval"),
    ("jobspec__test-fixtures__multi-network.hcl", "network"),
    (
        "jobspec__test-fixtures__multi-resource.hcl",
        "ephemeral_disk",
    ),
    ("jobspec__test-fixtures__multi-vault.hcl", "vault"),
    ("jobspec__test-fixtures__overlapping-ports.hcl", "network"),
    (
        "jobspec__test-fixtures__service-check-bad-header-2.hcl",
        "header",
    ),
    (
        "jobspec__test-fixtures__service-check-bad-header.hcl",
        "header",
    ),
    (
        "jobspec__test-fixtures__task-scaling-policy-invalid-resource.hcl",
        "scaling",
    ),
    (
        "jobspec__test-fixtures__task-scaling-policy-invalid-type.hcl",
        "scaling",
    ),
    (
        "jobspec__test-fixtures__task-scaling-policy-missing-name.hcl",
        "scaling",
    ),
    (
        "jobspec__test-fixtures__task-scaling-policy-multi-cpu.hcl",
        "task",
    ),
    (
        "jobspec__test-fixtures__task-scaling-policy-multi-name.hcl",
        "scaling",
    ),
    (
        "jobspec__test-fixtures__tg-scaling-policy-invalid-type.hcl",
        "scaling",
    ),
    (
        "jobspec__test-fixtures__tg-scaling-policy-missing-max.hcl",
        "scaling",
    ),
    (
        "jobspec__test-fixtures__tg-scaling-policy-multi-policy.hcl",
        "policy",
    ),
    (
        "jobspec__test-fixtures__tg-scaling-policy-with-label.hcl",
        "scaling",
    ),
];

#[test]
fn nomad_corpus_conforms() {
    let dir = support::corpus_dir().join("nomad-jobspecs");
    let (mut passed, mut failed) = (0, 0);
    let mut report = Vec::new();
    let (mut unknown_ok, mut unknown_total) = (0, 0);
    for (name, class, features) in index() {
        let src = std::fs::read_to_string(dir.join(&name)).expect("corpus file");
        let result = parse(&name, &src, &options_for(&name, &features));
        match class.as_str() {
            "valid" => {
                if EXCLUDED.iter().any(|(n, _)| *n == name) {
                    continue;
                }
                match result {
                    Ok(_) => passed += 1,
                    Err(e) => {
                        failed += 1;
                        report.push(format!("valid file rejected: {name}\n{e}"));
                    }
                }
            }
            "invalid" => {
                let want = INVALID_LINES
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, w)| *w)
                    .unwrap_or_else(|| panic!("no expected line for invalid file {name}"));
                match result {
                    Ok(_) => {
                        failed += 1;
                        report.push(format!("invalid file accepted: {name}"));
                    }
                    Err(e) => {
                        let pointed = e.errors().any(|d| {
                            d.position
                                .as_ref()
                                .is_some_and(|p| p.source_line.contains(want))
                        });
                        match pointed {
                            true => passed += 1,
                            false => {
                                failed += 1;
                                report.push(format!(
                                    "invalid file {name}: the error should point at a line containing {want:?}:\n{e}"
                                ));
                            }
                        }
                    }
                }
            }
            _ => {
                unknown_total += 1;
                if result.is_ok() {
                    unknown_ok += 1;
                }
            }
        }
    }
    for r in &report {
        println!("{r}\n");
    }
    println!("unclassified files that parse: {unknown_ok} of {unknown_total}");
    println!("corpus: {passed} passed, {failed} failed");
    assert_eq!(failed, 0, "{}", report.join("\n\n"));
    assert_eq!(passed, 260 - EXCLUDED.len() + 18);
}

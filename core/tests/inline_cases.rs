//! The 53 parser cases Nomad keeps inline in its Go tests: each parses (with
//! the case's variables, environment and var files) to the listed field
//! values, or fails with the listed text.

mod support;

use std::sync::Arc;

use sched_core::jobspec::{ParseOptions, StdFileSource, VarFile, parse};
use serde_json::Value;

fn expected_value(check: &Value) -> Option<Value> {
    // Annotations such as "1 (number coerced to string)" or "nil (absent)"
    // explain an expectation; the value is the part before them.
    match check {
        Value::String(s) if s.starts_with("nil (") => None,
        Value::String(s) if !s.contains("${") && s.ends_with(')') && s.contains(" (") => Some(
            Value::String(s[..s.find(" (").unwrap_or(s.len())].to_string()),
        ),
        other => Some(other.clone()),
    }
}

#[test]
fn nomad_inline_cases() {
    let dir = support::corpus_dir().join("nomad-jobspecs-inline");
    let cases: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).expect("cases.json"))
            .expect("cases.json is JSON");
    let tmp = std::env::temp_dir().join(format!("sched-inline-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let readable = "the contents of a file read by file()\n";
    std::fs::write(tmp.join("parse_test.go"), readable).expect("write");

    let (mut passed, mut failed) = (0, 0);
    let mut report = Vec::new();
    for case in cases["cases"].as_array().expect("cases") {
        let file = case["file"].as_str().expect("file");
        let src = std::fs::read_to_string(dir.join(file)).expect("case file");
        let mut opts = ParseOptions::default();
        let strs = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        opts.arg_vars = strs(&case["arg_vars"]);
        opts.env = strs(&case["env"])
            .into_iter()
            .filter_map(|e| {
                e.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        for vf in case["var_files"].as_array().into_iter().flatten() {
            let contents = match (vf["content"].as_str(), vf["path"].as_str()) {
                (Some(c), _) => Some(c.to_string()),
                (None, Some(p)) => std::fs::read_to_string(dir.join(p)).ok(),
                _ => None,
            };
            match contents {
                Some(contents) => opts.var_files.push(VarFile {
                    name: "vars.hcl".into(),
                    contents,
                }),
                // A var file that does not exist: the caller (the CLI) reports it.
                None => opts.var_files.push(VarFile {
                    name: vf["path"].as_str().unwrap_or("?").into(),
                    contents: "= missing file".into(),
                }),
            }
        }
        opts.var_content = case["var_content"].as_str().map(String::from);
        if case["allow_fs"].as_bool().unwrap_or(false) {
            opts.fs = Some(Arc::new(StdFileSource));
            opts.base_dir = tmp.clone();
        }

        let result = parse(file, &src, &opts);
        let mut errors = Vec::new();
        match (case["expect"].as_str(), &result) {
            (Some("error"), Err(e)) => {
                if let Some(want) = case["error_contains"].as_str()
                    && !e.to_string().contains(want)
                {
                    errors.push(format!("error does not mention {want:?}:\n{e}"));
                }
            }
            (Some("error"), Ok(_)) => errors.push("parsed, but an error was expected".into()),
            (_, Err(e)) => errors.push(format!("failed:\n{e}")),
            (_, Ok(parsed)) => {
                let job = serde_json::to_value(&parsed.job).expect("job serialises");
                let sub = serde_json::to_value(&parsed.submission).expect("submission serialises");
                for (path, check) in case["checks"].as_object().into_iter().flatten() {
                    if path == "EXACT api.Job" {
                        support::matches(check, Some(&job), "Job", &mut errors);
                        continue;
                    }
                    if let Some(inner) = path.strip_prefix("len(").and_then(|p| p.strip_suffix(')'))
                    {
                        let n = support::get(&job, inner)
                            .and_then(Value::as_array)
                            .map(Vec::len);
                        if n != check.as_u64().map(|n| n as usize) {
                            errors.push(format!("{path}: expected {check}, got {n:?}"));
                        }
                        continue;
                    }
                    let actual = match path.strip_prefix("Submission.") {
                        Some(p) => support::get(&sub, p),
                        None => support::get(&job, path),
                    };
                    if path == "Region" && file.starts_with("11-") {
                        if actual.and_then(Value::as_str) != Some(readable) {
                            errors.push(format!(
                                "Region: expected the file's contents, got {actual:?}"
                            ));
                        }
                        continue;
                    }
                    match expected_value(check) {
                        None if actual.is_none() => {}
                        None => errors.push(format!("{path}: expected nothing, got {actual:?}")),
                        Some(want) => support::matches(&want, actual, path, &mut errors),
                    }
                }
            }
        }
        if errors.is_empty() {
            passed += 1;
        } else {
            failed += 1;
            report.push(format!("{file}:\n  {}", errors.join("\n  ")));
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    for r in &report {
        println!("{r}\n");
    }
    println!("inline cases: {passed} passed, {failed} failed");
    assert_eq!(failed, 0, "{}", report.join("\n"));
    assert_eq!(passed, 53);
}

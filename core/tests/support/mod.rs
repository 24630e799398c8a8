//! Helpers shared by the jobspec conformance tests: where the Nomad corpus
//! lives, and JSON field paths in Nomad's Go notation.
#![allow(dead_code)]

use std::path::PathBuf;

use sched_core::jobspec::{ParseOptions, VarFile};
use serde_json::Value;

/// The conformance corpus: `$SCHED_CORPUS_DIR`, or `shared/corpus` beside the repository.
pub fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("SCHED_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"));
    assert!(
        dir.join("nomad-jobspecs/INDEX.tsv").is_file(),
        "\n\n*** The Nomad conformance corpus is missing at {} ***\n\
         Set SCHED_CORPUS_DIR to the folder holding nomad-jobspecs/ and nomad-jobspecs-inline/.\n",
        dir.display()
    );
    dir
}

/// The repository's own example jobs.
pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../jobspecs")
}

/// Looks up `TaskGroups[0].Tasks[0].Config.command` in a job's JSON.
pub fn get<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = v;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (name, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            cur = cur.get(name)?;
        }
        for ix in indexes.split('[').filter(|s| !s.is_empty()) {
            let ix: usize = ix.trim_end_matches(']').parse().ok()?;
            cur = cur.get(ix)?;
        }
    }
    Some(cur)
}

/// Whether a value is Go's zero value, which Go's JSON writes but ours may omit.
pub fn is_zero(v: &Value) -> bool {
    matches!(v, Value::Null | Value::Bool(false)) || v.as_str() == Some("") || v.as_i64() == Some(0)
}

/// Compares an expected Go `api` value with ours: every expected key must
/// match; keys we have beyond it must be zero values (Go writes those, we omit
/// them) — except that an expected object compared exactly is "EXACT".
pub fn matches(expected: &Value, actual: Option<&Value>, path: &str, errors: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Some(Value::Object(a))) => {
            for (k, ev) in e {
                matches(ev, a.get(k), &format!("{path}.{k}"), errors);
            }
            for (k, av) in a {
                if !e.contains_key(k) && !is_zero(av) {
                    errors.push(format!("{path}.{k}: unexpected {av}"));
                }
            }
        }
        (Value::Array(e), Some(Value::Array(a))) => {
            if e.len() != a.len() {
                errors.push(format!(
                    "{path}: expected {} elements, got {}",
                    e.len(),
                    a.len()
                ));
                return;
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                matches(ev, Some(av), &format!("{path}[{i}]"), errors);
            }
        }
        (e, None) if is_zero(e) => {}
        (e, Some(a)) if e == a => {}
        (Value::Number(e), Some(Value::Number(a))) if e.as_f64() == a.as_f64() => {}
        (e, a) => errors.push(format!(
            "{path}: expected {e}, got {}",
            a.map(|a| a.to_string()).unwrap_or("nothing".into())
        )),
    }
}

/// Options for a corpus file: its required variables get a value, and the
/// job submission fixture gets its three var files.
pub fn options_for(name: &str, features: &str) -> ParseOptions {
    let dir = corpus_dir().join("nomad-jobspecs");
    let mut opts = ParseOptions::default();
    for feature in features.split(';') {
        if let Some(vars) = feature.strip_prefix("required-vars:") {
            if name == "e2e__jobsubmissions__input__xyz.hcl" {
                continue;
            }
            opts.arg_vars
                .extend(vars.split(',').map(|v| format!("{v}=1")));
        }
    }
    if name == "e2e__jobsubmissions__input__xyz.hcl" {
        for f in ["x", "y", "z"] {
            let path = dir.join(format!("_varfiles/e2e__jobsubmissions__input__{f}.hcl"));
            opts.var_files.push(VarFile {
                name: path.display().to_string(),
                contents: std::fs::read_to_string(&path).expect("var file"),
            });
        }
    }
    opts
}

/// (file name, classification, features) for every corpus file.
pub fn index() -> Vec<(String, String, String)> {
    let dir = corpus_dir().join("nomad-jobspecs");
    let index = std::fs::read_to_string(dir.join("INDEX.tsv")).expect("INDEX.tsv");
    index
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c[0].to_string(), c[3].to_string(), c[5].to_string())
        })
        .collect()
}

//! Helpers shared by the jobspec conformance tests: where the Nomad corpus
//! lives, and JSON field paths in Nomad's Go notation.
#![allow(dead_code)]

use std::path::PathBuf;

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
    matches!(v, Value::Null | Value::Bool(false))
        || v.as_str() == Some("")
        || v.as_i64() == Some(0)
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
                errors.push(format!("{path}: expected {} elements, got {}", e.len(), a.len()));
                return;
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                matches(ev, Some(av), &format!("{path}[{i}]"), errors);
            }
        }
        (e, None) if is_zero(e) => {}
        (e, Some(a)) if e == a => {}
        (Value::Number(e), Some(Value::Number(a))) if e.as_f64() == a.as_f64() => {}
        (e, a) => errors.push(format!("{path}: expected {e}, got {}", a.map(|a| a.to_string()).unwrap_or("nothing".into()))),
    }
}

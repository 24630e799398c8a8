//! parse -> JSON -> parse is the identity for every valid fixture: nothing a
//! job file says is lost or changed by the model's serialisation, and the
//! JSON form is accepted as a job file of its own.

mod support;

use sched_core::jobspec::{ParseOptions, parse};
use sched_core::model::Job;

fn roundtrip(name: &str, src: &str, opts: &ParseOptions) -> Result<(), String> {
    let parsed = parse(name, src, opts).map_err(|e| format!("{name} does not parse:\n{e}"))?;
    let json = serde_json::to_string(&parsed.job).map_err(|e| e.to_string())?;
    let back: Job = serde_json::from_str(&json).map_err(|e| format!("{name}: {e}"))?;
    if back != parsed.job {
        return Err(format!("{name}: the job changed through JSON"));
    }
    // The JSON form, wrapped as the API sends it, is a job file too.
    let wrapped = format!("{{\"Job\": {json}}}");
    let again = parse(name, &wrapped, &ParseOptions::default())
        .map_err(|e| format!("{name} (JSON):\n{e}"))?;
    if again.job != parsed.job {
        return Err(format!(
            "{name}: the JSON job file parses to a different job"
        ));
    }
    // Canonical and validated forms survive the trip too.
    let mut canon = parsed.job.clone();
    canon.canonicalize();
    let back: Job =
        serde_json::from_value(serde_json::to_value(&canon).map_err(|e| e.to_string())?)
            .map_err(|e| format!("{name}: {e}"))?;
    if back != canon {
        return Err(format!("{name}: the canonical job changed through JSON"));
    }
    Ok(())
}

#[test]
fn every_valid_fixture_round_trips() {
    let dir = support::corpus_dir().join("nomad-jobspecs");
    let mut failures = Vec::new();
    let mut count = 0;
    for (name, class, features) in support::index() {
        if class != "valid" {
            continue;
        }
        let src = std::fs::read_to_string(dir.join(&name)).expect("fixture");
        count += 1;
        if let Err(e) = roundtrip(&name, &src, &support::options_for(&name, &features)) {
            failures.push(e);
        }
    }
    for entry in std::fs::read_dir(support::examples_dir()).expect("jobspecs/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "hcl") {
            let src = std::fs::read_to_string(&path).expect("example");
            count += 1;
            if let Err(e) = roundtrip(&path.display().to_string(), &src, &ParseOptions::default()) {
                failures.push(e);
            }
        }
    }
    println!(
        "round trip: {} passed, {} failed",
        count - failures.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

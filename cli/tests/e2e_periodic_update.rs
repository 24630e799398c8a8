//! Periodic jobs and job updates on a real dev agent, through the binary:
//! a cron every two seconds launches children that complete, `periodic
//! force` launches one at once, and changing a raw_exec service's command
//! (no `update` block) replaces its allocations with the new version and
//! ends the old processes.

mod e2e_support;

use std::path::Path;
use std::time::Duration;

use e2e_support::{Agent, process_with, wait_for};

fn write(dir: &Path, name: &str, hcl: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, hcl).expect("write job");
    path.to_string_lossy().into_owned()
}

/// A periodic batch job on `cron` whose child prints and exits.
fn periodic_job(dir: &Path, id: &str, cron: &str) -> String {
    write(
        dir,
        &format!("{id}.nomad.hcl"),
        &format!(
            r#"job "{id}" {{
  datacenters = ["*"]
  type        = "batch"
  periodic {{
    crons            = ["{cron}"]
    prohibit_overlap = true
  }}
  group "g" {{
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", "echo tick"]
      }}
      resources {{
        cpu    = 50
        memory = 32
      }}
    }}
  }}
}}
"#
        ),
    )
}

/// A raw_exec service of two allocations whose command line carries `marker`.
fn service_job(dir: &Path, marker: &str) -> String {
    write(
        dir,
        "svc.nomad.hcl",
        &format!(
            r#"job "svc" {{
  datacenters = ["*"]
  group "g" {{
    count = 2
    task "t" {{
      driver = "raw_exec"
      env {{
        VERSION_MARK = "{marker}"
      }}
      config {{
        command = "/bin/sh"
        args    = ["-c", "while :; do sleep 1; done", "{marker}"]
      }}
      resources {{
        cpu    = 50
        memory = 32
      }}
    }}
  }}
}}
"#
        ),
    )
}

/// The IDs of the children of periodic job `parent`.
fn children(agent: &Agent, parent: &str) -> Vec<String> {
    let out = agent.expect(0, &["status"]);
    out.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|id| id.starts_with(&format!("{parent}/periodic-")))
        .map(str::to_string)
        .collect()
}

/// Allocations of `job` as (job version, desired status, client status).
fn allocs(agent: &Agent, job: &str) -> Vec<(u64, String, String)> {
    let v: serde_json::Value =
        serde_json::from_str(&agent.expect(0, &["job", "allocs", "-json", job]))
            .expect("allocs JSON");
    v.as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a["JobVersion"].as_u64().unwrap_or(0),
                a["DesiredStatus"].as_str().unwrap_or("").to_string(),
                a["ClientStatus"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn periodic_children_complete_and_updates_replace_allocations() {
    let agent = Agent::start();
    let work = tempfile::tempdir().expect("temp dir");

    // A cron every two seconds launches children, each running to completion.
    agent.expect(
        0,
        &["run", &periodic_job(work.path(), "tick", "*/2 * * * * * *")],
    );
    let child = wait_for(Duration::from_secs(60), "a periodic child", || {
        children(&agent, "tick").into_iter().next()
    });
    agent.wait_allocs(&child, "complete");
    agent.expect(0, &["job", "stop", "tick"]);

    // `periodic force` launches a yearly job now.
    agent.expect(
        0,
        &["run", &periodic_job(work.path(), "yearly", "0 0 1 1 *")],
    );
    assert!(children(&agent, "yearly").is_empty());
    let out = agent.expect(0, &["job", "periodic", "force", "yearly"]);
    assert!(out.contains("Evaluation"), "{out}");
    let child = wait_for(Duration::from_secs(60), "the forced child", || {
        children(&agent, "yearly").into_iter().next()
    });
    agent.wait_allocs(&child, "complete");
    let out = agent.expect(
        0,
        &["alloc", "status", "-verbose", &{
            let v: serde_json::Value =
                serde_json::from_str(&agent.expect(0, &["job", "allocs", "-json", &child]))
                    .expect("allocs JSON");
            v[0]["ID"].as_str().expect("an alloc").to_string()
        }],
    );
    assert!(out.contains("Exit Code: 0"), "{out}");

    // An update without an update block: the new version replaces both
    // allocations and the old processes end.
    let old = format!("sched-e2e-old-{}", std::process::id());
    let new = format!("sched-e2e-new-{}", std::process::id());
    agent.expect(0, &["run", &service_job(work.path(), &old)]);
    wait_for(Duration::from_secs(60), "the old version running", || {
        let a = allocs(&agent, "svc");
        (a.len() == 2 && a.iter().all(|(v, _, c)| *v == 0 && c == "running")).then_some(())
    });
    assert!(process_with(&old));
    agent.expect(0, &["run", &service_job(work.path(), &new)]);
    wait_for(
        Duration::from_secs(120),
        "the new version replacing the old",
        || {
            let a = allocs(&agent, "svc");
            let running: Vec<_> = a.iter().filter(|(_, d, _)| d == "run").collect();
            let replaced = running.len() == 2
                && running.iter().all(|(v, _, c)| *v == 1 && c == "running")
                && a.iter()
                    .filter(|(v, _, _)| *v == 0)
                    .all(|(_, d, c)| d == "stop" && c == "complete");
            replaced.then_some(())
        },
    );
    wait_for(Duration::from_secs(60), "the old processes to end", || {
        (!process_with(&old)).then_some(())
    });
    assert!(process_with(&new));
    let status = agent.expect(0, &["job", "status", "svc"]);
    assert!(status.contains("Version"), "{status}");
    agent.expect(0, &["job", "stop", "svc"]);
    wait_for(Duration::from_secs(60), "the new processes to end", || {
        (!process_with(&new)).then_some(())
    });
}

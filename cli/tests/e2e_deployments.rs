//! Deployments on a real dev agent, through the `sched` binary: a rolling
//! update whose new version fails is reverted to the stable version, and a
//! canary is promoted to finish its rollout.

mod e2e_support;
mod support;

use std::path::Path;
use std::time::Duration;

use e2e_support::{Agent, text};
use serde_json::Value;
use support::poll::until;

const WAIT: Duration = Duration::from_secs(120);

/// A raw_exec service of two instances rolled out one at a time, whose task
/// runs `script` and is neither restarted nor rescheduled; `canary`
/// canaries wait for promotion. `min_healthy_time`
/// stays above the client's first look at a started task (one second), so
/// a task that exits at once is seen dead before it could count as healthy.
fn write_job(dir: &Path, name: &str, script: &str, canary: u32) -> String {
    let path = dir.join(format!("{name}-{}.nomad.hcl", script.len()));
    let hcl = format!(
        r#"job "{name}" {{
  datacenters = ["*"]
  type        = "service"

  update {{
    max_parallel      = 1
    canary            = {canary}
    min_healthy_time  = "3s"
    healthy_deadline  = "30s"
    progress_deadline = "1m"
    auto_revert       = true
  }}

  group "web" {{
    count = 2

    restart {{
      attempts = 0
      mode     = "fail"
    }}

    # No second chance: an unhealthy allocation fails the deployment at
    # once instead of being replaced until the progress deadline.
    reschedule {{
      attempts  = 0
      unlimited = false
    }}

    task "web" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", "{script}"]
      }}
      resources {{
        cpu    = 50
        memory = 32
      }}
    }}
  }}
}}
"#
    );
    std::fs::write(&path, hcl).expect("write job");
    path.to_string_lossy().into_owned()
}

fn json(agent: &Agent, args: &[&str]) -> Value {
    serde_json::from_str(&agent.expect(0, args)).expect("JSON output")
}

/// The job's version and its task's script, from `job inspect -json`.
fn job_version_and_script(agent: &Agent, job: &str) -> (u64, String) {
    let v = json(agent, &["job", "inspect", "-json", job]);
    let job = v.get("Job").unwrap_or(&v);
    let version = job["Version"].as_u64().unwrap_or(0);
    let script = job["TaskGroups"][0]["Tasks"][0]["Config"]["args"][1]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (version, script)
}

/// The job versions of the allocations meant to run, once every one of
/// them runs.
fn running_versions(agent: &Agent, job: &str) -> Result<Vec<u64>, String> {
    let allocs = json(agent, &["job", "allocs", "-json", job]);
    let live: Vec<&Value> = allocs
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["DesiredStatus"] == "run")
        .collect();
    if live.iter().any(|a| a["ClientStatus"] != "running") {
        return Err(format!("not all running: {allocs}"));
    }
    let mut versions: Vec<u64> = live
        .iter()
        .map(|a| a["JobVersion"].as_u64().unwrap_or(u64::MAX))
        .collect();
    versions.sort_unstable();
    Ok(versions)
}

/// The job's latest deployment, from `deployment list -json`.
fn latest_deployment(agent: &Agent, job: &str) -> Option<Value> {
    let list = json(agent, &["deployment", "list", "-json"]);
    list.as_array()?
        .iter()
        .filter(|d| d["JobID"] == job)
        .max_by_key(|d| d["CreateIndex"].as_u64().unwrap_or(0))
        .cloned()
}

#[test]
fn a_failing_update_is_reverted_to_the_stable_version() {
    let agent = Agent::start();
    let work = tempfile::tempdir().expect("temp dir");
    let good = "while :; do sleep 1; done";
    let v0 = write_job(work.path(), "revert", good, 0);
    let out = agent.expect(0, &["run", &v0]);
    assert!(out.contains("Monitoring deployment"), "{out}");
    assert!(out.contains("successful"), "{out}");
    let first = latest_deployment(&agent, "revert").expect("a deployment");
    assert_eq!(first["Status"], "successful", "{first}");

    // The new version's task fails at once: the deployment fails and the
    // job goes back to the stable version.
    let v1 = write_job(work.path(), "revert", "sleep 0.2; exit 3", 0);
    let out = agent.sched(&["run", &v1]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("failed"), "{stdout}");

    let failed = until("the new version's deployment fails", WAIT, || {
        let list = json(&agent, &["deployment", "list", "-json"]);
        list.as_array()
            .into_iter()
            .flatten()
            .find(|d| d["JobID"] == "revert" && d["JobVersion"] == 1)
            .filter(|d| d["Status"] == "failed")
            .cloned()
            .ok_or_else(|| format!("{list}"))
    });
    let desc = failed["StatusDescription"].as_str().unwrap_or_default();
    assert!(desc.contains("rolling back"), "{failed}");

    let (version, script) = until("the job is reverted", WAIT, || {
        let (v, s) = job_version_and_script(&agent, "revert");
        (v >= 2).then_some((v, s)).ok_or(format!("version {v}"))
    });
    assert_eq!(script, good, "the reverted job runs the stable task");
    let versions = until("the stable version runs again", WAIT, || {
        let v = running_versions(&agent, "revert")?;
        (v.len() == 2 && v.iter().all(|x| *x == version))
            .then_some(v.clone())
            .ok_or(format!("running versions {v:?}, want {version}"))
    });
    assert_eq!(versions, [version, version]);

    // Nomad's views of it.
    let status = agent.expect(0, &["job", "status", "revert"]);
    assert!(status.contains("Latest Deployment"), "{status}");
    let id = failed["ID"].as_str().unwrap_or_default();
    let shown = agent.expect(0, &["deployment", "status", &id[..8]]);
    assert!(shown.contains("Status      = failed"), "{shown}");
    assert!(shown.contains("Task Group  Auto Revert"), "{shown}");
    let listed = agent.expect(0, &["deployment", "list"]);
    assert!(listed.contains(&id[..8]), "{listed}");

    agent.expect(0, &["job", "stop", "revert"]);
}

#[test]
fn a_canary_is_promoted_and_the_rollout_completes() {
    let agent = Agent::start();
    let work = tempfile::tempdir().expect("temp dir");
    let v0 = write_job(work.path(), "canary", "while :; do sleep 1; done", 1);
    agent.expect(0, &["run", &v0]);

    let v1 = write_job(work.path(), "canary", "while :; do sleep 2; done", 1);
    let out = agent.expect(0, &["run", &v1]);
    assert!(out.contains("needs promotion"), "{out}");
    assert!(out.contains("Canaries"), "{out}");
    let d = until("the canary is healthy", WAIT, || {
        let d = latest_deployment(&agent, "canary").ok_or("no deployment")?;
        let g = &d["TaskGroups"]["web"];
        (d["JobVersion"] == 1 && g["HealthyAllocs"].as_u64() >= Some(1))
            .then(|| d.clone())
            .ok_or(format!("{d}"))
    });
    assert_eq!(d["Status"], "running", "{d}");
    assert_eq!(d["TaskGroups"]["web"]["Promoted"], false, "{d}");

    // Bad input is refused and changes nothing.
    let out = agent.sched(&["job", "promote", "no-such-job"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no-such-job"),
        "{}",
        text(&out.stderr)
    );
    let out = agent.sched(&["deployment", "status", "ffffffff"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no deployment with ID prefix"),
        "{}",
        text(&out.stderr)
    );

    let out = agent.expect(0, &["job", "promote", "canary"]);
    assert!(out.contains("successful"), "{out}");
    let done = until("the deployment succeeds", WAIT, || {
        let d = latest_deployment(&agent, "canary").ok_or("no deployment")?;
        (d["Status"] == "successful")
            .then(|| d.clone())
            .ok_or(format!("{d}"))
    });
    assert_eq!(done["TaskGroups"]["web"]["Promoted"], true, "{done}");
    let versions = until("only the new version runs", WAIT, || {
        let v = running_versions(&agent, "canary")?;
        (v == [1, 1]).then_some(v.clone()).ok_or(format!("{v:?}"))
    });
    assert_eq!(versions, [1, 1]);
    let status = agent.expect(0, &["job", "status", "canary"]);
    assert!(status.contains("Latest Deployment"), "{status}");
    assert!(status.contains("Promoted"), "{status}");

    agent.expect(0, &["job", "stop", "canary"]);
}

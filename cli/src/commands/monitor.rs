//! Follows an evaluation the way `nomad job run` does: status changes,
//! allocations created, placement failures with their reasons, then (for
//! service jobs) the allocations until they run and, when the evaluation
//! started a deployment, the deployment until it succeeds, fails or waits
//! for promotion. It only reads the API; it does not decide anything about
//! the job.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use sched_api::{Client, Deployment, QueryOptions};
use sched_core::model::{AllocMetric, DeploymentStatus, EvalStatus, Evaluation};

use crate::commands::deployment::format_deployment;

use crate::commands::lookup::{api_err, short, wire};

/// How long one blocking query waits before the loop checks its deadline.
const POLL: Duration = Duration::from_secs(2);

/// How a monitored evaluation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything placed (and, when waited for, running or complete).
    Ok,
    /// Placement failed or an allocation failed: exit code 2.
    Failed,
}

/// Writes one line to stdout; a closed pipe only stops the output.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    if out.is_terminal() {
        let _ = write!(out, "\r\x1b[2K");
    }
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn stamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The reasons an allocation could not be placed, one `* ...` line each,
/// as Nomad's `formatAllocMetrics` lists them.
pub fn metric_lines(m: &AllocMetric, indent: &str) -> Vec<String> {
    let mut out = Vec::new();
    if m.nodes_evaluated == 0 {
        out.push(format!("{indent}* No nodes were eligible for evaluation"));
    }
    for (dc, n) in &m.nodes_available {
        if *n == 0 {
            out.push(format!(
                "{indent}* No nodes are available in datacenter {dc:?}"
            ));
        }
    }
    for (class, n) in &m.class_filtered {
        out.push(format!(
            "{indent}* Class {class:?}: {n} nodes excluded by filter"
        ));
    }
    for (c, n) in &m.constraint_filtered {
        out.push(format!(
            "{indent}* Constraint {c:?}: {n} nodes excluded by filter"
        ));
    }
    if m.nodes_exhausted > 0 {
        out.push(format!(
            "{indent}* Resources exhausted on {} nodes",
            m.nodes_exhausted
        ));
    }
    for (class, n) in &m.class_exhausted {
        out.push(format!("{indent}* Class {class:?} exhausted on {n} nodes"));
    }
    for (dim, n) in &m.dimension_exhausted {
        out.push(format!(
            "{indent}* Dimension {dim:?} exhausted on {n} nodes"
        ));
    }
    for q in &m.quota_exhausted {
        out.push(format!("{indent}* Quota limit hit {q:?}"));
    }
    out
}

/// The placement failures of an evaluation, as text (empty when none).
pub fn failure_text(failed: &BTreeMap<String, AllocMetric>) -> String {
    let mut s = String::new();
    for (tg, m) in failed {
        s.push_str(&format!(
            "  Task Group {tg:?} (failed to place {} allocation{}):\n",
            m.coalesced_failures + 1,
            if m.coalesced_failures > 0 { "s" } else { "" }
        ));
        for l in metric_lines(m, "    ") {
            s.push_str(&l);
            s.push('\n');
        }
    }
    s
}

/// Follows evaluation `eval_id` until it is done and, with `wait_running`,
/// until its allocations run, or `timeout` passes.
pub async fn monitor(
    c: &Client,
    eval_id: &str,
    wait_running: bool,
    timeout: Duration,
) -> anyhow::Result<Outcome> {
    let deadline = Instant::now() + timeout;
    say(&format!(
        "==> {}: Monitoring evaluation \"{}\"",
        stamp(),
        short(eval_id)
    ));
    let mut index = 0;
    let mut last_status: Option<EvalStatus> = None;
    let mut seen = BTreeSet::new();
    let eval: Evaluation = loop {
        let q = QueryOptions::blocking(index, POLL);
        let (eval, meta) = c.evaluation(eval_id, &q).await.map_err(api_err)?;
        index = meta.last_index.max(index);
        match last_status {
            None => say(&format!(
                "    Evaluation triggered by job \"{}\"",
                eval.job_id
            )),
            Some(prev) if prev != eval.status => say(&format!(
                "    Evaluation status changed: \"{}\" -> \"{}\"",
                wire(&prev),
                wire(&eval.status)
            )),
            Some(_) => {}
        }
        last_status = Some(eval.status);
        let (allocs, _) = c
            .evaluation_allocations(eval_id, &QueryOptions::default())
            .await
            .map_err(api_err)?;
        for a in allocs {
            if seen.insert(a.id.clone()) {
                say(&format!(
                    "    Allocation \"{}\" created: node \"{}\", group \"{}\"",
                    short(&a.id),
                    short(&a.node_id),
                    a.task_group
                ));
            }
        }
        if eval.status.is_terminal() {
            break eval;
        }
        if Instant::now() >= deadline {
            say(&format!(
                "==> {}: Timed out waiting for evaluation \"{}\"",
                stamp(),
                short(eval_id)
            ));
            return Ok(Outcome::Failed);
        }
    };
    let mut outcome = Outcome::Ok;
    if eval.status != EvalStatus::Complete {
        outcome = Outcome::Failed;
    }
    if !eval.failed_tg_allocs.is_empty() {
        outcome = Outcome::Failed;
        say(&format!("==> {}: Failed to place all allocations", stamp()));
        let text = failure_text(&eval.failed_tg_allocs);
        say(text.trim_end());
        if let Some(b) = &eval.blocked_eval {
            say(&format!(
                "    Evaluation \"{}\" waiting for additional capacity to place remainder",
                b.short()
            ));
        }
    }
    say(&format!(
        "==> {}: Evaluation \"{}\" finished with status \"{}\"",
        stamp(),
        short(eval_id),
        wire(&eval.status)
    ));
    if wait_running && outcome == Outcome::Ok {
        let deployment = eval_deployment(c, &eval).await?;
        if !seen.is_empty() {
            outcome = wait_allocs(c, eval_id, deadline).await?;
        }
        // With a deployment, the deployment decides: an allocation that
        // failed may be replaced, or fail it and revert the job.
        if let Some(d) = deployment {
            outcome = monitor_deployment(c, &d, deadline).await?;
        }
    }
    Ok(outcome)
}

/// The deployment the evaluation started or belongs to: the one it names,
/// else the job's latest one when it is newer than the evaluation.
async fn eval_deployment(c: &Client, eval: &Evaluation) -> anyhow::Result<Option<String>> {
    if let Some(d) = &eval.deployment_id {
        return Ok(Some(d.to_string()));
    }
    let latest = crate::commands::deployment::latest_of_job(c, &eval.job_id).await?;
    Ok(latest
        .filter(|d| d.create_index >= eval.create_index)
        .map(|d| d.id.to_string()))
}

/// Whether the deployment waits for an operator to promote its canaries:
/// some group has all its canaries healthy, is not promoted and does not
/// promote itself.
pub fn awaits_promotion(d: &Deployment) -> bool {
    d.status == DeploymentStatus::Running
        && d.task_groups.values().any(|g| {
            g.desired_canaries > 0
                && !g.promoted
                && !g.auto_promote
                && g.healthy_allocs >= g.desired_canaries
        })
}

/// The deployment's progress as the monitor shows it, indented under its
/// heading.
pub fn progress_text(d: &Deployment) -> String {
    format_deployment(d, false)
        .lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("    {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Follows deployment `id` until it succeeds, fails, is cancelled or waits
/// for promotion, or `deadline` passes. On a terminal the progress is
/// redrawn in place; elsewhere each change is printed once.
async fn monitor_deployment(c: &Client, id: &str, deadline: Instant) -> anyhow::Result<Outcome> {
    say(&format!(
        "==> {}: Monitoring deployment \"{}\"",
        stamp(),
        short(id)
    ));
    let live = std::io::stdout().is_terminal();
    let mut drawn = 0usize;
    let mut last = String::new();
    let mut index = 0;
    loop {
        let q = QueryOptions::blocking(index, POLL);
        let (d, meta) = c.deployment(id, &q).await.map_err(api_err)?;
        index = meta.last_index.max(index);
        let text = progress_text(&d);
        if text != last {
            let mut out = std::io::stdout().lock();
            if live && drawn > 0 {
                // Back to the start of the previous drawing, and clear it.
                let _ = write!(out, "\x1b[{drawn}A\r\x1b[J");
            }
            let _ = writeln!(out, "{text}\n");
            let _ = out.flush();
            drawn = text.lines().count() + 1;
            last = text;
        }
        match d.status {
            DeploymentStatus::Successful => {
                say(&format!("  ✓ Deployment \"{}\" successful", short(id)));
                return Ok(Outcome::Ok);
            }
            DeploymentStatus::Cancelled => {
                say(&format!(
                    "  ! Deployment \"{}\" cancelled: {}",
                    short(id),
                    d.status_description
                ));
                return Ok(Outcome::Ok);
            }
            DeploymentStatus::Failed => {
                say(&format!(
                    "  ! Deployment \"{}\" failed: {}",
                    short(id),
                    d.status_description
                ));
                return Ok(Outcome::Failed);
            }
            _ if awaits_promotion(&d) => {
                say(&format!(
                    "  ! Deployment \"{}\" needs promotion: sched job promote {}",
                    short(id),
                    d.job_id
                ));
                return Ok(Outcome::Ok);
            }
            _ => {}
        }
        if Instant::now() >= deadline {
            say(&format!(
                "==> {}: Timed out waiting for deployment \"{}\"",
                stamp(),
                short(id)
            ));
            return Ok(Outcome::Failed);
        }
    }
}

/// Waits until every allocation of the evaluation runs (or has finished),
/// saying each status change; any failure ends the wait.
async fn wait_allocs(c: &Client, eval_id: &str, deadline: Instant) -> anyhow::Result<Outcome> {
    say(&format!(
        "==> {}: Waiting for the allocations to run",
        stamp()
    ));
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    let mut index = 0;
    // On a terminal one line is redrawn with the counts; in logs and pipes
    // each change is its own line.
    let live = std::io::stdout().is_terminal();
    loop {
        let q = QueryOptions::blocking(index, POLL);
        let (allocs, meta) = c
            .evaluation_allocations(eval_id, &q)
            .await
            .map_err(api_err)?;
        index = meta.last_index.max(index);
        let mut all_up = true;
        let mut failed = false;
        for a in &allocs {
            let prev = last.insert(a.id.clone(), a.client_status.clone());
            if !live && prev.as_deref() != Some(a.client_status.as_str()) {
                say(&format!(
                    "    Allocation \"{}\" status changed: \"{}\" -> \"{}\"",
                    short(&a.id),
                    prev.as_deref().unwrap_or("new"),
                    a.client_status
                ));
            }
            match a.client_status.as_str() {
                "running" | "complete" => {}
                "failed" | "lost" => failed = true,
                _ => all_up = false,
            }
        }
        if live {
            redraw(&last);
        }
        if failed {
            say(&format!("==> {}: An allocation failed", stamp()));
            return Ok(Outcome::Failed);
        }
        if all_up {
            say(&format!("==> {}: All allocations are running", stamp()));
            return Ok(Outcome::Ok);
        }
        if Instant::now() >= deadline {
            say(&format!(
                "==> {}: Timed out waiting for the allocations to run",
                stamp()
            ));
            return Ok(Outcome::Failed);
        }
    }
}

/// Redraws the one progress line: how many allocations are in each status;
/// the line ends when the next `say` starts a new one.
fn redraw(statuses: &BTreeMap<String, String>) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for st in statuses.values() {
        *counts.entry(st.as_str()).or_default() += 1;
    }
    let text: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "\r\x1b[2K    Allocations: {}", text.join(", "));
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(json: &str) -> Deployment {
        serde_json::from_str(json).expect("canned deployment decodes")
    }

    #[test]
    fn progress_is_the_deployment_indented() {
        let d = deployment(
            r#"{"ID": "a6e3b5c1-8a2d-4f00-9d3c-1f2e3d4c5b6a", "JobID": "web", "JobVersion": 1,
                "Status": "running", "StatusDescription": "Deployment is running",
                "TaskGroups": {"web": {"DesiredTotal": 3, "PlacedAllocs": 2, "HealthyAllocs": 1,
                "UnhealthyAllocs": 0, "RequireProgressBy": "2026-11-30T19:10:05Z"}}}"#,
        );
        assert_eq!(
            progress_text(&d),
            "    ID          = a6e3b5c1\n\
             \x20   Job ID      = web\n\
             \x20   Job Version = 1\n\
             \x20   Status      = running\n\
             \x20   Description = Deployment is running\n\
             \n\
             \x20   Deployed\n\
             \x20   Task Group  Desired  Placed  Healthy  Unhealthy  Progress Deadline\n\
             \x20   web         3        2       1        0          2026-11-30T19:10:05Z"
        );
    }

    #[test]
    fn healthy_unpromoted_canaries_wait_for_an_operator() {
        let with = |promoted: bool, auto: bool, healthy: i64, status: &str| {
            deployment(&format!(
                r#"{{"ID": "x", "Status": "{status}", "TaskGroups": {{"web": {{
                    "DesiredCanaries": 1, "DesiredTotal": 3, "Promoted": {promoted},
                    "AutoPromote": {auto}, "HealthyAllocs": {healthy}}}}}}}"#
            ))
        };
        assert!(awaits_promotion(&with(false, false, 1, "running")));
        assert!(!awaits_promotion(&with(false, false, 0, "running")));
        assert!(!awaits_promotion(&with(true, false, 1, "running")));
        assert!(!awaits_promotion(&with(false, true, 1, "running")));
        assert!(!awaits_promotion(&with(false, false, 1, "paused")));
        let plain = deployment(
            r#"{"ID": "x", "Status": "running", "TaskGroups": {"web": {"DesiredTotal": 3}}}"#,
        );
        assert!(!awaits_promotion(&plain));
    }

    #[test]
    fn placement_failures_say_why() {
        let mut m = AllocMetric {
            nodes_evaluated: 1,
            nodes_exhausted: 1,
            ..Default::default()
        };
        m.dimension_exhausted.insert("memory".into(), 1);
        m.constraint_filtered
            .insert("${attr.kernel.name} = windows".into(), 2);
        let mut failed = BTreeMap::new();
        failed.insert("web".to_string(), m);
        assert_eq!(
            failure_text(&failed),
            "  Task Group \"web\" (failed to place 1 allocation):\n\
             \x20   * Constraint \"${attr.kernel.name} = windows\": 2 nodes excluded by filter\n\
             \x20   * Resources exhausted on 1 nodes\n\
             \x20   * Dimension \"memory\" exhausted on 1 nodes\n"
        );
    }
}

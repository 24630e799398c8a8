//! `sched alloc status [-stats] | stop`. `alloc logs`, `signal`, `restart`
//! and `exec` live in their own modules.

use sched_api::QueryOptions;

use crate::commands::lookup::{alloc_id, api_err, block, date, id_col, wire};
use crate::commands::monitor::{Outcome, monitor};
use crate::commands::status::{ApiArgs, fields, json, table};
use crate::exit::silent;

/// `alloc status` / `alloc stop`
#[derive(Debug, clap::Args)]
pub struct AllocArgs {
    /// The allocation ID (or a unique prefix).
    pub id: String,
    /// Show whole IDs and every event detail.
    #[arg(long)]
    pub verbose: bool,
    /// Return at once instead of monitoring the evaluation (stop).
    #[arg(long)]
    pub detach: bool,
    /// Show each task's resource usage from its node (status).
    #[arg(long)]
    pub stats: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `alloc status ID`: the allocation, then each task's state and events.
pub fn status(args: &AllocArgs) -> anyhow::Result<()> {
    let p = args.id.clone();
    let want_stats = args.stats;
    let (alloc, stats) = block(&args.api, |c| async move {
        let id = alloc_id(&c, &p).await?;
        let alloc = c
            .allocation(&id, &QueryOptions::default())
            .await
            .map_err(api_err)?
            .0;
        // A finished allocation has no usage to show; that is no error.
        let stats = if want_stats && !terminal(&alloc) {
            Some(c.allocation_stats(&id).await.map_err(api_err)?)
        } else {
            None
        };
        Ok((alloc, stats))
    })?;
    if args.api.json {
        return super::print_out(&json(&alloc)?);
    }
    let v = args.verbose;
    let mut s = fields(&[
        ("ID", alloc.id.0.clone()),
        ("Eval ID", id_col(alloc.eval_id.as_str(), v)),
        ("Name", alloc.name.clone()),
        ("Node ID", id_col(alloc.node_id.as_str(), v)),
        ("Node Name", alloc.node_name.clone()),
        ("Job ID", alloc.job_id.clone()),
        (
            "Job Version",
            alloc
                .job
                .as_ref()
                .and_then(|j| j.version)
                .unwrap_or(0)
                .to_string(),
        ),
        ("Client Status", wire(&alloc.client_status)),
        ("Client Description", alloc.client_description.clone()),
        ("Desired Status", wire(&alloc.desired_status)),
        ("Desired Description", alloc.desired_description.clone()),
        ("Created", date(alloc.create_time)),
        ("Modified", date(alloc.modify_time)),
    ]);
    for (task, st) in &alloc.task_states {
        s.push_str(&format!("\nTask {task:?} is {:?}\n", st.state));
        s.push_str(&fields(&[
            (
                "Started At",
                st.started_at.clone().unwrap_or_else(|| "N/A".into()),
            ),
            (
                "Finished At",
                st.finished_at.clone().unwrap_or_else(|| "N/A".into()),
            ),
            ("Total Restarts", st.restarts.to_string()),
            ("Failed", st.failed.to_string()),
        ]));
        if let Some(stats) = &stats {
            s.push_str(&task_usage(stats, task));
        }
        s.push_str("\nRecent Events:\n");
        let rows: Vec<Vec<String>> = st
            .events
            .iter()
            .rev()
            .map(|e| {
                let msg = if !e.display_message.is_empty() {
                    e.display_message.clone()
                } else if !e.message.is_empty() {
                    e.message.clone()
                } else if e.r#type == "Terminated" {
                    format!("Exit Code: {}", e.exit_code)
                } else {
                    String::new()
                };
                vec![date(e.time), e.r#type.clone(), msg]
            })
            .collect();
        s.push_str(&table(&["Time", "Type", "Description"], &rows));
    }
    super::print_out(&s)
}

/// `alloc stop ID`: stops it and follows the evaluation that replaces it.
pub fn stop(args: &AllocArgs) -> anyhow::Result<()> {
    let p = args.id.clone();
    let detach = args.detach;
    let outcome = block(&args.api, |c| async move {
        let id = alloc_id(&c, &p).await?;
        let resp = c.stop_allocation(&id).await.map_err(api_err)?;
        if detach || resp.eval_id.is_empty() {
            let _ = super::println_out(&format!("Evaluation ID: {}", resp.eval_id));
            return Ok(Outcome::Ok);
        }
        monitor(
            &c,
            &resp.eval_id,
            false,
            std::time::Duration::from_secs(300),
        )
        .await
    })?;
    match outcome {
        Outcome::Ok => Ok(()),
        Outcome::Failed => Err(silent(2)),
    }
}

/// Whether the allocation is over (no node runs it any more).
fn terminal(alloc: &sched_api::Allocation) -> bool {
    matches!(
        wire(&alloc.client_status).as_str(),
        "complete" | "failed" | "lost"
    ) || matches!(wire(&alloc.desired_status).as_str(), "stop" | "evict")
}

/// Bytes as Nomad's tables show them (`6.3 MiB`).
fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// One task's usage from the node's `/v1/client/allocation/:id/stats`
/// answer, as `alloc status -stats` prints it.
fn task_usage(stats: &serde_json::Value, task: &str) -> String {
    let t = &stats["Tasks"][task];
    if t.is_null() {
        return "\nTask Resources:\nno usage sampled (the task is not running)\n".into();
    }
    let u = &t["ResourceUsage"];
    let num = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    let pids = t["Pids"]
        .as_object()
        .map_or_else(|| num(&t["Pids"]), |m| m.len() as u64);
    let row = vec![
        bytes(num(&u["MemoryStats"]["RSS"])),
        bytes(num(&u["MemoryStats"]["Usage"])),
        format!(
            "{:.0} ms",
            u["CpuStats"]["TotalTicks"].as_f64().unwrap_or(0.0)
        ),
        pids.to_string(),
    ];
    format!(
        "\nTask Resources:\n{}",
        table(
            &["Memory RSS", "Memory Usage", "CPU Time", "Processes"],
            &[row]
        )
    )
}

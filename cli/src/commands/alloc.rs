//! `sched alloc status | stop`. `alloc logs`, `signal` and `restart` need
//! the client endpoints and are answered elsewhere.

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
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `alloc status ID`: the allocation, then each task's state and events.
pub fn status(args: &AllocArgs) -> anyhow::Result<()> {
    let p = args.id.clone();
    let alloc = block(&args.api, |c| async move {
        let id = alloc_id(&c, &p).await?;
        Ok(c.allocation(&id, &QueryOptions::default())
            .await
            .map_err(api_err)?
            .0)
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

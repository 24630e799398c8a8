//! `sched eval status | list`.

use sched_api::QueryOptions;

use crate::commands::lookup::{api_err, block, eval_id, id_col, wire};
use crate::commands::monitor::failure_text;
use crate::commands::status::{ApiArgs, fields, json, table};

/// `eval status ID`
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The evaluation ID (or a unique prefix).
    pub id: String,
    /// Show whole IDs.
    #[arg(long)]
    pub verbose: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `eval list`
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Show whole IDs.
    #[arg(long)]
    pub verbose: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `eval status ID`: the evaluation and, when it failed to place, why.
pub fn status(args: &EvalArgs) -> anyhow::Result<()> {
    let p = args.id.clone();
    let eval = block(&args.api, |c| async move {
        let id = eval_id(&c, &p).await?;
        Ok(c.evaluation(&id, &QueryOptions::default())
            .await
            .map_err(api_err)?
            .0)
    })?;
    if args.api.json {
        return super::print_out(&json(&eval)?);
    }
    let v = args.verbose;
    let opt = |x: Option<&sched_core::model::EvalId>| {
        x.map(|i| id_col(i.as_str(), v))
            .unwrap_or_else(|| "<none>".into())
    };
    let mut s = fields(&[
        ("ID", id_col(eval.id.as_str(), v)),
        ("Create Index", eval.create_index.to_string()),
        ("Modify Index", eval.modify_index.to_string()),
        ("Status", wire(&eval.status)),
        ("Status Description", eval.status_description.clone()),
        ("Type", eval.r#type.clone()),
        ("TriggeredBy", eval.triggered_by.clone()),
        ("Job ID", eval.job_id.clone()),
        ("Priority", eval.priority.to_string()),
        (
            "Placement Failures",
            (!eval.failed_tg_allocs.is_empty()).to_string(),
        ),
        ("Previous Eval", opt(eval.previous_eval.as_ref())),
        ("Next Eval", opt(eval.next_eval.as_ref())),
        ("Blocked Eval", opt(eval.blocked_eval.as_ref())),
    ]);
    if !eval.failed_tg_allocs.is_empty() {
        s.push_str("\n==> Failed Placements\n");
        s.push_str(&failure_text(&eval.failed_tg_allocs));
    }
    super::print_out(&s)
}

/// `eval list`: every evaluation, newest first.
pub fn list(args: &ListArgs) -> anyhow::Result<()> {
    let mut evals = block(&args.api, |c| async move {
        Ok(c.evaluations(&QueryOptions::default())
            .await
            .map_err(api_err)?
            .0)
    })?;
    if args.api.json {
        return super::print_out(&json(&evals)?);
    }
    if evals.is_empty() {
        return super::print_out("No evals found\n");
    }
    evals.sort_by_key(|e| std::cmp::Reverse(e.create_index));
    let v = args.verbose;
    let rows: Vec<Vec<String>> = evals
        .iter()
        .map(|e| {
            vec![
                id_col(e.id.as_str(), v),
                e.priority.to_string(),
                e.triggered_by.clone(),
                e.job_id.clone(),
                wire(&e.status),
                (!e.failed_tg_allocs.is_empty()).to_string(),
            ]
        })
        .collect();
    super::print_out(&table(
        &[
            "ID",
            "Priority",
            "Triggered By",
            "Job ID",
            "Status",
            "Placement Failures",
        ],
        &rows,
    ))
}

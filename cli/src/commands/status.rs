//! `sched status [prefix]`, plus what the agent-talking commands share: the
//! `-address`/`-json` flags, the client, a runtime and aligned tables.

use std::future::Future;

use sched_api::{Client, QueryOptions};
use serde::Serialize;

use crate::exit::user;

/// Flags every command that talks to an agent takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ApiArgs {
    /// The agent's HTTP address (default: SCHED_ADDR, NOMAD_ADDR, then http://127.0.0.1:4646).
    #[arg(long)]
    pub address: Option<String>,
    /// Print the agent's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `sched status [prefix]`
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// A job, allocation, evaluation or node ID (or its unique prefix).
    pub prefix: Option<String>,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Runs `f` with a client of the agent on a small runtime; API failures
/// become one line for the user and exit code 1.
pub fn with_client<T, F, Fut>(api: &ApiArgs, f: F) -> anyhow::Result<T>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<T, sched_api::Error>>,
{
    let client =
        Client::from_env(api.address.as_deref()).map_err(|e| user(format!("error: {e}")))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(f(client))
        .map_err(|e| user(format!("error: {e}")))
}

/// Columns padded to their widest cell, two spaces apart, as Nomad prints.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let n = cells.len();
        let mut s = String::new();
        for (i, c) in cells.into_iter().enumerate() {
            s.push_str(c);
            if i + 1 < n {
                let w = widths.get(i).copied().unwrap_or(0);
                let pad = w.saturating_sub(c.chars().count()) + 2;
                s.push_str(&" ".repeat(pad));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// `Key = value` lines with the keys aligned, as Nomad's detail views.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let w = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    pairs
        .iter()
        .map(|(k, v)| format!("{k:<w$} = {v}\n"))
        .collect()
}

/// Pretty JSON of any answer.
pub fn json<T: Serialize>(v: &T) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(v)? + "\n")
}

fn time(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `sched status`: every job, or the one object the prefix names.
pub fn run(args: &StatusArgs) -> anyhow::Result<()> {
    let json_out = args.api.json;
    let prefix = args.prefix.clone().unwrap_or_default();
    let out = with_client(&args.api, |c| async move {
        if prefix.is_empty() {
            return list_jobs(&c, json_out).await;
        }
        find(&c, &prefix, json_out).await
    })?;
    match out {
        Found::Text(t) => super::print_out(&t),
        Found::Nothing => Err(user(format!(
            "error: no job, allocation, evaluation or node matches {:?}",
            args.prefix.clone().unwrap_or_default()
        ))),
    }
}

enum Found {
    Text(String),
    Nothing,
}

async fn list_jobs(c: &Client, json_out: bool) -> Result<Found, sched_api::Error> {
    let (jobs, _) = c.jobs(&QueryOptions::default()).await?;
    if json_out {
        return Ok(Found::Text(json(&jobs).unwrap_or_default()));
    }
    if jobs.is_empty() {
        return Ok(Found::Text("No running jobs\n".into()));
    }
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                j.id.clone(),
                j.r#type.clone(),
                j.priority.to_string(),
                j.status.clone(),
                time(j.submit_time),
            ]
        })
        .collect();
    Ok(Found::Text(table(
        &["ID", "Type", "Priority", "Status", "Submit Date"],
        &rows,
    )))
}

async fn find(c: &Client, prefix: &str, json_out: bool) -> Result<Found, sched_api::Error> {
    let q = QueryOptions::with_prefix(prefix);
    let (jobs, _) = c.jobs(&q).await?;
    // An exact job ID wins over longer IDs it prefixes.
    let exact: Vec<_> = jobs.iter().filter(|j| j.id == prefix).cloned().collect();
    let jobs = if exact.is_empty() { jobs } else { exact };
    let (allocs, _) = c.allocations(&q).await?;
    let (evals, _) = c.evaluations(&q).await?;
    let (nodes, _) = c.nodes(&q).await?;
    let total = jobs.len() + allocs.len() + evals.len() + nodes.len();
    if total == 0 {
        return Ok(Found::Nothing);
    }
    if total > 1 {
        let mut rows = Vec::new();
        rows.extend(jobs.iter().map(|j| vec!["job".to_string(), j.id.clone()]));
        rows.extend(
            allocs
                .iter()
                .map(|a| vec!["allocation".to_string(), a.id.clone()]),
        );
        rows.extend(
            evals
                .iter()
                .map(|e| vec!["evaluation".to_string(), e.id.0.clone()]),
        );
        rows.extend(nodes.iter().map(|n| vec!["node".to_string(), n.id.clone()]));
        return Ok(Found::Text(format!(
            "Prefix {prefix:?} matched multiple objects:\n\n{}",
            table(&["Type", "ID"], &rows)
        )));
    }
    let none = QueryOptions::default();
    if let Some(j) = jobs.first() {
        let (job, _) = c.job(&j.id, &none).await?;
        let (allocs, _) = c.job_allocations(&j.id, &none).await?;
        if json_out {
            return Ok(Found::Text(json(&job).unwrap_or_default()));
        }
        let mut s = fields(&[
            ("ID", j.id.clone()),
            ("Name", j.name.clone()),
            ("Namespace", j.namespace.clone()),
            ("Type", j.r#type.clone()),
            ("Priority", j.priority.to_string()),
            ("Status", j.status.clone()),
            ("Version", j.version.to_string()),
            ("Submit Date", time(j.submit_time)),
        ]);
        s.push_str("\nAllocations\n");
        if allocs.is_empty() {
            s.push_str("No allocations placed\n");
        } else {
            let rows: Vec<Vec<String>> = allocs
                .iter()
                .map(|a| {
                    vec![
                        short(&a.id),
                        short(&a.node_id),
                        a.task_group.clone(),
                        a.job_version.to_string(),
                        a.desired_status.clone(),
                        a.client_status.clone(),
                        time(a.create_time),
                    ]
                })
                .collect();
            s.push_str(&table(
                &[
                    "ID",
                    "Node ID",
                    "Task Group",
                    "Version",
                    "Desired",
                    "Status",
                    "Created",
                ],
                &rows,
            ));
        }
        return Ok(Found::Text(s));
    }
    if let Some(a) = allocs.first() {
        let (alloc, _) = c.allocation(&a.id, &none).await?;
        if json_out {
            return Ok(Found::Text(json(&alloc).unwrap_or_default()));
        }
        return Ok(Found::Text(fields(&[
            ("ID", a.id.clone()),
            ("Eval ID", short(&a.eval_id)),
            ("Name", a.name.clone()),
            ("Node ID", short(&a.node_id)),
            ("Node Name", a.node_name.clone()),
            ("Job ID", a.job_id.clone()),
            ("Job Version", a.job_version.to_string()),
            ("Client Status", a.client_status.clone()),
            ("Desired Status", a.desired_status.clone()),
            ("Created", time(a.create_time)),
        ])));
    }
    if let Some(e) = evals.first() {
        if json_out {
            return Ok(Found::Text(json(e).unwrap_or_default()));
        }
        return Ok(Found::Text(fields(&[
            ("ID", e.id.0.clone()),
            ("Status", format!("{:?}", e.status).to_lowercase()),
            ("Type", e.r#type.clone()),
            ("TriggeredBy", e.triggered_by.clone()),
            ("Job ID", e.job_id.clone()),
            ("Priority", e.priority.to_string()),
            ("Trace ID", e.trace_id.clone()),
        ])));
    }
    if let Some(n) = nodes.first() {
        let (node, _) = c.node(&n.id, &none).await?;
        if json_out {
            return Ok(Found::Text(json(&node).unwrap_or_default()));
        }
        return Ok(Found::Text(fields(&[
            ("ID", n.id.clone()),
            ("Name", n.name.clone()),
            ("Class", n.node_class.clone()),
            ("DC", n.datacenter.clone()),
            ("Pool", n.node_pool.clone()),
            ("Drain", n.drain.to_string()),
            ("Eligibility", n.scheduling_eligibility.clone()),
            ("Status", n.status.clone()),
        ])));
    }
    Ok(Found::Nothing)
}

fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_on_the_widest_cell() {
        let t = table(
            &["ID", "Status"],
            &[
                vec!["web".into(), "running".into()],
                vec!["a-long-id".into(), "dead".into()],
            ],
        );
        assert_eq!(
            t,
            "ID         Status\nweb        running\na-long-id  dead\n"
        );
        assert_eq!(
            fields(&[("ID", "x".into()), ("Status", "y".into())]),
            "ID     = x\nStatus = y\n"
        );
    }
}

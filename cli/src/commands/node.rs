//! `sched node status | drain | eligibility`.

use std::io::{BufRead, IsTerminal, Write};

use sched_api::{AllocListStub, DrainSpec, QueryOptions};

use crate::commands::job::alloc_table;
use crate::commands::lookup::{api_err, block, id_col, node_id, parse_duration, wire};
use crate::commands::status::{ApiArgs, fields, json, table};
use crate::exit::user;

/// `node status [ID]`
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The node ID (or a unique prefix); every node when absent.
    pub id: Option<String>,
    /// Show whole IDs, attributes and drivers.
    #[arg(long)]
    pub verbose: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `node drain`
#[derive(Debug, clap::Args)]
pub struct DrainArgs {
    /// The node ID (or a unique prefix).
    pub id: String,
    /// Start draining.
    #[arg(long, conflicts_with = "disable")]
    pub enable: bool,
    /// Stop draining.
    #[arg(long)]
    pub disable: bool,
    /// How long allocations get to move (`1h`, `30m`); `-1s` forces at once.
    #[arg(long, allow_hyphen_values = true)]
    pub deadline: Option<String>,
    /// Leave system jobs running.
    #[arg(long = "ignore-system")]
    pub ignore_system: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `node eligibility`
#[derive(Debug, clap::Args)]
pub struct EligibilityArgs {
    /// The node ID (or a unique prefix).
    pub id: String,
    /// Allow new placements.
    #[arg(long, conflicts_with = "disable")]
    pub enable: bool,
    /// Stop new placements.
    #[arg(long)]
    pub disable: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `node status [ID]`
pub fn status(args: &StatusArgs) -> anyhow::Result<()> {
    let v = args.verbose;
    let json_out = args.api.json;
    let prefix = args.id.clone();
    let text = block(&args.api, |c| async move {
        let none = QueryOptions::default();
        let Some(p) = prefix else {
            let (nodes, _) = c.nodes(&none).await.map_err(api_err)?;
            if json_out {
                return json(&nodes);
            }
            if nodes.is_empty() {
                return Ok("No nodes registered\n".to_string());
            }
            let rows: Vec<Vec<String>> = nodes
                .iter()
                .map(|n| {
                    vec![
                        id_col(&n.id, v),
                        n.node_pool.clone(),
                        n.datacenter.clone(),
                        n.name.clone(),
                        n.node_class.clone(),
                        n.drain.to_string(),
                        n.scheduling_eligibility.clone(),
                        n.status.clone(),
                    ]
                })
                .collect();
            return Ok(table(
                &[
                    "ID",
                    "Node Pool",
                    "DC",
                    "Name",
                    "Class",
                    "Drain",
                    "Eligibility",
                    "Status",
                ],
                &rows,
            ));
        };
        let id = node_id(&c, &p).await?;
        let (node, _) = c.node(&id, &none).await.map_err(api_err)?;
        if json_out {
            return json(&node);
        }
        let (allocs, _) = c.node_allocations(&id, &none).await.map_err(api_err)?;
        let mut s = fields(&[
            ("ID", id_col(node.id.as_str(), v)),
            ("Name", node.name.clone()),
            ("Node Pool", node.node_pool.clone()),
            ("Class", node.node_class.clone()),
            ("DC", node.datacenter.clone()),
            ("Drain", node.drain_strategy.is_some().to_string()),
            ("Eligibility", wire(&node.scheduling_eligibility)),
            ("Status", wire(&node.status)),
            ("HTTP Address", node.http_addr.clone()),
        ]);
        let drivers: Vec<&String> = node
            .drivers
            .iter()
            .filter(|(_, d)| d.detected && d.healthy)
            .map(|(n, _)| n)
            .collect();
        let drivers: Vec<&str> = drivers.iter().map(|d| d.as_str()).collect();
        s.push_str(&fields(&[("Drivers", drivers.join(","))]));
        if v {
            s.push_str("\nAttributes\n");
            let pairs: Vec<(&str, String)> = node
                .attributes
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            s.push_str(&fields(&pairs));
        }
        s.push_str("\nAllocations\n");
        let stubs: Vec<AllocListStub> = allocs
            .iter()
            .map(|a| AllocListStub {
                id: a.id.0.clone(),
                eval_id: a.eval_id.0.clone(),
                name: a.name.clone(),
                namespace: a.namespace.clone(),
                node_id: a.node_id.0.clone(),
                node_name: a.node_name.clone(),
                job_id: a.job_id.clone(),
                job_version: a.job.as_ref().and_then(|j| j.version).unwrap_or(0),
                task_group: a.task_group.clone(),
                desired_status: wire(&a.desired_status),
                client_status: wire(&a.client_status),
                create_index: a.create_index,
                modify_index: a.modify_index,
                create_time: a.create_time,
                modify_time: a.modify_time,
            })
            .collect();
        s.push_str(&alloc_table(&stubs, v));
        Ok(s)
    })?;
    super::print_out(&text)
}

/// Asks on the terminal; without one (scripts), the caller must pass -yes.
fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(user(
            "error: not a terminal to confirm on; pass -yes to drain without asking",
        ));
    }
    super::print_out(&format!("{question} [y/N]: "))?;
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

/// `node drain -enable|-disable ID`
pub fn drain(args: &DrainArgs) -> anyhow::Result<()> {
    if args.enable == args.disable {
        return Err(user("error: give one of -enable or -disable"));
    }
    let deadline_ns = match args.deadline.as_deref() {
        None => 3600 * 1_000_000_000,
        Some(d) if d.starts_with('-') => -1,
        Some(d) => {
            let dur = parse_duration(d)
                .ok_or_else(|| user(format!("error: -deadline {d:?} is not a duration like 1h")))?;
            i64::try_from(dur.as_nanos()).unwrap_or(i64::MAX)
        }
    };
    let p = args.id.clone();
    let id = block(&args.api, |c| async move { node_id(&c, &p).await })?;
    if args.enable
        && !args.yes
        && !confirm(&format!(
            "Are you sure you want to enable drain mode for node {id:?}?"
        ))?
    {
        return super::println_out("Canceling drain");
    }
    let spec = args.enable.then_some(DrainSpec {
        deadline: deadline_ns,
        ignore_system_jobs: args.ignore_system,
    });
    let shown = id.clone();
    block(&args.api, |c| async move {
        c.drain(&id, spec.as_ref(), false).await.map_err(api_err)
    })?;
    let what = if args.enable { "enabled" } else { "disabled" };
    super::println_out(&format!("Node {shown:?} drain strategy {what}"))
}

/// `node eligibility -enable|-disable ID`
pub fn eligibility(args: &EligibilityArgs) -> anyhow::Result<()> {
    if args.enable == args.disable {
        return Err(user("error: give one of -enable or -disable"));
    }
    let p = args.id.clone();
    let eligible = args.enable;
    let id = block(&args.api, |c| async move {
        let id = node_id(&c, &p).await?;
        c.eligibility(&id, eligible).await.map_err(api_err)?;
        Ok(id)
    })?;
    let what = if eligible { "eligible" } else { "ineligible" };
    super::println_out(&format!(
        "Node {id:?} scheduling eligibility set: {what} for scheduling"
    ))
}

//! `sched server members`.

use crate::commands::status::{ApiArgs, json, table, with_client};

/// `sched server ...`
#[derive(Debug, clap::Subcommand)]
pub enum ServerCommand {
    /// List the servers the agent knows.
    Members(ApiArgs),
}

/// Runs a `server` subcommand.
pub fn run(cmd: &ServerCommand) -> anyhow::Result<()> {
    match cmd {
        ServerCommand::Members(api) => {
            let members = with_client(api, |c| async move { c.agent_members().await })?;
            if api.json {
                return super::print_out(&json(&members)?);
            }
            let tag =
                |m: &sched_api::AgentMember, k: &str| m.tags.get(k).cloned().unwrap_or_default();
            let rows: Vec<Vec<String>> = members
                .members
                .iter()
                .map(|m| {
                    vec![
                        format!("{}.{}", m.name, tag(m, "region")),
                        m.addr.clone(),
                        m.port.to_string(),
                        m.status.clone(),
                        tag(m, "leader"),
                        tag(m, "raft_id"),
                        tag(m, "build"),
                        tag(m, "dc"),
                        tag(m, "region"),
                    ]
                })
                .collect();
            super::print_out(&table(
                &[
                    "Name",
                    "Address",
                    "Port",
                    "Status",
                    "Leader",
                    "Raft ID",
                    "Build",
                    "Datacenter",
                    "Region",
                ],
                &rows,
            ))
        }
    }
}

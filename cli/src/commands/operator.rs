//! `sched operator raft list-peers | remove-peer | transfer-leadership`.

use crate::commands::status::{ApiArgs, json, table, with_client};
use crate::exit::user;

/// `sched operator ...`
#[derive(Debug, clap::Subcommand)]
pub enum OperatorCommand {
    /// Raft membership.
    #[command(subcommand)]
    Raft(RaftCommand),
}

/// `sched operator raft ...`
#[derive(Debug, clap::Subcommand)]
pub enum RaftCommand {
    /// List the servers in the Raft configuration.
    ListPeers(ApiArgs),
    /// Remove a server from the Raft configuration.
    RemovePeer(PeerArgs),
    /// Hand leadership to another server (any up-to-date voter if none is named).
    TransferLeadership(PeerArgs),
}

/// Which peer.
#[derive(Debug, clap::Args)]
pub struct PeerArgs {
    /// The server's Raft ID.
    #[arg(long = "peer-id")]
    pub peer_id: Option<String>,
    /// The server's RPC address (host:port).
    #[arg(long = "peer-address")]
    pub peer_address: Option<String>,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Runs an `operator` subcommand.
pub fn run(cmd: &OperatorCommand) -> anyhow::Result<()> {
    let OperatorCommand::Raft(raft) = cmd;
    match raft {
        RaftCommand::ListPeers(api) => {
            let conf = with_client(api, |c| async move { c.raft_configuration().await })?;
            if api.json {
                return super::print_out(&json(&conf)?);
            }
            let rows: Vec<Vec<String>> = conf
                .servers
                .iter()
                .map(|s| {
                    vec![
                        s.node.clone(),
                        s.id.clone(),
                        s.address.clone(),
                        if s.leader { "leader" } else { "follower" }.to_string(),
                        s.voter.to_string(),
                    ]
                })
                .collect();
            super::print_out(&table(&["Node", "ID", "Address", "State", "Voter"], &rows))
        }
        RaftCommand::RemovePeer(p) => {
            let id = peer_id(p)?;
            let shown = id.clone();
            with_client(&p.api, |c| async move { c.remove_raft_peer(&id).await })?;
            super::print_out(&format!("Removed peer with ID {shown:?}\n"))
        }
        RaftCommand::TransferLeadership(p) => {
            let id = if p.peer_id.is_none() && p.peer_address.is_none() {
                None
            } else {
                Some(peer_id(p)?)
            };
            let shown = id.clone();
            with_client(&p.api, |c| async move {
                c.transfer_leadership(id.as_deref()).await
            })?;
            match shown {
                Some(id) => super::print_out(&format!("Transferred leadership to peer {id:?}\n")),
                None => super::print_out("Transferred leadership\n"),
            }
        }
    }
}

/// The Raft ID named by `-peer-id`, or looked up by `-peer-address`.
fn peer_id(p: &PeerArgs) -> anyhow::Result<String> {
    match (&p.peer_id, &p.peer_address) {
        (Some(id), None) => Ok(id.clone()),
        (None, Some(addr)) => {
            let addr = addr.clone();
            let conf = with_client(&p.api, |c| async move { c.raft_configuration().await })?;
            conf.servers
                .into_iter()
                .find(|s| s.address == addr)
                .map(|s| s.id)
                .ok_or_else(|| user(format!("error: no Raft peer has address {addr:?}; see `sched operator raft list-peers`")))
        }
        _ => Err(user("error: give exactly one of -peer-id or -peer-address")),
    }
}

//! `sched operator raft list-peers | remove-peer | transfer-leadership`,
//! `sched operator snapshot save | restore | inspect` and
//! `sched operator scheduler get-config | set-config`.

use sched_server::http::{HttpLimits, decode_snapshot_file};

use crate::commands::status::{ApiArgs, json, table, with_client};
use crate::exit::user;

/// `sched operator ...`
#[derive(Debug, clap::Subcommand)]
pub enum OperatorCommand {
    /// Raft membership.
    #[command(subcommand)]
    Raft(RaftCommand),
    /// Save, restore and inspect snapshots of the cluster's state.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Read and change the scheduler configuration.
    #[command(subcommand)]
    Scheduler(super::operator_scheduler::SchedulerCommand),
}

/// `sched operator snapshot ...`
#[derive(Debug, clap::Subcommand)]
pub enum SnapshotCommand {
    /// Save the cluster's state to a file.
    Save(SnapshotSaveArgs),
    /// Replace the cluster's state with a saved file's.
    Restore(SnapshotFileArgs),
    /// Show what a snapshot file holds, without contacting any server.
    Inspect(SnapshotInspectArgs),
}

/// `snapshot save FILE`
#[derive(Debug, clap::Args)]
pub struct SnapshotSaveArgs {
    /// Where to write the snapshot.
    pub file: std::path::PathBuf,
    /// Let any server answer from its own state instead of the leader's.
    #[arg(long)]
    pub stale: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `snapshot restore FILE`
#[derive(Debug, clap::Args)]
pub struct SnapshotFileArgs {
    /// The snapshot to restore.
    pub file: std::path::PathBuf,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `snapshot inspect FILE`
#[derive(Debug, clap::Args)]
pub struct SnapshotInspectArgs {
    /// The snapshot to inspect.
    pub file: std::path::PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
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
    let raft = match cmd {
        OperatorCommand::Raft(raft) => raft,
        OperatorCommand::Snapshot(snap) => return run_snapshot(snap),
        OperatorCommand::Scheduler(s) => return super::operator_scheduler::run(s),
    };
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

fn run_snapshot(cmd: &SnapshotCommand) -> anyhow::Result<()> {
    match cmd {
        SnapshotCommand::Save(a) => {
            let stale = a.stale;
            let file = with_client(&a.api, |c| async move { c.snapshot_save(stale).await })?;
            // Refuse to leave a damaged download on disk as if it were good.
            let (header, _) = decode_snapshot_file(&file)
                .map_err(|e| user(format!("error: the agent sent a bad snapshot: {e}")))?;
            write_atomically(&a.file, &file)?;
            super::print_out(&format!(
                "State file written to {} (index {}, term {}, {} bytes)\n",
                a.file.display(),
                header.index,
                header.term,
                file.len()
            ))
        }
        SnapshotCommand::Restore(a) => {
            let file = read_snapshot(&a.file)?;
            with_client(&a.api, |c| async move { c.snapshot_restore(file).await })?;
            super::print_out("Snapshot Restored\n")
        }
        SnapshotCommand::Inspect(a) => {
            let file = read_snapshot(&a.file)?;
            let (header, payload) = decode_snapshot_file(&file)
                .map_err(|e| user(format!("error: {}: {e}", a.file.display())))?;
            let state: serde_json::Value = serde_json::from_slice(payload).map_err(|e| {
                user(format!(
                    "error: {}: payload is not a state: {e}",
                    a.file.display()
                ))
            })?;
            let count = |key: &str| {
                state
                    .get(key)
                    .and_then(|v| v.as_array())
                    .map_or(0, Vec::len)
            };
            let sha: String = header.sha256.iter().map(|b| format!("{b:02x}")).collect();
            let info = serde_json::json!({
                "Version": header.version,
                "Index": header.index,
                "Term": header.term,
                "Size": header.size,
                "SHA256": sha,
                "Jobs": count("Jobs"),
                "Evaluations": count("Evals"),
                "Allocations": count("Allocs"),
                "Nodes": count("Nodes"),
                "Deployments": count("Deployments"),
                "Variables": count("Variables"),
            });
            if a.json {
                return super::print_out(&json(&info)?);
            }
            let rows = vec![
                vec!["Version".into(), header.version.to_string()],
                vec!["Index".into(), header.index.to_string()],
                vec!["Term".into(), header.term.to_string()],
                vec!["Size".into(), header.size.to_string()],
                vec!["SHA256".into(), sha],
                vec!["Jobs".into(), count("Jobs").to_string()],
                vec!["Evaluations".into(), count("Evals").to_string()],
                vec!["Allocations".into(), count("Allocs").to_string()],
                vec!["Nodes".into(), count("Nodes").to_string()],
                vec!["Deployments".into(), count("Deployments").to_string()],
                vec!["Variables".into(), count("Variables").to_string()],
            ];
            super::print_out(&table(&["Field", "Value"], &rows))
        }
    }
}

/// Reads a snapshot file, refusing one larger than any server accepts.
fn read_snapshot(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let limit = HttpLimits::default().max_snapshot_bytes as u64;
    let len = std::fs::metadata(path)
        .map_err(|e| user(format!("error: {}: {e}", path.display())))?
        .len();
    if len > limit {
        return Err(user(format!(
            "error: {} is {len} bytes, over the {limit}-byte snapshot limit",
            path.display()
        )));
    }
    std::fs::read(path).map_err(|e| user(format!("error: {}: {e}", path.display())))
}

/// Writes `bytes` to `path` through a temporary file beside it, so an
/// interrupted save never leaves a partial snapshot under the name.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| user(format!("error: {}: {e}", dir.display())))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .map_err(|e| user(format!("error: {}: {}", path.display(), e.error)))?;
    Ok(())
}

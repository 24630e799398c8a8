//! How a server gets its Raft ID and how a fresh one forms or joins a
//! cluster.
//!
//! A fresh server with `bootstrap_expect = 1` and nothing to join founds a
//! one-server cluster. Otherwise it asks every join address who it is: when
//! one of them already knows a leader, the cluster exists and this server
//! asks to be added; when none does, it waits until it knows
//! `bootstrap_expect` servers (itself included) and founds the cluster with
//! exactly those as voters — every founding server computes the same set
//! because each learns the others' Raft IDs the same way (Nomad's
//! `bootstrap_expect`).

use std::collections::BTreeMap;

use crate::fsm::ServerEntry;
use crate::raft::{SledStorage, Transport};
use crate::rpc::{GrpcTransport, PeerClient};

use super::{ServerConfig, ServerError};

const META_TREE: &str = "server-meta";
const RAFT_ID_KEY: &[u8] = b"raft_id";
const PEERS_KEY: &[u8] = b"bootstrap_peers";
/// The first pause between rounds of asking the join addresses.
const FIRST_RETRY: std::time::Duration = std::time::Duration::from_millis(100);

/// Remembers the peers learned while forming or joining, so a server
/// restarted before the replicated address book held them can still reach
/// them.
fn save_peers(db: &sled::Db, peers: &[(u64, String)]) -> Result<(), sled::Error> {
    let meta = db.open_tree(META_TREE)?;
    let bytes = serde_json::to_vec(peers).unwrap_or_default();
    meta.insert(PEERS_KEY, bytes)?;
    meta.flush()?;
    Ok(())
}

/// The peers remembered by [`save_peers`] (none when unreadable: the
/// replicated address book is the real source).
pub(super) fn saved_peers(db: &sled::Db) -> Vec<(u64, String)> {
    db.open_tree(META_TREE)
        .ok()
        .and_then(|meta| meta.get(PEERS_KEY).ok().flatten())
        .and_then(|v| serde_json::from_slice(&v).ok())
        .unwrap_or_default()
}

/// The server's Raft ID: read from its database, or chosen at random and
/// stored on first start so a restarted server is the same member.
pub(super) fn raft_id(db: &sled::Db) -> Result<u64, sled::Error> {
    let meta = db.open_tree(META_TREE)?;
    if let Some(v) = meta.get(RAFT_ID_KEY)?
        && let Ok(bytes) = <[u8; 8]>::try_from(v.as_ref())
    {
        let id = u64::from_be_bytes(bytes);
        if id != 0 {
            return Ok(id);
        }
    }
    let mut id = 0;
    while id == 0 {
        // Raft IDs are positive; keeping them under 2^53 lets JSON clients
        // (the CLI, browsers) show them exactly.
        id = fastrand::u64(1..(1u64 << 53));
    }
    meta.insert(RAFT_ID_KEY, &id.to_be_bytes())?;
    meta.flush()?;
    Ok(id)
}

/// Forms or joins the cluster for a fresh storage. Retries every
/// Retries until it succeeds (the caller bounds it by shutdown): quickly at
/// first, since servers started together come up within moments of each
/// other, then backing off to `retry_interval`.
pub(super) async fn form(
    db: &sled::Db,
    config: &ServerConfig,
    me: &ServerEntry,
    peers: &PeerClient,
    transport: &GrpcTransport,
    storage: &mut SledStorage,
) -> Result<(), ServerError> {
    let others: Vec<&String> = config.join.iter().filter(|a| **a != me.rpc_addr).collect();
    if config.bootstrap_expect <= 1 && others.is_empty() {
        storage.initialize(&[me.raft_id])?;
        tracing::info!(raft_id = me.raft_id, "founded a one-server cluster");
        return Ok(());
    }
    let mut round = 0u64;
    let mut pause = FIRST_RETRY.min(config.retry_interval);
    loop {
        round += 1;
        let mut known: BTreeMap<u64, ServerEntry> = BTreeMap::new();
        known.insert(me.raft_id, me.clone());
        let mut leader_at: Option<String> = None;
        let mut leader_id: Option<u64> = None;
        for addr in &others {
            match peers.status(addr).await {
                Ok(status) => {
                    if let Some(l) = status.leader_id {
                        leader_id = Some(l);
                        // Ask the leader itself when it is among the
                        // addresses; any member will do otherwise.
                        if leader_at.is_none() || status.server.raft_id == l {
                            leader_at = Some((*addr).clone());
                        }
                    }
                    known.insert(status.server.raft_id, status.server);
                }
                Err(err) => {
                    tracing::debug!(addr = %addr, error = %err, round, "join address not answering yet");
                }
            }
        }
        if let Some(l) = leader_id
            && let Some(s) = known.get(&l)
        {
            leader_at = Some(s.rpc_addr.clone());
        }
        if let Some(addr) = leader_at {
            match peers.join(&addr, me.clone()).await {
                Ok(reply) => {
                    let peers: Vec<(u64, String)> = reply
                        .servers
                        .iter()
                        .filter(|s| s.raft_id != me.raft_id)
                        .map(|s| (s.raft_id, s.rpc_addr.clone()))
                        .collect();
                    for (id, addr) in &peers {
                        transport.add_peer(*id, addr);
                    }
                    save_peers(db, &peers).map_err(|source| database(config, source))?;
                    tracing::info!(
                        raft_id = me.raft_id,
                        leader = reply.leader_id,
                        "joined the cluster"
                    );
                    return Ok(());
                }
                Err(err) => {
                    tracing::warn!(addr = %addr, error = %err, "join refused; retrying");
                }
            }
        } else if known.len() >= config.bootstrap_expect.max(1) {
            let voters: Vec<u64> = known.keys().copied().collect();
            let peers: Vec<(u64, String)> = known
                .values()
                .filter(|s| s.raft_id != me.raft_id)
                .map(|s| (s.raft_id, s.rpc_addr.clone()))
                .collect();
            for (id, addr) in &peers {
                transport.add_peer(*id, addr);
            }
            save_peers(db, &peers).map_err(|source| database(config, source))?;
            storage.initialize(&voters)?;
            tracing::info!(raft_id = me.raft_id, ?voters, "founded the cluster");
            return Ok(());
        } else if round % 20 == 1 {
            tracing::info!(
                known = known.len(),
                expect = config.bootstrap_expect,
                "waiting for servers to bootstrap with"
            );
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(config.retry_interval.max(FIRST_RETRY));
    }
}

fn database(config: &ServerConfig, source: sled::Error) -> ServerError {
    ServerError::Database {
        path: config.data_dir.join("server"),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_raft_id_survives_a_restart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = {
            let db = sled::open(dir.path()).expect("open");
            raft_id(&db).expect("id")
        };
        let db = sled::open(dir.path()).expect("reopen");
        assert_eq!(raft_id(&db).expect("id"), first);
        assert!(first > 0 && first < (1 << 53));
    }
}

//! The cluster and agent endpoints: `/v1/status/*`, `/v1/agent/*`,
//! `/v1/regions` and `/v1/operator/raft/*`.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::json;

use super::Ctx;
use super::error::ApiError;
use super::query::{QueryParams, json_with_meta};

pub(crate) fn routes() -> Router<Ctx> {
    Router::new()
        .route("/v1/status/leader", get(leader))
        .route("/v1/status/peers", get(peers))
        .route("/v1/agent/self", get(agent_self))
        .route("/v1/agent/members", get(members))
        .route("/v1/agent/health", get(health))
        .route("/v1/regions", get(regions))
        .route("/v1/operator/raft/configuration", get(raft_configuration))
        .route("/v1/operator/raft/peer", delete(remove_peer))
        .route(
            "/v1/operator/raft/transfer-leadership",
            post(transfer_leadership).put(transfer_leadership),
        )
}

async fn leader(State(ctx): State<Ctx>) -> Response {
    let info = ctx.backend.raft_info();
    json_with_meta(ctx.backend.as_ref(), info.applied_index, &info.leader_addr)
}

async fn peers(State(ctx): State<Ctx>) -> Response {
    let info = ctx.backend.raft_info();
    let addrs: Vec<&str> = info.peers.iter().map(|p| p.address.as_str()).collect();
    json_with_meta(ctx.backend.as_ref(), info.applied_index, &addrs)
}

async fn agent_self(State(ctx): State<Ctx>) -> Response {
    let me = ctx.backend.agent_self();
    let info = ctx.backend.raft_info();
    json_with_meta(
        ctx.backend.as_ref(),
        info.applied_index,
        &json!({
            "config": {
                "Region": me.region,
                "Datacenter": me.datacenter,
                "NodeName": me.name,
                "Version": {"Version": me.version},
                "Server": {"Enabled": me.server},
                "Client": {"Enabled": me.client},
                "Addresses": {"HTTP": me.http_addr, "RPC": me.rpc_addr},
            },
            "member": {
                "Name": me.name,
                "Addr": me.rpc_addr,
                "Status": "alive",
                "Tags": {"region": me.region, "dc": me.datacenter, "build": me.version},
            },
            "stats": {
                "raft": {
                    "applied_index": info.applied_index.to_string(),
                    "num_peers": info.peers.len().saturating_sub(1).to_string(),
                    "last_contact": format!("{}ms", info.last_contact_ms),
                },
                "nomad": {"leader": info.peers.iter().any(|p| p.leader && p.address == me.rpc_addr).to_string(),
                          "known_leader": info.known_leader.to_string()},
            },
        }),
    )
}

async fn members(State(ctx): State<Ctx>) -> Response {
    let me = ctx.backend.agent_self();
    let list: Vec<_> = ctx
        .backend
        .members()
        .into_iter()
        .map(|m| {
            json!({
                "Name": m.name,
                "Addr": m.addr,
                "Port": m.port,
                "Status": m.status,
                "Tags": {
                    "region": m.region,
                    "dc": m.datacenter,
                    "build": m.version,
                    "leader": m.leader.to_string(),
                    "raft_id": m.raft_id.to_string(),
                    "role": "nomad",
                },
            })
        })
        .collect();
    let info = ctx.backend.raft_info();
    json_with_meta(
        ctx.backend.as_ref(),
        info.applied_index,
        &json!({
            "ServerName": me.name,
            "ServerRegion": me.region,
            "ServerDC": me.datacenter,
            "Members": list,
        }),
    )
}

/// Healthy when this server knows a leader: without one it can neither
/// write nor answer consistent reads, which load balancers should know.
async fn health(State(ctx): State<Ctx>) -> Response {
    let me = ctx.backend.agent_self();
    let info = ctx.backend.raft_info();
    let mut body = serde_json::Map::new();
    let mut ok = true;
    if me.server {
        ok &= info.known_leader;
        body.insert(
            "server".into(),
            json!({"ok": info.known_leader,
                   "message": if info.known_leader { "ok" } else { "No cluster leader" }}),
        );
    }
    if me.client {
        body.insert("client".into(), json!({"ok": true, "message": "ok"}));
    }
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

async fn regions(State(ctx): State<Ctx>) -> Response {
    let me = ctx.backend.agent_self();
    json_with_meta(ctx.backend.as_ref(), 1, &vec![me.region])
}

async fn raft_configuration(State(ctx): State<Ctx>) -> Response {
    let info = ctx.backend.raft_info();
    let servers: Vec<_> = info
        .peers
        .iter()
        .map(|p| {
            json!({
                "ID": p.id.to_string(),
                "Node": p.name,
                "Address": p.address,
                "Leader": p.leader,
                "Voter": p.voter,
                "RaftProtocol": "3",
            })
        })
        .collect();
    json_with_meta(
        ctx.backend.as_ref(),
        info.applied_index,
        &json!({"Index": info.applied_index, "Servers": servers}),
    )
}

/// Resolves `?id=` (a Raft ID) or `?address=` to a Raft ID.
fn peer_from_query(ctx: &Ctx, q: &QueryParams) -> Result<Option<u64>, ApiError> {
    if let Some(id) = q.raw.get("id").filter(|v| !v.is_empty()) {
        return id.parse::<u64>().map(Some).map_err(|_| {
            ApiError::bad(format!("Invalid peer id {id:?}: want a Raft ID (a number)"))
        });
    }
    if let Some(addr) = q.raw.get("address").filter(|v| !v.is_empty()) {
        let info = ctx.backend.raft_info();
        return info
            .peers
            .iter()
            .find(|p| &p.address == addr)
            .map(|p| Some(p.id))
            .ok_or_else(|| ApiError::not_found(format!("no Raft peer at address {addr:?}")));
    }
    Ok(None)
}

async fn remove_peer(
    State(ctx): State<Ctx>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let id = peer_from_query(&ctx, &q)?
        .ok_or_else(|| ApiError::bad("Must specify either ?id with the server's ID or ?address with IP:port of peer to remove"))?;
    tracing::info!(raft_id = id, "removing Raft peer");
    ctx.backend.remove_peer(id).await?;
    Ok(StatusCode::OK.into_response())
}

async fn transfer_leadership(
    State(ctx): State<Ctx>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let id = peer_from_query(&ctx, &q)?;
    tracing::info!(raft_id = ?id, "transferring Raft leadership");
    ctx.backend.transfer_leadership(id).await?;
    Ok(StatusCode::OK.into_response())
}

//! The listening side: the `Peer` gRPC service over a [`PeerHandler`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use protobuf::Message as _;
use raft::eraftpb::Message;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;
use tonic::{Request, Response, Status, Streaming};

use crate::fsm::Command;

use super::proto::peer_server::{Peer, PeerServer};
use super::proto::{
    ForwardRequest, ForwardResponse, JoinRequest, JoinResponse, RaftAck, RaftBatch, SnapshotChunk,
    StatusRequest, StatusResponse,
};
use super::snapshot::SnapshotReassembler;
use super::{PeerHandler, ServeError};

/// Limits of a listener. The defaults suit a cluster on a LAN.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Largest single gRPC message accepted (a Raft batch, a forwarded
    /// command).
    pub max_message_bytes: usize,
    /// Largest snapshot accepted through chunked transfer.
    pub max_snapshot_bytes: u64,
    /// Most Raft messages accepted in one batch.
    pub max_batch_messages: usize,
    /// Snapshots received at once; more are refused (`RESOURCE_EXHAUSTED`)
    /// and Raft sends them again, so a burst cannot hold many partial
    /// snapshots in memory.
    pub max_concurrent_snapshots: usize,
    /// Requests in flight on one connection.
    pub max_concurrent_requests: usize,
    /// How long one request may take before it is cut off; it bounds a
    /// snapshot stream too, so it is generous.
    pub request_timeout: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            max_message_bytes: 64 * 1024 * 1024,
            max_snapshot_bytes: 1024 * 1024 * 1024,
            max_batch_messages: 4096,
            max_concurrent_snapshots: 2,
            max_concurrent_requests: 256,
            request_timeout: Duration::from_secs(300),
        }
    }
}

/// Serves the `Peer` service on `listener` with default limits until
/// `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    handler: Arc<dyn PeerHandler>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    serve_with(listener, handler, ServeConfig::default(), shutdown).await
}

/// Serves the `Peer` service on `listener` with `config`'s limits until
/// `shutdown` completes; in-flight requests are let finish.
pub async fn serve_with(
    listener: TcpListener,
    handler: Arc<dyn PeerHandler>,
    config: ServeConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let limits = config.clone();
    serve_routes(listener, peer_routes(handler, config), &limits, shutdown).await
}

/// The `Peer` service with `config`'s limits, as routes a server can serve
/// together with its other gRPC services on one listener.
pub fn peer_routes(handler: Arc<dyn PeerHandler>, config: ServeConfig) -> Routes {
    let max_message = config.max_message_bytes;
    let service = PeerService {
        handler,
        snapshot_slots: Semaphore::new(config.max_concurrent_snapshots.max(1)),
        config,
    };
    let svc = PeerServer::new(service)
        .max_decoding_message_size(max_message)
        .max_encoding_message_size(max_message);
    Routes::new(svc)
}

/// Serves `routes` on `listener` with `limits`' request timeout and
/// per-connection concurrency until `shutdown` completes; in-flight requests
/// are let finish.
pub async fn serve_routes(
    listener: TcpListener,
    routes: Routes,
    limits: &ServeConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let local = listener.local_addr().ok();
    tracing::info!(addr = ?local, "gRPC listening");
    // Accept errors (a client resetting before accept, fd exhaustion) are
    // logged and skipped: one bad connection must not stop the listener.
    let incoming = TcpListenerStream::new(listener).filter_map(|conn| match conn {
        Ok(stream) => {
            let _ = stream.set_nodelay(true);
            Some(Ok::<_, std::io::Error>(stream))
        }
        Err(err) => {
            tracing::warn!(error = %err, "gRPC listener accept failed");
            None
        }
    });
    tonic::transport::Server::builder()
        .timeout(limits.request_timeout)
        .concurrency_limit_per_connection(limits.max_concurrent_requests.max(1))
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    tracing::info!(addr = ?local, "gRPC stopped");
    Ok(())
}

struct PeerService {
    handler: Arc<dyn PeerHandler>,
    snapshot_slots: Semaphore,
    config: ServeConfig,
}

fn decode_message(bytes: &[u8]) -> Result<Message, Status> {
    Message::parse_from_bytes(bytes)
        .map_err(|err| Status::invalid_argument(format!("malformed raft message: {err}")))
}

fn decode_batch(messages: &[Bytes], limit: usize) -> Result<Vec<Message>, Status> {
    if messages.len() > limit {
        return Err(Status::invalid_argument(format!(
            "batch of {} messages is over the limit of {limit}",
            messages.len()
        )));
    }
    messages.iter().map(|b| decode_message(b)).collect()
}

#[tonic::async_trait]
impl Peer for PeerService {
    async fn raft(&self, request: Request<RaftBatch>) -> Result<Response<RaftAck>, Status> {
        let msgs = decode_batch(
            &request.into_inner().messages,
            self.config.max_batch_messages,
        )?;
        tracing::trace!(count = msgs.len(), "raft batch received");
        self.handler.raft_messages(msgs).await?;
        Ok(Response::new(RaftAck {}))
    }

    async fn snapshot(
        &self,
        request: Request<Streaming<SnapshotChunk>>,
    ) -> Result<Response<RaftAck>, Status> {
        let _slot = self
            .snapshot_slots
            .try_acquire()
            .map_err(|_| Status::resource_exhausted("too many snapshots in flight"))?;
        let mut stream = request.into_inner();
        let mut reassembler = SnapshotReassembler::new(self.config.max_snapshot_bytes);
        // Bounded: the reassembler refuses more bytes than the limit, and
        // the server's request timeout bounds how long a stream may last.
        while let Some(chunk) = stream.message().await? {
            reassembler
                .push(chunk)
                .map_err(|err| Status::invalid_argument(err.to_string()))?;
        }
        let encoded = reassembler
            .finish()
            .map_err(|err| Status::invalid_argument(err.to_string()))?;
        let msg = decode_message(&encoded)?;
        tracing::debug!(
            from = msg.from,
            bytes = encoded.len(),
            index = msg.get_snapshot().get_metadata().index,
            "snapshot received"
        );
        self.handler.raft_messages(vec![msg]).await?;
        Ok(Response::new(RaftAck {}))
    }

    async fn forward(
        &self,
        request: Request<ForwardRequest>,
    ) -> Result<Response<ForwardResponse>, Status> {
        let command = Command::decode(&request.into_inner().command)
            .map_err(|err| Status::invalid_argument(format!("malformed command: {err}")))?;
        let resp = self.handler.forward(command).await?;
        Ok(Response::new(ForwardResponse {
            index: resp.index,
            error: resp.error,
            job_version: resp.job_version,
        }))
    }

    async fn join(&self, request: Request<JoinRequest>) -> Result<Response<JoinResponse>, Status> {
        let server = request
            .into_inner()
            .server
            .ok_or_else(|| Status::invalid_argument("join without a server"))?;
        if server.raft_id == 0 {
            return Err(Status::invalid_argument("raft id 0 is reserved"));
        }
        tracing::info!(raft_id = server.raft_id, name = %server.name, rpc_addr = %server.rpc_addr, "join requested");
        let reply = self.handler.join(server.into()).await?;
        Ok(Response::new(reply.into()))
    }

    async fn status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        let status = self.handler.status().await?;
        Ok(Response::new(status.into()))
    }
}

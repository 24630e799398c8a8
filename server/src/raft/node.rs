//! The task that owns the raft-rs `RawNode` and runs its Ready loop, and the
//! [`RaftHandle`] everyone else talks to it through.
//!
//! Every request (proposal, peer message, read barrier, membership change)
//! arrives on one bounded channel. The loop drains whatever is queued before
//! asking raft-rs for a Ready, so many proposals share one append and one
//! fsync (group commit), then processes the Ready in the documented order:
//! send, install a snapshot, apply committed entries, append and persist,
//! send the messages that needed persistence, advance.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use protobuf::Message as _;
use raft::eraftpb::{
    ConfChange, ConfChangeType, ConfChangeV2, Entry, EntryType, Message, MessageType, Snapshot,
};
use raft::{INVALID_ID, ProgressState, RawNode, SnapshotStatus, StateRole, Storage as _};
use tokio::sync::{mpsc, oneshot, watch};

use super::error::RaftError;
use super::logger::raft_logger;
use super::storage::SledStorage;
use super::{StateMachine, Transport};
use crate::fsm::CommandResponse;

/// How a node behaves. [`RaftConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct RaftConfig {
    /// This server's Raft ID (never 0).
    pub id: u64,
    /// One Raft tick.
    pub tick: Duration,
    /// Ticks without hearing from a leader before campaigning (randomised up
    /// to twice this by raft-rs).
    pub election_ticks: usize,
    /// Ticks between the leader's heartbeats.
    pub heartbeat_ticks: usize,
    /// Entries applied between two snapshots (0: never snapshot).
    pub snapshot_every: u64,
    /// Entries kept in the log behind a snapshot, so a follower that is only
    /// a little behind catches up from the log rather than a snapshot.
    pub keep_after_snapshot: u64,
    /// Requests taken off the channel before one Ready is processed.
    pub max_batch: usize,
    /// Capacity of the node's request channel (backpressure beyond it).
    pub mailbox: usize,
    /// How long a caller waits for a proposal, read barrier or membership
    /// change before [`RaftError::Timeout`].
    pub request_timeout: Duration,
    /// How long a snapshot may be in flight to a follower before it is
    /// presumed lost and resent.
    pub snapshot_timeout: Duration,
    /// Largest append message, in bytes.
    pub max_size_per_msg: u64,
    /// Append messages in flight to one follower.
    pub max_inflight_msgs: usize,
}

impl RaftConfig {
    /// The defaults for server `id`: 100 ms ticks, elections after 1-2 s,
    /// heartbeats every 200 ms, a snapshot every 8192 entries.
    pub fn new(id: u64) -> RaftConfig {
        RaftConfig {
            id,
            tick: Duration::from_millis(100),
            election_ticks: 10,
            heartbeat_ticks: 2,
            snapshot_every: 8192,
            keep_after_snapshot: 1024,
            max_batch: 1024,
            mailbox: 4096,
            request_timeout: Duration::from_secs(10),
            snapshot_timeout: Duration::from_secs(10),
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
        }
    }
}

/// A node's part in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// Follows a leader (or waits for one).
    #[default]
    Follower,
    /// Asks peers whether it could win before disrupting the term (pre-vote).
    PreCandidate,
    /// Campaigning.
    Candidate,
    /// Leads.
    Leader,
}

impl From<StateRole> for Role {
    fn from(r: StateRole) -> Role {
        match r {
            StateRole::Follower => Role::Follower,
            StateRole::PreCandidate => Role::PreCandidate,
            StateRole::Candidate => Role::Candidate,
            StateRole::Leader => Role::Leader,
        }
    }
}

/// What a node knows about itself and the cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RaftStatus {
    /// This node's ID.
    pub id: u64,
    /// The leader, when one is known.
    pub leader_id: Option<u64>,
    /// Current term.
    pub term: u64,
    /// This node's role.
    pub role: Role,
    /// Highest index known committed.
    pub commit_index: u64,
    /// Highest index applied to the state machine.
    pub applied_index: u64,
    /// Voting members.
    pub voters: Vec<u64>,
    /// Non-voting members.
    pub learners: Vec<u64>,
    /// When the leader was last heard from (`None` on the leader itself and
    /// before any contact), for `X-Nomad-LastContact`.
    pub last_contact: Option<Instant>,
}

impl RaftStatus {
    /// Equal in everything but `last_contact`, which changes on every
    /// heartbeat and should not wake status watchers.
    fn same_as(&self, o: &RaftStatus) -> bool {
        self.id == o.id
            && self.leader_id == o.leader_id
            && self.term == o.term
            && self.role == o.role
            && self.commit_index == o.commit_index
            && self.applied_index == o.applied_index
            && self.voters == o.voters
            && self.learners == o.learners
    }
}

type Reply<T> = oneshot::Sender<Result<T, RaftError>>;

enum Request {
    Propose {
        data: Vec<u8>,
        reply: Reply<CommandResponse>,
    },
    ReadIndex {
        reply: Reply<u64>,
    },
    Step(Box<Message>),
    ConfChange {
        cc: ConfChange,
        reply: Reply<()>,
    },
    Transfer {
        to: u64,
        reply: Reply<()>,
    },
    Campaign {
        reply: Reply<()>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// A cloneable way to talk to the node's task.
#[derive(Debug, Clone)]
pub struct RaftHandle {
    id: u64,
    tx: mpsc::Sender<Request>,
    status: watch::Receiver<RaftStatus>,
    timeout: Duration,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Request::Propose { .. } => "Propose",
            Request::ReadIndex { .. } => "ReadIndex",
            Request::Step(_) => "Step",
            Request::ConfChange { .. } => "ConfChange",
            Request::Transfer { .. } => "Transfer",
            Request::Campaign { .. } => "Campaign",
            Request::Shutdown { .. } => "Shutdown",
        };
        f.write_str(name)
    }
}

impl RaftHandle {
    /// This node's ID.
    pub fn id(&self) -> u64 {
        self.id
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Result<T, RaftError> {
        let (reply, rx) = oneshot::channel();
        let fut = async {
            self.tx
                .send(make(reply))
                .await
                .map_err(|_| RaftError::Stopped)?;
            rx.await.map_err(|_| RaftError::Stopped)?
        };
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| RaftError::Timeout)?
    }

    /// Proposes `data` (an encoded command) and answers once this node has
    /// applied it, with what the state machine answered.
    ///
    /// [`RaftError::NotLeader`] when this node does not lead (retry at the
    /// named leader); [`RaftError::ProposalDropped`] when leadership was lost
    /// before the entry was applied.
    pub async fn propose(&self, data: Vec<u8>) -> Result<CommandResponse, RaftError> {
        self.call(|reply| Request::Propose { data, reply }).await
    }

    /// A linearizable read barrier (Raft ReadIndex): returns the cluster's
    /// commit index as of the call, once this node has applied it, so a read
    /// of the local state afterwards sees every write acknowledged before.
    pub async fn read_index(&self) -> Result<u64, RaftError> {
        self.call(|reply| Request::ReadIndex { reply }).await
    }

    /// Hands the node a message from a peer, waiting for room in its mailbox.
    pub async fn step(&self, msg: Message) -> Result<(), RaftError> {
        tokio::time::timeout(self.timeout, self.tx.send(Request::Step(Box::new(msg))))
            .await
            .map_err(|_| RaftError::Timeout)?
            .map_err(|_| RaftError::Stopped)
    }

    /// Hands the node a message from a peer without waiting: a full mailbox
    /// drops it ([`RaftError::Overloaded`]) and Raft resends. Transports that
    /// must not block use this.
    pub fn try_step(&self, msg: Message) -> Result<(), RaftError> {
        self.tx
            .try_send(Request::Step(Box::new(msg)))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => RaftError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => RaftError::Stopped,
            })
    }

    /// Adds a voting member; `addr` travels in the conf change so every
    /// server learns where to reach it. Answers when applied here.
    pub async fn add_voter(&self, id: u64, addr: String) -> Result<(), RaftError> {
        let cc = ConfChange {
            change_type: ConfChangeType::AddNode,
            node_id: id,
            context: addr.into_bytes().into(),
            ..ConfChange::default()
        };
        self.call(|reply| Request::ConfChange { cc, reply }).await
    }

    /// Removes a member. Answers when applied here.
    pub async fn remove_voter(&self, id: u64) -> Result<(), RaftError> {
        let cc = ConfChange {
            change_type: ConfChangeType::RemoveNode,
            node_id: id,
            ..ConfChange::default()
        };
        self.call(|reply| Request::ConfChange { cc, reply }).await
    }

    /// Hands leadership to `to` and waits until this node sees it lead.
    pub async fn transfer_leadership(&self, to: u64) -> Result<(), RaftError> {
        self.call(|reply| Request::Transfer { to, reply }).await?;
        let mut rx = self.status.clone();
        tokio::time::timeout(self.timeout, rx.wait_for(|s| s.leader_id == Some(to)))
            .await
            .map_err(|_| RaftError::Timeout)?
            .map_err(|_| RaftError::Stopped)?;
        Ok(())
    }

    /// Starts an election now instead of waiting for the election timeout.
    pub async fn campaign(&self) -> Result<(), RaftError> {
        self.call(|reply| Request::Campaign { reply }).await
    }

    /// The node's latest status.
    pub fn status(&self) -> RaftStatus {
        self.status.borrow().clone()
    }

    /// A receiver that wakes when the status changes (not on every heartbeat).
    pub fn watch_status(&self) -> watch::Receiver<RaftStatus> {
        self.status.clone()
    }

    /// Stops the node: the task ends after flushing its storage. Pending
    /// requests fail with [`RaftError::Stopped`]. Returns at once when the
    /// node has already stopped.
    pub async fn shutdown(&self) {
        let (reply, rx) = oneshot::channel();
        let stop = async {
            if self.tx.send(Request::Shutdown { reply }).await.is_ok() {
                // The task answers after its final flush; an error means it
                // ended anyway.
                let _ = rx.await;
            }
        };
        if tokio::time::timeout(self.timeout, stop).await.is_err() {
            tracing::warn!(raft_id = self.id, "raft node did not stop in time");
        }
    }
}

/// Starts the node's task on the current tokio runtime.
///
/// A restarted node resumes applying after `sm.applied_index()`; when the
/// state machine is behind the stored snapshot (its state was lost), it is
/// restored from that snapshot first.
pub fn spawn(
    config: RaftConfig,
    mut storage: SledStorage,
    mut sm: Box<dyn StateMachine>,
    transport: Arc<dyn Transport>,
) -> Result<RaftHandle, RaftError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| RaftError::NoRuntime)?;
    let mut applied = sm.applied_index();
    if storage.snapshot_index() > applied
        && let Some(snap) = storage.stored_snapshot()?
    {
        let index = snap.get_metadata().index;
        sm.restore(index, &snap.data).map_err(RaftError::Restore)?;
        applied = index;
    }
    // The state machine may have made an application durable before the
    // commit index that allowed it; the entries are committed regardless.
    let last = storage.last_index()?;
    if applied > storage.hard_state().commit {
        storage.set_commit(applied.min(last))?;
    }
    applied = applied.min(storage.hard_state().commit);

    let raft_config = raft::Config {
        id: config.id,
        election_tick: config.election_ticks,
        heartbeat_tick: config.heartbeat_ticks,
        applied,
        max_size_per_msg: config.max_size_per_msg,
        max_inflight_msgs: config.max_inflight_msgs,
        check_quorum: true,
        pre_vote: true,
        ..raft::Config::default()
    };
    raft_config.validate()?;
    let last_snapshot = storage.snapshot_index();
    let mut raw = RawNode::new(&raft_config, storage, &raft_logger(config.id))?;
    // The only voter wins its own election: campaigning now saves a whole
    // election timeout (over a second) on every start of a one-server
    // cluster, such as `sched agent -dev`.
    if raw.raft.prs().is_singleton() && raw.raft.promotable() {
        raw.campaign()?;
        tracing::info!(
            raft_id = config.id,
            term = raw.raft.term,
            "the only voter leads"
        );
    }
    // The conf state is current as of the last applied conf change; peers
    // whose address is not known yet are learned from conf changes and the
    // address book in the state.
    let (tx, rx) = mpsc::channel(config.mailbox.max(1));
    let (status_tx, status_rx) = watch::channel(RaftStatus {
        id: config.id,
        ..RaftStatus::default()
    });
    let handle = RaftHandle {
        id: config.id,
        tx,
        status: status_rx,
        timeout: config.request_timeout,
    };
    let boot = uuid::Uuid::new_v4().as_u64_pair().0;
    // Already known after the start-up campaign: the first Ready must not
    // read it as a change of leader, which would drop the proposals taken
    // in between.
    let leader_id = raw.raft.leader_id;
    let node = Node {
        raw,
        sm,
        transport,
        boot,
        next_seq: 1,
        proposals: HashMap::new(),
        conf_changes: HashMap::new(),
        reads: HashMap::new(),
        deferred_reads: Vec::new(),
        reads_waiting_apply: Vec::new(),
        snapshots_in_flight: HashMap::new(),
        applied,
        last_snapshot,
        compact_to: 0,
        status_tx,
        last_contact: None,
        leader_id,
        config,
    };
    runtime.spawn(node.run(rx));
    Ok(handle)
}

/// Identifies a request of this node's current life in an entry's context
/// or a read's context: node ID, boot nonce, sequence number.
const KEY_LEN: usize = 24;

/// Log entries removed per turn of the loop.
const COMPACT_SLICE: u64 = 256;

struct Node {
    config: RaftConfig,
    raw: RawNode<SledStorage>,
    sm: Box<dyn StateMachine>,
    transport: Arc<dyn Transport>,
    boot: u64,
    next_seq: u64,
    proposals: HashMap<u64, Reply<CommandResponse>>,
    conf_changes: HashMap<u64, Reply<()>>,
    /// Reads issued to raft, waiting for their read state.
    reads: HashMap<u64, Reply<u64>>,
    /// Reads held back until this leader has committed in its term.
    deferred_reads: Vec<u64>,
    /// Reads whose index is known, waiting for it to be applied.
    reads_waiting_apply: Vec<(u64, Reply<u64>)>,
    snapshots_in_flight: HashMap<u64, Instant>,
    applied: u64,
    last_snapshot: u64,
    /// The log is compacted up to here, a slice per turn.
    compact_to: u64,
    status_tx: watch::Sender<RaftStatus>,
    last_contact: Option<Instant>,
    leader_id: u64,
}

impl Node {
    fn key(&mut self) -> (u64, Vec<u8>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut k = Vec::with_capacity(KEY_LEN);
        k.extend_from_slice(&self.config.id.to_be_bytes());
        k.extend_from_slice(&self.boot.to_be_bytes());
        k.extend_from_slice(&seq.to_be_bytes());
        (seq, k)
    }

    /// The sequence number in `ctx` when it is one of ours from this life.
    fn own_seq(&self, ctx: &[u8]) -> Option<u64> {
        let k: &[u8; KEY_LEN] = ctx.get(..KEY_LEN)?.try_into().ok()?;
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&k[i * 8..i * 8 + 8]);
            u64::from_be_bytes(b)
        };
        (word(0) == self.config.id && word(1) == self.boot).then(|| word(2))
    }

    fn is_leader(&self) -> bool {
        self.raw.raft.state == StateRole::Leader
    }

    fn not_leader(&self) -> RaftError {
        let l = self.raw.raft.leader_id;
        RaftError::NotLeader {
            leader: (l != INVALID_ID).then_some(l),
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        let id = self.config.id;
        tracing::info!(raft_id = id, applied = self.applied, "raft node started");
        let mut ticker = tokio::time::interval(self.config.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shutdown: Option<oneshot::Sender<()>> = None;
        self.publish_status();
        loop {
            tokio::select! {
                req = rx.recv() => {
                    let Some(req) = req else { break };
                    shutdown = self.handle(req);
                    let mut taken = 1;
                    while shutdown.is_none() && taken < self.config.max_batch {
                        match rx.try_recv() {
                            Ok(req) => shutdown = self.handle(req),
                            Err(_) => break,
                        }
                        taken += 1;
                    }
                }
                _ = ticker.tick() => {
                    self.raw.tick();
                    self.retry_lost_snapshots();
                }
            }
            self.issue_deferred_reads();
            // A snapshot may be asked for without a Ready to process (a
            // follower needing a newer one), so this runs on every turn.
            let turn = self
                .on_ready()
                .and_then(|()| self.maybe_snapshot())
                .and_then(|()| self.compact_some());
            if let Err(e) = turn {
                tracing::error!(raft_id = id, error = %e, "raft node failed; stopping");
                break;
            }
            self.publish_status();
            if shutdown.is_some() {
                break;
            }
        }
        if let Err(e) = self.raw.store().flush() {
            tracing::error!(raft_id = id, error = %e, "final flush of raft storage failed");
        }
        self.fail_pending(|| RaftError::Stopped);
        // Release the storage and state machine (and so sled's lock on the
        // directory) before telling the caller it may reopen them.
        drop(self);
        tracing::info!(raft_id = id, "raft node stopped");
        if let Some(reply) = shutdown {
            let _ = reply.send(());
        }
    }

    /// Handles one request; returns the shutdown reply when asked to stop.
    fn handle(&mut self, req: Request) -> Option<oneshot::Sender<()>> {
        match req {
            Request::Propose { data, reply } => {
                if !self.is_leader() {
                    let _ = reply.send(Err(self.not_leader()));
                    return None;
                }
                let (seq, ctx) = self.key();
                match self.raw.propose(ctx, data) {
                    Ok(()) => {
                        self.proposals.insert(seq, reply);
                    }
                    Err(raft::Error::ProposalDropped) => {
                        let _ = reply.send(Err(RaftError::ProposalDropped));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(RaftError::Raft(e)));
                    }
                }
            }
            Request::ReadIndex { reply } => {
                if !self.is_leader() && self.raw.raft.leader_id == INVALID_ID {
                    let _ = reply.send(Err(self.not_leader()));
                    return None;
                }
                let (seq, ctx) = self.key();
                self.reads.insert(seq, reply);
                if self.is_leader() && !self.raw.raft.commit_to_current_term() {
                    self.deferred_reads.push(seq);
                } else {
                    self.raw.read_index(ctx);
                }
            }
            Request::Step(msg) => {
                if matches!(
                    msg.msg_type,
                    MessageType::MsgAppend | MessageType::MsgHeartbeat | MessageType::MsgSnapshot
                ) {
                    self.last_contact = Some(Instant::now());
                }
                if let Err(e) = self.raw.step(*msg) {
                    tracing::debug!(raft_id = self.config.id, error = %e, "dropped a peer message");
                }
            }
            Request::ConfChange { cc, reply } => {
                if !self.is_leader() {
                    let _ = reply.send(Err(self.not_leader()));
                    return None;
                }
                if self.raw.raft.has_pending_conf() {
                    // raft-rs would silently turn it into an empty entry.
                    let _ = reply.send(Err(RaftError::ProposalDropped));
                    return None;
                }
                let (seq, ctx) = self.key();
                match self.raw.propose_conf_change(ctx, cc) {
                    Ok(()) => {
                        self.conf_changes.insert(seq, reply);
                    }
                    Err(raft::Error::ProposalDropped) => {
                        let _ = reply.send(Err(RaftError::ProposalDropped));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(RaftError::Raft(e)));
                    }
                }
            }
            Request::Transfer { to, reply } => {
                if !self.is_leader() {
                    let _ = reply.send(Err(self.not_leader()));
                    return None;
                }
                self.raw.transfer_leader(to);
                let _ = reply.send(Ok(()));
            }
            Request::Campaign { reply } => {
                let _ = reply.send(self.raw.campaign().map_err(RaftError::Raft));
            }
            Request::Shutdown { reply } => return Some(reply),
        }
        None
    }

    fn issue_deferred_reads(&mut self) {
        if self.deferred_reads.is_empty() || !self.raw.raft.commit_to_current_term() {
            return;
        }
        for seq in std::mem::take(&mut self.deferred_reads) {
            let mut ctx = Vec::with_capacity(KEY_LEN);
            ctx.extend_from_slice(&self.config.id.to_be_bytes());
            ctx.extend_from_slice(&self.boot.to_be_bytes());
            ctx.extend_from_slice(&seq.to_be_bytes());
            self.raw.read_index(ctx);
        }
    }

    /// Fails every request, when the node stops.
    fn fail_pending(&mut self, err: impl Fn() -> RaftError) {
        self.fail_leader_bound(&err);
        for (_, r) in self.reads_waiting_apply.drain(..) {
            let _ = r.send(Err(err()));
        }
    }

    /// Fails the requests that depended on the leader of the moment: they
    /// may never complete under another one. Reads that already know their
    /// index only wait for this node to apply it and carry on.
    fn fail_leader_bound(&mut self, err: &impl Fn() -> RaftError) {
        for (_, r) in self.proposals.drain() {
            let _ = r.send(Err(err()));
        }
        for (_, r) in self.conf_changes.drain() {
            let _ = r.send(Err(err()));
        }
        for (_, r) in self.reads.drain() {
            let _ = r.send(Err(err()));
        }
        self.deferred_reads.clear();
    }

    fn send(&mut self, msgs: Vec<Message>) {
        if msgs.is_empty() {
            return;
        }
        for m in &msgs {
            if m.msg_type == MessageType::MsgSnapshot {
                self.snapshots_in_flight.insert(m.to, Instant::now());
            }
        }
        self.transport.send(msgs);
    }

    /// A snapshot message lost on the way leaves the follower's progress
    /// paused forever; after a while, report it failed so raft-rs sends again.
    fn retry_lost_snapshots(&mut self) {
        if self.snapshots_in_flight.is_empty() {
            return;
        }
        let timeout = self.config.snapshot_timeout;
        let mut failed = Vec::new();
        self.snapshots_in_flight.retain(|&to, at| {
            if at.elapsed() < timeout {
                return true;
            }
            failed.push(to);
            false
        });
        for to in failed {
            let paused = self
                .raw
                .raft
                .prs()
                .get(to)
                .is_some_and(|p| p.state == ProgressState::Snapshot);
            if paused {
                tracing::warn!(
                    raft_id = self.config.id,
                    to,
                    "snapshot presumed lost; resending"
                );
                self.raw.report_snapshot(to, SnapshotStatus::Failure);
            }
        }
    }

    fn on_ready(&mut self) -> Result<(), RaftError> {
        if !self.raw.has_ready() {
            return Ok(());
        }
        let mut rd = self.raw.ready();
        if let Some(ss) = rd.ss() {
            let (role, leader) = (ss.raft_state, ss.leader_id);
            if leader != self.leader_id {
                tracing::info!(
                    raft_id = self.config.id,
                    leader,
                    term = self.raw.raft.term,
                    ?role,
                    "leader changed"
                );
                self.leader_id = leader;
                self.fail_leader_bound(&|| RaftError::ProposalDropped);
            } else if role != StateRole::Leader {
                // Stepped down without a new leader known yet.
                self.fail_leader_bound(&|| RaftError::ProposalDropped);
            }
        }
        self.send(rd.take_messages());
        if !rd.snapshot().is_empty() {
            self.install_snapshot(rd.snapshot().clone())?;
        }
        for rs in rd.take_read_states() {
            if let Some(seq) = self.own_seq(&rs.request_ctx)
                && let Some(reply) = self.reads.remove(&seq)
            {
                self.reads_waiting_apply.push((rs.index, reply));
            }
        }
        let committed = rd.take_committed_entries();
        self.apply(committed)?;
        let mut persist = false;
        if !rd.entries().is_empty() {
            self.raw.mut_store().append(rd.entries())?;
            persist = true;
        }
        if let Some(hs) = rd.hs() {
            self.raw.mut_store().set_hard_state(hs.clone())?;
            persist = true;
        }
        if persist || !rd.snapshot().is_empty() {
            self.raw.store().flush()?;
        }
        let persisted = rd.take_persisted_messages();
        self.send(persisted);
        let mut light = self.raw.advance(rd);
        if let Some(commit) = light.commit_index() {
            self.raw.mut_store().set_commit(commit)?;
        }
        self.send(light.take_messages());
        let committed = light.take_committed_entries();
        self.apply(committed)?;
        self.raw.advance_apply_to(self.applied);
        self.answer_reads();
        Ok(())
    }

    fn install_snapshot(&mut self, snap: Snapshot) -> Result<(), RaftError> {
        let index = snap.get_metadata().index;
        tracing::info!(
            raft_id = self.config.id,
            index,
            bytes = snap.data.len(),
            "installing snapshot"
        );
        self.sm
            .restore(index, &snap.data)
            .map_err(RaftError::Restore)?;
        let conf = snap.get_metadata().get_conf_state().clone();
        self.raw.mut_store().apply_snapshot(snap)?;
        self.applied = index;
        self.last_snapshot = index;
        // Peers' addresses come with the conf changes the snapshot replaced
        // and with the address book in the state; the IDs are known here.
        tracing::debug!(raft_id = self.config.id, voters = ?conf.voters, "membership from snapshot");
        Ok(())
    }

    fn apply(&mut self, entries: Vec<Entry>) -> Result<(), RaftError> {
        for e in entries {
            if e.index <= self.applied {
                continue;
            }
            match e.entry_type {
                EntryType::EntryNormal => {
                    // A new leader's empty entry carries no command, and
                    // neither does an empty proposal: both change nothing.
                    let resp = if e.data.is_empty() {
                        CommandResponse {
                            index: e.index,
                            ..CommandResponse::default()
                        }
                    } else {
                        self.sm.apply(e.index, &e.data)
                    };
                    if let Some(seq) = self.own_seq(&e.context)
                        && let Some(reply) = self.proposals.remove(&seq)
                    {
                        let _ = reply.send(Ok(resp));
                    }
                }
                EntryType::EntryConfChange => {
                    let cc = ConfChange::parse_from_bytes(&e.data)
                        .map_err(|err| RaftError::Corrupt(format!("conf change: {err}")))?;
                    let result = self.apply_conf_change(&cc);
                    self.applied = e.index;
                    // Whoever asked sees the new membership in the status.
                    self.publish_status();
                    if let Some(seq) = self.own_seq(&e.context)
                        && let Some(reply) = self.conf_changes.remove(&seq)
                    {
                        let _ = reply.send(result);
                    }
                }
                EntryType::EntryConfChangeV2 => {
                    let cc = ConfChangeV2::parse_from_bytes(&e.data)
                        .map_err(|err| RaftError::Corrupt(format!("conf change: {err}")))?;
                    match self.raw.apply_conf_change(&cc) {
                        Ok(cs) => self.raw.mut_store().set_conf_state(cs)?,
                        Err(err) => {
                            tracing::warn!(raft_id = self.config.id, error = %err, "conf change refused")
                        }
                    }
                }
            }
            self.applied = e.index;
        }
        Ok(())
    }

    fn apply_conf_change(&mut self, cc: &ConfChange) -> Result<(), RaftError> {
        let cs = match self.raw.apply_conf_change(cc) {
            Ok(cs) => cs,
            Err(err) => {
                tracing::warn!(raft_id = self.config.id, node = cc.node_id, error = %err, "conf change refused");
                return Err(RaftError::Raft(err));
            }
        };
        self.raw.mut_store().set_conf_state(cs)?;
        match cc.change_type {
            ConfChangeType::AddNode | ConfChangeType::AddLearnerNode => {
                let addr = String::from_utf8_lossy(&cc.context);
                tracing::info!(raft_id = self.config.id, node = cc.node_id, addr = %addr, "member added");
                if cc.node_id != self.config.id {
                    self.transport.add_peer(cc.node_id, &addr);
                }
            }
            ConfChangeType::RemoveNode => {
                tracing::info!(
                    raft_id = self.config.id,
                    node = cc.node_id,
                    "member removed"
                );
                if cc.node_id != self.config.id {
                    self.transport.remove_peer(cc.node_id);
                }
            }
        }
        Ok(())
    }

    fn answer_reads(&mut self) {
        if self.reads_waiting_apply.is_empty() {
            return;
        }
        let applied = self.applied;
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.reads_waiting_apply)
            .into_iter()
            .partition(|(index, _)| *index <= applied);
        self.reads_waiting_apply = waiting;
        for (index, reply) in ready {
            let _ = reply.send(Ok(index));
        }
    }

    fn maybe_snapshot(&mut self) -> Result<(), RaftError> {
        let every = self.config.snapshot_every;
        let asked = self.raw.store().take_snapshot_request() && self.applied > 0;
        let due = every > 0 && self.applied >= self.last_snapshot + every;
        if !asked && !due {
            return Ok(());
        }
        let index = self.applied;
        // Entries after the state machine's own index up to `index` were
        // empty or membership changes, so its state is the state at `index`.
        let data = self.sm.snapshot();
        let conf = self.raw.store().conf_state().clone();
        let store = self.raw.mut_store();
        store.create_snapshot(index, conf, data)?;
        store.flush()?;
        self.compact_to = (index + 1).saturating_sub(self.config.keep_after_snapshot);
        self.last_snapshot = index;
        tracing::info!(
            raft_id = self.config.id,
            index,
            compact_to = self.compact_to,
            "snapshot taken"
        );
        Ok(())
    }

    /// Removes log entries behind the last snapshot a slice per turn, so a
    /// large compaction does not stall the proposals waiting behind it.
    fn compact_some(&mut self) -> Result<(), RaftError> {
        let first = self.raw.store().first_index()?;
        if self.compact_to <= first {
            return Ok(());
        }
        let to = self.compact_to.min(first + COMPACT_SLICE);
        self.raw.mut_store().compact(to)
    }

    fn publish_status(&mut self) {
        let raft = &self.raw.raft;
        let role = Role::from(raft.state);
        let conf = self.raw.store().conf_state();
        let status = RaftStatus {
            id: self.config.id,
            leader_id: (raft.leader_id != INVALID_ID).then_some(raft.leader_id),
            term: raft.term,
            role,
            commit_index: raft.raft_log.committed,
            applied_index: self.applied,
            voters: conf.voters.clone(),
            learners: conf.learners.clone(),
            last_contact: if role == Role::Leader {
                None
            } else {
                self.last_contact
            },
        };
        self.status_tx.send_if_modified(|cur| {
            let changed = !cur.same_as(&status);
            *cur = status;
            changed
        });
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;
    use crate::raft::memory::MemoryNetwork;

    /// Remembers what it applied at which index, in memory shared with the
    /// test (standing in for a durable state across a restart).
    #[derive(Clone, Default)]
    struct Recorder {
        log: Arc<Mutex<BTreeMap<u64, Vec<u8>>>>,
        applies: Arc<Mutex<u64>>,
    }

    impl StateMachine for Recorder {
        fn apply(&mut self, index: u64, data: &[u8]) -> CommandResponse {
            self.log
                .lock()
                .expect("test lock")
                .insert(index, data.to_vec());
            *self.applies.lock().expect("test lock") += 1;
            CommandResponse {
                index,
                ..CommandResponse::default()
            }
        }
        fn applied_index(&self) -> u64 {
            self.log
                .lock()
                .expect("test lock")
                .keys()
                .last()
                .copied()
                .unwrap_or(0)
        }
        fn snapshot(&self) -> Vec<u8> {
            Vec::new()
        }
        fn restore(&mut self, _index: u64, _data: &[u8]) -> Result<(), String> {
            Err("the recorder keeps its whole history".into())
        }
    }

    fn fast(id: u64) -> RaftConfig {
        RaftConfig {
            tick: Duration::from_millis(10),
            request_timeout: Duration::from_secs(5),
            ..RaftConfig::new(id)
        }
    }

    async fn single(dir: &std::path::Path, sm: Recorder) -> (RaftHandle, MemoryNetwork) {
        let db = sled::open(dir).expect("open sled");
        let mut storage = SledStorage::open(&db).expect("storage");
        if !storage.is_initialized() {
            storage.initialize(&[1]).expect("init");
        }
        let net = MemoryNetwork::new();
        let h = spawn(fast(1), storage, Box::new(sm), net.transport(1)).expect("spawn");
        net.attach(1, h.clone());
        h.campaign().await.expect("campaign");
        let mut st = h.watch_status();
        tokio::time::timeout(
            Duration::from_secs(10),
            st.wait_for(|s| s.role == Role::Leader),
        )
        .await
        .expect("leader in time")
        .expect("node running");
        (h, net)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_proposals_are_answered_by_their_own_entry() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sm = Recorder::default();
        let (h, _net) = single(dir.path(), sm.clone()).await;
        let tasks: Vec<_> = (0..50u32)
            .map(|i| {
                let h = h.clone();
                tokio::spawn(async move {
                    let data = format!("p{i}").into_bytes();
                    (data.clone(), h.propose(data).await)
                })
            })
            .collect();
        for t in tasks {
            let (data, resp) = t.await.expect("task");
            let resp = resp.expect("committed");
            // The answer names the entry holding this very proposal.
            assert_eq!(sm.log.lock().expect("lock").get(&resp.index), Some(&data));
        }
        let index = h.read_index().await.expect("read index");
        assert!(index >= 51, "50 proposals and the leader's empty entry");
        h.shutdown().await;
        assert!(matches!(
            h.propose(b"late".to_vec()).await,
            Err(RaftError::Stopped)
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_restart_resumes_after_the_applied_index() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sm = Recorder::default();
        let (h, _net) = single(dir.path(), sm.clone()).await;
        for i in 0..10u8 {
            h.propose(vec![i]).await.expect("committed");
        }
        h.shutdown().await;
        let before = *sm.applies.lock().expect("lock");
        assert_eq!(before, 10);

        let (h, _net) = single(dir.path(), sm.clone()).await;
        let resp = h.propose(b"after".to_vec()).await.expect("committed");
        assert_eq!(
            *sm.applies.lock().expect("lock"),
            11,
            "nothing applied twice"
        );
        assert!(resp.index > 10);
        h.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_node_without_a_leader_refuses_writes_and_reads() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = sled::open(dir.path()).expect("open sled");
        let mut storage = SledStorage::open(&db).expect("storage");
        storage.initialize(&[1, 2, 3]).expect("init");
        let net = MemoryNetwork::new();
        let h = spawn(
            fast(1),
            storage,
            Box::new(Recorder::default()),
            net.transport(1),
        )
        .expect("spawn");
        net.attach(1, h.clone());
        assert!(matches!(
            h.propose(b"x".to_vec()).await,
            Err(RaftError::NotLeader { leader: None })
        ));
        assert!(matches!(
            h.read_index().await,
            Err(RaftError::NotLeader { leader: None })
        ));
        assert!(matches!(
            h.add_voter(4, "mem://4".into()).await,
            Err(RaftError::NotLeader { leader: None })
        ));
        h.shutdown().await;
    }
}

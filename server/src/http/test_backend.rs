//! A [`Backend`] over the real [`Fsm`] on a temporary sled database, without
//! Raft: each command is applied at the next index as a single-server
//! cluster would commit it, so the API is tested against the state's real
//! semantics (indexes, versions, compare-and-set, refusals) and blocking
//! queries wake as on a server. Built only for tests (`cfg(test)` or the
//! `testing` feature); the leader and peers it reports are settable.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;

use super::backend::{AgentSelf, Backend, BackendError, Member, RaftInfo, RaftPeer};
use crate::fsm::{Command, CommandResponse, Fsm};
use crate::raft::StateMachine;
use crate::state::{StateReader, StateSnapshot, Table};

/// An in-process backend: one "server" that always leads unless told not to.
pub struct TestBackend {
    fsm: Mutex<Fsm>,
    // Kept open for the FSM's lifetime; sled removes a temporary db on drop.
    _db: sled::Db,
    reader: StateReader,
    clock: AtomicI64,
    leader: AtomicBool,
    peers: Mutex<Vec<RaftPeer>>,
}

impl std::fmt::Debug for TestBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestBackend").finish_non_exhaustive()
    }
}

/// The RPC address the test backend's only server has.
pub const TEST_RPC_ADDR: &str = "127.0.0.1:4647";

impl TestBackend {
    /// An empty state at index 0 on a temporary sled database, leading,
    /// with its clock at `now`.
    ///
    /// # Panics
    /// When sled cannot create its temporary database or the FSM cannot
    /// open it (the test machine's disk is unusable).
    pub fn new(now: i64) -> Arc<TestBackend> {
        let db = sled::Config::new()
            .temporary(true)
            .open()
            .expect("a temporary sled database");
        let (fsm, reader) = Fsm::open(&db).expect("the FSM opens an empty database");
        Arc::new(TestBackend {
            fsm: Mutex::new(fsm),
            _db: db,
            reader,
            clock: AtomicI64::new(now),
            leader: AtomicBool::new(true),
            peers: Mutex::new(vec![
                RaftPeer {
                    id: 1,
                    name: "server-1".into(),
                    address: TEST_RPC_ADDR.into(),
                    leader: true,
                    voter: true,
                },
                RaftPeer {
                    id: 2,
                    name: "server-2".into(),
                    address: "127.0.0.1:4747".into(),
                    leader: false,
                    voter: true,
                },
            ]),
        })
    }

    /// Moves the clock.
    pub fn set_now(&self, now: i64) {
        self.clock.store(now, Ordering::SeqCst);
    }

    /// Whether a leader is known; without one writes and consistent reads
    /// fail as on a server that lost its leader.
    pub fn set_leader(&self, known: bool) {
        self.leader.store(known, Ordering::SeqCst);
    }

    /// The current state.
    pub fn snapshot(&self) -> StateSnapshot {
        self.reader.snapshot()
    }

    /// Applies a command through the FSM at the next index, as a
    /// single-server cluster commits it; also seeds nodes and allocations.
    ///
    /// # Panics
    /// When the FSM lock is poisoned (a test already panicked).
    pub fn apply_now(&self, cmd: Command) -> CommandResponse {
        let mut fsm = self.fsm.lock().expect("test FSM lock");
        let index = fsm.state().index() + 1;
        fsm.apply(index, &cmd.encode())
    }
}

impl Backend for TestBackend {
    fn read(&self, stale: bool) -> BoxFuture<'_, Result<StateSnapshot, BackendError>> {
        let known = self.leader.load(Ordering::SeqCst);
        let snap = self.reader.snapshot();
        async move {
            if !stale && !known {
                return Err(BackendError::NoLeader);
            }
            Ok(snap)
        }
        .boxed()
    }

    fn block(
        &self,
        tables: &'static [Table],
        index: u64,
        wait: Duration,
    ) -> BoxFuture<'_, Result<StateSnapshot, BackendError>> {
        async move { Ok(self.reader.wait_for_change(tables, index, wait).await) }.boxed()
    }

    fn apply(&self, cmd: Command) -> BoxFuture<'_, Result<CommandResponse, BackendError>> {
        async move {
            if !self.leader.load(Ordering::SeqCst) {
                return Err(BackendError::NoLeader);
            }
            Ok(self.apply_now(cmd))
        }
        .boxed()
    }

    fn raft_info(&self) -> RaftInfo {
        let known = self.leader.load(Ordering::SeqCst);
        let peers = self.peers.lock().map(|p| p.clone()).unwrap_or_default();
        RaftInfo {
            known_leader: known,
            leader_addr: if known {
                TEST_RPC_ADDR.into()
            } else {
                String::new()
            },
            last_contact_ms: 0,
            peers,
            applied_index: self.reader.snapshot().index(),
            // No Raft behind this backend, so no term has started.
            term: 0,
        }
    }

    fn members(&self) -> Vec<Member> {
        let peers = self.peers.lock().map(|p| p.clone()).unwrap_or_default();
        peers
            .into_iter()
            .map(|p| {
                let (addr, port) = p.address.rsplit_once(':').unwrap_or((&p.address, "0"));
                Member {
                    name: p.name.clone(),
                    addr: addr.to_string(),
                    port: port.parse().unwrap_or(0),
                    status: "alive".into(),
                    region: "global".into(),
                    datacenter: "dc1".into(),
                    leader: p.leader,
                    version: env!("CARGO_PKG_VERSION").into(),
                    raft_id: p.id,
                }
            })
            .collect()
    }

    fn agent_self(&self) -> AgentSelf {
        AgentSelf {
            name: "server-1".into(),
            region: "global".into(),
            datacenter: "dc1".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            server: true,
            client: false,
            http_addr: "127.0.0.1:4646".into(),
            rpc_addr: TEST_RPC_ADDR.into(),
        }
    }

    fn now(&self) -> i64 {
        self.clock.load(Ordering::SeqCst)
    }

    fn remove_peer(&self, raft_id: u64) -> BoxFuture<'_, Result<(), BackendError>> {
        async move {
            let mut peers = self
                .peers
                .lock()
                .map_err(|_| BackendError::Unavailable("peer list poisoned".into()))?;
            let before = peers.len();
            peers.retain(|p| p.id != raft_id);
            if peers.len() == before {
                return Err(BackendError::NotFound(format!(
                    "no Raft peer with ID {raft_id}"
                )));
            }
            Ok(())
        }
        .boxed()
    }

    fn transfer_leadership(&self, raft_id: Option<u64>) -> BoxFuture<'_, Result<(), BackendError>> {
        async move {
            let mut peers = self
                .peers
                .lock()
                .map_err(|_| BackendError::Unavailable("peer list poisoned".into()))?;
            let target = match raft_id {
                Some(id) => peers
                    .iter()
                    .position(|p| p.id == id)
                    .ok_or_else(|| BackendError::NotFound(format!("no Raft peer with ID {id}")))?,
                None => peers
                    .iter()
                    .position(|p| !p.leader && p.voter)
                    .ok_or_else(|| {
                        BackendError::Rejected("no other voter to transfer leadership to".into())
                    })?,
            };
            if peers[target].leader {
                return Err(BackendError::Rejected(format!(
                    "server {} already leads",
                    peers[target].id
                )));
            }
            for (i, p) in peers.iter_mut().enumerate() {
                p.leader = i == target;
            }
            Ok(())
        }
        .boxed()
    }
}

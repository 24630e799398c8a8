//! A [`Backend`] over an in-process state for the HTTP API's tests, until
//! the server's FSM can be driven without Raft. It applies each command to
//! a [`StateSnapshot`] the simplest correct way (indexes, versions,
//! compare-and-set) and publishes it, so blocking queries wake as they do
//! on a server. Built only for tests (`cfg(test)` or the `testing` feature).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use sched_core::model::{Allocation, DesiredStatus, Evaluation, NodeSchedulingEligibility};

use super::backend::{AgentSelf, Backend, BackendError, Member, RaftInfo, RaftPeer};
use crate::fsm::{Command, CommandResponse};
use crate::state::{StatePublisher, StateReader, StateSnapshot, Table, channel};

/// An in-process backend: one "server" that always leads unless told not to.
pub struct TestBackend {
    state: Mutex<(StateSnapshot, StatePublisher)>,
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
    /// An empty state at index 0, leading, with its clock at `now`.
    pub fn new(now: i64) -> Arc<TestBackend> {
        let (publisher, reader) = channel(StateSnapshot::default());
        Arc::new(TestBackend {
            state: Mutex::new((StateSnapshot::default(), publisher)),
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

    /// Applies a command directly, for seeding nodes and allocations.
    ///
    /// # Panics
    /// When the state lock is poisoned (a test already panicked).
    pub fn apply_now(&self, cmd: Command) -> CommandResponse {
        let mut guard = self.state.lock().expect("test state lock");
        let (snap, publisher) = &mut *guard;
        let resp = apply(snap, cmd);
        publisher.publish(snap.clone(), Vec::new());
        resp
    }
}

fn bump(s: &mut StateSnapshot, tables: &[Table]) -> u64 {
    s.index += 1;
    for t in tables {
        s.table_index.insert(*t, s.index);
    }
    s.index
}

fn key(ns: &str, id: &str) -> (String, String) {
    (ns.to_string(), id.to_string())
}

fn put_evals(s: &mut StateSnapshot, evals: Vec<Evaluation>, idx: u64) {
    for mut e in evals {
        if let Some(old) = s.evals.get(&e.id) {
            e.create_index = old.create_index;
        } else {
            e.create_index = idx;
        }
        e.modify_index = idx;
        let k = key(&e.namespace, &e.job_id);
        s.evals_by_job.entry(k).or_default().insert(e.id.clone());
        s.evals.insert(e.id.clone(), Arc::new(e));
    }
}

fn put_alloc(s: &mut StateSnapshot, mut a: Allocation, idx: u64) {
    match s.allocs.get(&a.id) {
        Some(old) => a.create_index = old.create_index,
        None => a.create_index = idx,
    }
    a.modify_index = idx;
    s.allocs_by_job
        .entry(key(&a.namespace, &a.job_id))
        .or_default()
        .insert(a.id.clone());
    s.allocs_by_node
        .entry(a.node_id.clone())
        .or_default()
        .insert(a.id.clone());
    s.allocs.insert(a.id.clone(), Arc::new(a));
}

fn refuse(msg: impl Into<String>) -> CommandResponse {
    CommandResponse {
        error: Some(msg.into()),
        ..Default::default()
    }
}

fn apply(s: &mut StateSnapshot, cmd: Command) -> CommandResponse {
    match cmd {
        Command::JobRegister { job, eval, now, .. } => {
            let mut job = *job;
            let ns = job.namespace.clone().unwrap_or_default();
            let id = job.id.clone().unwrap_or_default();
            let idx = bump(s, &[Table::Jobs, Table::Evals]);
            let prev = s.jobs.get(&key(&ns, &id)).cloned();
            let version = prev.as_ref().map_or(0, |p| p.version.unwrap_or(0) + 1);
            job.version = Some(version);
            job.create_index = Some(prev.as_ref().and_then(|p| p.create_index).unwrap_or(idx));
            job.modify_index = Some(idx);
            job.job_modify_index = Some(idx);
            job.submit_time = Some(now);
            if job.status.is_none() {
                job.status = Some(
                    if job.stop.unwrap_or(false) {
                        "dead"
                    } else {
                        "pending"
                    }
                    .into(),
                );
            }
            let job = Arc::new(job);
            s.jobs.insert(key(&ns, &id), job.clone());
            s.job_versions
                .entry(key(&ns, &id))
                .or_default()
                .insert(version, job);
            put_evals(s, eval.into_iter().collect(), idx);
            CommandResponse {
                index: idx,
                error: None,
                job_version: Some(version),
            }
        }
        Command::JobDeregister {
            namespace,
            job_id,
            purge,
            eval,
            ..
        } => {
            let k = key(&namespace, &job_id);
            let Some(job) = s.jobs.get(&k).cloned() else {
                return refuse(format!("job not found: {job_id}"));
            };
            let idx = bump(s, &[Table::Jobs, Table::Evals]);
            if purge {
                s.jobs.remove(&k);
                s.job_versions.remove(&k);
            } else {
                let mut j = (*job).clone();
                j.stop = Some(true);
                j.status = Some("dead".into());
                j.modify_index = Some(idx);
                j.job_modify_index = Some(idx);
                s.jobs.insert(k, Arc::new(j));
            }
            put_evals(s, eval.into_iter().collect(), idx);
            CommandResponse {
                index: idx,
                ..Default::default()
            }
        }
        Command::EvalUpsert { evals } => {
            let idx = bump(s, &[Table::Evals]);
            put_evals(s, evals, idx);
            CommandResponse {
                index: idx,
                ..Default::default()
            }
        }
        Command::ApplyPlanResult { allocs, evals, .. } => {
            let idx = bump(s, &[Table::Allocs, Table::Evals]);
            for a in allocs {
                put_alloc(s, a, idx);
            }
            put_evals(s, evals, idx);
            CommandResponse {
                index: idx,
                ..Default::default()
            }
        }
        Command::AllocStop { stops, evals, .. } => {
            if let Some(missing) = stops.iter().find(|st| !s.allocs.contains_key(&st.alloc_id)) {
                return refuse(format!("alloc not found: {}", missing.alloc_id));
            }
            let idx = bump(s, &[Table::Allocs, Table::Evals]);
            for st in stops {
                if let Some(a) = s.allocs.get(&st.alloc_id).cloned() {
                    let mut a = (*a).clone();
                    a.desired_status = DesiredStatus::Stop;
                    a.desired_description = st.description;
                    if let Some(cs) = st.client_status {
                        a.client_status = cs;
                    }
                    put_alloc(s, a, idx);
                }
            }
            put_evals(s, evals, idx);
            CommandResponse {
                index: idx,
                ..Default::default()
            }
        }
        Command::NodeRegister { node, evals, .. } => {
            let idx = bump(s, &[Table::Nodes, Table::Evals]);
            let mut node = *node;
            node.create_index = s.nodes.get(&node.id).map_or(idx, |n| n.create_index);
            node.modify_index = idx;
            s.nodes.insert(node.id.clone(), Arc::new(node));
            put_evals(s, evals, idx);
            CommandResponse {
                index: idx,
                ..Default::default()
            }
        }
        Command::NodeDrain {
            node_id,
            drain,
            mark_eligible,
            evals,
            ..
        } => {
            let Some(node) = s.nodes.get(&node_id).cloned() else {
                return refuse(format!("node not found: {node_id}"));
            };
            let idx = bump(s, &[Table::Nodes, Table::Evals]);
            let mut n = (*node).clone();
            if drain.is_some() {
                n.scheduling_eligibility = NodeSchedulingEligibility::Ineligible;
            } else if mark_eligible {
                n.scheduling_eligibility = NodeSchedulingEligibility::Eligible;
            }
            n.drain_strategy = drain;
            n.modify_index = idx;
            s.nodes.insert(node_id, Arc::new(n));
            put_evals(s, evals, idx);
            CommandResponse {
                index: idx,
                ..Default::default()
            }
        }
        Command::NodeEligibility {
            node_id,
            eligibility,
            evals,
            ..
        } => {
            let Some(node) = s.nodes.get(&node_id).cloned() else {
                return refuse(format!("node not found: {node_id}"));
            };
            let idx = bump(s, &[Table::Nodes, Table::Evals]);
            let mut n = (*node).clone();
            n.scheduling_eligibility = eligibility;
            n.modify_index = idx;
            s.nodes.insert(node_id, Arc::new(n));
            put_evals(s, evals, idx);
            CommandResponse {
                index: idx,
                ..Default::default()
            }
        }
        Command::VariableUpsert {
            mut variable,
            cas,
            now,
        } => {
            let k = key(&variable.namespace, &variable.path);
            let cur = s.variables.get(&k).cloned();
            if let Some(want) = cas {
                let have = cur.as_ref().map_or(0, |v| v.modify_index);
                if have != want {
                    return refuse(format!(
                        "cas error: variable {} has modify index {have}, not {want}",
                        variable.path
                    ));
                }
            }
            let idx = bump(s, &[Table::Variables]);
            variable.create_index = cur.as_ref().map_or(idx, |v| v.create_index);
            variable.create_time = cur.as_ref().map_or(now, |v| v.create_time);
            variable.modify_index = idx;
            variable.modify_time = now;
            s.variables.insert(k, Arc::new(variable));
            CommandResponse {
                index: idx,
                ..Default::default()
            }
        }
        Command::VariableDelete {
            namespace,
            path,
            cas,
        } => {
            let k = key(&namespace, &path);
            if let Some(want) = cas {
                let have = s.variables.get(&k).map_or(0, |v| v.modify_index);
                if have != want {
                    return refuse(format!(
                        "cas error: variable {path} has modify index {have}, not {want}"
                    ));
                }
            }
            let idx = bump(s, &[Table::Variables]);
            s.variables.remove(&k);
            CommandResponse {
                index: idx,
                ..Default::default()
            }
        }
        other => refuse(format!(
            "the test backend does not apply {:?}",
            std::mem::discriminant(&other)
        )),
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

//! Node liveness on the leader: every node must heartbeat within the TTL it
//! was given; a node that does not is marked down and the jobs with work on
//! it are re-evaluated, so its allocations are replaced elsewhere. A node
//! running allocations whose group allows disconnection
//! (`disconnect.lost_after`, `max_client_disconnect`) is marked
//! `disconnected` instead, and `down` only once the longest of those windows
//! passed without it coming back ([`on_expiry`]).
//!
//! Owns the per-node deadlines and the TTL each heartbeat is answered with:
//! TTLs grow with the cluster so that all nodes together send at most
//! `max_per_second` heartbeats, as Nomad does, with a random stagger so a
//! fleet that registered together does not beat together. It does not write
//! state: its caller turns expired nodes into commands (see
//! [`node_evals`]).

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use sched_core::model::{Evaluation, Job, NodeId, NodeStatus};
use sched_scheduler::job_view::JobView;
use sched_scheduler::reconcile_disconnect;

use crate::evals::{new_eval, trigger};
use crate::state::StateSnapshot;

/// How heartbeats are paced.
#[derive(Debug, Clone)]
pub struct HeartbeatConfig {
    /// The shortest TTL handed out, however small the cluster (Nomad: 10 s).
    pub min_ttl: Duration,
    /// The heartbeat rate the whole cluster should stay under (Nomad: 50/s).
    pub max_per_second: f64,
    /// Extra time past the TTL before a node is declared down, covering
    /// network delay and a client's retry (Nomad: `heartbeat_grace`, 10 s).
    pub grace: Duration,
    /// The TTL every known node gets when a new leader takes over, so nodes
    /// have time to find it before being declared down (Nomad: 5 min).
    pub failover_ttl: Duration,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        HeartbeatConfig {
            min_ttl: Duration::from_secs(10),
            max_per_second: 50.0,
            grace: Duration::from_secs(10),
            failover_ttl: Duration::from_secs(300),
        }
    }
}

/// The leader's heartbeat deadlines.
#[derive(Debug)]
pub struct Heartbeats {
    config: HeartbeatConfig,
    deadlines: HashMap<NodeId, Instant>,
    rng: fastrand::Rng,
}

impl Heartbeats {
    /// No node tracked yet; `seed` drives the stagger (tests fix it).
    pub fn new(config: HeartbeatConfig, seed: u64) -> Heartbeats {
        Heartbeats {
            config,
            deadlines: HashMap::new(),
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// The TTL for the next heartbeat: enough that all tracked nodes beat at
    /// most `max_per_second` times a second, never below `min_ttl`, plus a
    /// random stagger of up to the same again.
    pub fn ttl(&mut self) -> Duration {
        let nodes = self.deadlines.len().max(1) as f64;
        let rate = self.config.max_per_second.max(f64::MIN_POSITIVE);
        let scaled = Duration::from_secs_f64(nodes / rate);
        let base = scaled.max(self.config.min_ttl);
        let stagger = base.mul_f64(self.rng.f64());
        base + stagger
    }

    /// Records a heartbeat (or a registration) at `now` and answers with the
    /// TTL the node must beat again within.
    pub fn beat(&mut self, node: &NodeId, now: Instant) -> Duration {
        if !self.deadlines.contains_key(node) {
            // Count the node before scaling, so the first answer already
            // accounts for it.
            self.deadlines.insert(node.clone(), now);
        }
        let ttl = self.ttl();
        self.deadlines
            .insert(node.clone(), now + ttl + self.config.grace);
        ttl
    }

    /// A new leader gives every live node the failover TTL.
    pub fn reset_all(&mut self, nodes: impl IntoIterator<Item = NodeId>, now: Instant) {
        self.deadlines.clear();
        let deadline = now + self.config.failover_ttl + self.config.grace;
        for n in nodes {
            self.deadlines.insert(n, deadline);
        }
    }

    /// Tracks a node until `deadline` whatever the TTL (a disconnected node
    /// until its window ends).
    pub fn track_until(&mut self, node: &NodeId, deadline: Instant) {
        self.deadlines.insert(node.clone(), deadline);
    }

    /// Stops tracking a node (deregistered, or already down).
    pub fn forget(&mut self, node: &NodeId) {
        self.deadlines.remove(node);
    }

    /// Removes and returns the nodes whose deadline has passed, in a stable
    /// order.
    pub fn expired(&mut self, now: Instant) -> Vec<NodeId> {
        let mut out: Vec<NodeId> = self
            .deadlines
            .iter()
            .filter(|(_, d)| **d <= now)
            .map(|(n, _)| n.clone())
            .collect();
        out.sort();
        for n in &out {
            self.deadlines.remove(n);
        }
        out
    }

    /// The earliest deadline, for the caller's timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.values().min().copied()
    }

    /// How many nodes are tracked.
    pub fn len(&self) -> usize {
        self.deadlines.len()
    }

    /// Whether no node is tracked.
    pub fn is_empty(&self) -> bool {
        self.deadlines.is_empty()
    }
}

/// What becomes of a node whose heartbeat deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Mark it disconnected and wait this long more for it.
    Disconnect(Duration),
    /// Still within its disconnect window: wait this long more.
    Wait(Duration),
    /// Mark it down.
    Down,
    /// Nothing to do (gone, or down already).
    Nothing,
}

/// Decides what an expired node becomes at `now` (Unix ns): a live node
/// with allocations that may outlive a lost heartbeat is disconnected for
/// the longest of their windows, any other is down; a disconnected node
/// goes down once that window, counted from when it was disconnected,
/// has passed.
pub fn on_expiry(snapshot: &StateSnapshot, node_id: &NodeId, now: i64) -> Expiry {
    let Some(node) = snapshot.node(node_id) else {
        return Expiry::Nothing;
    };
    let window = disconnect_window(snapshot, node_id);
    match node.status {
        NodeStatus::Down => Expiry::Nothing,
        NodeStatus::Disconnected => {
            let since = node.status_updated_at.saturating_mul(1_000_000_000);
            let end = since.saturating_add(window.map_or(0, |w| w.as_nanos() as i64));
            if end > now {
                Expiry::Wait(Duration::from_nanos((end - now) as u64))
            } else {
                Expiry::Down
            }
        }
        NodeStatus::Ready | NodeStatus::Initializing => match window {
            Some(w) => Expiry::Disconnect(w),
            None => Expiry::Down,
        },
    }
}

/// The longest disconnect window of the groups with a live allocation on
/// the node; `None` when none allows disconnection.
pub fn disconnect_window(snapshot: &StateSnapshot, node_id: &NodeId) -> Option<Duration> {
    let mut longest: Option<i64> = None;
    for alloc in snapshot.allocs_by_node(node_id) {
        if alloc.is_terminal() {
            continue;
        }
        let current;
        let job = match &alloc.job {
            Some(j) => j.as_ref(),
            None => {
                let Some(j) = snapshot.job(&alloc.namespace, &alloc.job_id) else {
                    continue;
                };
                current = j;
                current.as_ref()
            }
        };
        let Some(policy) = job
            .group(&alloc.task_group)
            .and_then(reconcile_disconnect::policy)
        else {
            continue;
        };
        longest = Some(longest.map_or(policy.lost_after, |l| l.max(policy.lost_after)));
    }
    longest.map(|n| Duration::from_nanos(n.max(0) as u64))
}

/// The evaluations a change to a node triggers (down, drained, eligible
/// again, newly registered): one per job with a live allocation on the node,
/// and one per system or sysbatch job, which may now want a placement there.
/// Like Nomad's `createNodeEvals`.
pub fn node_evals(snapshot: &StateSnapshot, node_id: &NodeId, now: i64) -> Vec<Evaluation> {
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut out = Vec::new();
    let mut push = |job: &Job| {
        if seen.insert((job.ns().to_owned(), job.job_id().to_owned())) {
            let mut eval = new_eval(job, trigger::NODE_UPDATE, now);
            eval.node_id = Some(node_id.clone());
            out.push(eval);
        }
    };
    for alloc in snapshot.allocs_by_node(node_id) {
        if alloc.client_status.is_terminal() {
            continue;
        }
        if let Some(job) = snapshot.job(&alloc.namespace, &alloc.job_id) {
            push(&job);
        }
    }
    for job in snapshot.jobs("*", "") {
        let kind = job.job_type();
        if (kind == "system" || kind == "sysbatch") && !job.stopped() {
            push(&job);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> HeartbeatConfig {
        HeartbeatConfig {
            min_ttl: Duration::from_secs(10),
            max_per_second: 50.0,
            grace: Duration::from_secs(10),
            failover_ttl: Duration::from_secs(300),
        }
    }

    #[test]
    fn small_clusters_get_the_minimum_ttl_plus_a_stagger() {
        let mut h = Heartbeats::new(config(), 7);
        let now = Instant::now();
        for i in 0..10 {
            let ttl = h.beat(&NodeId::from_u128(i), now);
            assert!(ttl >= Duration::from_secs(10), "{ttl:?}");
            assert!(ttl <= Duration::from_secs(20), "{ttl:?}");
        }
    }

    #[test]
    fn ttls_scale_so_the_cluster_stays_under_the_rate() {
        let mut h = Heartbeats::new(config(), 7);
        let now = Instant::now();
        for i in 0..5_000 {
            h.beat(&NodeId::from_u128(i), now);
        }
        // 5,000 nodes at 50/s: at least 100 s between beats of one node.
        let ttl = h.beat(&NodeId::from_u128(1), now);
        assert!(ttl >= Duration::from_secs(100), "{ttl:?}");
        assert!(ttl <= Duration::from_secs(200), "{ttl:?}");
    }

    #[test]
    fn a_node_expires_only_after_ttl_and_grace() {
        let mut h = Heartbeats::new(config(), 1);
        let now = Instant::now();
        let n = NodeId::from_u128(1);
        let ttl = h.beat(&n, now);
        let deadline = now + ttl + Duration::from_secs(10);
        assert!(h.expired(deadline - Duration::from_millis(1)).is_empty());
        assert_eq!(h.expired(deadline), vec![n.clone()]);
        assert!(h.is_empty(), "an expired node is reported once");
        assert!(h.expired(deadline + Duration::from_secs(60)).is_empty());
    }

    #[test]
    fn a_beat_pushes_the_deadline_back() {
        let mut h = Heartbeats::new(config(), 3);
        let now = Instant::now();
        let n = NodeId::from_u128(1);
        h.beat(&n, now);
        let later = now + Duration::from_secs(15);
        h.beat(&n, later);
        assert!(h.expired(now + Duration::from_secs(25)).is_empty());
    }

    #[test]
    fn a_new_leader_gives_every_node_the_failover_ttl() {
        let mut h = Heartbeats::new(config(), 3);
        let now = Instant::now();
        h.reset_all([NodeId::from_u128(1), NodeId::from_u128(2)], now);
        assert_eq!(h.len(), 2);
        assert!(h.expired(now + Duration::from_secs(309)).is_empty());
        assert_eq!(h.expired(now + Duration::from_secs(310)).len(), 2);
    }

    #[test]
    fn forgotten_nodes_never_expire() {
        let mut h = Heartbeats::new(config(), 3);
        let now = Instant::now();
        let n = NodeId::from_u128(1);
        h.beat(&n, now);
        h.forget(&n);
        assert_eq!(h.next_deadline(), None);
        assert!(h.expired(now + Duration::from_secs(3600)).is_empty());
    }

    #[test]
    fn node_evals_cover_jobs_on_the_node_and_system_jobs_once_each() {
        use sched_core::model::{AllocId, Allocation, ClientStatus, Job};
        use std::sync::Arc;
        let mut s = StateSnapshot::default();
        let node = NodeId::from_u128(9);
        let job = |id: &str, kind: &str| Job {
            id: Some(id.into()),
            namespace: Some("default".into()),
            r#type: Some(kind.into()),
            priority: Some(70),
            ..Default::default()
        };
        for j in [
            job("web", "service"),
            job("agent", "system"),
            job("idle", "batch"),
        ] {
            let key = ("default".to_string(), j.id.clone().unwrap_or_default());
            s.jobs.insert(key, Arc::new(j));
        }
        for (i, (job_id, status)) in [
            ("web", ClientStatus::Running),
            ("web", ClientStatus::Pending),
            ("idle", ClientStatus::Complete),
        ]
        .into_iter()
        .enumerate()
        {
            let a = Allocation {
                id: AllocId::from_u128(i as u128),
                namespace: "default".into(),
                job_id: job_id.into(),
                node_id: node.clone(),
                client_status: status,
                ..Default::default()
            };
            let a = Arc::new(a);
            s.allocs_by_node
                .entry(node.clone())
                .or_default()
                .insert(a.id.clone(), a.clone());
            s.allocs.insert(a.id.clone(), a);
        }
        let evals = node_evals(&s, &node, 42);
        let jobs: Vec<&str> = evals.iter().map(|e| e.job_id.as_str()).collect();
        assert_eq!(jobs, vec!["web", "agent"]);
        assert!(evals.iter().all(|e| e.triggered_by == "node-update"
            && e.node_id.as_ref() == Some(&node)
            && e.priority == 70
            && e.create_time == 42));
    }

    #[test]
    fn an_expired_node_is_disconnected_only_for_groups_that_allow_it() {
        use sched_core::model::{AllocId, Allocation, ClientStatus, Node};
        use std::sync::Arc;
        const S: i64 = 1_000_000_000;
        let node = NodeId::from_u128(3);
        let mut s = StateSnapshot::default();
        s.nodes.insert(
            node.clone(),
            Arc::new(Node {
                id: node.clone(),
                status: NodeStatus::Ready,
                ..Default::default()
            }),
        );
        let alloc = |i: u128, window: Option<i64>, status: ClientStatus| {
            let mut job = sched_scheduler::mock::service_job("web", 1, 100, 128);
            job.task_groups.as_mut().unwrap()[0].max_client_disconnect =
                window.map(sched_core::model::Duration::from_secs);
            Allocation {
                id: AllocId::from_u128(i),
                namespace: "default".into(),
                job_id: "web".into(),
                task_group: "web".into(),
                node_id: node.clone(),
                client_status: status,
                job: Some(Arc::new(job)),
                ..Default::default()
            }
        };
        let put = |s: &mut StateSnapshot, a: Allocation| {
            let a = Arc::new(a);
            s.allocs_by_node
                .entry(node.clone())
                .or_default()
                .insert(a.id.clone(), a.clone());
            s.allocs.insert(a.id.clone(), a);
        };
        put(&mut s, alloc(1, None, ClientStatus::Running));
        // A finished allocation's window does not count.
        put(&mut s, alloc(2, Some(3600), ClientStatus::Complete));
        assert_eq!(disconnect_window(&s, &node), None);
        assert_eq!(on_expiry(&s, &node, 0), Expiry::Down);
        put(&mut s, alloc(3, Some(60), ClientStatus::Running));
        put(&mut s, alloc(4, Some(120), ClientStatus::Pending));
        assert_eq!(disconnect_window(&s, &node), Some(Duration::from_secs(120)));
        assert_eq!(
            on_expiry(&s, &node, 0),
            Expiry::Disconnect(Duration::from_secs(120))
        );
        // Disconnected at t = 1000 s: wait out the window, then down.
        let mut n = (*s.nodes[&node]).clone();
        n.status = NodeStatus::Disconnected;
        n.status_updated_at = 1000;
        s.nodes.insert(node.clone(), Arc::new(n.clone()));
        assert_eq!(
            on_expiry(&s, &node, 1100 * S),
            Expiry::Wait(Duration::from_secs(20))
        );
        assert_eq!(on_expiry(&s, &node, 1120 * S), Expiry::Down);
        n.status = NodeStatus::Down;
        s.nodes.insert(node.clone(), Arc::new(n));
        assert_eq!(on_expiry(&s, &node, 1120 * S), Expiry::Nothing);
        assert_eq!(on_expiry(&s, &NodeId::from_u128(99), 0), Expiry::Nothing);
    }

    #[test]
    fn a_tracked_deadline_overrides_the_ttl() {
        let mut h = Heartbeats::new(config(), 3);
        let now = Instant::now();
        let n = NodeId::from_u128(1);
        h.beat(&n, now);
        h.track_until(&n, now + Duration::from_secs(3600));
        assert!(h.expired(now + Duration::from_secs(3599)).is_empty());
        assert_eq!(h.expired(now + Duration::from_secs(3600)), vec![n]);
    }
}

//! An in-process [`Transport`] connecting [`RaftHandle`]s, with the faults
//! tests need: partitions, isolated nodes and crashed (detached) nodes.
//!
//! Owns only routing and fault injection; delivery is immediate and never
//! blocks the sender (a full mailbox drops the message, as a lossy network
//! would, and Raft resends).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use raft::eraftpb::Message;

use super::Transport;
use super::node::RaftHandle;

#[derive(Debug, Default)]
struct Net {
    nodes: HashMap<u64, RaftHandle>,
    /// When set, messages only flow between nodes in the same group.
    groups: Option<Vec<HashSet<u64>>>,
    /// Addresses each node learned through `add_peer`.
    peers: HashMap<u64, BTreeMap<u64, String>>,
    dropped: u64,
    delivered: u64,
}

impl Net {
    fn connected(&self, a: u64, b: u64) -> bool {
        match &self.groups {
            None => true,
            Some(groups) => groups.iter().any(|g| g.contains(&a) && g.contains(&b)),
        }
    }
}

/// The network every in-process node shares. Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct MemoryNetwork {
    net: Arc<Mutex<Net>>,
}

impl MemoryNetwork {
    /// An empty network.
    pub fn new() -> MemoryNetwork {
        MemoryNetwork::default()
    }

    fn lock(&self) -> MutexGuard<'_, Net> {
        // A panic while holding the lock leaves plain maps behind; they are
        // still consistent enough to route with.
        self.net.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The transport node `id` sends through.
    pub fn transport(&self, id: u64) -> Arc<dyn Transport> {
        Arc::new(MemoryTransport {
            from: id,
            net: self.clone(),
        })
    }

    /// Connects a (re)started node: messages to `id` go to `handle`.
    pub fn attach(&self, id: u64, handle: RaftHandle) {
        self.lock().nodes.insert(id, handle);
    }

    /// Disconnects node `id` as if it crashed: messages to and from it are
    /// dropped until it is attached again.
    pub fn detach(&self, id: u64) {
        self.lock().nodes.remove(&id);
    }

    /// Splits the network in two: the nodes in `side` reach only each other,
    /// and every other node reaches only the rest.
    pub fn partition(&self, side: &[u64]) {
        let mut net = self.lock();
        let side: HashSet<u64> = side.iter().copied().collect();
        let mut rest: HashSet<u64> = net.nodes.keys().copied().collect();
        rest.extend(net.peers.keys().copied());
        for peers in net.peers.values() {
            rest.extend(peers.keys().copied());
        }
        rest.retain(|id| !side.contains(id));
        net.groups = Some(vec![side, rest]);
    }

    /// Cuts node `id` off from every other node.
    pub fn isolate(&self, id: u64) {
        self.partition(&[id]);
    }

    /// Removes every partition.
    pub fn heal(&self) {
        self.lock().groups = None;
    }

    /// The addresses node `id` learned from membership changes.
    pub fn peers_of(&self, id: u64) -> BTreeMap<u64, String> {
        self.lock().peers.get(&id).cloned().unwrap_or_default()
    }

    /// Messages delivered and dropped so far.
    pub fn counts(&self) -> (u64, u64) {
        let net = self.lock();
        (net.delivered, net.dropped)
    }
}

#[derive(Debug)]
struct MemoryTransport {
    from: u64,
    net: MemoryNetwork,
}

impl Transport for MemoryTransport {
    fn send(&self, msgs: Vec<Message>) {
        let mut net = self.net.lock();
        let sender_up = net.nodes.contains_key(&self.from);
        for m in msgs {
            let to = m.to;
            let delivered = sender_up
                && net.connected(self.from, to)
                && net.nodes.get(&to).is_some_and(|h| h.try_step(m).is_ok());
            if delivered {
                net.delivered += 1;
            } else {
                net.dropped += 1;
            }
        }
    }

    fn add_peer(&self, id: u64, addr: &str) {
        self.net
            .lock()
            .peers
            .entry(self.from)
            .or_default()
            .insert(id, addr.to_owned());
    }

    fn remove_peer(&self, id: u64) {
        if let Some(p) = self.net.lock().peers.get_mut(&self.from) {
            p.remove(&id);
        }
    }
}

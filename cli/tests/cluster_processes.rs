//! Three `sched agent -server` processes on the loopback address form one
//! cluster, as an operator would run them: `-bootstrap-expect 3` and `-join`
//! of each other's RPC addresses. The tests check what the processes answer
//! through the HTTP API while they are killed, restarted and stopped.
//!
//! In-process clusters are tested in the server crate; these run the real
//! binary, its flag handling, its data directory and its signal handling.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sched_api::{Client, QueryOptions};
use support::poll;

/// How long a fresh cluster may take to elect its first leader (three
/// debug-build processes starting on a busy two-core machine).
const FORM: Duration = Duration::from_secs(60);
/// How long a write may take to show up on another server.
const REPLICATE: Duration = Duration::from_secs(20);
/// The bound on electing a new leader after the old one dies.
const FAILOVER: Duration = Duration::from_secs(5);
/// How long a SIGTERMed agent may take to exit.
const EXIT: Duration = Duration::from_secs(30);

/// Ports this test process handed out already: the tests run in parallel,
/// and a port released by one may be the next one the kernel offers another.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A free loopback port (released before the agent binds it), never one
/// handed out before in this process.
fn free_port() -> u16 {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner());
    // Holding the listeners until the end keeps the kernel from offering
    // the same port twice in this loop.
    let mut held = Vec::new();
    for _ in 0..64 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("a bound address").port();
        if handed_out.insert(port) {
            return port;
        }
        held.push(listener);
    }
    panic!("no fresh loopback port in 64 tries");
}

/// One server agent: its ports and data directory outlive its process, so
/// it can be started again as the same server.
struct Agent {
    name: String,
    http: u16,
    rpc: u16,
    data_dir: PathBuf,
    log: PathBuf,
    join: Vec<String>,
    child: Option<Child>,
}

impl Agent {
    fn rpc_addr(&self) -> String {
        format!("127.0.0.1:{}", self.rpc)
    }

    fn client(&self) -> Client {
        Client::new(&format!("http://127.0.0.1:{}", self.http)).expect("a valid address")
    }

    /// Starts the process; its output is appended to its log file.
    fn start(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let err = log.try_clone().expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sched"));
        cmd.args(["agent", "-server", "-bootstrap-expect", "3"])
            .args(["-bind", "127.0.0.1", "-node", &self.name])
            .args(["-http-port", &self.http.to_string()])
            .args(["-rpc-port", &self.rpc.to_string()])
            .arg("-data-dir")
            .arg(&self.data_dir);
        for peer in &self.join {
            cmd.args(["-join", peer]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("sched runs");
        self.child = Some(child);
    }

    /// SIGKILLs the process and reaps it.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERMs the process and waits for it to exit.
    fn terminate(&mut self) -> ExitStatus {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        let mut child = self.child.take().expect("a running agent");
        let pid = i32::try_from(child.id()).expect("a pid fits in i32");
        kill(Pid::from_raw(pid), Signal::SIGTERM).expect("SIGTERM delivered");
        let name = self.name.clone();
        let waited = poll::within(EXIT, || match child.try_wait() {
            Ok(Some(status)) => Ok(status),
            Ok(None) => Err(format!("{name} still running")),
            Err(e) => Err(e.to_string()),
        });
        match waited {
            Ok(status) => status,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{name} did not exit on SIGTERM within {EXIT:?}: {e}");
            }
        }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Three server agents that join each other, in a temporary directory.
struct Cluster {
    agents: Vec<Agent>,
    rt: tokio::runtime::Runtime,
    // Dropped last: the agents are killed before their directories go.
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
        let rpc_addrs: Vec<String> = ports
            .iter()
            .map(|(_, rpc)| format!("127.0.0.1:{rpc}"))
            .collect();
        let agents = ports
            .iter()
            .enumerate()
            .map(|(i, (http, rpc))| {
                let name = format!("s{i}");
                let data_dir = dir.path().join(&name);
                std::fs::create_dir_all(&data_dir).expect("data dir");
                Agent {
                    log: dir.path().join(format!("{name}.log")),
                    name,
                    http: *http,
                    rpc: *rpc,
                    data_dir,
                    join: rpc_addrs
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, a)| a.clone())
                        .collect(),
                    child: None,
                }
            })
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut cluster = Cluster {
            agents,
            rt,
            _dir: dir,
        };
        for a in &mut cluster.agents {
            a.start();
        }
        cluster
    }

    /// The index of the leader every agent in `among` names, if they agree
    /// on one of themselves.
    fn agreed_leader(&mut self, among: &[usize]) -> Result<usize, String> {
        self.assert_running(among);
        let mut named = Vec::new();
        for &i in among {
            let leader = self
                .rt
                .block_on(self.agents[i].client().status_leader())
                .map_err(|e| format!("{}: {e}", self.agents[i].name))?;
            named.push(leader);
        }
        let first = &named[0];
        if first.is_empty() || named.iter().any(|l| l != first) {
            return Err(format!("leaders named: {named:?}"));
        }
        among
            .iter()
            .copied()
            .find(|&i| self.agents[i].rpc_addr() == *first)
            .ok_or_else(|| format!("{first} is none of the expected servers"))
    }

    /// Fails the test at once when an agent that should run has exited:
    /// no amount of waiting brings it back.
    fn assert_running(&mut self, among: &[usize]) {
        for &i in among {
            let agent = &mut self.agents[i];
            let exited = agent.child.as_mut().map(|c| c.try_wait());
            if let Some(Ok(Some(status))) = exited {
                panic!("{} exited with {status}", agent.name);
            }
        }
    }

    fn wait_leader(&mut self, among: &[usize], timeout: Duration) -> usize {
        poll::until("one leader all agree on", timeout, || {
            self.agreed_leader(among)
        })
    }

    /// Writes the variable `path` = {"v": value} through agent `i`.
    fn put(&self, i: usize, path: &str, value: &str) -> Result<(), String> {
        let items = BTreeMap::from([("v".to_string(), value.to_string())]);
        self.rt
            .block_on(self.agents[i].client().put_variable(path, &items, None))
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// Agent `i`'s own (stale) copy of the variable `path`.
    fn local(&self, i: usize, path: &str) -> Result<String, String> {
        let q = QueryOptions {
            stale: true,
            ..Default::default()
        };
        let (var, _) = self
            .rt
            .block_on(self.agents[i].client().variable(path, &q))
            .map_err(|e| format!("{}: {e}", self.agents[i].name))?;
        var.items
            .get("v")
            .cloned()
            .ok_or_else(|| format!("{path} has no item v"))
    }

    /// Waits until every agent in `among` holds every write in `writes`.
    fn wait_replicated(&self, among: &[usize], writes: &[(String, String)]) {
        poll::until("the writes on every server", REPLICATE, || {
            for &i in among {
                for (path, value) in writes {
                    let got = self.local(i, path)?;
                    if got != *value {
                        return Err(format!("{} has {path}={got}", self.agents[i].name));
                    }
                }
            }
            Ok(())
        });
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for a in &mut self.agents {
            a.kill();
        }
        if std::thread::panicking() {
            for a in &self.agents {
                let logs = a.logs();
                let tail: Vec<&str> = logs.lines().rev().take(40).collect();
                eprintln!("--- last lines of {} ---", a.name);
                for line in tail.iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
    }
}

fn others(of: usize) -> Vec<usize> {
    (0..3).filter(|&i| i != of).collect()
}

#[test]
fn three_processes_elect_one_leader_survive_its_death_and_take_it_back() {
    let mut cluster = Cluster::start();
    let leader = cluster.wait_leader(&[0, 1, 2], FORM);
    let follower = others(leader)[0];

    // A write through a follower is forwarded to the leader and reaches
    // every server.
    let mut acked = Vec::new();
    for n in 0..3 {
        let (path, value) = (format!("cluster/before/{n}"), format!("value-{n}"));
        cluster
            .put(follower, &path, &value)
            .expect("follower write");
        acked.push((path, value));
    }
    cluster.wait_replicated(&[0, 1, 2], &acked);

    // The leader dies without warning: the other two elect a new one.
    let killed_at = Instant::now();
    cluster.agents[leader].kill();
    let survivors = others(leader);
    let new_leader = cluster.wait_leader(&survivors, FAILOVER * 2);
    let failover = killed_at.elapsed();
    eprintln!("a new leader {failover:?} after the leader was killed");
    assert!(
        failover < FAILOVER,
        "a new leader took {failover:?} after the leader was killed"
    );
    assert_ne!(new_leader, leader);

    // Every acknowledged write survived, and the two accept new ones.
    cluster.wait_replicated(&survivors, &acked);
    for &i in &survivors {
        let (path, value) = (format!("cluster/during/{i}"), format!("via-{i}"));
        cluster
            .put(i, &path, &value)
            .expect("write without the old leader");
        acked.push((path, value));
    }
    cluster.wait_replicated(&survivors, &acked);

    // Restarted on its data directory and ports, the old leader rejoins,
    // follows the new one and catches up with what it missed.
    cluster.agents[leader].start();
    let agreed = cluster.wait_leader(&[0, 1, 2], FORM);
    assert!(survivors.contains(&agreed), "the rejoined server leads");
    cluster.wait_replicated(&[0, 1, 2], &acked);
    let peers = cluster
        .rt
        .block_on(cluster.agents[leader].client().status_peers())
        .expect("peers");
    let mut want: Vec<String> = cluster.agents.iter().map(Agent::rpc_addr).collect();
    let mut got = peers.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want, "the rejoined server knows all three peers");
}

#[test]
fn three_processes_stopped_with_sigterm_start_again_with_their_state() {
    let mut cluster = Cluster::start();
    let leader = cluster.wait_leader(&[0, 1, 2], FORM);
    let mut acked = Vec::new();
    for i in 0..3 {
        let (path, value) = (format!("cluster/restart/{i}"), format!("kept-{i}"));
        cluster.put(i, &path, &value).expect("write");
        acked.push((path, value));
    }
    cluster.wait_replicated(&[0, 1, 2], &acked);

    // Followers first, then the leader: every one exits cleanly.
    let mut order = others(leader);
    order.push(leader);
    for i in order {
        let asked = Instant::now();
        let status = cluster.agents[i].terminate();
        eprintln!(
            "{} exited {:?} after SIGTERM",
            cluster.agents[i].name,
            asked.elapsed()
        );
        assert_eq!(
            status.code(),
            Some(0),
            "{} exited with {status}",
            cluster.agents[i].name
        );
    }

    for a in &mut cluster.agents {
        a.start();
    }
    let restarted = Instant::now();
    cluster.wait_leader(&[0, 1, 2], FORM);
    eprintln!("a leader {:?} after the restart", restarted.elapsed());
    cluster.wait_replicated(&[0, 1, 2], &acked);
    // And the restarted cluster still commits.
    cluster
        .put(0, "cluster/restart/after", "new")
        .expect("write after the restart");
    cluster.wait_replicated(
        &[0, 1, 2],
        &[("cluster/restart/after".into(), "new".into())],
    );
}

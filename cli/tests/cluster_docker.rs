//! Three `sched agent -server` containers on a private Docker network, each
//! advertising its container address to the others, survive what a real
//! network does to them: a server cut off the network, and a server killed
//! and started again.
//!
//! Raft traffic runs on the cluster network, the one the tests cut. The host
//! asks each server's HTTP API over a second, internal control network, so a
//! server cut off the cluster can still be asked to write.
//!
//! Skipped, with the reason printed, only when no Docker engine answers (a
//! failure instead when `SCHED_REQUIRE_DOCKER` is set, as in CI).

mod support;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use sched_api::{Client, Error as ApiError, QueryOptions};
use support::docker_cluster::{DockerCluster, NodeSpec, SchedImage, skip_without_docker};
use support::poll;

/// The servers' names and host numbers on both networks.
const SERVERS: [(&str, u8); 3] = [("s0", 10), ("s1", 11), ("s2", 12)];
const RPC_PORT: u16 = 4647;
const HTTP_PORT: u16 = 4646;
/// How long three fresh containers may take to elect their first leader.
const FORM: Duration = Duration::from_secs(60);
/// How long the majority may take to elect a new leader once it lost its old one.
const REELECT: Duration = Duration::from_secs(30);
/// How long a write may take to reach another server.
const REPLICATE: Duration = Duration::from_secs(30);
/// The longest a write to a server cut off its cluster may take to fail.
const CUT_OFF_WRITE: Duration = Duration::from_secs(30);
/// How long one HTTP call from the host may take before the test gives up on it.
const CALL: Duration = Duration::from_secs(15);

fn image() -> Option<SchedImage> {
    if skip_without_docker() {
        return None;
    }
    let binary = support::docker_cluster::sched_binary().expect("the sched binary");
    Some(SchedImage::for_binary(&binary).expect("the image builds"))
}

/// The three servers, their HTTP clients over the control network, and
/// the config files mounted into them.
struct Servers {
    docker: DockerCluster,
    clients: Vec<Client>,
    rpc_addrs: Vec<String>,
    rt: tokio::runtime::Runtime,
    _config_dir: tempfile::TempDir,
}

impl Servers {
    fn start(image: &SchedImage) -> Servers {
        let mut docker = DockerCluster::with_control_network(image).expect("networks");
        let config_dir = tempfile::tempdir().expect("temp dir");
        let ips: Vec<Ipv4Addr> = SERVERS.iter().map(|(_, h)| docker.ip(*h)).collect();
        let rpc_addrs: Vec<String> = ips.iter().map(|ip| format!("{ip}:{RPC_PORT}")).collect();
        let mut clients = Vec::new();
        for (i, (name, host)) in SERVERS.iter().enumerate() {
            // Bound to 0.0.0.0, a server must be told which address its
            // peers dial: its address on the cluster network.
            let config = config_dir.path().join(format!("{name}.hcl"));
            std::fs::write(
                &config,
                format!(
                    "advertise {{\n  rpc  = \"{ip}\"\n  http = \"{ip}\"\n}}\n",
                    ip = ips[i]
                ),
            )
            .expect("config file");
            let mut args: Vec<String> = [
                "agent",
                "-server",
                "-bootstrap-expect",
                "3",
                "-bind",
                "0.0.0.0",
                "-data-dir",
                "/tmp/data",
                "-node",
                name,
                "-config",
                "/etc/sched/advertise.hcl",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            for (j, addr) in rpc_addrs.iter().enumerate() {
                if j != i {
                    args.push("-join".into());
                    args.push(addr.clone());
                }
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            docker
                .start(&NodeSpec {
                    mounts: vec![(config, "/etc/sched/advertise.hcl".into())],
                    ..NodeSpec::new(name, *host, &args)
                })
                .expect("container starts");
            let control = docker.control_ip(*host).expect("a control network");
            clients.push(
                Client::new(&format!("http://{control}:{HTTP_PORT}")).expect("a valid address"),
            );
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Servers {
            docker,
            clients,
            rpc_addrs,
            rt,
            _config_dir: config_dir,
        }
    }

    fn name(i: usize) -> &'static str {
        SERVERS[i].0
    }

    /// Runs `f` to completion, or answers `None` once `limit` passed.
    fn block<T>(&self, limit: Duration, f: impl Future<Output = T>) -> Option<T> {
        self.rt
            .block_on(async { tokio::time::timeout(limit, f).await })
            .ok()
    }

    /// Runs one HTTP call with the test's own deadline over the client's.
    fn call<T>(&self, i: usize, f: impl Future<Output = Result<T, ApiError>>) -> Result<T, String> {
        match self.block(CALL, f).ok_or(()) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(format!("{}: {e}", Self::name(i))),
            Err(_) => Err(format!("{}: no answer within {CALL:?}", Self::name(i))),
        }
    }

    /// The server every one in `among` names as leader, if they agree on
    /// one of themselves.
    fn agreed_leader(&self, among: &[usize]) -> Result<usize, String> {
        let mut named = Vec::new();
        for &i in among {
            named.push(self.call(i, self.clients[i].status_leader())?);
        }
        let first = &named[0];
        if first.is_empty() || named.iter().any(|l| l != first) {
            return Err(format!("leaders named: {named:?}"));
        }
        among
            .iter()
            .copied()
            .find(|&i| self.rpc_addrs[i] == *first)
            .ok_or_else(|| format!("{first} is none of {among:?}"))
    }

    fn wait_leader(&self, among: &[usize], timeout: Duration) -> usize {
        poll::until("one leader all agree on", timeout, || {
            self.agreed_leader(among)
        })
    }

    fn put(&self, i: usize, path: &str, value: &str) -> Result<(), String> {
        let items = BTreeMap::from([("v".to_string(), value.to_string())]);
        self.call(i, self.clients[i].put_variable(path, &items, None))
            .map(drop)
    }

    /// Server `i`'s own (stale) copy of `path`: `None` when it has none.
    fn local(&self, i: usize, path: &str) -> Result<Option<String>, String> {
        let q = QueryOptions {
            stale: true,
            ..Default::default()
        };
        match self
            .block(CALL, self.clients[i].variable(path, &q))
            .ok_or(())
        {
            Ok(Ok((var, _))) => Ok(var.items.get("v").cloned()),
            Ok(Err(e)) if e.status() == Some(404) => Ok(None),
            Ok(Err(e)) => Err(format!("{}: {e}", Self::name(i))),
            Err(_) => Err(format!("{}: no answer within {CALL:?}", Self::name(i))),
        }
    }

    fn wait_replicated(&self, among: &[usize], writes: &[(String, String)]) {
        poll::until("the writes on every server", REPLICATE, || {
            for &i in among {
                for (path, value) in writes {
                    match self.local(i, path)? {
                        Some(got) if got == *value => {}
                        got => return Err(format!("{} has {path}={got:?}", Self::name(i))),
                    }
                }
            }
            Ok(())
        });
    }

    /// Writes one variable through each server in `via`, waits for all of
    /// `among` to hold them and adds them to `acked`.
    fn write_through(
        &self,
        via: &[usize],
        among: &[usize],
        tag: &str,
        acked: &mut Vec<(String, String)>,
    ) {
        for &i in via {
            let (path, value) = (format!("docker/{tag}/{i}"), format!("{tag}-{i}"));
            self.put(i, &path, &value)
                .unwrap_or_else(|e| panic!("write through {}: {e}", Self::name(i)));
            acked.push((path, value));
        }
        self.wait_replicated(among, acked);
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for (name, _) in SERVERS {
                let logs = self.docker.logs(name).unwrap_or_else(|e| e.to_string());
                let tail: Vec<&str> = logs.lines().rev().take(40).collect();
                eprintln!("--- last lines of {name} ---");
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
fn a_leader_cut_off_the_network_is_replaced_and_catches_up_when_back() {
    let Some(image) = image() else { return };
    let servers = Servers::start(&image);
    let all = [0, 1, 2];
    let leader = servers.wait_leader(&all, FORM);
    // Every server knows its peers by the addresses they advertise on the
    // cluster network, not by the 0.0.0.0 they bind.
    let mut want = servers.rpc_addrs.clone();
    want.sort();
    poll::until("every server listing its peers", REPLICATE, || {
        for i in all {
            let mut peers = servers.call(i, servers.clients[i].status_peers())?;
            peers.sort();
            if peers != want {
                return Err(format!("{} lists {peers:?}", Servers::name(i)));
            }
        }
        Ok(())
    });
    let mut acked = Vec::new();
    servers.write_through(&all, &all, "formed", &mut acked);

    // Cut the leader off: the two others are a majority and carry on.
    servers
        .docker
        .disconnect(Servers::name(leader))
        .expect("disconnect");
    let majority = others(leader);
    let new_leader = servers.wait_leader(&majority, REELECT);
    assert_ne!(new_leader, leader);
    servers.write_through(&majority, &majority, "split", &mut acked);

    // The one cut off cannot commit: a write to it fails with an HTTP
    // error within the deadline, rather than hanging or succeeding.
    let started = Instant::now();
    let items = BTreeMap::from([("v".to_string(), "lost".to_string())]);
    let cut_off = servers
        .block(
            CUT_OFF_WRITE,
            servers.clients[leader].put_variable("docker/cut-off", &items, None),
        )
        .ok_or(());
    let took = started.elapsed();
    match cut_off {
        Ok(Err(ApiError::Api { status, message })) => {
            eprintln!("the cut-off server refused a write after {took:?}: {status} {message}");
            assert!(status >= 500, "status {status}: {message}");
            assert!(!message.is_empty(), "the error says why");
        }
        Ok(other) => panic!("a write to the cut-off server answered {other:?}"),
        Err(_) => panic!("a write to the cut-off server hung for {took:?}"),
    }

    // Back on the network, it follows the majority's leader and holds every
    // write it missed; the write it refused was never committed anywhere.
    servers
        .docker
        .connect(Servers::name(leader))
        .expect("connect");
    let agreed = servers.wait_leader(&all, REELECT);
    assert!(majority.contains(&agreed), "the majority's leader stays");
    servers.wait_replicated(&all, &acked);
    for i in all {
        assert_eq!(
            servers.local(i, "docker/cut-off").expect("read"),
            None,
            "{} holds the refused write",
            Servers::name(i)
        );
    }
    servers.write_through(&all, &all, "healed", &mut acked);
}

#[test]
fn a_killed_follower_restarts_and_catches_up() {
    let Some(image) = image() else { return };
    let servers = Servers::start(&image);
    let all = [0, 1, 2];
    let leader = servers.wait_leader(&all, FORM);
    let mut acked = Vec::new();
    servers.write_through(&all, &all, "before", &mut acked);

    let follower = others(leader)[0];
    let name = Servers::name(follower);
    servers.docker.kill(name).expect("kill");
    assert_eq!(
        servers.docker.wait_exit(name, CALL).expect("exits"),
        137,
        "SIGKILL"
    );
    let rest = others(follower);
    servers.write_through(&rest, &rest, "while-down", &mut acked);

    // Started again on the same container, data directory and addresses.
    servers.docker.restart(name).expect("start again");
    servers.wait_leader(&all, FORM);
    servers.wait_replicated(&all, &acked);
    servers.write_through(&all, &all, "after", &mut acked);
}

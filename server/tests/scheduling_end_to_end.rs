//! The scheduling machinery end to end: the real eval broker, blocked
//! evals, workers and plan applier against the real FSM and state (commands
//! applied directly, without Raft), driven only by applying commands the way
//! the HTTP API and clients would.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use sched_core::model::{Allocation, EvalId, EvalStatus, Evaluation, Job, Node, Plan};
use sched_scheduler::harness::node_fits;
use sched_scheduler::mock;
use sched_server::fsm::{Command, Fsm};
use sched_server::raft::{MemoryNetwork, RaftConfig, RaftHandle, SledStorage};
use sched_server::scheduling::broker::BrokerConfig;
use sched_server::scheduling::broker::Clock;
use sched_server::scheduling::local_cluster::LocalCluster;
use sched_server::scheduling::raft_cluster::RaftCluster;
use sched_server::scheduling::worker::WorkerConfig;
use sched_server::scheduling::{Cluster, ClusterError, Scheduling, SchedulingConfig};
use sched_server::state::StateSnapshot;
use tokio::sync::watch;

const DEADLINE: Duration = Duration::from_secs(60);

/// A leader's scheduling machinery over a fresh state in a temp dir.
struct Env {
    rt: tokio::runtime::Runtime,
    cluster: Arc<dyn Cluster>,
    raft: Option<RaftHandle>,
    scheduling: Option<Scheduling>,
    shutdown: watch::Sender<bool>,
    leader: watch::Sender<bool>,
    _dir: tempfile::TempDir,
    now: Arc<AtomicI64>,
}

impl Env {
    fn start(worker: WorkerConfig) -> Env {
        Env::start_leading(worker, true)
    }

    fn start_leading(worker: WorkerConfig, leading: bool) -> Env {
        Env::start_with(
            SchedulingConfig {
                worker,
                ..SchedulingConfig::default()
            },
            leading,
        )
    }

    fn start_with(config: SchedulingConfig, leading: bool) -> Env {
        Env::assemble(config, Some(leading))
    }

    /// A single server whose commands go through its own Raft node (on the
    /// same sled database as the state); it leads once elected.
    fn start_raft(worker: WorkerConfig) -> Env {
        Env::assemble(
            SchedulingConfig {
                worker,
                ..SchedulingConfig::default()
            },
            None,
        )
    }

    /// `leading`: a fixed leadership over a local cluster; `None`: Raft's.
    fn assemble(config: SchedulingConfig, leading: Option<bool>) -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = sled::open(dir.path().join("state")).expect("sled");
        let (fsm, reader) = Fsm::open(&db).expect("fsm");
        let now = Arc::new(AtomicI64::new(1_700_000_000_000_000_000));
        let clock = {
            let now = now.clone();
            Clock::new(move || now.load(Ordering::SeqCst))
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (leader, leader_rx) = watch::channel(leading.unwrap_or(false));
        let _guard = rt.enter();
        let (cluster, raft, leader_rx): (Arc<dyn Cluster>, _, _) = match leading {
            Some(_) => (
                Arc::new(LocalCluster::new(Box::new(fsm), reader, clock)),
                None,
                leader_rx,
            ),
            None => {
                let mut storage = SledStorage::open(&db).expect("raft storage");
                storage.initialize(&[1]).expect("bootstrap");
                let net = MemoryNetwork::new();
                let handle = sched_server::raft::spawn(
                    RaftConfig::new(1),
                    storage,
                    Box::new(fsm),
                    net.transport(1),
                )
                .expect("raft node");
                net.attach(1, handle.clone());
                rt.block_on(handle.campaign()).expect("campaign");
                let cluster = RaftCluster::new(handle.clone(), reader, clock);
                let leads = cluster.leadership();
                (Arc::new(cluster), Some(handle), leads)
            }
        };
        let scheduling = Scheduling::start(cluster.clone(), config, leader_rx, shutdown_rx);
        drop(_guard);
        Env {
            rt,
            cluster,
            raft,
            scheduling: Some(scheduling),
            shutdown,
            leader,
            _dir: dir,
            now,
        }
    }

    fn workers(n: usize, seed: u64) -> WorkerConfig {
        let mut w = WorkerConfig {
            workers: n,
            ..WorkerConfig::default()
        };
        w.scheduler.seed = seed;
        w
    }

    fn apply(&self, cmd: Command) -> u64 {
        let deadline = Instant::now() + DEADLINE;
        let resp = loop {
            match self.rt.block_on(self.cluster.apply(cmd.clone())) {
                Ok(resp) => break resp,
                // A single Raft node may still be electing itself.
                Err(ClusterError::NotLeader) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("command not applied: {e}"),
            }
        };
        assert_eq!(resp.error, None, "command refused");
        resp.index
    }

    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    fn register_node(&self, node: Node) -> u64 {
        self.apply(Command::NodeRegister {
            node: Box::new(node),
            evals: Vec::new(),
            now: self.now(),
        })
    }

    fn register_job(&self, mut job: Job) -> EvalId {
        job.canonicalize();
        let eval = Evaluation {
            id: EvalId::generate(),
            namespace: job.namespace.clone().unwrap_or_default(),
            priority: job.priority.unwrap_or(50),
            r#type: job.r#type.clone().unwrap_or_default(),
            triggered_by: "job-register".to_owned(),
            job_id: job.id.clone().unwrap_or_default(),
            status: EvalStatus::Pending,
            create_time: self.now(),
            modify_time: self.now(),
            ..Default::default()
        };
        let id = eval.id.clone();
        self.apply(Command::JobRegister {
            job: Box::new(job),
            eval: Some(eval),
            submission: None,
            now: self.now(),
        });
        id
    }

    fn state(&self) -> StateSnapshot {
        self.cluster.state().snapshot()
    }

    /// Polls `cond` on the latest state until it holds or the deadline.
    fn wait_for(&self, what: &str, cond: impl Fn(&StateSnapshot) -> bool) {
        let deadline = Instant::now() + DEADLINE;
        let reader = self.cluster.state();
        loop {
            let s = reader.snapshot();
            if cond(&s) {
                return;
            }
            if Instant::now() >= deadline {
                let evals: Vec<_> = s
                    .evals("")
                    .iter()
                    .map(|e| (e.job_id.clone(), e.status, e.triggered_by.clone()))
                    .collect();
                let sched = self.scheduling.as_ref().expect("running");
                panic!(
                    "timed out waiting for {what}: evals {evals:?}, broker {:?}, blocked {:?}",
                    sched.broker.stats(),
                    sched.blocked.stats()
                );
            }
            let index = s.index();
            self.rt.block_on(async {
                let _ = tokio::time::timeout(
                    Duration::from_millis(50),
                    reader.wait_for_index(index + 1, Duration::from_millis(50)),
                )
                .await;
            });
        }
    }

    /// Waits until the broker holds nothing and no eval is pending.
    fn wait_idle(&self) {
        let sched = self.scheduling.as_ref().expect("running");
        let deadline = Instant::now() + DEADLINE;
        loop {
            let stats = sched.broker.stats();
            let s = self.state();
            let pending = s.evals("").iter().any(|e| e.status == EvalStatus::Pending);
            if stats.ready + stats.unacked + stats.pending + stats.delayed == 0 && !pending {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for the broker: {stats:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(s) = self.scheduling.take() {
            self.rt.block_on(s.join(Duration::from_secs(10)));
        }
        if let Some(raft) = self.raft.take() {
            self.rt.block_on(raft.shutdown());
        }
    }
}

fn live_allocs(s: &StateSnapshot, job: &str) -> Vec<Arc<Allocation>> {
    s.allocs_by_job("default", job)
        .into_iter()
        .filter(|a| !a.is_terminal())
        .collect()
}

/// Every node's live allocations fit it.
fn assert_no_overcommit(s: &StateSnapshot) {
    for node in s.nodes("") {
        let allocs = s.allocs_by_node(&node.id);
        let live: Vec<&Allocation> = allocs
            .iter()
            .map(|a| a.as_ref())
            .filter(|a| !a.is_terminal())
            .collect();
        if let Err(e) = node_fits(&node, &live) {
            panic!("node {} overcommitted: {e}", node.name);
        }
    }
}

#[test]
fn a_job_of_ten_is_placed_in_full_without_overcommitting() {
    let env = Env::start(Env::workers(2, 1));
    for n in 1..=4 {
        env.register_node(mock::node(n));
    }
    let eval = env.register_job(mock::service_job("web", 10, 1000, 1024));
    env.wait_for("10 allocations", |s| live_allocs(s, "web").len() == 10);
    env.wait_for("the eval to complete", |s| {
        s.eval(&eval)
            .is_some_and(|e| e.status == EvalStatus::Complete)
    });
    let s = env.state();
    assert_no_overcommit(&s);
    let allocs = live_allocs(&s, "web");
    assert!(
        allocs.iter().all(|a| a.job.is_some()),
        "allocs share the job"
    );
    let mut names: Vec<&str> = allocs.iter().map(|a| a.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 10, "ten distinct alloc names");
}

#[test]
fn workers_racing_on_tight_capacity_never_overcommit() {
    for seed in 1..=6u64 {
        let env = Env::start(Env::workers(2, seed));
        let mut rng = fastrand::Rng::with_seed(seed);
        let nodes = rng.usize(2..=5);
        for n in 1..=nodes {
            env.register_node(mock::node_sized(n as u128, rng.i64(1500..=4000), 4096));
        }
        // Two jobs each asking for most of the cluster, registered together
        // so both workers plan on the same free capacity.
        let ask = rng.i64(400..=900);
        let count = (nodes as i64 * 4000 / ask).max(2);
        env.register_job(mock::service_job("a", count, ask, 256));
        env.register_job(mock::service_job("b", count, ask, 256));
        env.wait_idle();
        let s = env.state();
        assert_no_overcommit(&s);
        let placed = live_allocs(&s, "a").len() + live_allocs(&s, "b").len();
        assert!(placed > 0, "seed {seed}: something was placed");
        for job in ["a", "b"] {
            let evals = s.evals_by_job("default", job);
            assert!(
                evals.iter().all(|e| e.status != EvalStatus::Pending),
                "seed {seed}: {job}'s evals all processed"
            );
            if (live_allocs(&s, job).len() as i64) < count {
                assert!(
                    evals.iter().any(|e| e.status == EvalStatus::Blocked),
                    "seed {seed}: {job} short of its count waits in a blocked eval"
                );
            }
        }
    }
}

#[test]
fn a_job_that_does_not_fit_is_placed_once_a_node_registers() {
    let env = Env::start(Env::workers(1, 7));
    env.register_node(mock::node_sized(1, 1000, 2048));
    env.register_job(mock::service_job("big", 3, 1500, 1024));
    env.wait_for("a blocked eval", |s| {
        s.evals_by_job("default", "big")
            .iter()
            .any(|e| e.status == EvalStatus::Blocked)
    });
    env.wait_idle();
    assert!(live_allocs(&env.state(), "big").is_empty());
    env.register_node(mock::node_sized(2, 4000, 8192));
    env.register_node(mock::node_sized(3, 4000, 8192));
    env.wait_for("all three placed", |s| live_allocs(s, "big").len() == 3);
    env.wait_idle();
    let s = env.state();
    assert_no_overcommit(&s);
    let evals = s.evals_by_job("default", "big");
    assert!(
        evals.iter().all(|e| e.status.is_terminal()),
        "no eval left blocked: {:?}",
        evals.iter().map(|e| e.status).collect::<Vec<_>>()
    );
}

#[test]
fn the_applier_commits_what_fits_and_asks_for_a_refresh() {
    // No worker takes evals: the test holds the eval's delivery itself.
    let env = Env::start(WorkerConfig {
        workers: 1,
        types: Vec::new(),
        ..WorkerConfig::default()
    });
    let (a, b) = (
        mock::node_sized(1, 2000, 4096),
        mock::node_sized(2, 2000, 4096),
    );
    env.register_node(a.clone());
    env.register_node(b.clone());
    let mut job = mock::service_job("web", 3, 1500, 256);
    job.canonicalize();
    let eval_id = env.register_job(job.clone());
    let sched = env.scheduling.as_ref().expect("running");
    let deadline = Instant::now() + DEADLINE;
    let (eval, token) = loop {
        if let Some(got) = sched.broker.try_dequeue(&["service".to_owned()]) {
            break got;
        }
        assert!(
            Instant::now() < deadline,
            "the eval never reached the broker"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(eval.id, eval_id);
    let s = env.state();
    let stored = s.job("default", "web").expect("job");
    let mut plan = Plan {
        eval_id: eval.id.clone(),
        eval_token: token.clone(),
        priority: 50,
        job: Some(stored.clone()),
        snapshot_index: s.index(),
        ..Default::default()
    };
    // Two 1500 MHz allocs on a 2000 MHz node do not fit; one on b does.
    for (i, node) in [(1u64, &a), (2, &a), (3, &b)] {
        let mut alloc = mock::alloc(&stored, node, i);
        alloc.client_status = sched_core::model::ClientStatus::Pending;
        plan.node_allocation
            .entry(node.id.clone())
            .or_default()
            .push(alloc);
    }
    let result = env
        .rt
        .block_on(sched.plans.submit(plan.clone(), Duration::from_secs(30)))
        .expect("applied");
    assert_ne!(result.refresh_index, 0, "a refused node asks for a refresh");
    assert!(result.alloc_index > s.index());
    assert_eq!(
        result.node_allocation.keys().collect::<Vec<_>>(),
        vec![&b.id]
    );
    let after = env.state();
    assert_eq!(live_allocs(&after, "web").len(), 1);
    assert_no_overcommit(&after);

    // A plan with a stale token is refused whole.
    plan.eval_token = "stale".to_owned();
    let refused = env
        .rt
        .block_on(sched.plans.submit(plan, Duration::from_secs(30)));
    assert!(refused.is_err());
    sched.broker.ack(&eval.id, &token).expect("ack");
}

#[test]
fn only_the_leader_schedules_and_a_new_leader_picks_up_pending_evals() {
    let env = Env::start_leading(Env::workers(2, 3), false);
    env.register_node(mock::node(1));
    let eval = env.register_job(mock::service_job("web", 2, 500, 256));
    let sched = env.scheduling.as_ref().expect("running");
    // A follower's broker takes nothing; give the tasks a moment to prove it
    // by waiting on something that must not happen.
    let reader = env.cluster.state();
    let index = reader.snapshot().index();
    let later = env
        .rt
        .block_on(reader.wait_for_index(index + 1, Duration::from_millis(300)));
    assert_eq!(later.index(), index, "nothing was written while following");
    assert!(!sched.broker.enabled());
    assert!(live_allocs(&later, "web").is_empty());

    env.leader.send(true).expect("leader task listening");
    env.wait_for("the pending eval placed after taking over", |s| {
        live_allocs(s, "web").len() == 2
            && s.eval(&eval)
                .is_some_and(|e| e.status == EvalStatus::Complete)
    });

    env.leader.send(false).expect("leader task listening");
    let deadline = Instant::now() + DEADLINE;
    while sched.broker.enabled() {
        assert!(
            Instant::now() < deadline,
            "broker still enabled after stepping down"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_no_overcommit(&env.state());
}

#[test]
fn an_eval_past_its_delivery_limit_is_marked_failed_with_a_follow_up() {
    // No worker takes evals: the test plays a worker that keeps failing.
    let env = Env::start_with(
        SchedulingConfig {
            broker: BrokerConfig {
                delivery_limit: 2,
                initial_nack_delay: Duration::ZERO,
                ..BrokerConfig::default()
            },
            worker: WorkerConfig {
                workers: 1,
                types: Vec::new(),
                ..WorkerConfig::default()
            },
            ..SchedulingConfig::default()
        },
        true,
    );
    env.register_node(mock::node(1));
    let eval_id = env.register_job(mock::service_job("web", 1, 100, 128));
    let sched = env.scheduling.as_ref().expect("running");
    for delivery in 1..=2 {
        let deadline = Instant::now() + DEADLINE;
        let (eval, token) = loop {
            if let Some(got) = sched.broker.try_dequeue(&["service".to_owned()]) {
                break got;
            }
            assert!(Instant::now() < deadline, "delivery {delivery} never came");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(eval.id, eval_id);
        sched.broker.nack(&eval.id, &token).expect("nack");
    }
    env.wait_for("the eval marked failed", |s| {
        s.eval(&eval_id)
            .is_some_and(|e| e.status == EvalStatus::Failed && e.next_eval.is_some())
    });
    let s = env.state();
    let failed = s.eval(&eval_id).expect("eval");
    let follow = s
        .eval(failed.next_eval.as_ref().expect("follow-up"))
        .expect("follow-up stored");
    assert_eq!(follow.status, EvalStatus::Pending);
    assert_eq!(follow.previous_eval.as_ref(), Some(&eval_id));
    assert!(
        follow.wait_until.is_some(),
        "the follow-up waits before retrying"
    );
    let deadline = Instant::now() + DEADLINE;
    while sched.broker.stats().delayed != 1 {
        assert!(
            Instant::now() < deadline,
            "the follow-up never waited in the broker: {:?}",
            sched.broker.stats()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        sched.broker.try_dequeue(&["service".to_owned()]).is_none(),
        "not before its time"
    );
}

#[test]
fn a_single_raft_server_schedules_through_its_log() {
    let env = Env::start_raft(Env::workers(2, 11));
    for n in 1..=3 {
        env.register_node(mock::node(n));
    }
    let eval = env.register_job(mock::service_job("web", 10, 1000, 1024));
    env.wait_for("10 allocations committed through Raft", |s| {
        live_allocs(s, "web").len() == 10
            && s.eval(&eval)
                .is_some_and(|e| e.status == EvalStatus::Complete)
    });
    assert_no_overcommit(&env.state());
}

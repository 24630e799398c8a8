//! `http`: the HTTP API layer's cost, served on a loopback port over the
//! in-process test backend (no Raft, no sled), so the figures are routing,
//! JSON and the state reads of the API itself, not consensus.
//!
//! Figures: GET of one job per second with 8 concurrent clients, the
//! latency of listing 1,000 jobs, job registrations per second (each one
//! canonicalized, validated and turned into a command with its
//! evaluation), and the delay from a write to the answer of a blocking
//! query waiting on it.

use std::time::{Duration, Instant};

use sched_scheduler::mock;
use sched_server::http::{HttpLimits, TestBackend, router, serve};

use crate::figure;

const CLIENTS: usize = 8;
const GETS_PER_CLIENT: usize = 2_500;
const LIST_JOBS: usize = 1_000;
const LIST_ROUNDS: usize = 50;
const REGISTERS: usize = 2_000;
const WAKES: usize = 100;

/// Runs the benchmark and prints its figures.
pub fn run() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(measure())
}

async fn measure() -> anyhow::Result<()> {
    let backend = TestBackend::new(1_700_000_000_000_000_000);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        router(backend.clone(), HttpLimits::default()),
        async move {
            let _ = stopped.await;
        },
    ));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;

    // Registrations, one after another.
    let start = Instant::now();
    for i in 0..REGISTERS {
        let job = mock::service_job(&format!("job-{i:05}"), 1, 100, 128);
        let resp = http
            .put(format!("{base}/v1/jobs"))
            .body(serde_json::to_vec(&serde_json::json!({"Job": job}))?)
            .send()
            .await?;
        anyhow::ensure!(
            resp.status().is_success(),
            "register answered {}",
            resp.status()
        );
    }
    figure(
        "http",
        "register_rate",
        REGISTERS as f64 / start.elapsed().as_secs_f64(),
        "req/s",
    );

    // One job read by concurrent clients.
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let http = http.clone();
        let url = format!("{base}/v1/job/job-00001");
        tasks.push(tokio::spawn(async move {
            for _ in 0..GETS_PER_CLIENT {
                let r = http.get(&url).send().await?;
                anyhow::ensure!(r.status().is_success(), "get answered {}", r.status());
                r.bytes().await?;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let n = (CLIENTS * GETS_PER_CLIENT) as f64;
    figure(
        "http",
        "get_job_rate",
        n / start.elapsed().as_secs_f64(),
        "req/s",
    );

    // Listing 1,000 job stubs (the first 1,000 of the registered ones).
    let prefix_url = format!("{base}/v1/jobs?prefix=job-00");
    let mut total = Duration::ZERO;
    let mut listed = 0;
    for _ in 0..LIST_ROUNDS {
        let start = Instant::now();
        let body = http.get(&prefix_url).send().await?.bytes().await?;
        total += start.elapsed();
        let v: serde_json::Value = serde_json::from_slice(&body)?;
        listed = v.as_array().map_or(0, Vec::len);
    }
    anyhow::ensure!(
        listed == LIST_JOBS,
        "listed {listed} jobs, expected {LIST_JOBS}"
    );
    figure(
        "http",
        "list_1000_jobs_latency",
        total.as_secs_f64() * 1000.0 / LIST_ROUNDS as f64,
        "ms",
    );

    // Blocking query wake-up: a write, then the time until the waiting
    // query answers.
    let mut delays = Vec::with_capacity(WAKES);
    for i in 0..WAKES {
        let index = backend.snapshot().index();
        let url = format!("{base}/v1/jobs?index={index}&wait=30s&prefix=wake-");
        let waiter = {
            let http = http.clone();
            tokio::spawn(async move {
                let r = http.get(&url).send().await?;
                let done = Instant::now();
                r.bytes().await?;
                Ok::<_, anyhow::Error>(done)
            })
        };
        // Give the query time to reach the server and block.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let job = mock::service_job(&format!("wake-{i}"), 1, 100, 128);
        let start = Instant::now();
        let resp = http
            .put(format!("{base}/v1/jobs"))
            .body(serde_json::to_vec(&serde_json::json!({"Job": job}))?)
            .send()
            .await?;
        anyhow::ensure!(
            resp.status().is_success(),
            "register answered {}",
            resp.status()
        );
        let done = waiter.await??;
        delays.push(done.saturating_duration_since(start));
    }
    delays.sort();
    figure(
        "http",
        "blocking_wake_p50",
        delays[WAKES / 2].as_secs_f64() * 1000.0,
        "ms",
    );

    let _ = stop.send(());
    server.await??;
    Ok(())
}

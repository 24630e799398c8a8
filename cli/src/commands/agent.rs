//! `sched agent`: config, logging, signals, then the agent until it stops.

use std::io::Write;
use std::time::Duration;

use futures::future::Either;
use nix::sys::signal::{SigSet, Signal};
use sched_cli::agent::{self, AgentArgs, ConfigError};

use crate::exit::user;

/// How long a stopping agent may take after SIGINT/SIGTERM before the
/// command gives up on it; a second signal ends the process at once.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Runs `sched agent`.
pub fn run(args: &AgentArgs) -> anyhow::Result<()> {
    // Block the signals before any other thread exists so that every thread
    // inherits the mask and only the waiter below ever receives them.
    let signals: SigSet = [Signal::SIGINT, Signal::SIGTERM].into_iter().collect();
    signals
        .thread_block()
        .map_err(|e| anyhow::anyhow!("cannot block SIGINT/SIGTERM: {e}"))?;
    let (signal_tx, signal_rx) = tokio::sync::oneshot::channel::<Signal>();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || wait_for_signals(signals, signal_tx))?;

    let mut config = agent::load(args).map_err(|e| match e {
        // These two already render as `error: ...` lines, one per problem.
        ConfigError::File(_) | ConfigError::Invalid(_) => user(e.to_string()),
        _ => user(format!("error: {e}")),
    })?;
    tracing_subscriber::fmt()
        .with_max_level(config.log_level)
        .with_writer(std::io::stderr)
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot install the log subscriber: {e}"))?;
    let data_dir = agent::prepare_data_dir(&mut config, &std::env::temp_dir())
        .map_err(|e| user(format!("error: {e}")))?;
    tracing::debug!(data_dir = %data_dir.path().display(), dev = config.dev, "data directory ready");
    {
        let mut out = std::io::stdout().lock();
        out.write_all(agent::summary(&config).as_bytes())?;
        out.flush()?;
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("agent")
        .build()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stop_rx.await;
    };
    let outcome = runtime.block_on(async move {
        let agent = tokio::spawn(agent::run(config, shutdown));
        match futures::future::select(agent, signal_rx).await {
            Either::Left((done, _)) => done,
            Either::Right((signal, mut agent)) => {
                if let Ok(signal) = signal {
                    tracing::info!(%signal, "caught signal, shutting down");
                }
                let _ = stop_tx.send(());
                match tokio::time::timeout(SHUTDOWN_GRACE, &mut agent).await {
                    Ok(done) => done,
                    Err(_) => {
                        tracing::error!(grace = ?SHUTDOWN_GRACE, "the agent did not stop in time");
                        agent.abort();
                        Ok(Ok(()))
                    }
                }
            }
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    drop(data_dir);
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(user(format!("error: {e}"))),
        Err(e) => Err(anyhow::anyhow!("the agent task failed: {e}")),
    }
}

/// Hands the first SIGINT/SIGTERM to the agent; a second one ends the
/// process at once, as Nomad does, for an agent that will not stop.
fn wait_for_signals(signals: SigSet, first: tokio::sync::oneshot::Sender<Signal>) {
    let Ok(signal) = signals.wait() else {
        return;
    };
    let _ = first.send(signal);
    if signals.wait().is_ok() {
        std::process::exit(130);
    }
}

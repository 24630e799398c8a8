//! The host's one wasmtime [`Engine`] and the thread that advances its epoch.
//!
//! The engine compiles with Cranelift, with epoch interruption on and fuel
//! off ([`super::limits`] has the numbers). [`EpochTicker`] increments the
//! epoch every tick on a background thread and stops (and joins) when it is
//! dropped, which happens when the last handle to the host goes. This module
//! owns no stores and no components.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Engine};

use super::error::{DriverError, chain_message};

/// Builds the engine every driver of a host is compiled and run with.
pub(crate) fn new_engine() -> Result<Engine, DriverError> {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .consume_fuel(false)
        .parallel_compilation(true);
    Engine::new(&config).map_err(|e| DriverError::Host {
        message: format!("creating the wasmtime engine: {}", chain_message(&e)),
    })
}

/// Advances an engine's epoch on a background thread until dropped.
#[derive(Debug)]
pub(crate) struct EpochTicker {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts ticking `engine` every `tick`.
    pub(crate) fn start(engine: Engine, tick: Duration) -> Result<Self, DriverError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sched-epoch".into())
            .spawn(move || {
                // Ticks until the sender is dropped (or sends).
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                    engine.increment_epoch();
                }
            })
            .map_err(|e| DriverError::Host {
                message: format!("starting the epoch thread: {e}"),
            })?;
        Ok(EpochTicker {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ticker_advances_the_epoch_and_stops_when_dropped() {
        let engine = new_engine().unwrap();
        let ticker = EpochTicker::start(engine.clone(), Duration::from_millis(1)).unwrap();
        std::thread::sleep(Duration::from_millis(30));
        let t = std::time::Instant::now();
        drop(ticker);
        assert!(t.elapsed() < Duration::from_millis(500));
    }
}

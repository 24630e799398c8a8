//! The sandbox limits every driver call runs under, set in one place.
//!
//! This module owns the numbers (memory per store, tables, instances, the
//! guest time budget per call, the epoch tick) and the two mechanisms that
//! enforce them in a store: `SandboxLimiter` (a wasmtime
//! [`ResourceLimiter`]) and `CallClock` (the epoch-deadline bookkeeping that
//! tells guest time from time spent in host calls). It does not create stores
//! or engines; [`super::DriverHost`] does, with these values.
//!
//! Fuel metering is off: epochs bound time at a fraction of fuel's cost.

use std::time::{Duration, Instant};

use wasmtime::ResourceLimiter;

/// Default memory a driver's store may use: 64 MiB.
pub const DEFAULT_MEMORY_BYTES: usize = 64 << 20;
/// Default guest execution time one call may use: 2 s.
pub const DEFAULT_CALL_BUDGET: Duration = Duration::from_secs(2);
/// Default wall-clock time one call may take on top of the timeout it was
/// given (host calls such as a Docker request count here, not against the
/// guest budget): 60 s.
pub const DEFAULT_CALL_WALL_ALLOWANCE: Duration = Duration::from_secs(60);
/// How often the engine's epoch advances: 10 ms.
pub const DEFAULT_EPOCH_TICK: Duration = Duration::from_millis(10);

/// The limits of one host's driver sandboxes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory per store, in bytes (all memories of the store together).
    pub memory_bytes: usize,
    /// Elements per table.
    pub table_elements: usize,
    /// Core instances per store (a component holds several).
    pub instances: usize,
    /// Tables per store.
    pub tables: usize,
    /// Memories per store.
    pub memories: usize,
    /// Guest execution time one call may use; time spent in host calls is
    /// not counted.
    pub call_budget: Duration,
    /// Wall-clock time one call may take beyond the timeout it was given.
    pub call_wall_allowance: Duration,
    /// The epoch tick: the granularity of the time limits.
    pub epoch_tick: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: DEFAULT_MEMORY_BYTES,
            table_elements: 20_000,
            instances: 32,
            tables: 32,
            memories: 8,
            call_budget: DEFAULT_CALL_BUDGET,
            call_wall_allowance: DEFAULT_CALL_WALL_ALLOWANCE,
            epoch_tick: DEFAULT_EPOCH_TICK,
        }
    }
}

impl Limits {
    /// Number of epoch ticks in `d`, at least one.
    pub(crate) fn ticks(&self, d: Duration) -> u64 {
        let tick = self.epoch_tick.as_nanos().max(1);
        u64::try_from(d.as_nanos().div_ceil(tick))
            .unwrap_or(u64::MAX)
            .max(1)
    }
}

/// Which limit stopped a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitHit {
    /// Linear memory would have grown beyond the limit.
    Memory {
        /// The size the guest asked for, in bytes.
        desired: usize,
    },
    /// A table would have grown beyond the limit.
    Table,
    /// The guest used up its execution budget.
    GuestTime,
    /// The call took longer in wall-clock time than it may.
    WallTime,
}

/// A [`ResourceLimiter`] that traps on growth past the limits and records
/// which limit it was, so the host can say so.
#[derive(Debug)]
pub(crate) struct SandboxLimiter {
    memory_bytes: usize,
    table_elements: usize,
    instances: usize,
    tables: usize,
    memories: usize,
    /// Memory in use across the store's memories.
    memory_in_use: usize,
    /// The limit that was hit, if any.
    pub(crate) hit: Option<LimitHit>,
}

impl SandboxLimiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        SandboxLimiter {
            memory_bytes: limits.memory_bytes,
            table_elements: limits.table_elements,
            instances: limits.instances,
            tables: limits.tables,
            memories: limits.memories,
            memory_in_use: 0,
            hit: None,
        }
    }
}

impl ResourceLimiter for SandboxLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .memory_in_use
            .saturating_sub(current)
            .saturating_add(desired);
        if total > self.memory_bytes {
            self.hit = Some(LimitHit::Memory { desired: total });
            wasmtime::bail!(
                "memory limit: the store would grow to {total} bytes, more than {} allowed",
                self.memory_bytes
            );
        }
        self.memory_in_use = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            self.hit = Some(LimitHit::Table);
            wasmtime::bail!(
                "table limit: a table would grow to {desired} elements, more than {} allowed",
                self.table_elements
            );
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.tables
    }

    fn memories(&self) -> usize {
        self.memories
    }
}

/// Time accounting of one call: guest time is the call's wall-clock time
/// minus the time spent in host functions.
#[derive(Debug)]
pub(crate) struct CallClock {
    started: Instant,
    in_host: Duration,
    budget: Duration,
    wall_limit: Duration,
}

/// What the epoch-deadline check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Carry on for this long before checking again.
    Continue(Duration),
    /// Stop the call: this limit was passed.
    Stop(LimitHit),
}

impl CallClock {
    /// Starts the clock of a call that was given `timeout` (zero if the
    /// call takes none).
    pub(crate) fn start(limits: &Limits, timeout: Duration) -> Self {
        CallClock {
            started: Instant::now(),
            in_host: Duration::ZERO,
            budget: limits.call_budget,
            wall_limit: limits
                .call_budget
                .saturating_add(limits.call_wall_allowance)
                .saturating_add(timeout),
        }
    }

    /// Adds time spent in a host function.
    pub(crate) fn add_host_time(&mut self, d: Duration) {
        self.in_host = self.in_host.saturating_add(d);
    }

    /// Decides, at an epoch deadline, whether the guest may go on.
    pub(crate) fn check(&self) -> Verdict {
        let wall = self.started.elapsed();
        let guest = wall.saturating_sub(self.in_host);
        if guest >= self.budget {
            return Verdict::Stop(LimitHit::GuestTime);
        }
        if wall >= self.wall_limit {
            return Verdict::Stop(LimitHit::WallTime);
        }
        Verdict::Continue((self.budget - guest).min(self.wall_limit - wall))
    }

    /// The guest time budget.
    pub(crate) fn budget(&self) -> Duration {
        self.budget
    }

    /// The wall-clock time the call may take.
    pub(crate) fn wall_limit(&self) -> Duration {
        self.wall_limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_round_up_and_never_reach_zero() {
        let l = Limits::default();
        assert_eq!(l.ticks(Duration::from_secs(2)), 200);
        assert_eq!(l.ticks(Duration::from_millis(15)), 2);
        assert_eq!(l.ticks(Duration::ZERO), 1);
    }

    #[test]
    fn memory_growth_past_the_limit_traps_and_is_recorded() {
        let mut lim = SandboxLimiter::new(&Limits {
            memory_bytes: 1 << 20,
            ..Limits::default()
        });
        assert!(lim.memory_growing(0, 1 << 19, None).is_ok());
        assert!(lim.memory_growing(1 << 19, 2 << 20, None).is_err());
        assert_eq!(lim.hit, Some(LimitHit::Memory { desired: 2 << 20 }));
    }

    #[test]
    fn host_time_does_not_count_against_the_budget() {
        let mut c = CallClock::start(&Limits::default(), Duration::ZERO);
        c.add_host_time(Duration::from_secs(10));
        assert!(matches!(c.check(), Verdict::Continue(_)));
    }
}

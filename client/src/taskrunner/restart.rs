//! The restart tracker: Nomad's restart policy (attempts per interval, a
//! delay between restarts, then `fail` or `delay` until the interval ends).

use std::time::Duration;

use sched_core::model::RestartPolicy;

/// What happens once attempts run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The task fails.
    Fail,
    /// The task waits for the interval to end, then restarts.
    Delay,
}

/// A restart policy with Nomad's defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Restarts allowed per interval.
    pub attempts: u32,
    /// The window the attempts count in.
    pub interval: Duration,
    /// Wait before each restart (plus up to 25% jitter).
    pub delay: Duration,
    /// What happens after the attempts.
    pub mode: Mode,
}

impl Policy {
    /// The task's policy over the group's, over Nomad's defaults for the
    /// job type (service: 2 in 30 min, batch: 3 in 24 h; delay 15 s, fail).
    pub fn resolve(
        group: Option<&RestartPolicy>,
        task: Option<&RestartPolicy>,
        batch: bool,
    ) -> Policy {
        let mut p = if batch {
            Policy {
                attempts: 3,
                interval: Duration::from_secs(24 * 3600),
                delay: Duration::from_secs(15),
                mode: Mode::Fail,
            }
        } else {
            Policy {
                attempts: 2,
                interval: Duration::from_secs(30 * 60),
                delay: Duration::from_secs(15),
                mode: Mode::Fail,
            }
        };
        for rp in [group, task].into_iter().flatten() {
            if let Some(a) = rp.attempts {
                p.attempts = u32::try_from(a).unwrap_or(0);
            }
            if let Some(i) = rp.interval {
                p.interval = i.to_std();
            }
            if let Some(d) = rp.delay {
                p.delay = d.to_std();
            }
            if let Some(m) = rp.mode.as_deref() {
                p.mode = if m == "delay" {
                    Mode::Delay
                } else {
                    Mode::Fail
                };
            }
        }
        p
    }
}

/// The tracker's answer to an exit or a failed start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Restart after `delay`; `reason` goes on the "Restarting" event.
    Restart {
        /// How long to wait.
        delay: Duration,
        /// Why (Nomad's wording).
        reason: String,
    },
    /// Do not restart; `failed` says whether the task ends failed.
    Stop {
        /// Why (Nomad's wording); empty for a task that simply completed.
        reason: String,
        /// Whether the task failed.
        failed: bool,
    },
}

/// Counts restarts in the current interval. Its state is the interval's
/// start and count, persisted with the task so a client restart does not
/// reset a crash-looping task's budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartTracker {
    policy: Policy,
    batch: bool,
    /// Unix nanoseconds the current interval began; 0 before any restart.
    window_start: i64,
    count: u32,
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{}m{}s", s / 3600, (s % 3600) / 60, s % 60)
    } else if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{:?}", d)
    }
}

impl RestartTracker {
    /// A tracker; `state` is `(window_start, count)` as persisted.
    pub fn new(policy: Policy, batch: bool, state: (i64, u32)) -> Self {
        RestartTracker {
            policy,
            batch,
            window_start: state.0,
            count: state.1,
        }
    }

    /// What to persist.
    pub fn state(&self) -> (i64, u32) {
        (self.window_start, self.count)
    }

    /// The policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// After the task exited (`success`: exit code 0) at `now` (Unix ns).
    pub fn on_exit(&mut self, success: bool, now: i64) -> Decision {
        if success && self.batch {
            return Decision::Stop {
                reason: String::new(),
                failed: false,
            };
        }
        self.next(now, !success)
    }

    /// After a start failed; `recoverable` errors count like exits, others
    /// fail the task at once.
    pub fn on_start_error(&mut self, recoverable: bool, now: i64) -> Decision {
        if !recoverable {
            return Decision::Stop {
                reason: "Error was unrecoverable".into(),
                failed: true,
            };
        }
        self.next(now, true)
    }

    fn next(&mut self, now: i64, failure: bool) -> Decision {
        let p = self.policy;
        if p.attempts == 0 {
            return Decision::Stop {
                reason: "Policy allows no restarts".into(),
                failed: failure,
            };
        }
        let interval_ns = i64::try_from(p.interval.as_nanos()).unwrap_or(i64::MAX);
        if self.window_start == 0 || now.saturating_sub(self.window_start) > interval_ns {
            self.window_start = now;
            self.count = 0;
        }
        self.count += 1;
        if self.count > p.attempts {
            return match p.mode {
                Mode::Fail => Decision::Stop {
                    reason: format!(
                        "Exceeded allowed attempts {} in interval {} and mode is \"fail\"",
                        p.attempts,
                        human(p.interval)
                    ),
                    failed: true,
                },
                Mode::Delay => {
                    let left = self
                        .window_start
                        .saturating_add(interval_ns)
                        .saturating_sub(now);
                    let delay = Duration::from_nanos(u64::try_from(left).unwrap_or(0)).max(p.delay);
                    // The next interval starts when this delay ends.
                    self.window_start = 0;
                    self.count = 0;
                    Decision::Restart {
                        delay,
                        reason: "Exceeded allowed attempts, applying a delay".into(),
                    }
                }
            };
        }
        Decision::Restart {
            delay: jitter(p.delay),
            reason: "Restart within policy".into(),
        }
    }
}

/// `d` plus up to 25% of it, so tasks that fail together do not restart in
/// lockstep.
fn jitter(d: Duration) -> Duration {
    if d.is_zero() {
        return d;
    }
    let extra = fastrand::u64(0..=d.as_nanos().min(u128::from(u64::MAX)) as u64 / 4);
    d + Duration::from_nanos(extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn policy(attempts: u32, mode: Mode) -> Policy {
        Policy {
            attempts,
            interval: Duration::from_secs(60),
            delay: Duration::from_secs(1),
            mode,
        }
    }

    #[test]
    fn fail_mode_stops_after_the_attempts() {
        let mut t = RestartTracker::new(policy(2, Mode::Fail), false, (0, 0));
        for i in 0..2 {
            match t.on_exit(false, (1 + i) * S) {
                Decision::Restart { delay, reason } => {
                    assert_eq!(reason, "Restart within policy");
                    assert!(
                        delay >= Duration::from_secs(1) && delay <= Duration::from_millis(1250)
                    );
                }
                d => panic!("{d:?}"),
            }
        }
        assert_eq!(
            t.on_exit(false, 3 * S),
            Decision::Stop {
                reason: "Exceeded allowed attempts 2 in interval 1m0s and mode is \"fail\"".into(),
                failed: true
            }
        );
    }

    #[test]
    fn a_new_interval_resets_the_count() {
        let mut t = RestartTracker::new(policy(1, Mode::Fail), false, (0, 0));
        assert!(matches!(t.on_exit(false, S), Decision::Restart { .. }));
        assert!(matches!(
            t.on_exit(false, 100 * S),
            Decision::Restart { .. }
        ));
    }

    #[test]
    fn delay_mode_waits_for_the_interval() {
        let mut t = RestartTracker::new(policy(1, Mode::Delay), false, (0, 0));
        assert!(matches!(t.on_exit(false, S), Decision::Restart { .. }));
        match t.on_exit(false, 11 * S) {
            Decision::Restart { delay, reason } => {
                assert_eq!(reason, "Exceeded allowed attempts, applying a delay");
                assert_eq!(delay, Duration::from_secs(50));
            }
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn batch_success_completes_and_zero_attempts_never_restart() {
        let mut t = RestartTracker::new(policy(3, Mode::Fail), true, (0, 0));
        assert_eq!(
            t.on_exit(true, S),
            Decision::Stop {
                reason: String::new(),
                failed: false
            }
        );
        let mut t = RestartTracker::new(policy(0, Mode::Fail), false, (0, 0));
        assert!(matches!(
            t.on_exit(false, S),
            Decision::Stop { failed: true, .. }
        ));
        assert!(matches!(
            t.on_start_error(false, S),
            Decision::Stop { failed: true, .. }
        ));
    }
}

//! Blocked evaluations: evals whose placements failed for lack of capacity,
//! parked until the cluster changes in a way that might let them through.
//!
//! Follows Nomad's `blocked_evals.go`: one blocked eval per job (a newer one
//! supersedes the older, which the leader marks canceled); a capacity change
//! on a node of computed class `C` unblocks the evals that found `C`
//! eligible or never saw it, while evals whose constraints escaped the
//! computed class unblock on any change. An eval blocked on a snapshot
//! older than a change that would have unblocked it is released at once, so
//! a change racing with the scheduler is never missed.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use sched_core::model::{EvalId, EvalStatus, Evaluation};

use crate::state::StateSnapshot;

type JobKey = (String, String);

/// Counts for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockedStats {
    /// Blocked evals tracked.
    pub blocked: usize,
    /// Of which escaped their computed class.
    pub escaped: usize,
}

#[derive(Debug, Default)]
struct Inner {
    enabled: bool,
    by_job: HashMap<JobKey, Evaluation>,
    /// Index of the last unblock per computed class.
    unblock_indexes: HashMap<String, u64>,
    /// Index of the last unblock of any class.
    last_unblock: u64,
    duplicates: Vec<Evaluation>,
}

/// The blocked-evals tracker; share it behind an `Arc`.
#[derive(Debug, Default)]
pub struct BlockedEvals {
    inner: Mutex<Inner>,
}

/// Whether a change on class `class` may help `eval`.
fn wants_class(eval: &Evaluation, class: &str) -> bool {
    eval.escaped_computed_class || eval.class_eligibility.get(class).copied() != Some(false)
}

impl BlockedEvals {
    /// A disabled tracker.
    pub fn new() -> BlockedEvals {
        BlockedEvals::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts tracking, with the state's blocked evals.
    pub fn enable(&self, state: &StateSnapshot) {
        *self.lock() = Inner {
            enabled: true,
            ..Inner::default()
        };
        for e in state.evals("") {
            if e.status == EvalStatus::Blocked {
                // Freshly enabled: no unblock has happened yet, so none is
                // released at once.
                let _ = self.block(e.as_ref().clone());
            }
        }
    }

    /// Stops tracking and forgets everything.
    pub fn disable(&self) {
        *self.lock() = Inner::default();
    }

    /// Parks a blocked eval. Answers it back when it must run at once
    /// because capacity changed after the snapshot it was scheduled on.
    pub fn block(&self, eval: Evaluation) -> Option<Evaluation> {
        let mut inner = self.lock();
        if !inner.enabled || eval.status != EvalStatus::Blocked {
            return None;
        }
        let missed = if eval.escaped_computed_class {
            inner.last_unblock
        } else {
            inner
                .unblock_indexes
                .iter()
                .filter(|(class, _)| wants_class(&eval, class))
                .map(|(_, i)| *i)
                .max()
                .unwrap_or(0)
        };
        let key = (eval.namespace.clone(), eval.job_id.clone());
        if let Some(existing) = inner.by_job.get(&key)
            && existing.id != eval.id
        {
            let newer = (eval.create_index, eval.modify_index)
                >= (existing.create_index, existing.modify_index);
            if !newer {
                inner.duplicates.push(eval);
                return None;
            }
            if let Some(old) = inner.by_job.remove(&key) {
                inner.duplicates.push(old);
            }
        }
        if eval.snapshot_index > 0 && missed > eval.snapshot_index {
            inner.by_job.remove(&key);
            tracing::debug!(eval_id = %eval.id.0, missed, "blocked eval missed an unblock; releasing it");
            return Some(eval);
        }
        inner.by_job.insert(key, eval);
        None
    }

    /// Capacity changed on a node of computed class `class` at `index`:
    /// answers the evals to hand to the broker.
    pub fn unblock(&self, class: &str, index: u64) -> Vec<Evaluation> {
        let mut inner = self.lock();
        if !inner.enabled {
            return Vec::new();
        }
        let slot = inner.unblock_indexes.entry(class.to_owned()).or_insert(0);
        *slot = (*slot).max(index);
        inner.last_unblock = inner.last_unblock.max(index);
        let keys: Vec<JobKey> = inner
            .by_job
            .iter()
            .filter(|(_, e)| wants_class(e, class))
            .map(|(k, _)| k.clone())
            .collect();
        keys.into_iter()
            .filter_map(|k| inner.by_job.remove(&k))
            .collect()
    }

    /// Releases every blocked eval (the leader lost track of changes, for
    /// instance after falling behind the state's events).
    pub fn unblock_all(&self, index: u64) -> Vec<Evaluation> {
        let mut inner = self.lock();
        if !inner.enabled {
            return Vec::new();
        }
        inner.last_unblock = inner.last_unblock.max(index);
        for v in inner.unblock_indexes.values_mut() {
            *v = (*v).max(index);
        }
        inner.by_job.drain().map(|(_, e)| e).collect()
    }

    /// Forgets an eval that is no longer blocked (completed, canceled).
    pub fn untrack(&self, id: &EvalId, namespace: &str, job_id: &str) {
        let mut inner = self.lock();
        let key = (namespace.to_owned(), job_id.to_owned());
        if inner.by_job.get(&key).is_some_and(|e| e.id == *id) {
            inner.by_job.remove(&key);
        }
    }

    /// Takes the blocked evals superseded by a newer one of their job; the
    /// leader marks them canceled.
    pub fn take_duplicates(&self) -> Vec<Evaluation> {
        std::mem::take(&mut self.lock().duplicates)
    }

    /// Whether the tracker holds an eval for a job.
    pub fn has_job(&self, namespace: &str, job_id: &str) -> bool {
        self.lock()
            .by_job
            .contains_key(&(namespace.to_owned(), job_id.to_owned()))
    }

    /// Counts for metrics.
    pub fn stats(&self) -> BlockedStats {
        let inner = self.lock();
        BlockedStats {
            blocked: inner.by_job.len(),
            escaped: inner
                .by_job
                .values()
                .filter(|e| e.escaped_computed_class)
                .count(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn blocked(n: u128, job: &str, create_index: u64, classes: &[(&str, bool)]) -> Evaluation {
        Evaluation {
            id: EvalId::from_u128(n),
            namespace: "default".to_owned(),
            job_id: job.to_owned(),
            r#type: "service".to_owned(),
            status: EvalStatus::Blocked,
            create_index,
            modify_index: create_index,
            snapshot_index: create_index,
            class_eligibility: classes
                .iter()
                .map(|(c, ok)| ((*c).to_owned(), *ok))
                .collect::<BTreeMap<_, _>>(),
            ..Default::default()
        }
    }

    fn enabled() -> BlockedEvals {
        let b = BlockedEvals::new();
        b.enable(&StateSnapshot::default());
        b
    }

    fn ids(evals: Vec<Evaluation>) -> Vec<EvalId> {
        let mut v: Vec<EvalId> = evals.into_iter().map(|e| e.id).collect();
        v.sort();
        v
    }

    #[test]
    fn one_blocked_eval_per_job_the_newest_wins() {
        let b = enabled();
        assert!(b.block(blocked(1, "web", 10, &[])).is_none());
        assert!(b.block(blocked(2, "web", 12, &[])).is_none());
        assert!(b.block(blocked(3, "web", 11, &[])).is_none());
        assert_eq!(b.stats().blocked, 1);
        assert_eq!(
            ids(b.take_duplicates()),
            ids(vec![blocked(1, "web", 10, &[]), blocked(3, "web", 11, &[])])
        );
        // Reblocking the same eval replaces it, no duplicate.
        assert!(b.block(blocked(2, "web", 12, &[])).is_none());
        assert!(b.take_duplicates().is_empty());
        assert_eq!(ids(b.unblock("any", 20)), vec![EvalId::from_u128(2)]);
    }

    #[test]
    fn capacity_on_a_class_unblocks_evals_that_want_it() {
        let b = enabled();
        b.block(blocked(
            1,
            "eligible",
            10,
            &[("v1:big", true), ("v1:small", false)],
        ));
        b.block(blocked(
            2,
            "ineligible",
            10,
            &[("v1:small", true), ("v1:big", false)],
        ));
        b.block(blocked(3, "unseen", 10, &[("v1:small", false)]));
        let mut escaped = blocked(4, "escaped", 10, &[("v1:big", false)]);
        escaped.escaped_computed_class = true;
        b.block(escaped);
        let freed = ids(b.unblock("v1:big", 20));
        assert_eq!(
            freed,
            vec![
                EvalId::from_u128(1),
                EvalId::from_u128(3),
                EvalId::from_u128(4)
            ]
        );
        assert!(b.has_job("default", "ineligible"));
        assert!(b.unblock("v1:big", 21).is_empty());
        assert_eq!(ids(b.unblock("v1:small", 22)), vec![EvalId::from_u128(2)]);
        assert_eq!(b.stats().blocked, 0);
    }

    #[test]
    fn an_eval_blocked_on_a_snapshot_older_than_an_unblock_is_released_at_once() {
        let b = enabled();
        assert!(b.unblock("v1:big", 50).is_empty());
        let late = b.block(blocked(1, "web", 40, &[]));
        assert_eq!(late.map(|e| e.id), Some(EvalId::from_u128(1)));
        // A change on a class the eval cannot use does not count.
        assert!(
            b.block(blocked(2, "db", 40, &[("v1:big", false)]))
                .is_none()
        );
        // Nor one it already saw.
        assert!(b.block(blocked(3, "cache", 60, &[])).is_none());
        assert_eq!(b.stats().blocked, 2);
    }

    #[test]
    fn untracking_and_disabling_forget_evals() {
        let b = enabled();
        b.block(blocked(1, "web", 10, &[]));
        b.untrack(&EvalId::from_u128(99), "default", "web");
        assert!(
            b.has_job("default", "web"),
            "another eval's completion leaves it"
        );
        b.untrack(&EvalId::from_u128(1), "default", "web");
        assert!(!b.has_job("default", "web"));
        b.block(blocked(2, "db", 10, &[]));
        b.disable();
        assert_eq!(b.stats().blocked, 0);
        assert!(b.block(blocked(3, "db", 10, &[])).is_none());
        assert_eq!(b.stats().blocked, 0, "a disabled tracker holds nothing");
        b.enable(&StateSnapshot::default());
        b.block(blocked(4, "x", 10, &[]));
        assert_eq!(ids(b.unblock_all(30)), vec![EvalId::from_u128(4)]);
    }
}

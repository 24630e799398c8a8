//! The eval broker: hands pending evaluations to workers, at most one per
//! job at a time, highest priority first, and takes them back when a worker
//! fails or vanishes.
//!
//! Follows Nomad's `eval_broker.go`: ready queues per scheduler type ordered
//! by priority then creation index; a job's further evals wait behind the one
//! in flight and, when it is acked, only the newest of them runs (the rest are
//! handed to the leader to mark canceled); a delivered eval that is not acked
//! within the nack timeout is redelivered after a delay; after the delivery
//! limit it moves to the failed queue, which the leader drains (marking the
//! eval failed with a follow-up). Evals with `wait`/`wait_until` sit in a
//! delay heap until due. Only the leader's broker is enabled; enabling
//! rebuilds the queues from the state.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sched_core::model::{EvalId, EvalStatus, Evaluation};
use tokio::sync::Notify;

use crate::state::StateSnapshot;

/// Where the broker reads the time (Unix nanoseconds): the cluster's clock
/// in a server, a hand-driven one in tests.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// A clock reading `now`.
    pub fn new(now: impl Fn() -> i64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// The time in Unix nanoseconds.
    pub fn now(&self) -> i64 {
        (self.0)()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

/// The broker's timeouts and limits (Nomad's defaults).
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// A delivered eval not acked (nor reset) within this is taken back.
    pub nack_timeout: Duration,
    /// Deliveries after which a nacked eval goes to the failed queue.
    pub delivery_limit: u32,
    /// Delay before the first redelivery of a nacked eval.
    pub initial_nack_delay: Duration,
    /// Delay before later redeliveries.
    pub subsequent_nack_delay: Duration,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            nack_timeout: Duration::from_secs(60),
            delivery_limit: 3,
            initial_nack_delay: Duration::from_secs(1),
            subsequent_nack_delay: Duration::from_secs(20),
        }
    }
}

/// Why the broker refused an ack or nack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// The eval is not delivered (already acked, timed out, or never
    /// handed out): the caller no longer owns it and must drop its work.
    #[error("evaluation {0} is not outstanding")]
    NotOutstanding(EvalId),
    /// Another delivery of the eval holds it: this worker's token is stale.
    #[error("evaluation {0}: token does not match its delivery")]
    TokenMismatch(EvalId),
}

/// Counts for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerStats {
    /// Evals ready to be dequeued.
    pub ready: usize,
    /// Evals delivered and not yet acked.
    pub unacked: usize,
    /// Evals waiting behind their job's in-flight eval.
    pub pending: usize,
    /// Evals waiting for their `wait`/`wait_until` or a nack delay.
    pub delayed: usize,
    /// Evals past the delivery limit, waiting for the leader to fail them.
    pub failed: usize,
    /// Ready evals by scheduler type.
    pub ready_by_type: BTreeMap<String, usize>,
}

type JobKey = (String, String);

fn job_key(e: &Evaluation) -> JobKey {
    (e.namespace.clone(), e.job_id.clone())
}

/// A ready eval in its type's heap: highest priority, then oldest.
struct Ready {
    seq: u64,
    eval: Evaluation,
}

impl PartialEq for Ready {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ready {}
impl PartialOrd for Ready {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ready {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap pops the greatest: greater is higher priority, then
        // lower create index, then enqueued earlier.
        self.eval
            .priority
            .cmp(&other.eval.priority)
            .then(other.eval.create_index.cmp(&self.eval.create_index))
            .then(other.seq.cmp(&self.seq))
    }
}

struct Unacked {
    eval: Evaluation,
    token: String,
    deadline: i64,
}

#[derive(Default)]
struct Inner {
    enabled: bool,
    seq: u64,
    ready: HashMap<String, BinaryHeap<Ready>>,
    unacked: HashMap<EvalId, Unacked>,
    /// The eval each job has ready, delivered, or nack-delayed.
    in_flight: HashMap<JobKey, EvalId>,
    /// Evals waiting behind their job's in-flight one.
    pending: HashMap<JobKey, Vec<Evaluation>>,
    /// (due time, seq) -> eval.
    delayed: BTreeMap<(i64, u64), Evaluation>,
    /// Every eval the broker holds anywhere, to drop duplicate enqueues.
    known: HashSet<EvalId>,
    deliveries: HashMap<EvalId, u32>,
    failed: Vec<Evaluation>,
    cancelable: Vec<Evaluation>,
}

/// The eval broker; share it behind an `Arc`.
#[derive(Debug)]
pub struct EvalBroker {
    config: BrokerConfig,
    clock: Clock,
    inner: Mutex<Inner>,
    notify: Notify,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inner")
            .field("enabled", &self.enabled)
            .field("known", &self.known.len())
            .finish()
    }
}

/// When an eval may first run: its `wait_until` (Unix nanoseconds) or its
/// `wait` after creation, whichever is later.
fn due_time(eval: &Evaluation, now: i64) -> i64 {
    let until = eval
        .wait_until
        .as_deref()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or(0);
    let base = if eval.create_time > 0 {
        eval.create_time
    } else {
        now
    };
    let after_wait = if eval.wait.0 > 0 {
        base.saturating_add(eval.wait.0)
    } else {
        0
    };
    until.max(after_wait)
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl EvalBroker {
    /// A disabled broker.
    pub fn new(config: BrokerConfig, clock: Clock) -> EvalBroker {
        EvalBroker {
            config,
            clock,
            inner: Mutex::new(Inner::default()),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether this broker hands out evals (this server leads).
    pub fn enabled(&self) -> bool {
        self.lock().enabled
    }

    /// Starts handing out evals, with queues rebuilt from the state's
    /// pending evals (blocked ones belong to the blocked-evals tracker).
    pub fn enable(&self, state: &StateSnapshot) {
        {
            let mut inner = self.lock();
            *inner = Inner {
                enabled: true,
                ..Inner::default()
            };
        }
        let mut pending: Vec<_> = state
            .evals("")
            .into_iter()
            .filter(|e| e.status == EvalStatus::Pending)
            .collect();
        pending.sort_by_key(|e| e.create_index);
        let count = pending.len();
        for e in pending {
            self.enqueue(e.as_ref().clone());
        }
        tracing::info!(evals = count, index = state.index(), "eval broker enabled");
    }

    /// Stops handing out evals and forgets every queue (a follower's
    /// broker holds nothing; the next leader rebuilds from the state).
    pub fn disable(&self) {
        *self.lock() = Inner::default();
        self.notify.notify_waiters();
        tracing::info!("eval broker disabled");
    }

    /// Adds an eval: ready, behind its job's in-flight eval, or delayed.
    /// Ignored (answering `false`) when disabled, terminal, or already held.
    pub fn enqueue(&self, eval: Evaluation) -> bool {
        if eval.status.is_terminal() {
            return false;
        }
        let now = self.clock.now();
        let mut inner = self.lock();
        if !inner.enabled || inner.known.contains(&eval.id) {
            return false;
        }
        inner.known.insert(eval.id.clone());
        let due = due_time(&eval, now);
        if due > now {
            inner.seq += 1;
            let seq = inner.seq;
            inner.delayed.insert((due, seq), eval);
            return true;
        }
        if Self::place(&mut inner, eval) {
            drop(inner);
            self.notify.notify_waiters();
        }
        true
    }

    /// Puts a known eval into its ready queue when its job has nothing in
    /// flight (or it is the job's in-flight eval), else behind it. Returns
    /// whether it became ready.
    fn place(inner: &mut Inner, eval: Evaluation) -> bool {
        let key = job_key(&eval);
        match inner.in_flight.get(&key) {
            Some(id) if *id != eval.id => {
                inner.pending.entry(key).or_default().push(eval);
                false
            }
            _ => {
                inner.in_flight.insert(key, eval.id.clone());
                inner.seq += 1;
                let seq = inner.seq;
                inner
                    .ready
                    .entry(eval.r#type.clone())
                    .or_default()
                    .push(Ready { seq, eval });
                true
            }
        }
    }

    /// Takes the best ready eval among `types`, or waits for one up to
    /// `timeout`. Answers the eval and the token that acks or nacks it.
    pub async fn dequeue(
        &self,
        types: &[String],
        timeout: Duration,
    ) -> Option<(Evaluation, String)> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(found) = self.try_dequeue(types) {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// Takes the best ready eval among `types` without waiting.
    pub fn try_dequeue(&self, types: &[String]) -> Option<(Evaluation, String)> {
        let now = self.clock.now();
        let mut inner = self.lock();
        if !inner.enabled {
            return None;
        }
        let best = types
            .iter()
            .filter_map(|t| inner.ready.get(t).and_then(|h| h.peek()).map(|r| (t, r)))
            .max_by(|a, b| a.1.cmp(b.1))
            .map(|(t, _)| t.clone())?;
        let Ready { eval, .. } = inner.ready.get_mut(&best)?.pop()?;
        let token = uuid::Uuid::new_v4().to_string();
        *inner.deliveries.entry(eval.id.clone()).or_insert(0) += 1;
        inner.unacked.insert(
            eval.id.clone(),
            Unacked {
                eval: eval.clone(),
                token: token.clone(),
                deadline: now.saturating_add(nanos(self.config.nack_timeout)),
            },
        );
        Some((eval, token))
    }

    fn check_token(inner: &Inner, id: &EvalId, token: &str) -> Result<(), BrokerError> {
        match inner.unacked.get(id) {
            None => Err(BrokerError::NotOutstanding(id.clone())),
            Some(u) if u.token != token => Err(BrokerError::TokenMismatch(id.clone())),
            Some(_) => Ok(()),
        }
    }

    /// The token of an eval's current delivery, if it is delivered: the
    /// plan applier only commits plans whose token matches.
    pub fn outstanding(&self, id: &EvalId) -> Option<String> {
        self.lock().unacked.get(id).map(|u| u.token.clone())
    }

    /// Restarts an outstanding eval's nack timeout: its worker is still on
    /// it (a long evaluation submitting several plans).
    pub fn outstanding_reset(&self, id: &EvalId, token: &str) -> Result<(), BrokerError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        Self::check_token(&inner, id, token)?;
        if let Some(u) = inner.unacked.get_mut(id) {
            u.deadline = now.saturating_add(nanos(self.config.nack_timeout));
        }
        Ok(())
    }

    /// The worker finished the eval: forget it and let its job's newest
    /// waiting eval run (older waiting ones become cancelable).
    pub fn ack(&self, id: &EvalId, token: &str) -> Result<(), BrokerError> {
        let mut inner = self.lock();
        Self::check_token(&inner, id, token)?;
        let Some(u) = inner.unacked.remove(id) else {
            return Err(BrokerError::NotOutstanding(id.clone()));
        };
        inner.known.remove(id);
        inner.deliveries.remove(id);
        let became_ready = Self::release_job(&mut inner, &job_key(&u.eval), id);
        drop(inner);
        if became_ready {
            self.notify.notify_waiters();
        }
        Ok(())
    }

    /// Frees a job's in-flight slot held by `id` and readies the newest of
    /// its waiting evals; the others are superseded by it.
    fn release_job(inner: &mut Inner, key: &JobKey, id: &EvalId) -> bool {
        if inner.in_flight.get(key) != Some(id) {
            return false;
        }
        inner.in_flight.remove(key);
        let Some(mut waiting) = inner.pending.remove(key) else {
            return false;
        };
        waiting.sort_by_key(|e| (e.modify_index, e.create_index));
        let Some(newest) = waiting.pop() else {
            return false;
        };
        for old in waiting {
            inner.known.remove(&old.id);
            inner.cancelable.push(old);
        }
        Self::place(inner, newest)
    }

    /// The worker gave up on the eval: redeliver it after a delay, or move
    /// it to the failed queue once it reached the delivery limit.
    pub fn nack(&self, id: &EvalId, token: &str) -> Result<(), BrokerError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        Self::check_token(&inner, id, token)?;
        self.requeue_nacked(&mut inner, id, now);
        Ok(())
    }

    fn requeue_nacked(&self, inner: &mut Inner, id: &EvalId, now: i64) {
        let Some(u) = inner.unacked.remove(id) else {
            return;
        };
        let deliveries = inner.deliveries.get(id).copied().unwrap_or(0);
        if deliveries >= self.config.delivery_limit {
            tracing::warn!(eval_id = %id.0, deliveries, "evaluation reached its delivery limit");
            // The job stays in flight until the leader fails the eval.
            inner.failed.push(u.eval);
            return;
        }
        let delay = if deliveries <= 1 {
            self.config.initial_nack_delay
        } else {
            self.config.subsequent_nack_delay
        };
        inner.seq += 1;
        let seq = inner.seq;
        inner
            .delayed
            .insert((now.saturating_add(nanos(delay)), seq), u.eval);
    }

    /// Moves due delayed evals to their queues and takes back delivered
    /// evals past their nack timeout. The leader calls it periodically.
    pub fn tick(&self) {
        let now = self.clock.now();
        let mut inner = self.lock();
        if !inner.enabled {
            return;
        }
        let expired: Vec<EvalId> = inner
            .unacked
            .iter()
            .filter(|(_, u)| u.deadline <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            tracing::warn!(eval_id = %id.0, "evaluation not acked in time; taking it back");
            self.requeue_nacked(&mut inner, &id, now);
        }
        let later = inner.delayed.split_off(&(now.saturating_add(1), 0));
        let due = std::mem::replace(&mut inner.delayed, later);
        let mut readied = false;
        for (_, eval) in due {
            readied |= Self::place(&mut inner, eval);
        }
        drop(inner);
        if readied {
            self.notify.notify_waiters();
        }
    }

    /// Takes the evals that reached the delivery limit, freeing their jobs
    /// for the next eval; the leader marks them failed.
    pub fn take_failed(&self) -> Vec<Evaluation> {
        let mut inner = self.lock();
        let failed = std::mem::take(&mut inner.failed);
        let mut readied = false;
        for e in &failed {
            inner.known.remove(&e.id);
            inner.deliveries.remove(&e.id);
            readied |= Self::release_job(&mut inner, &job_key(e), &e.id);
        }
        drop(inner);
        if readied {
            self.notify.notify_waiters();
        }
        failed
    }

    /// Takes the evals superseded by a newer eval of the same job; the
    /// leader marks them canceled.
    pub fn take_cancelable(&self) -> Vec<Evaluation> {
        std::mem::take(&mut self.lock().cancelable)
    }

    /// Counts for metrics.
    pub fn stats(&self) -> BrokerStats {
        let inner = self.lock();
        let ready_by_type: BTreeMap<String, usize> = inner
            .ready
            .iter()
            .filter(|(_, h)| !h.is_empty())
            .map(|(t, h)| (t.clone(), h.len()))
            .collect();
        BrokerStats {
            ready: ready_by_type.values().sum(),
            unacked: inner.unacked.len(),
            pending: inner.pending.values().map(Vec::len).sum(),
            delayed: inner.delayed.len(),
            failed: inner.failed.len(),
            ready_by_type,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering as AtomicOrdering};

    use super::*;

    const SEC: i64 = 1_000_000_000;

    struct Fixture {
        broker: Arc<EvalBroker>,
        now: Arc<AtomicI64>,
    }

    impl Fixture {
        fn new(config: BrokerConfig) -> Fixture {
            let now = Arc::new(AtomicI64::new(1_000 * SEC));
            let clock = {
                let now = now.clone();
                Clock::new(move || now.load(AtomicOrdering::SeqCst))
            };
            let broker = Arc::new(EvalBroker::new(config, clock));
            broker.enable(&StateSnapshot::default());
            Fixture { broker, now }
        }

        fn advance(&self, by: Duration) {
            self.now.fetch_add(nanos(by), AtomicOrdering::SeqCst);
            self.broker.tick();
        }

        fn take(&self) -> Option<(Evaluation, String)> {
            self.broker.try_dequeue(&all_types())
        }
    }

    fn all_types() -> Vec<String> {
        vec![
            "service".to_owned(),
            "batch".to_owned(),
            "system".to_owned(),
        ]
    }

    fn eval(n: u128, job: &str, kind: &str, priority: i64, create_index: u64) -> Evaluation {
        Evaluation {
            id: EvalId::from_u128(n),
            namespace: "default".to_owned(),
            priority,
            r#type: kind.to_owned(),
            job_id: job.to_owned(),
            status: EvalStatus::Pending,
            create_index,
            modify_index: create_index,
            ..Default::default()
        }
    }

    fn id(n: u128) -> EvalId {
        EvalId::from_u128(n)
    }

    #[test]
    fn ready_evals_come_out_by_priority_then_creation_across_types() {
        let f = Fixture::new(BrokerConfig::default());
        f.broker.enqueue(eval(1, "a", "service", 50, 10));
        f.broker.enqueue(eval(2, "b", "batch", 70, 11));
        f.broker.enqueue(eval(3, "c", "service", 50, 5));
        f.broker.enqueue(eval(4, "d", "system", 100, 12));
        let order: Vec<EvalId> = std::iter::from_fn(|| f.take()).map(|(e, _)| e.id).collect();
        assert_eq!(order, vec![id(4), id(2), id(3), id(1)]);
        // Only the requested types are handed out.
        f.broker.enqueue(eval(5, "e", "batch", 99, 13));
        assert!(f.broker.try_dequeue(&["service".to_owned()]).is_none());
        assert_eq!(f.broker.stats().ready_by_type.get("batch"), Some(&1));
    }

    #[test]
    fn a_job_has_one_eval_in_flight_and_the_newest_waiting_one_runs_next() {
        let f = Fixture::new(BrokerConfig::default());
        f.broker.enqueue(eval(1, "web", "service", 50, 10));
        f.broker.enqueue(eval(2, "web", "service", 50, 11));
        f.broker.enqueue(eval(3, "web", "service", 50, 12));
        f.broker.enqueue(eval(4, "other", "service", 50, 13));
        let (first, token) = f.take().expect("first eval");
        assert_eq!(first.id, id(1));
        let (other, other_token) = f.take().expect("the other job runs meanwhile");
        assert_eq!(other.id, id(4));
        assert!(f.take().is_none(), "web's later evals wait for the first");
        assert_eq!(f.broker.stats().pending, 2);
        f.broker.ack(&first.id, &token).expect("ack");
        let (next, _) = f.take().expect("the newest waiting eval");
        assert_eq!(next.id, id(3));
        let canceled: Vec<EvalId> = f
            .broker
            .take_cancelable()
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(canceled, vec![id(2)]);
        f.broker.ack(&other.id, &other_token).expect("ack");
        // Duplicate enqueues of a held eval are dropped.
        assert!(!f.broker.enqueue(eval(3, "web", "service", 50, 12)));
    }

    #[test]
    fn acks_and_nacks_need_the_delivery_token() {
        let f = Fixture::new(BrokerConfig::default());
        f.broker.enqueue(eval(1, "web", "service", 50, 10));
        let (e, token) = f.take().expect("eval");
        assert_eq!(
            f.broker.ack(&e.id, "stale"),
            Err(BrokerError::TokenMismatch(e.id.clone()))
        );
        assert_eq!(f.broker.outstanding(&e.id), Some(token.clone()));
        f.broker.ack(&e.id, &token).expect("ack");
        assert_eq!(
            f.broker.nack(&e.id, &token),
            Err(BrokerError::NotOutstanding(e.id.clone()))
        );
        assert_eq!(f.broker.outstanding(&e.id), None);
    }

    #[test]
    fn nacked_and_timed_out_evals_are_redelivered_until_the_delivery_limit() {
        let f = Fixture::new(BrokerConfig {
            nack_timeout: Duration::from_secs(5),
            delivery_limit: 3,
            initial_nack_delay: Duration::from_secs(1),
            subsequent_nack_delay: Duration::from_secs(2),
        });
        f.broker.enqueue(eval(1, "web", "service", 50, 10));
        f.broker.enqueue(eval(2, "web", "service", 50, 11));
        // First delivery: nacked, back after the initial delay.
        let (e, token) = f.take().expect("delivery 1");
        f.broker.nack(&e.id, &token).expect("nack");
        assert!(f.take().is_none(), "waits out the nack delay");
        assert_eq!(f.broker.stats().delayed, 1);
        f.advance(Duration::from_secs(1));
        // Second delivery: never acked, taken back after the nack timeout.
        let (e, token) = f.take().expect("delivery 2");
        assert_eq!(e.id, id(1), "the job's waiting eval does not jump ahead");
        f.advance(Duration::from_secs(4));
        assert_eq!(f.broker.outstanding(&e.id), Some(token.clone()));
        f.advance(Duration::from_secs(1));
        assert_eq!(f.broker.outstanding(&e.id), None);
        assert!(
            f.broker.ack(&e.id, &token).is_err(),
            "a timed-out delivery cannot ack"
        );
        f.advance(Duration::from_secs(2));
        // Third delivery reaches the limit: nack sends it to the failed queue.
        let (e, token) = f.take().expect("delivery 3");
        f.broker.nack(&e.id, &token).expect("nack");
        f.advance(Duration::from_secs(60));
        assert!(f.take().is_none(), "failed evals are not redelivered");
        assert_eq!(f.broker.stats().failed, 1);
        let failed = f.broker.take_failed();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].id, id(1));
        // Failing it frees the job for its next eval.
        let (next, _) = f.take().expect("the job's next eval");
        assert_eq!(next.id, id(2));
    }

    #[test]
    fn outstanding_reset_keeps_a_busy_eval() {
        let f = Fixture::new(BrokerConfig {
            nack_timeout: Duration::from_secs(5),
            ..BrokerConfig::default()
        });
        f.broker.enqueue(eval(1, "web", "service", 50, 10));
        let (e, token) = f.take().expect("eval");
        f.advance(Duration::from_secs(4));
        f.broker.outstanding_reset(&e.id, &token).expect("reset");
        f.advance(Duration::from_secs(4));
        assert_eq!(f.broker.outstanding(&e.id), Some(token));
    }

    #[test]
    fn delayed_evals_wait_for_their_time() {
        let f = Fixture::new(BrokerConfig::default());
        let now = f.now.load(AtomicOrdering::SeqCst);
        let mut until = eval(1, "a", "batch", 50, 10);
        until.wait_until = Some((now + 10 * SEC).to_string());
        let mut wait = eval(2, "b", "batch", 50, 11);
        wait.create_time = now;
        wait.wait = sched_core::model::Duration(3 * SEC);
        f.broker.enqueue(until);
        f.broker.enqueue(wait);
        assert!(f.take().is_none());
        assert_eq!(f.broker.stats().delayed, 2);
        f.advance(Duration::from_secs(3));
        assert_eq!(f.take().map(|(e, _)| e.id), Some(id(2)));
        assert!(f.take().is_none());
        f.advance(Duration::from_secs(7));
        assert_eq!(f.take().map(|(e, _)| e.id), Some(id(1)));
    }

    #[test]
    fn enabling_rebuilds_from_the_state_and_disabling_forgets() {
        let f = Fixture::new(BrokerConfig::default());
        f.broker.enqueue(eval(9, "gone", "service", 50, 1));
        f.broker.disable();
        assert!(!f.broker.enabled());
        assert!(f.take().is_none());
        assert!(
            !f.broker.enqueue(eval(8, "x", "service", 50, 1)),
            "a follower's broker holds nothing"
        );

        let mut state = StateSnapshot::default();
        let mut done = eval(3, "c", "service", 50, 3);
        done.status = EvalStatus::Complete;
        let mut blocked = eval(4, "d", "service", 50, 4);
        blocked.status = EvalStatus::Blocked;
        for e in [
            eval(1, "a", "service", 50, 1),
            eval(2, "b", "service", 60, 2),
            done,
            blocked,
        ] {
            state.evals.insert(e.id.clone(), Arc::new(e));
        }
        state.index = 4;
        f.broker.enable(&state);
        let got: Vec<EvalId> = std::iter::from_fn(|| f.take()).map(|(e, _)| e.id).collect();
        assert_eq!(got, vec![id(2), id(1)], "only pending evals, by priority");
    }

    #[test]
    fn dequeue_waits_for_an_enqueue_and_gives_up_at_its_timeout() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let f = Fixture::new(BrokerConfig::default());
            assert!(
                f.broker
                    .dequeue(&all_types(), Duration::from_millis(20))
                    .await
                    .is_none()
            );
            let b = f.broker.clone();
            let waiter =
                tokio::spawn(async move { b.dequeue(&all_types(), Duration::from_secs(30)).await });
            tokio::task::yield_now().await;
            f.broker.enqueue(eval(1, "a", "service", 50, 1));
            let got = tokio::time::timeout(Duration::from_secs(30), waiter)
                .await
                .expect("woken")
                .expect("joined");
            assert_eq!(got.map(|(e, _)| e.id), Some(id(1)));
        });
    }
}

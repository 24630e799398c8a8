//! The plan queue: workers' plans wait here, highest priority first, for
//! the single plan applier; each submitter gets its result back through a
//! oneshot channel.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use sched_core::model::{EvalId, Plan, PlanResult};
use tokio::sync::{Notify, oneshot};

use super::ClusterError;

/// Why a plan was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The queue holds its capacity of plans; retry later.
    #[error("plan queue full")]
    QueueFull,
    /// The plan's eval token is not the broker's outstanding one: the
    /// worker lost the eval (nack timeout, leadership change) and must
    /// drop its work.
    #[error("evaluation {0}: plan token is not the outstanding delivery")]
    TokenMismatch(EvalId),
    /// Committing failed.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// The applier stopped (shutdown) before answering.
    #[error("plan applier stopped")]
    ApplierGone,
    /// No answer within the submitter's timeout.
    #[error("timed out waiting for the plan applier")]
    Timeout,
}

/// A queued plan and where its result goes.
#[derive(Debug)]
pub struct PendingPlan {
    /// The plan.
    pub plan: Plan,
    /// The submitter's answer channel.
    pub reply: oneshot::Sender<Result<PlanResult, PlanError>>,
    seq: u64,
}

impl PartialEq for PendingPlan {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for PendingPlan {}
impl PartialOrd for PendingPlan {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for PendingPlan {
    fn cmp(&self, other: &Self) -> Ordering {
        // Highest priority first, then first submitted.
        self.plan
            .priority
            .cmp(&other.plan.priority)
            .then(other.seq.cmp(&self.seq))
    }
}

#[derive(Debug, Default)]
struct Inner {
    heap: BinaryHeap<PendingPlan>,
    seq: u64,
}

/// The bounded plan queue; share it behind an `Arc`.
#[derive(Debug)]
pub struct PlanQueue {
    capacity: usize,
    inner: Mutex<Inner>,
    notify: Notify,
}

impl PlanQueue {
    /// An empty queue holding at most `capacity` plans.
    pub fn new(capacity: usize) -> PlanQueue {
        PlanQueue {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a plan; its result arrives on the returned channel.
    pub fn enqueue(
        &self,
        plan: Plan,
    ) -> Result<oneshot::Receiver<Result<PlanResult, PlanError>>, PlanError> {
        let (tx, rx) = oneshot::channel();
        {
            let mut inner = self.lock();
            if inner.heap.len() >= self.capacity {
                return Err(PlanError::QueueFull);
            }
            inner.seq += 1;
            let seq = inner.seq;
            inner.heap.push(PendingPlan {
                plan,
                reply: tx,
                seq,
            });
        }
        self.notify.notify_one();
        Ok(rx)
    }

    /// Queues a plan and waits for its result, at most `timeout`.
    pub async fn submit(&self, plan: Plan, timeout: Duration) -> Result<PlanResult, PlanError> {
        let rx = self.enqueue(plan)?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(PlanError::ApplierGone),
            Err(_) => Err(PlanError::Timeout),
        }
    }

    /// Takes the next plan without waiting.
    pub fn try_next(&self) -> Option<PendingPlan> {
        self.lock().heap.pop()
    }

    /// Takes the next plan, waiting for one at most `timeout`.
    pub async fn next(&self, timeout: Duration) -> Option<PendingPlan> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(p) = self.try_next() {
                return Some(p);
            }
            // notify_one stores a permit, so a plan queued between the
            // check and the wait is not missed.
            if tokio::time::timeout_at(deadline, self.notify.notified())
                .await
                .is_err()
            {
                return self.try_next();
            }
        }
    }

    /// Plans waiting.
    pub fn len(&self) -> usize {
        self.lock().heap.len()
    }

    /// Whether no plan waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(eval: u128, priority: i64) -> Plan {
        Plan {
            eval_id: EvalId::from_u128(eval),
            priority,
            ..Default::default()
        }
    }

    #[test]
    fn plans_come_out_by_priority_then_submission_order() {
        let q = PlanQueue::new(8);
        let _a = q.enqueue(plan(1, 50)).expect("room");
        let _b = q.enqueue(plan(2, 70)).expect("room");
        let _c = q.enqueue(plan(3, 50)).expect("room");
        let order: Vec<u128> = std::iter::from_fn(|| q.try_next())
            .map(|p| {
                uuid::Uuid::parse_str(&p.plan.eval_id.0)
                    .expect("uuid")
                    .as_u128()
            })
            .collect();
        assert_eq!(order, vec![2, 1, 3]);
    }

    #[test]
    fn a_full_queue_refuses_instead_of_growing() {
        let q = PlanQueue::new(1);
        let _a = q.enqueue(plan(1, 50)).expect("room");
        assert_eq!(q.enqueue(plan(2, 50)).err(), Some(PlanError::QueueFull));
        assert_eq!(q.len(), 1);
    }
}

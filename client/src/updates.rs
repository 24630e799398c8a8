//! The outbox of allocation updates: runners put their latest report here,
//! one per allocation (a newer report replaces an unsent older one), and the
//! client sends what is there in one batch per interval. Its size is bounded
//! by the number of allocations, whatever the rate of changes.

use std::collections::BTreeMap;
use std::sync::Mutex;

use sched_core::model::AllocId;
use tokio::sync::Notify;

use crate::conn::AllocUpdate;

/// Pending updates, newest per allocation.
#[derive(Debug, Default)]
pub struct UpdateSink {
    pending: Mutex<BTreeMap<AllocId, AllocUpdate>>,
    notify: Notify,
}

impl UpdateSink {
    /// Queues `u`, replacing an unsent update of the same allocation.
    pub fn push(&self, u: AllocUpdate) {
        if let Ok(mut p) = self.pending.lock() {
            p.insert(u.alloc_id.clone(), u);
        }
        self.notify.notify_one();
    }

    /// Takes everything pending.
    pub fn take(&self) -> Vec<AllocUpdate> {
        self.pending
            .lock()
            .map(|mut p| std::mem::take(&mut *p).into_values().collect())
            .unwrap_or_default()
    }

    /// Puts back updates that could not be sent, unless newer ones came.
    pub fn requeue(&self, updates: Vec<AllocUpdate>) {
        if let Ok(mut p) = self.pending.lock() {
            for u in updates {
                p.entry(u.alloc_id.clone()).or_insert(u);
            }
        }
    }

    /// Waits until something is pushed.
    pub async fn notified(&self) {
        self.notify.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sched_core::model::ClientStatus;

    #[test]
    fn newest_per_alloc_wins() {
        let s = UpdateSink::default();
        let id = AllocId::from_u128(1);
        for status in [ClientStatus::Pending, ClientStatus::Running] {
            s.push(AllocUpdate {
                alloc_id: id.clone(),
                client_status: status,
                ..AllocUpdate::default()
            });
        }
        let got = s.take();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].client_status, ClientStatus::Running);
        assert!(s.take().is_empty());
        s.push(AllocUpdate {
            alloc_id: id.clone(),
            client_status: ClientStatus::Complete,
            ..AllocUpdate::default()
        });
        s.requeue(got);
        assert_eq!(s.take()[0].client_status, ClientStatus::Complete);
    }
}

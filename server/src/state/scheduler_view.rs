//! The scheduler's read-only [`State`] over a [`StateSnapshot`].

use sched_core::model::{Allocation, Deployment, Job, Node, NodeId, SchedulerConfiguration};
use sched_scheduler::State;

use super::StateSnapshot;

impl State for StateSnapshot {
    fn nodes(&self) -> Vec<&Node> {
        self.nodes.values().map(|n| n.as_ref()).collect()
    }

    fn node(&self, id: &NodeId) -> Option<&Node> {
        self.nodes.get(id).map(|n| n.as_ref())
    }

    fn allocs_by_node(&self, id: &NodeId) -> Vec<&Allocation> {
        self.allocs_by_node
            .get(id)
            .map(|allocs| allocs.values().map(|a| a.as_ref()).collect())
            .unwrap_or_default()
    }

    fn allocs_by_job(&self, namespace: &str, job_id: &str) -> Vec<&Allocation> {
        self.allocs_by_job
            .get(&(namespace.to_string(), job_id.to_string()))
            .map(|allocs| allocs.values().map(|a| a.as_ref()).collect())
            .unwrap_or_default()
    }

    fn job(&self, namespace: &str, id: &str) -> Option<&Job> {
        self.jobs
            .get(&(namespace.to_string(), id.to_string()))
            .map(|j| j.as_ref())
    }

    fn latest_deployment(&self, namespace: &str, job_id: &str) -> Option<&Deployment> {
        self.deployments
            .values()
            .filter(|d| d.namespace == namespace && d.job_id == job_id)
            .max_by_key(|d| d.create_index)
            .map(|d| d.as_ref())
    }

    fn index(&self) -> u64 {
        self.index
    }

    fn scheduler_configuration(&self) -> Option<SchedulerConfiguration> {
        self.scheduler_config
    }
}

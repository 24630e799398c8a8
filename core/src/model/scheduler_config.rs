//! The cluster-wide scheduler configuration operators change at run time
//! (`/v1/operator/scheduler/configuration`): the fit algorithm and which
//! schedulers may preempt lower-priority allocations. Field names and
//! defaults are Nomad's.

use serde::{Deserialize, Serialize};

/// How the scheduler scores a node's fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchedulerAlgorithm {
    /// Prefer fuller nodes.
    #[default]
    Binpack,
    /// Prefer emptier nodes.
    Spread,
}

/// Which schedulers may evict lower-priority allocations to place work.
/// Nomad's defaults: only the system scheduler does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default, deny_unknown_fields)]
pub struct PreemptionConfig {
    /// `system` jobs may preempt.
    pub system_scheduler_enabled: bool,
    /// `sysbatch` jobs may preempt.
    pub sys_batch_scheduler_enabled: bool,
    /// `batch` jobs may preempt.
    pub batch_scheduler_enabled: bool,
    /// `service` jobs may preempt.
    pub service_scheduler_enabled: bool,
}

impl Default for PreemptionConfig {
    fn default() -> Self {
        PreemptionConfig {
            system_scheduler_enabled: true,
            sys_batch_scheduler_enabled: false,
            batch_scheduler_enabled: false,
            service_scheduler_enabled: false,
        }
    }
}

impl PreemptionConfig {
    /// Whether the scheduler of a job type (`service`, `batch`, `system`,
    /// `sysbatch`) may preempt; unknown types never do.
    pub fn enabled_for(&self, job_type: &str) -> bool {
        match job_type {
            "system" => self.system_scheduler_enabled,
            "sysbatch" => self.sys_batch_scheduler_enabled,
            "batch" => self.batch_scheduler_enabled,
            "service" => self.service_scheduler_enabled,
            _ => false,
        }
    }
}

/// The scheduler configuration kept in the replicated state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default, deny_unknown_fields)]
pub struct SchedulerConfiguration {
    /// Fit scoring: `binpack` or `spread`.
    pub scheduler_algorithm: SchedulerAlgorithm,
    /// Which schedulers may preempt.
    pub preemption_config: PreemptionConfig,
    /// Raft index that first stored it (set by the state).
    pub create_index: u64,
    /// Raft index that last changed it (set by the state).
    pub modify_index: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_json_names_are_nomads() {
        let c = SchedulerConfiguration::default();
        let v = serde_json::to_value(c).unwrap();
        assert_eq!(v["SchedulerAlgorithm"], "binpack");
        assert_eq!(v["PreemptionConfig"]["SystemSchedulerEnabled"], true);
        assert_eq!(v["PreemptionConfig"]["SysBatchSchedulerEnabled"], false);
        assert_eq!(v["PreemptionConfig"]["BatchSchedulerEnabled"], false);
        assert_eq!(v["PreemptionConfig"]["ServiceSchedulerEnabled"], false);
        assert!(c.preemption_config.enabled_for("system"));
        assert!(!c.preemption_config.enabled_for("service"));
        assert!(!c.preemption_config.enabled_for("nonsense"));
        let bad = serde_json::from_str::<SchedulerConfiguration>(
            r#"{"PreemptionConfig":{"ServiceSchedulerEnabeld":true}}"#,
        )
        .unwrap_err();
        assert!(bad.to_string().contains("ServiceSchedulerEnabeld"), "{bad}");
        let bad =
            serde_json::from_str::<SchedulerConfiguration>(r#"{"SchedulerAlgorithm":"random"}"#)
                .unwrap_err();
        assert!(bad.to_string().contains("random"), "{bad}");
    }
}

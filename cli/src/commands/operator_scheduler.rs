//! `sched operator scheduler get-config | set-config`: the cluster's
//! scheduler configuration (fit algorithm, which schedulers may preempt),
//! with Nomad's flags and output.

use sched_api::{SchedulerAlgorithm, SchedulerConfiguration};

use crate::commands::status::{ApiArgs, fields, json, with_client};
use crate::exit::user;

/// `sched operator scheduler ...`
#[derive(Debug, clap::Subcommand)]
pub enum SchedulerCommand {
    /// Show the scheduler configuration.
    GetConfig(ApiArgs),
    /// Change the scheduler configuration; unset flags keep their value.
    SetConfig(SetConfigArgs),
}

/// `scheduler set-config`
#[derive(Debug, clap::Args)]
pub struct SetConfigArgs {
    /// `binpack` or `spread`.
    #[arg(long = "scheduler-algorithm", value_parser = ["binpack", "spread"])]
    pub scheduler_algorithm: Option<String>,
    /// Whether system jobs may preempt lower-priority allocations.
    #[arg(long = "preempt-system-scheduler", value_name = "BOOL")]
    pub preempt_system: Option<bool>,
    /// Whether sysbatch jobs may preempt.
    #[arg(long = "preempt-sysbatch-scheduler", value_name = "BOOL")]
    pub preempt_sysbatch: Option<bool>,
    /// Whether batch jobs may preempt.
    #[arg(long = "preempt-batch-scheduler", value_name = "BOOL")]
    pub preempt_batch: Option<bool>,
    /// Whether service jobs may preempt.
    #[arg(long = "preempt-service-scheduler", value_name = "BOOL")]
    pub preempt_service: Option<bool>,
    /// Only write if the configuration's modify index is still this one.
    #[arg(long = "check-index")]
    pub check_index: Option<u64>,
    #[command(flatten)]
    pub api: ApiArgs,
}

impl SetConfigArgs {
    /// `current` with the flags that were given applied.
    fn apply(&self, mut c: SchedulerConfiguration) -> SchedulerConfiguration {
        if let Some(a) = self.scheduler_algorithm.as_deref() {
            c.scheduler_algorithm = if a == "spread" {
                SchedulerAlgorithm::Spread
            } else {
                SchedulerAlgorithm::Binpack
            };
        }
        let p = &mut c.preemption_config;
        for (flag, field) in [
            (self.preempt_system, &mut p.system_scheduler_enabled),
            (self.preempt_sysbatch, &mut p.sys_batch_scheduler_enabled),
            (self.preempt_batch, &mut p.batch_scheduler_enabled),
            (self.preempt_service, &mut p.service_scheduler_enabled),
        ] {
            if let Some(v) = flag {
                *field = v;
            }
        }
        c
    }

    fn any_change(&self) -> bool {
        self.scheduler_algorithm.is_some()
            || self.preempt_system.is_some()
            || self.preempt_sysbatch.is_some()
            || self.preempt_batch.is_some()
            || self.preempt_service.is_some()
    }
}

fn algorithm_name(a: SchedulerAlgorithm) -> &'static str {
    match a {
        SchedulerAlgorithm::Binpack => "binpack",
        SchedulerAlgorithm::Spread => "spread",
    }
}

/// Runs a `scheduler` subcommand.
pub fn run(cmd: &SchedulerCommand) -> anyhow::Result<()> {
    match cmd {
        SchedulerCommand::GetConfig(api) => {
            let resp = with_client(api, |c| async move { c.scheduler_configuration().await })?;
            if api.json {
                return super::print_out(&json(&resp.scheduler_config)?);
            }
            let c = resp.scheduler_config;
            let p = c.preemption_config;
            super::print_out(&fields(&[
                (
                    "Scheduler Algorithm",
                    algorithm_name(c.scheduler_algorithm).to_owned(),
                ),
                (
                    "Preemption System Scheduler",
                    p.system_scheduler_enabled.to_string(),
                ),
                (
                    "Preemption SysBatch Scheduler",
                    p.sys_batch_scheduler_enabled.to_string(),
                ),
                (
                    "Preemption Service Scheduler",
                    p.service_scheduler_enabled.to_string(),
                ),
                (
                    "Preemption Batch Scheduler",
                    p.batch_scheduler_enabled.to_string(),
                ),
            ]))
        }
        SchedulerCommand::SetConfig(a) => {
            if !a.any_change() {
                return Err(user(
                    "error: give at least one of -scheduler-algorithm, -preempt-system-scheduler, \
                     -preempt-sysbatch-scheduler, -preempt-batch-scheduler, -preempt-service-scheduler",
                ));
            }
            let cas = a.check_index;
            let updated = with_client(&a.api, |c| async move {
                let current = c.scheduler_configuration().await?.scheduler_config;
                let next = a.apply(current);
                c.set_scheduler_configuration(&next, cas).await
            })?;
            if !updated.updated {
                return Err(user(
                    "error: the scheduler configuration changed meanwhile (check index mismatch); \
                     read it again and retry",
                ));
            }
            super::print_out("Scheduler configuration updated!\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_given_flags_change_the_configuration() {
        let args = SetConfigArgs {
            scheduler_algorithm: Some("spread".into()),
            preempt_system: None,
            preempt_sysbatch: None,
            preempt_batch: Some(true),
            preempt_service: Some(true),
            check_index: None,
            api: ApiArgs {
                address: None,
                json: false,
            },
        };
        assert!(args.any_change());
        let c = args.apply(SchedulerConfiguration::default());
        assert_eq!(c.scheduler_algorithm, SchedulerAlgorithm::Spread);
        assert!(c.preemption_config.system_scheduler_enabled, "kept");
        assert!(!c.preemption_config.sys_batch_scheduler_enabled, "kept");
        assert!(c.preemption_config.batch_scheduler_enabled);
        assert!(c.preemption_config.service_scheduler_enabled);
    }
}

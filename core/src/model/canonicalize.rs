//! Nomad's defaults: [`Job::canonicalize`] fills every field a job file left
//! unset the way Nomad's `api` package does before a job is registered, and
//! merges job-level policies into groups and group policies into tasks.
//!
//! Parsing never applies these defaults (a parsed job says exactly what the
//! file said); the CLI and the servers call `canonicalize` before validation
//! and scheduling. Running it twice gives the same job as running it once.

use super::{
    Affinity, Artifact, CSIPluginConfig, ChangeScript, CheckRestart, Constraint,
    DisconnectStrategy, Duration, EphemeralDisk, Job, LogConfig, MigrateStrategy, Multiregion,
    NetworkResource, ReschedulePolicy, Resources, RestartPolicy, ScalingPolicy, Service, Spread,
    Task, TaskGroup, Template, UpdateStrategy, Vault,
};

/// Job types, as Nomad spells them.
pub(crate) const JOB_TYPE_SERVICE: &str = "service";
/// Batch jobs run to completion.
pub(crate) const JOB_TYPE_BATCH: &str = "batch";
/// System jobs run on every eligible node.
pub(crate) const JOB_TYPE_SYSTEM: &str = "system";
/// Sysbatch jobs run to completion on every eligible node.
pub(crate) const JOB_TYPE_SYSBATCH: &str = "sysbatch";

/// Copies every field set in `src` over `dst`.
macro_rules! merge_fields {
    ($dst:expr, $src:expr, $($field:ident),+ $(,)?) => {{
        $(
            if $src.$field.is_some() {
                $dst.$field = $src.$field.clone();
            }
        )+
    }};
}

/// Sets `slot` to `value` when it is unset.
fn default_to<T>(slot: &mut Option<T>, value: T) {
    if slot.is_none() {
        *slot = Some(value);
    }
}

/// Sets a string slot to `value` when it is unset or empty (Go treats an
/// empty string as "not given" for these fields).
fn default_str(slot: &mut Option<String>, value: &str) {
    if slot.as_deref().is_none_or(str::is_empty) {
        *slot = Some(value.to_owned());
    }
}

impl RestartPolicy {
    /// Overlays the fields set in `other`.
    pub fn merge(&mut self, other: &RestartPolicy) {
        merge_fields!(
            self,
            other,
            interval,
            attempts,
            delay,
            mode,
            render_templates
        );
    }

    /// Nomad's default restart policy for a job type.
    pub fn default_for(job_type: &str) -> RestartPolicy {
        let (attempts, interval) = match job_type {
            JOB_TYPE_SERVICE | JOB_TYPE_SYSTEM => (2, Duration::from_mins(30)),
            _ => (3, Duration::from_hours(24)),
        };
        RestartPolicy {
            interval: Some(interval),
            attempts: Some(attempts),
            delay: Some(Duration::from_secs(15)),
            mode: Some("fail".to_owned()),
            render_templates: Some(false),
        }
    }
}

impl ReschedulePolicy {
    /// Overlays the fields set in `other`.
    pub fn merge(&mut self, other: &ReschedulePolicy) {
        merge_fields!(
            self,
            other,
            attempts,
            interval,
            delay,
            delay_function,
            max_delay,
            unlimited
        );
    }

    /// Nomad's default reschedule policy for a job type; system and sysbatch
    /// jobs are never rescheduled, so they have none.
    pub fn default_for(job_type: &str) -> Option<ReschedulePolicy> {
        match job_type {
            JOB_TYPE_SERVICE => Some(ReschedulePolicy {
                attempts: Some(0),
                interval: Some(Duration::ZERO),
                delay: Some(Duration::from_secs(30)),
                delay_function: Some("exponential".to_owned()),
                max_delay: Some(Duration::from_hours(1)),
                unlimited: Some(true),
            }),
            JOB_TYPE_BATCH => Some(ReschedulePolicy {
                attempts: Some(1),
                interval: Some(Duration::from_hours(24)),
                delay: Some(Duration::from_secs(5)),
                delay_function: Some("constant".to_owned()),
                max_delay: Some(Duration::ZERO),
                unlimited: Some(false),
            }),
            _ => None,
        }
    }
}

impl UpdateStrategy {
    /// Overlays the fields set in `other`.
    pub fn merge(&mut self, other: &UpdateStrategy) {
        merge_fields!(
            self,
            other,
            stagger,
            max_parallel,
            health_check,
            min_healthy_time,
            healthy_deadline,
            progress_deadline,
            canary,
            auto_revert,
            auto_promote,
        );
    }

    /// Nomad's default update strategy.
    pub fn nomad_default() -> UpdateStrategy {
        UpdateStrategy {
            stagger: Some(Duration::from_secs(30)),
            max_parallel: Some(1),
            health_check: Some("checks".to_owned()),
            min_healthy_time: Some(Duration::from_secs(10)),
            healthy_deadline: Some(Duration::from_mins(5)),
            progress_deadline: Some(Duration::from_mins(10)),
            canary: Some(0),
            auto_revert: Some(false),
            auto_promote: Some(false),
        }
    }

    /// Fills unset fields with Nomad's defaults.
    pub fn canonicalize(&mut self) {
        let mut full = UpdateStrategy::nomad_default();
        full.merge(self);
        *self = full;
    }
}

impl MigrateStrategy {
    /// Overlays the fields set in `other`.
    pub fn merge(&mut self, other: &MigrateStrategy) {
        merge_fields!(
            self,
            other,
            max_parallel,
            health_check,
            min_healthy_time,
            healthy_deadline
        );
    }

    /// Nomad's default migrate strategy.
    pub fn nomad_default() -> MigrateStrategy {
        MigrateStrategy {
            max_parallel: Some(1),
            health_check: Some("checks".to_owned()),
            min_healthy_time: Some(Duration::from_secs(10)),
            healthy_deadline: Some(Duration::from_mins(5)),
        }
    }
}

impl DisconnectStrategy {
    fn canonicalize(&mut self) {
        default_to(&mut self.replace, true);
        default_str(&mut self.reconcile, "best_score");
    }
}

impl EphemeralDisk {
    fn canonicalize(&mut self) {
        default_to(&mut self.sticky, false);
        default_to(&mut self.migrate, false);
        default_to(&mut self.size_mb, 300);
    }
}

impl Constraint {
    fn canonicalize(&mut self) {
        default_str(&mut self.operand, "=");
    }
}

impl Affinity {
    fn canonicalize(&mut self) {
        default_str(&mut self.operand, "=");
        default_to(&mut self.weight, 50);
    }
}

impl Spread {
    fn canonicalize(&mut self) {
        default_to(&mut self.weight, 50);
    }
}

fn canonicalize_placement(
    constraints: &mut Option<Vec<Constraint>>,
    affinities: &mut Option<Vec<Affinity>>,
) {
    constraints
        .iter_mut()
        .flatten()
        .for_each(Constraint::canonicalize);
    affinities
        .iter_mut()
        .flatten()
        .for_each(Affinity::canonicalize);
}

impl NetworkResource {
    fn canonicalize(&mut self) {
        let ports = self
            .reserved_ports
            .iter_mut()
            .chain(self.dynamic_ports.iter_mut());
        for port in ports.flatten() {
            default_str(&mut port.host_network, "default");
        }
    }
}

impl Resources {
    /// Fills Nomad's minimum task resources: 100 MHz of CPU unless cores are
    /// reserved, and 300 MB of memory.
    pub fn canonicalize(&mut self) {
        if self.cores.is_none() {
            self.cores = Some(0);
            default_to(&mut self.cpu, 100);
        }
        default_to(&mut self.memory_mb, 300);
        for net in self.networks.iter_mut().flatten() {
            net.canonicalize();
        }
        for dev in self.devices.iter_mut().flatten() {
            default_to(&mut dev.count, 1);
            canonicalize_placement(&mut dev.constraints, &mut dev.affinities);
        }
    }
}

impl LogConfig {
    fn canonicalize(&mut self) {
        default_to(&mut self.max_files, 10);
        default_to(&mut self.max_file_size_mb, 10);
        default_to(&mut self.disabled, false);
    }
}

impl Artifact {
    fn canonicalize(&mut self) {
        default_str(&mut self.getter_mode, "any");
        default_to(&mut self.getter_source, String::new());
        default_to(&mut self.getter_insecure, false);
        if self.getter_options.as_ref().is_some_and(|m| m.is_empty()) {
            self.getter_options = None;
        }
        if self.getter_headers.as_ref().is_some_and(|m| m.is_empty()) {
            self.getter_headers = None;
        }
        if self.relative_dest.is_none() {
            let dest = if self.getter_mode.as_deref() == Some("file") {
                let source = self.getter_source.as_deref().unwrap_or_default();
                let base = source
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or_default();
                format!("local/{base}")
            } else {
                "local/".to_owned()
            };
            self.relative_dest = Some(dest);
        }
    }
}

impl Vault {
    fn canonicalize(&mut self) {
        default_to(&mut self.env, true);
        default_to(&mut self.disable_file, false);
        default_to(&mut self.namespace, String::new());
        default_str(&mut self.cluster, "default");
        default_str(&mut self.change_mode, "restart");
        default_to(&mut self.change_signal, "SIGHUP".to_owned());
        default_to(&mut self.allow_token_expiration, false);
    }
}

impl ChangeScript {
    fn canonicalize(&mut self) {
        default_to(&mut self.command, String::new());
        default_to(&mut self.args, Vec::new());
        default_to(&mut self.timeout, Duration::from_secs(5));
        default_to(&mut self.fail_on_error, false);
        default_to(&mut self.run_on_first_render, false);
    }
}

impl Template {
    fn canonicalize(&mut self) {
        default_to(&mut self.source_path, String::new());
        default_to(&mut self.dest_path, String::new());
        default_to(&mut self.embedded_tmpl, String::new());
        default_str(&mut self.change_mode, "restart");
        match &mut self.change_signal {
            Some(sig) => *sig = sig.to_uppercase(),
            None if self.change_mode.as_deref() == Some("signal") => {
                self.change_signal = Some("SIGHUP".to_owned());
            }
            None => self.change_signal = Some(String::new()),
        }
        if let Some(script) = &mut self.change_script {
            script.canonicalize();
        }
        default_to(&mut self.splay, Duration::from_secs(5));
        default_str(&mut self.perms, "0644");
        default_str(&mut self.left_delim, "{{");
        default_str(&mut self.right_delim, "}}");
        default_to(&mut self.envvars, false);
        default_to(&mut self.err_missing_key, false);
        default_to(&mut self.vault_grace, Duration::ZERO);
    }
}

impl CheckRestart {
    /// Overlays the fields set in `other`.
    pub fn merge(&mut self, other: &CheckRestart) {
        merge_fields!(self, other, limit, grace, ignore_warnings);
    }

    fn canonicalize(&mut self) {
        default_to(&mut self.limit, 0);
        default_to(&mut self.grace, Duration::from_secs(1));
        default_to(&mut self.ignore_warnings, false);
    }
}

impl Service {
    /// Fills Nomad's service defaults; `task` is `None` for group services,
    /// whose default name is `<job>-<group>` instead of `<job>-<group>-<task>`.
    fn canonicalize(&mut self, job_name: &str, group_name: &str, task: Option<&str>) {
        if self.name.as_deref().is_none_or(str::is_empty) {
            self.name = Some(match task {
                Some(task) => format!("{job_name}-{group_name}-{task}"),
                None => format!("{job_name}-{group_name}"),
            });
        }
        default_str(&mut self.address_mode, "auto");
        default_str(&mut self.on_update, "require_healthy");
        default_str(&mut self.provider, "consul");
        default_str(&mut self.cluster, "default");
        for map in [
            &mut self.meta,
            &mut self.canary_meta,
            &mut self.tagged_addresses,
        ] {
            if map.as_ref().is_some_and(|m| m.is_empty()) {
                *map = None;
            }
        }
        if let Some(weights) = &mut self.weights {
            for w in [&mut weights.passing, &mut weights.warning] {
                if w.is_none_or(|w| w <= 0) {
                    *w = Some(1);
                }
            }
        }
        for check in self.checks.iter_mut().flatten() {
            for n in [
                &mut check.success_before_passing,
                &mut check.failures_before_critical,
                &mut check.failures_before_warning,
            ] {
                if n.is_some_and(|n| n < 0) {
                    *n = Some(0);
                }
            }
            if self.check_restart.is_some() || check.check_restart.is_some() {
                let mut merged = self.check_restart.clone().unwrap_or_default();
                if let Some(own) = &check.check_restart {
                    merged.merge(own);
                }
                merged.canonicalize();
                check.check_restart = Some(merged);
            }
            if check.on_update.as_deref().is_none_or(str::is_empty) {
                check.on_update = self.on_update.clone();
            }
        }
    }
}

impl ScalingPolicy {
    fn canonicalize(&mut self, default_type: Option<&str>, count: Option<i64>) {
        default_to(&mut self.enabled, true);
        if let Some(default_type) = default_type {
            default_str(&mut self.r#type, default_type);
        }
        if let Some(count) = count {
            default_to(&mut self.min, count);
        }
    }
}

impl Multiregion {
    fn canonicalize(&mut self) {
        let strategy = self.strategy.get_or_insert_with(Default::default);
        default_to(&mut strategy.max_parallel, 0);
        default_to(&mut strategy.on_failure, String::new());
        for region in self.regions.iter_mut().flatten() {
            default_to(&mut region.count, 1);
        }
    }
}

impl CSIPluginConfig {
    fn canonicalize(&mut self) {
        default_str(&mut self.mount_dir, "/csi");
        default_str(&mut self.stage_publish_base_dir, "/local/csi");
        default_to(&mut self.health_timeout, Duration::from_secs(30));
    }
}

/// What groups and tasks inherit from the job while being canonicalised.
struct JobContext {
    name: String,
    job_type: String,
    update: Option<UpdateStrategy>,
    reschedule: Option<ReschedulePolicy>,
    migrate: Option<MigrateStrategy>,
}

impl Job {
    /// Fills Nomad's defaults in place and merges job policies into groups
    /// and group policies into tasks. Idempotent.
    pub fn canonicalize(&mut self) {
        default_to(&mut self.id, String::new());
        if self.name.is_none() {
            self.name = self.id.clone();
        }
        default_str(&mut self.namespace, "default");
        default_str(&mut self.r#type, JOB_TYPE_SERVICE);
        default_str(&mut self.region, "global");
        default_to(&mut self.priority, 50);
        default_to(&mut self.stop, false);
        default_to(&mut self.all_at_once, false);
        default_str(&mut self.node_pool, "default");
        if self.datacenters.as_ref().is_none_or(Vec::is_empty) {
            self.datacenters = Some(vec!["*".to_owned()]);
        }
        if let Some(periodic) = &mut self.periodic {
            default_to(&mut periodic.enabled, true);
            default_str(&mut periodic.spec_type, "cron");
            default_to(&mut periodic.prohibit_overlap, false);
            default_str(&mut periodic.time_zone, "UTC");
        }
        if let Some(param) = &mut self.parameterized_job {
            default_str(&mut param.payload, "optional");
        }
        let job_type = self.r#type.clone().unwrap_or_default();
        match &mut self.update {
            Some(update) => update.canonicalize(),
            None if job_type == JOB_TYPE_SERVICE => {
                self.update = Some(UpdateStrategy::nomad_default());
            }
            None => {}
        }
        if let Some(multiregion) = &mut self.multiregion {
            multiregion.canonicalize();
        }
        canonicalize_placement(&mut self.constraints, &mut self.affinities);
        self.spreads
            .iter_mut()
            .flatten()
            .for_each(Spread::canonicalize);

        let ctx = JobContext {
            name: self.name.clone().unwrap_or_default(),
            job_type,
            update: self.update.clone(),
            reschedule: self.reschedule.clone(),
            migrate: self.migrate.clone(),
        };
        for group in self.task_groups.iter_mut().flatten() {
            group.canonicalize(&ctx);
        }
    }
}

impl TaskGroup {
    fn canonicalize(&mut self, job: &JobContext) {
        default_to(&mut self.name, String::new());
        if self.count.is_none() {
            let min = self.scaling.as_ref().and_then(|s| s.min);
            self.count = Some(min.unwrap_or(1));
        }
        if let Some(scaling) = &mut self.scaling {
            scaling.canonicalize(Some("horizontal"), self.count);
        }
        self.ephemeral_disk
            .get_or_insert_with(Default::default)
            .canonicalize();

        if let Some(job_update) = &job.update {
            let mut merged = job_update.clone();
            if let Some(own) = &self.update {
                merged.merge(own);
            }
            self.update = Some(merged);
        }
        if let Some(update) = &mut self.update {
            update.canonicalize();
        }

        let mut restart = RestartPolicy::default_for(&job.job_type);
        if let Some(own) = &self.restart_policy {
            restart.merge(own);
        }
        self.restart_policy = Some(restart);

        let reschedule_default = ReschedulePolicy::default_for(&job.job_type);
        if reschedule_default.is_some()
            || job.reschedule.is_some()
            || self.reschedule_policy.is_some()
        {
            let mut merged = reschedule_default.unwrap_or_default();
            if let Some(from_job) = &job.reschedule {
                merged.merge(from_job);
            }
            if let Some(own) = &self.reschedule_policy {
                merged.merge(own);
            }
            self.reschedule_policy = Some(merged);
        }

        if job.job_type == JOB_TYPE_SERVICE || job.migrate.is_some() || self.migrate.is_some() {
            let mut merged = MigrateStrategy::nomad_default();
            if let Some(from_job) = &job.migrate {
                merged.merge(from_job);
            }
            if let Some(own) = &self.migrate {
                merged.merge(own);
            }
            self.migrate = Some(merged);
        }

        default_to(&mut self.prevent_reschedule_on_lost, false);
        if let Some(disconnect) = &mut self.disconnect {
            disconnect.canonicalize();
        }
        canonicalize_placement(&mut self.constraints, &mut self.affinities);
        self.spreads
            .iter_mut()
            .flatten()
            .for_each(Spread::canonicalize);
        self.networks
            .iter_mut()
            .flatten()
            .for_each(NetworkResource::canonicalize);

        let group_name = self.name.clone().unwrap_or_default();
        for service in self.services.iter_mut().flatten() {
            service.canonicalize(&job.name, &group_name, None);
        }
        let restart = self.restart_policy.clone().unwrap_or_default();
        for task in self.tasks.iter_mut().flatten() {
            task.canonicalize(&job.name, &group_name, &restart);
        }
    }
}

impl Task {
    fn canonicalize(&mut self, job_name: &str, group_name: &str, group_restart: &RestartPolicy) {
        default_to(&mut self.name, String::new());
        self.resources
            .get_or_insert_with(Default::default)
            .canonicalize();
        default_to(&mut self.kill_timeout, Duration::from_secs(5));
        self.log_config
            .get_or_insert_with(Default::default)
            .canonicalize();

        let mut restart = group_restart.clone();
        if let Some(own) = &self.restart_policy {
            restart.merge(own);
        }
        self.restart_policy = Some(restart);

        // A lifecycle block without a hook means "main task", like none.
        if self
            .lifecycle
            .as_ref()
            .is_some_and(|l| l.hook.as_deref().is_none_or(str::is_empty))
        {
            self.lifecycle = None;
        }
        for mount in self.volume_mounts.iter_mut().flatten() {
            default_to(&mut mount.propagation_mode, "private".to_owned());
            default_to(&mut mount.read_only, false);
            default_to(&mut mount.selinux_label, String::new());
        }
        self.artifacts
            .iter_mut()
            .flatten()
            .for_each(Artifact::canonicalize);
        if let Some(vault) = &mut self.vault {
            vault.canonicalize();
        }
        self.templates
            .iter_mut()
            .flatten()
            .for_each(Template::canonicalize);
        if let Some(csi) = &mut self.csi_plugin_config {
            csi.canonicalize();
        }
        for policy in self.scaling_policies.iter_mut().flatten() {
            policy.canonicalize(None, None);
        }
        canonicalize_placement(&mut self.constraints, &mut self.affinities);

        let task_name = self.name.clone().unwrap_or_default();
        for service in self.services.iter_mut().flatten() {
            service.canonicalize(job_name, group_name, Some(&task_name));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn job_of(type_: Option<&str>) -> Job {
        let mut v = json!({
            "ID": "example",
            "TaskGroups": [{
                "Name": "g",
                "Tasks": [{"Name": "t", "Driver": "raw_exec"}]
            }]
        });
        if let Some(t) = type_ {
            v["Type"] = json!(t);
        }
        serde_json::from_value(v).unwrap()
    }

    fn canonical(type_: Option<&str>) -> Job {
        let mut job = job_of(type_);
        job.canonicalize();
        job
    }

    fn group(job: &Job) -> &TaskGroup {
        &job.task_groups.as_ref().unwrap()[0]
    }

    fn task(job: &Job) -> &Task {
        &group(job).tasks.as_ref().unwrap()[0]
    }

    #[test]
    fn job_level_defaults() {
        let job = canonical(None);
        assert_eq!(job.name.as_deref(), Some("example"));
        assert_eq!(job.namespace.as_deref(), Some("default"));
        assert_eq!(job.r#type.as_deref(), Some("service"));
        assert_eq!(job.region.as_deref(), Some("global"));
        assert_eq!(job.priority, Some(50));
        assert_eq!(job.all_at_once, Some(false));
        assert_eq!(job.stop, Some(false));
        assert_eq!(job.node_pool.as_deref(), Some("default"));
        assert_eq!(job.datacenters, Some(vec!["*".to_owned()]));
        assert_eq!(job.update, Some(UpdateStrategy::nomad_default()));
    }

    #[test]
    fn explicit_values_are_kept() {
        let mut job = job_of(Some("batch"));
        job.name = Some("Nice Name".into());
        job.priority = Some(70);
        job.datacenters = Some(vec!["dc1".into()]);
        job.canonicalize();
        assert_eq!(job.name.as_deref(), Some("Nice Name"));
        assert_eq!(job.priority, Some(70));
        assert_eq!(job.datacenters, Some(vec!["dc1".to_owned()]));
    }

    #[test]
    fn service_group_and_task_defaults() {
        let job = canonical(Some("service"));
        let g = group(&job);
        assert_eq!(g.count, Some(1));
        assert_eq!(
            g.ephemeral_disk,
            Some(EphemeralDisk {
                sticky: Some(false),
                migrate: Some(false),
                size_mb: Some(300)
            })
        );
        let restart = RestartPolicy {
            interval: Some(Duration::from_mins(30)),
            attempts: Some(2),
            delay: Some(Duration::from_secs(15)),
            mode: Some("fail".into()),
            render_templates: Some(false),
        };
        assert_eq!(g.restart_policy.as_ref(), Some(&restart));
        assert_eq!(
            g.reschedule_policy,
            Some(ReschedulePolicy {
                attempts: Some(0),
                interval: Some(Duration::ZERO),
                delay: Some(Duration::from_secs(30)),
                delay_function: Some("exponential".into()),
                max_delay: Some(Duration::from_hours(1)),
                unlimited: Some(true),
            })
        );
        assert_eq!(g.update, Some(UpdateStrategy::nomad_default()));
        assert_eq!(g.migrate, Some(MigrateStrategy::nomad_default()));

        let t = task(&job);
        assert_eq!(t.restart_policy.as_ref(), Some(&restart));
        assert_eq!(t.kill_timeout, Some(Duration::from_secs(5)));
        let res = t.resources.as_ref().unwrap();
        assert_eq!(
            (res.cpu, res.cores, res.memory_mb),
            (Some(100), Some(0), Some(300))
        );
        let logs = t.log_config.as_ref().unwrap();
        assert_eq!(
            (logs.max_files, logs.max_file_size_mb),
            (Some(10), Some(10))
        );
    }

    #[test]
    fn batch_defaults() {
        let job = canonical(Some("batch"));
        assert_eq!(job.update, None);
        let g = group(&job);
        assert_eq!(g.update, None);
        assert_eq!(g.migrate, None);
        let restart = g.restart_policy.as_ref().unwrap();
        assert_eq!(restart.attempts, Some(3));
        assert_eq!(restart.interval, Some(Duration::from_hours(24)));
        assert_eq!(restart.delay, Some(Duration::from_secs(15)));
        assert_eq!(restart.mode.as_deref(), Some("fail"));
        let r = g.reschedule_policy.as_ref().unwrap();
        assert_eq!(r.attempts, Some(1));
        assert_eq!(r.interval, Some(Duration::from_hours(24)));
        assert_eq!(r.delay, Some(Duration::from_secs(5)));
        assert_eq!(r.delay_function.as_deref(), Some("constant"));
        assert_eq!(r.unlimited, Some(false));
    }

    #[test]
    fn system_and_sysbatch_defaults() {
        for (kind, attempts) in [("system", 2), ("sysbatch", 3)] {
            let job = canonical(Some(kind));
            let g = group(&job);
            assert_eq!(g.reschedule_policy, None, "{kind}");
            assert_eq!(g.update, None, "{kind}");
            assert_eq!(g.migrate, None, "{kind}");
            assert_eq!(
                g.restart_policy.as_ref().unwrap().attempts,
                Some(attempts),
                "{kind}"
            );
        }
    }

    #[test]
    fn policies_merge_job_into_group_and_group_into_task() {
        let mut job = job_of(Some("service"));
        job.update = Some(UpdateStrategy {
            max_parallel: Some(3),
            canary: Some(1),
            ..Default::default()
        });
        job.reschedule = Some(ReschedulePolicy {
            attempts: Some(7),
            ..Default::default()
        });
        job.migrate = Some(MigrateStrategy {
            max_parallel: Some(4),
            ..Default::default()
        });
        {
            let g = &mut job.task_groups.as_mut().unwrap()[0];
            g.update = Some(UpdateStrategy {
                canary: Some(0),
                ..Default::default()
            });
            g.reschedule_policy = Some(ReschedulePolicy {
                delay: Some(Duration::from_secs(9)),
                ..Default::default()
            });
            g.restart_policy = Some(RestartPolicy {
                attempts: Some(9),
                ..Default::default()
            });
            g.tasks.as_mut().unwrap()[0].restart_policy = Some(RestartPolicy {
                mode: Some("delay".into()),
                ..Default::default()
            });
        }
        job.canonicalize();
        let g = group(&job);
        let u = g.update.as_ref().unwrap();
        assert_eq!((u.max_parallel, u.canary), (Some(3), Some(0)));
        assert_eq!(u.health_check.as_deref(), Some("checks"));
        let r = g.reschedule_policy.as_ref().unwrap();
        assert_eq!(
            (r.attempts, r.delay),
            (Some(7), Some(Duration::from_secs(9)))
        );
        assert_eq!(r.delay_function.as_deref(), Some("exponential"));
        assert_eq!(g.migrate.as_ref().unwrap().max_parallel, Some(4));
        let tr = task(&job).restart_policy.as_ref().unwrap();
        assert_eq!(tr.attempts, Some(9));
        assert_eq!(tr.mode.as_deref(), Some("delay"));
        assert_eq!(tr.interval, Some(Duration::from_mins(30)));
    }

    #[test]
    fn count_defaults_to_scaling_min() {
        let mut job = job_of(None);
        job.task_groups.as_mut().unwrap()[0].scaling = Some(ScalingPolicy {
            min: Some(3),
            max: Some(10),
            ..Default::default()
        });
        job.canonicalize();
        let g = group(&job);
        assert_eq!(g.count, Some(3));
        let s = g.scaling.as_ref().unwrap();
        assert_eq!(
            (s.enabled, s.r#type.as_deref()),
            (Some(true), Some("horizontal"))
        );

        let mut job = job_of(None);
        job.task_groups.as_mut().unwrap()[0].count = Some(4);
        job.task_groups.as_mut().unwrap()[0].scaling = Some(ScalingPolicy {
            max: Some(10),
            ..Default::default()
        });
        job.canonicalize();
        assert_eq!(group(&job).count, Some(4));
        assert_eq!(group(&job).scaling.as_ref().unwrap().min, Some(4));
    }

    #[test]
    fn cores_suppress_the_cpu_default() {
        let mut job = job_of(None);
        job.task_groups.as_mut().unwrap()[0].tasks.as_mut().unwrap()[0].resources =
            Some(Resources {
                cores: Some(2),
                ..Default::default()
            });
        job.canonicalize();
        let res = task(&job).resources.as_ref().unwrap();
        assert_eq!(
            (res.cpu, res.cores, res.memory_mb),
            (None, Some(2), Some(300))
        );
    }

    #[test]
    fn block_defaults() {
        let mut job: Job = serde_json::from_value(json!({
            "ID": "j",
            "Name": "job",
            "Constraints": [{"LTarget": "${attr.kernel.name}", "RTarget": "linux"}],
            "Affinities": [{"LTarget": "${node.class}", "RTarget": "big"}],
            "Spreads": [{"Attribute": "${node.datacenter}"}],
            "Periodic": {"Spec": "*/5 * * * *"},
            "ParameterizedJob": {},
            "TaskGroups": [{
                "Name": "g",
                "Networks": [{"DynamicPorts": [{"Label": "http"}]}],
                "Services": [{"PortLabel": "http", "CheckRestart": {"Limit": 3},
                              "Checks": [{"Type": "tcp"}]}],
                "Disconnect": {"LostAfter": 1},
                "Tasks": [{
                    "Name": "t",
                    "Services": [{}],
                    "Templates": [{"DestPath": "x", "ChangeMode": "signal"}],
                    "Artifacts": [{"GetterSource": "https://e.com/a/b.bin", "GetterMode": "file"},
                                  {"GetterSource": "https://e.com/c"}],
                    "Vault": {},
                    "Lifecycle": {"Hook": "", "Sidecar": true},
                    "VolumeMounts": [{"Volume": "v", "Destination": "/v"}],
                    "CSIPluginConfig": {"ID": "p", "Type": "node"}
                }]
            }]
        }))
        .unwrap();
        job.canonicalize();
        let c = &job.constraints.as_ref().unwrap()[0];
        assert_eq!(c.operand.as_deref(), Some("="));
        let a = &job.affinities.as_ref().unwrap()[0];
        assert_eq!((a.operand.as_deref(), a.weight), (Some("="), Some(50)));
        assert_eq!(job.spreads.as_ref().unwrap()[0].weight, Some(50));
        let p = job.periodic.as_ref().unwrap();
        assert_eq!(p.spec_type.as_deref(), Some("cron"));
        assert_eq!(p.time_zone.as_deref(), Some("UTC"));
        assert_eq!(p.enabled, Some(true));
        assert_eq!(
            job.parameterized_job.as_ref().unwrap().payload.as_deref(),
            Some("optional")
        );

        let g = group(&job);
        let port = &g.networks.as_ref().unwrap()[0]
            .dynamic_ports
            .as_ref()
            .unwrap()[0];
        assert_eq!(port.host_network.as_deref(), Some("default"));
        let svc = &g.services.as_ref().unwrap()[0];
        assert_eq!(svc.name.as_deref(), Some("job-g"));
        assert_eq!(svc.address_mode.as_deref(), Some("auto"));
        assert_eq!(svc.provider.as_deref(), Some("consul"));
        let check = &svc.checks.as_ref().unwrap()[0];
        let cr = check.check_restart.as_ref().unwrap();
        assert_eq!(
            (cr.limit, cr.grace),
            (Some(3), Some(Duration::from_secs(1)))
        );
        assert_eq!(check.on_update.as_deref(), Some("require_healthy"));
        let d = g.disconnect.as_ref().unwrap();
        assert_eq!(
            (d.replace, d.reconcile.as_deref()),
            (Some(true), Some("best_score"))
        );

        let t = task(&job);
        assert_eq!(
            t.services.as_ref().unwrap()[0].name.as_deref(),
            Some("job-g-t")
        );
        let tmpl = &t.templates.as_ref().unwrap()[0];
        assert_eq!(tmpl.change_signal.as_deref(), Some("SIGHUP"));
        assert_eq!(tmpl.perms.as_deref(), Some("0644"));
        assert_eq!(tmpl.splay, Some(Duration::from_secs(5)));
        let arts = t.artifacts.as_ref().unwrap();
        assert_eq!(arts[0].relative_dest.as_deref(), Some("local/b.bin"));
        assert_eq!(arts[1].relative_dest.as_deref(), Some("local/"));
        assert_eq!(arts[1].getter_mode.as_deref(), Some("any"));
        let v = t.vault.as_ref().unwrap();
        assert_eq!(
            (v.env, v.change_mode.as_deref()),
            (Some(true), Some("restart"))
        );
        assert_eq!(
            (v.cluster.as_deref(), v.change_signal.as_deref()),
            (Some("default"), Some("SIGHUP"))
        );
        assert_eq!(t.lifecycle, None);
        let mount = &t.volume_mounts.as_ref().unwrap()[0];
        assert_eq!(mount.propagation_mode.as_deref(), Some("private"));
        assert_eq!(mount.read_only, Some(false));
        let csi = t.csi_plugin_config.as_ref().unwrap();
        assert_eq!(csi.mount_dir.as_deref(), Some("/csi"));
        assert_eq!(csi.health_timeout, Some(Duration::from_secs(30)));
        assert_eq!(g.prevent_reschedule_on_lost, Some(false));
    }

    #[test]
    fn canonicalize_is_idempotent_and_validates() {
        for kind in ["service", "batch", "system", "sysbatch"] {
            let once = canonical(Some(kind));
            let mut twice = once.clone();
            twice.canonicalize();
            assert_eq!(once, twice, "{kind}");
            assert_eq!(once.validate().map_err(|e| e.to_string()), Ok(()), "{kind}");
        }
    }
}

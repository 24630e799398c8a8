//! How each [`Command`] changes the state, following Nomad's state store:
//! indexes come from the Raft index, times from the command, and a refused
//! command changes nothing (the [`Txn`] it worked on is dropped).

use std::collections::BTreeSet;
use std::sync::Arc;

use sched_core::model::{
    AllocDeploymentStatus, AllocId, Allocation, ClientStatus, DeploymentStatus, DesiredStatus,
    Evaluation, Job, NodeSchedulingEligibility, SchedulerConfiguration, Variable,
};

use super::command::{AllocClientUpdate, AllocStop, Command};
use crate::state::{NsKey, StateEventKind, Txn, VersionKey};

/// How many versions of a job are kept (Nomad's `JobTrackedVersions`).
pub const JOB_TRACKED_VERSIONS: usize = 6;

/// Why a command was refused; the state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The entry's bytes are not a command.
    #[error("entry does not decode as a command: {0}")]
    Decode(String),
    /// The entry was applied before (the state is past it).
    #[error("entry {index} is already applied (state is at {applied})")]
    AlreadyApplied {
        /// The entry's index.
        index: u64,
        /// The state's applied index.
        applied: u64,
    },
    /// A restore reached the per-command transaction, which cannot replace
    /// the whole state (the FSM applies restores itself).
    #[error("a restore cannot be applied inside a transaction")]
    RestoreInTransaction,
    /// A restore's snapshot does not decode into a state; nothing changed.
    #[error("snapshot to restore is invalid: {0}")]
    BadRestore(String),
    /// A job without an ID.
    #[error("job has no ID")]
    MissingJobId,
    /// The job does not exist.
    #[error("job {job_id:?} in namespace {namespace:?} not found")]
    JobNotFound {
        /// Namespace.
        namespace: String,
        /// Job ID.
        job_id: String,
    },
    /// The job version is not kept.
    #[error("job {job_id:?} in namespace {namespace:?} has no version {version}")]
    JobVersionNotFound {
        /// Namespace.
        namespace: String,
        /// Job ID.
        job_id: String,
        /// Version.
        version: u64,
    },
    /// Allocations the command names do not exist (the others were applied
    /// for client updates; nothing was for stops).
    #[error("unknown allocations: {}", .0.join(", "))]
    AllocsNotFound(Vec<String>),
    /// The node does not exist.
    #[error("node {0} not found")]
    NodeNotFound(String),
    /// A draining node cannot be made eligible.
    #[error("node {0} is draining: end the drain to make it eligible")]
    NodeDraining(String),
    /// The deployment does not exist.
    #[error("deployment {0} not found")]
    DeploymentNotFound(String),
    /// The deployment is no longer active, so it cannot change.
    #[error("can't {action} terminal deployment {id} (status {status})")]
    DeploymentTerminal {
        /// What was asked.
        action: &'static str,
        /// The deployment.
        id: String,
        /// Its status.
        status: String,
    },
    /// Only a running deployment can be promoted.
    #[error("can't promote deployment {id}: it is {status}, not running")]
    DeploymentNotRunning {
        /// The deployment.
        id: String,
        /// Its status.
        status: String,
    },
    /// A named group is not part of the deployment.
    #[error("deployment {id} has no task group {group:?}")]
    DeploymentGroupNotFound {
        /// The deployment.
        id: String,
        /// The group.
        group: String,
    },
    /// Nothing to promote.
    #[error("deployment {0} has no canaries to promote")]
    NoCanaries(String),
    /// A group's canaries are not all placed and healthy.
    #[error("task group {group:?} has {healthy}/{desired} healthy canaries: promotion needs all")]
    CanariesUnhealthy {
        /// The group.
        group: String,
        /// Healthy canaries.
        healthy: i64,
        /// Canaries wanted.
        desired: i64,
    },
    /// Allocations named for a deployment do not belong to it.
    #[error("allocations not part of deployment {id}: {}", .allocs.join(", "))]
    AllocsNotInDeployment {
        /// The deployment.
        id: String,
        /// The allocations.
        allocs: Vec<String>,
    },
    /// An allocation is named both healthy and unhealthy.
    #[error("allocation {0} is named both healthy and unhealthy")]
    AllocHealthConflict(String),
    /// Compare-and-set failed.
    #[error("variable {namespace}/{path}: compare-and-set index {cas} does not match {current}")]
    CasConflict {
        /// Namespace.
        namespace: String,
        /// Path.
        path: String,
        /// Index the writer expected.
        cas: u64,
        /// The variable's modify index (0: absent).
        current: u64,
    },
    /// Compare-and-set of the scheduler configuration failed.
    #[error("scheduler configuration: compare-and-set index {cas} does not match {current}")]
    SchedulerConfigCas {
        /// Index the writer expected.
        cas: u64,
        /// The stored configuration's modify index (0: none set).
        current: u64,
    },
}

/// What an applied command produced beside the state.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// Changed objects, in the order they changed.
    pub events: Vec<StateEventKind>,
    /// The version a job register left current.
    pub job_version: Option<u64>,
    /// A refusal of part of the command (the rest was applied).
    pub partial_error: Option<ApplyError>,
}

/// Applies `cmd` to `txn`. On `Err` the caller drops `txn`.
pub(crate) fn apply(txn: &mut Txn, cmd: Command) -> Result<Applied, ApplyError> {
    let mut out = Applied::default();
    let mut jobs_touched: BTreeSet<NsKey> = BTreeSet::new();
    match cmd {
        Command::JobRegister {
            job,
            eval,
            submission,
            now,
        } => {
            let (job, version) = register_job(txn, *job, submission, now, &mut out)?;
            out.job_version = Some(version);
            if let Some(mut e) = eval {
                e.job_modify_index = job.job_modify_index.unwrap_or(txn.index);
                upsert_evals(txn, vec![e], &mut out, &mut jobs_touched);
            }
            jobs_touched.insert(crate::state::job_key(&job));
        }
        Command::JobDeregister {
            namespace,
            job_id,
            purge,
            eval,
            now,
        } => {
            let key = (namespace.clone(), job_id.clone());
            let Some(current) = txn.state.jobs.get(&key).cloned() else {
                return Err(ApplyError::JobNotFound { namespace, job_id });
            };
            if purge {
                txn.purge_job(&key);
                out.events
                    .push(StateEventKind::JobPurged { namespace, job_id });
            } else {
                let mut stopped = (*current).clone();
                stopped.stop = Some(true);
                register_job(txn, stopped, None, now, &mut out)?;
                jobs_touched.insert(key);
            }
            if let Some(e) = eval {
                upsert_evals(txn, vec![e], &mut out, &mut jobs_touched);
            }
        }
        Command::JobStability {
            namespace,
            job_id,
            version,
            stable,
        } => set_stability(txn, namespace, job_id, version, stable, &mut out)?,
        Command::EvalUpsert { evals } => upsert_evals(txn, evals, &mut out, &mut jobs_touched),
        Command::EvalDelete { evals, allocs } => {
            for id in &evals {
                if let Some(e) = txn.state.evals.get(id).cloned() {
                    jobs_touched.insert((e.namespace.clone(), e.job_id.clone()));
                }
                txn.remove_eval(id);
            }
            let mut pruned = BTreeSet::new();
            for id in &allocs {
                if let Some(a) = txn.remove_alloc(id) {
                    let key = (a.namespace.clone(), a.job_id.clone());
                    jobs_touched.insert(key.clone());
                    pruned.insert(key);
                }
            }
            for key in pruned {
                txn.prune_alloc_jobs(&key);
            }
        }
        Command::ApplyPlanResult {
            job,
            allocs,
            stopped,
            preempted,
            deployment,
            deployment_updates,
            evals,
            now,
        } => {
            let job: Option<Arc<Job>> = job.map(|j| Arc::new(*j));
            if let Some(mut d) = deployment {
                if let Some(old) = txn.state.deployments.get(&d.id) {
                    d.create_index = old.create_index;
                } else {
                    d.create_index = txn.index;
                }
                d.modify_index = txn.index;
                let d = Arc::new(d);
                txn.put_deployment(d.clone());
                out.events.push(StateEventKind::Deployment(d));
            }
            for u in deployment_updates {
                let Some(old) = txn.state.deployments.get(&u.deployment_id).cloned() else {
                    tracing::warn!(deployment = %u.deployment_id, "plan updates an unknown deployment; skipped");
                    continue;
                };
                let mut d = (*old).clone();
                d.status = u.status;
                d.status_description = u.status_description;
                d.modify_index = txn.index;
                let d = Arc::new(d);
                txn.put_deployment(d.clone());
                out.events.push(StateEventKind::Deployment(d.clone()));
                // A rollout the scheduler found complete makes its job
                // version stable, as the watcher's completion does (Nomad's
                // state store does it for either). A version already
                // pruned has nothing to mark; the check changes nothing.
                if d.status == DeploymentStatus::Successful
                    && old.status != DeploymentStatus::Successful
                    && let Err(e) = set_stability(
                        txn,
                        d.namespace.clone(),
                        d.job_id.clone(),
                        d.job_version,
                        true,
                        &mut out,
                    )
                {
                    tracing::warn!(deployment = %d.id, error = %e, "completed deployment's job version not marked stable");
                }
            }
            for s in stopped {
                stop_alloc(
                    txn,
                    s,
                    DesiredStatus::Stop,
                    now,
                    &mut out,
                    &mut jobs_touched,
                );
            }
            let preempted_ids: Vec<AllocId> =
                preempted.iter().map(|s| s.alloc_id.clone()).collect();
            // Before the eviction, whose event then carries the cause.
            mark_preempted_by(txn, &allocs, &preempted_ids);
            for s in preempted {
                stop_alloc(
                    txn,
                    s,
                    DesiredStatus::Evict,
                    now,
                    &mut out,
                    &mut jobs_touched,
                );
            }
            for a in allocs {
                upsert_plan_alloc(txn, a, job.as_ref(), now, &mut out, &mut jobs_touched);
            }
            upsert_evals(txn, evals, &mut out, &mut jobs_touched);
        }
        Command::AllocClientUpdate {
            updates,
            evals,
            now,
        } => {
            let mut unknown = Vec::new();
            for u in updates {
                client_update(txn, u, now, &mut out, &mut jobs_touched, &mut unknown);
            }
            upsert_evals(txn, evals, &mut out, &mut jobs_touched);
            if !unknown.is_empty() {
                out.partial_error = Some(ApplyError::AllocsNotFound(unknown));
            }
        }
        Command::AllocStop { stops, evals, now } => {
            let unknown: Vec<String> = stops
                .iter()
                .filter(|s| !txn.state.allocs.contains_key(&s.alloc_id))
                .map(|s| s.alloc_id.to_string())
                .collect();
            if !unknown.is_empty() {
                return Err(ApplyError::AllocsNotFound(unknown));
            }
            for s in stops {
                stop_alloc(
                    txn,
                    s,
                    DesiredStatus::Stop,
                    now,
                    &mut out,
                    &mut jobs_touched,
                );
            }
            upsert_evals(txn, evals, &mut out, &mut jobs_touched);
        }
        Command::NodeRegister { node, evals, now } => {
            let mut node = *node;
            match txn.state.nodes.get(&node.id) {
                Some(old) => {
                    node.create_index = old.create_index;
                    // The servers own drain and eligibility: a client
                    // re-registering must not undo an operator's drain.
                    node.drain_strategy = old.drain_strategy.clone();
                    node.scheduling_eligibility = old.scheduling_eligibility;
                    node.status_updated_at = if old.status == node.status {
                        old.status_updated_at
                    } else {
                        now / 1_000_000_000
                    };
                }
                None => {
                    node.create_index = txn.index;
                    node.status_updated_at = now / 1_000_000_000;
                }
            }
            node.modify_index = txn.index;
            let node = Arc::new(node);
            txn.put_node(node.clone());
            out.events.push(StateEventKind::Node(node));
            upsert_evals(txn, evals, &mut out, &mut jobs_touched);
        }
        Command::NodeDeregister { node_ids, evals } => {
            if let Some(missing) = node_ids
                .iter()
                .find(|id| !txn.state.nodes.contains_key(*id))
            {
                return Err(ApplyError::NodeNotFound(missing.to_string()));
            }
            for id in node_ids {
                txn.remove_node(&id);
                out.events.push(StateEventKind::NodeDeregistered(id));
            }
            upsert_evals(txn, evals, &mut out, &mut jobs_touched);
        }
        Command::NodeStatusUpdate {
            node_id,
            status,
            evals,
            now,
        } => {
            update_node(txn, &node_id, &mut out, |n| {
                if n.status != status {
                    n.status_updated_at = now / 1_000_000_000;
                }
                n.status = status;
                Ok(())
            })?;
            upsert_evals(txn, evals, &mut out, &mut jobs_touched);
        }
        Command::NodeDrain {
            node_id,
            drain,
            mark_eligible,
            evals,
            now: _,
        } => {
            update_node(txn, &node_id, &mut out, |n| {
                match drain {
                    Some(d) => {
                        n.drain_strategy = Some(d);
                        n.scheduling_eligibility = NodeSchedulingEligibility::Ineligible;
                    }
                    None => {
                        n.drain_strategy = None;
                        if mark_eligible {
                            n.scheduling_eligibility = NodeSchedulingEligibility::Eligible;
                        }
                    }
                }
                Ok(())
            })?;
            upsert_evals(txn, evals, &mut out, &mut jobs_touched);
        }
        Command::NodeEligibility {
            node_id,
            eligibility,
            evals,
            now: _,
        } => {
            update_node(txn, &node_id, &mut out, |n| {
                if n.drain_strategy.is_some() && eligibility == NodeSchedulingEligibility::Eligible
                {
                    return Err(ApplyError::NodeDraining(n.id.to_string()));
                }
                n.scheduling_eligibility = eligibility;
                Ok(())
            })?;
            upsert_evals(txn, evals, &mut out, &mut jobs_touched);
        }
        Command::VariableUpsert { variable, cas, now } => {
            let key = (variable.namespace.clone(), variable.path.clone());
            let old = txn.state.variables.get(&key).cloned();
            check_cas(&key, old.as_deref(), cas)?;
            let v = Variable {
                create_index: old.as_ref().map_or(txn.index, |o| o.create_index),
                create_time: old.as_ref().map_or(now, |o| o.create_time),
                modify_index: txn.index,
                modify_time: now,
                ..variable
            };
            let v = Arc::new(v);
            txn.put_variable(v.clone());
            out.events.push(StateEventKind::Variable(v));
        }
        Command::VariableDelete {
            namespace,
            path,
            cas,
        } => {
            let key = (namespace, path);
            let old = txn.state.variables.get(&key).cloned();
            check_cas(&key, old.as_deref(), cas)?;
            if old.is_some() {
                txn.remove_variable(&key);
                out.events.push(StateEventKind::VariableDeleted {
                    namespace: key.0,
                    path: key.1,
                });
            }
        }
        Command::ServerUpsert { server } => txn.put_server(server),
        Command::ServerRemove { raft_id } => {
            if txn.state.servers.contains_key(&raft_id) {
                txn.remove_server(raft_id);
            }
        }
        Command::DeploymentStatusUpdate {
            update,
            job,
            eval,
            now,
        } => super::deployments::status_update(
            txn,
            update,
            job.map(|j| *j),
            eval,
            now,
            &mut out,
            &mut jobs_touched,
        )?,
        Command::DeploymentPromote {
            deployment_id,
            groups,
            eval,
            now,
        } => super::deployments::promote(
            txn,
            &deployment_id,
            groups,
            eval,
            now,
            &mut out,
            &mut jobs_touched,
        )?,
        Command::DeploymentAllocHealth {
            deployment_id,
            healthy,
            unhealthy,
            update,
            job,
            eval,
            now,
        } => super::deployments::alloc_health(
            txn,
            &deployment_id,
            (healthy, unhealthy),
            update.map(|u| (u, job.map(|j| *j))),
            eval,
            now,
            &mut out,
            &mut jobs_touched,
        )?,
        Command::DeploymentPause {
            deployment_id,
            pause,
            eval,
            now: _,
        } => super::deployments::pause(
            txn,
            &deployment_id,
            pause,
            eval,
            &mut out,
            &mut jobs_touched,
        )?,
        Command::DeploymentProgress {
            deployment_id,
            require_progress_by,
            eval,
        } => super::deployments::progress(
            txn,
            &deployment_id,
            require_progress_by,
            eval,
            &mut out,
            &mut jobs_touched,
        )?,
        Command::Noop => {}
        Command::SchedulerSetConfig { config, cas } => {
            let old = txn.state.scheduler_config;
            if let Some(cas) = cas {
                let current = old.map_or(0, |o| o.modify_index);
                if cas != current {
                    return Err(ApplyError::SchedulerConfigCas { cas, current });
                }
            }
            txn.put_scheduler_config(SchedulerConfiguration {
                create_index: old.map_or(txn.index, |o| o.create_index),
                modify_index: txn.index,
                ..config
            });
        }
        // Replaces the whole state rather than changing it, so the FSM
        // applies it itself before reaching here (see `Fsm::apply_restore`).
        Command::Restore { .. } => return Err(ApplyError::RestoreInTransaction),
    }
    for key in jobs_touched {
        refresh_job_status(txn, &key, &mut out);
    }
    Ok(out)
}

/// Marks one kept version of a job stable or not, and the current job too
/// when it is that version.
pub(super) fn set_stability(
    txn: &mut Txn,
    namespace: String,
    job_id: String,
    version: u64,
    stable: bool,
    out: &mut Applied,
) -> Result<(), ApplyError> {
    let key = (namespace.clone(), job_id.clone());
    let Some(v) = txn.state.job_version(&namespace, &job_id, version) else {
        return Err(ApplyError::JobVersionNotFound {
            namespace,
            job_id,
            version,
        });
    };
    let mut updated = (*v).clone();
    updated.stable = Some(stable);
    updated.modify_index = Some(txn.index);
    let updated = Arc::new(updated);
    txn.put_job_version(updated.clone());
    if let Some(cur) = txn.state.jobs.get(&key).cloned()
        && cur.version == Some(version)
    {
        let mut c = (*cur).clone();
        c.stable = Some(stable);
        c.modify_index = Some(txn.index);
        let c = Arc::new(c);
        txn.put_job(c.clone());
        out.events.push(StateEventKind::Job(c));
    }
    Ok(())
}

/// Whether two jobs differ in what users specify (server-set fields
/// ignored), as Nomad's `SpecChanged`.
pub fn spec_changed(old: &Job, new: &Job) -> bool {
    fn spec(j: &Job) -> Job {
        Job {
            status: None,
            status_description: None,
            stable: None,
            version: None,
            submit_time: None,
            create_index: None,
            modify_index: None,
            job_modify_index: None,
            version_tag: None,
            nomad_token_id: None,
            ..j.clone()
        }
    }
    spec(old) != spec(new)
}

/// Writes a job: a new version when its spec changed (or it is new),
/// nothing when it did not. Returns the current job and its version.
pub(super) fn register_job(
    txn: &mut Txn,
    mut job: Job,
    submission: Option<sched_core::model::Submission>,
    now: i64,
    out: &mut Applied,
) -> Result<(Arc<Job>, u64), ApplyError> {
    if job.id.as_deref().is_none_or(str::is_empty) {
        return Err(ApplyError::MissingJobId);
    }
    if job.namespace.is_none() {
        job.namespace = Some(crate::state::DEFAULT_NAMESPACE.to_string());
    }
    let key = crate::state::job_key(&job);
    let existing = txn.state.jobs.get(&key).cloned();
    if let Some(old) = &existing
        && !spec_changed(old, &job)
    {
        return Ok((old.clone(), old.version.unwrap_or(0)));
    }
    let version = match &existing {
        Some(old) => {
            job.create_index = old.create_index;
            // Versions never go back, even after a purge-free history
            // trimmed the newest-but-one.
            let newest = txn
                .state
                .job_versions
                .get(&key)
                .and_then(|v| v.keys().next_back().copied())
                .unwrap_or(0);
            old.version.unwrap_or(0).max(newest) + 1
        }
        None => {
            job.create_index = Some(txn.index);
            // A job purged and registered again starts past the versions
            // its old allocations still run, so one (namespace, job,
            // version) never names two different jobs.
            txn.state
                .alloc_jobs
                .range((key.0.clone(), key.1.clone(), 0)..=(key.0.clone(), key.1.clone(), u64::MAX))
                .next_back()
                .map_or(0, |((_, _, v), _)| v + 1)
        }
    };
    job.version = Some(version);
    job.modify_index = Some(txn.index);
    job.job_modify_index = Some(txn.index);
    job.submit_time = Some(now);
    job.stable = Some(false);
    job.status = Some(initial_status(txn, &key, &job).to_string());
    job.status_description = None;
    let job = Arc::new(job);
    txn.put_job(job.clone());
    txn.put_job_version(job.clone());
    if let Some(s) = submission {
        txn.put_submission((key.0.clone(), key.1.clone(), version), s);
    }
    trim_versions(txn, &key);
    out.events.push(StateEventKind::Job(job.clone()));
    Ok((job, version))
}

/// Keeps the newest [`JOB_TRACKED_VERSIONS`] versions, plus the newest
/// stable one if it would fall out (it then takes the oldest kept slot),
/// as Nomad does so a revert target survives.
fn trim_versions(txn: &mut Txn, key: &NsKey) {
    // Bounded: each pass removes one version.
    while let Some(versions) = txn.state.job_versions.get(key).cloned() {
        if versions.len() <= JOB_TRACKED_VERSIONS {
            return;
        }
        let all: Vec<(u64, bool)> = versions
            .iter()
            .rev()
            .map(|(v, j)| (*v, j.stable == Some(true)))
            .collect();
        let stable = all.iter().position(|(_, s)| *s);
        let mut drop = all[JOB_TRACKED_VERSIONS].0;
        if stable == Some(JOB_TRACKED_VERSIONS) {
            drop = all[JOB_TRACKED_VERSIONS - 1].0;
        }
        let vk: VersionKey = (key.0.clone(), key.1.clone(), drop);
        txn.remove_job_version(&vk);
    }
}

/// The status a job should have given its allocations and evaluations
/// (Nomad's `getJobStatus`).
fn initial_status(txn: &Txn, key: &NsKey, job: &Job) -> &'static str {
    if job.stop == Some(true) {
        return "dead";
    }
    if job.is_periodic() || job.is_parameterized() {
        return "running";
    }
    let s = &txn.state;
    let allocs = s.allocs_by_job.get(key);
    if allocs.is_some_and(|allocs| allocs.values().any(|a| !a.is_terminal())) {
        return "running";
    }
    let evals = s.evals_by_job.get(key);
    if evals.is_some_and(|ids| {
        ids.iter()
            .filter_map(|id| s.evals.get(id))
            .any(|e| !e.status.is_terminal())
    }) {
        return "pending";
    }
    if allocs.is_some() || evals.is_some() {
        "dead"
    } else {
        "pending"
    }
}

/// Updates a job's status after its allocations or evaluations changed.
fn refresh_job_status(txn: &mut Txn, key: &NsKey, out: &mut Applied) {
    let Some(job) = txn.state.jobs.get(key).cloned() else {
        return;
    };
    let status = initial_status(txn, key, &job);
    if job.status.as_deref() == Some(status) {
        return;
    }
    let mut j = (*job).clone();
    j.status = Some(status.to_string());
    j.modify_index = Some(txn.index);
    let j = Arc::new(j);
    txn.put_job(j.clone());
    out.events.push(StateEventKind::Job(j));
}

pub(super) fn upsert_evals(
    txn: &mut Txn,
    evals: Vec<Evaluation>,
    out: &mut Applied,
    jobs: &mut BTreeSet<NsKey>,
) {
    for mut e in evals {
        e.create_index = txn
            .state
            .evals
            .get(&e.id)
            .map_or(txn.index, |old| old.create_index);
        e.modify_index = txn.index;
        jobs.insert((e.namespace.clone(), e.job_id.clone()));
        let e = Arc::new(e);
        txn.put_eval(e.clone());
        out.events.push(StateEventKind::Eval(e));
    }
}

/// Stops or evicts an allocation; unknown ones are skipped (a plan may
/// race the garbage collector).
fn stop_alloc(
    txn: &mut Txn,
    s: AllocStop,
    desired: DesiredStatus,
    now: i64,
    out: &mut Applied,
    jobs: &mut BTreeSet<NsKey>,
) {
    let Some(old) = txn.state.allocs.get(&s.alloc_id).cloned() else {
        tracing::debug!(alloc = %s.alloc_id, "stop of an unknown allocation skipped");
        return;
    };
    let mut a = (*old).clone();
    a.desired_status = desired;
    a.desired_description = s.description;
    if let Some(cs) = s.client_status {
        a.client_status = cs;
    }
    a.modify_index = txn.index;
    a.alloc_modify_index = txn.index;
    a.modify_time = now;
    jobs.insert((a.namespace.clone(), a.job_id.clone()));
    let a = Arc::new(a);
    txn.put_alloc(a.clone());
    out.events.push(StateEventKind::Alloc(a));
}

/// Records on each evicted allocation which placement preempted it (the
/// placement lists its victims in `preempted_allocations`).
fn mark_preempted_by(txn: &mut Txn, placed: &[Allocation], preempted: &[AllocId]) {
    for p in placed {
        for victim in p
            .preempted_allocations
            .iter()
            .filter(|v| preempted.contains(v))
        {
            let Some(old) = txn.state.allocs.get(victim).cloned() else {
                continue;
            };
            let mut a = (*old).clone();
            a.preempted_by_allocation = Some(p.id.clone());
            txn.put_alloc(Arc::new(a));
        }
    }
}

/// Places or updates an allocation from a plan (Nomad's
/// `upsertAllocsImpl`): the client's view of an existing one is kept, and
/// the job is the state's shared copy of its version.
fn upsert_plan_alloc(
    txn: &mut Txn,
    mut a: Allocation,
    plan_job: Option<&Arc<Job>>,
    now: i64,
    out: &mut Applied,
    jobs: &mut BTreeSet<NsKey>,
) {
    let old = txn.state.allocs.get(&a.id).cloned();
    let given = a.job.take().or_else(|| plan_job.cloned());
    match &old {
        Some(old) => {
            a.create_index = old.create_index;
            a.create_time = old.create_time;
            a.task_states = old.task_states.clone();
            if !matches!(a.client_status, ClientStatus::Lost | ClientStatus::Unknown) {
                a.client_status = old.client_status;
                a.client_description = old.client_description.clone();
            }
        }
        None => {
            a.create_index = txn.index;
            if a.create_time == 0 {
                a.create_time = now;
            }
        }
    }
    a.job = match given {
        Some(j) => {
            let key = (
                a.namespace.clone(),
                a.job_id.clone(),
                j.version.unwrap_or(0),
            );
            txn.alloc_job(key, Some(&j))
        }
        None => old.as_ref().and_then(|o| o.job.clone()),
    };
    a.modify_index = txn.index;
    a.alloc_modify_index = txn.index;
    a.modify_time = now;
    if let Some(ds) = a.deployment_status.as_mut() {
        ds.modify_index = txn.index;
    }
    account_deployment(txn, old.as_deref(), &a, out);
    crate::state::compact_alloc(&mut a);
    jobs.insert((a.namespace.clone(), a.job_id.clone()));
    let a = Arc::new(a);
    txn.put_alloc(a.clone());
    out.events.push(StateEventKind::Alloc(a));
}

/// Applies one client report, or adds its ID to `unknown` when the
/// allocation does not exist.
fn client_update(
    txn: &mut Txn,
    u: AllocClientUpdate,
    now: i64,
    out: &mut Applied,
    jobs: &mut BTreeSet<NsKey>,
    unknown: &mut Vec<String>,
) {
    let Some(old) = txn.state.allocs.get(&u.alloc_id).cloned() else {
        unknown.push(u.alloc_id.to_string());
        return;
    };
    let mut a = (*old).clone();
    a.client_status = u.client_status;
    a.client_description = u.client_description;
    a.task_states = u.task_states.into_iter().collect();
    if let Some(h) = u.healthy {
        let ds = a
            .deployment_status
            .get_or_insert_with(AllocDeploymentStatus::default);
        ds.healthy = Some(h);
        ds.modify_index = txn.index;
    }
    a.modify_index = txn.index;
    a.modify_time = now;
    account_deployment(txn, Some(&old), &a, out);
    crate::state::compact_alloc(&mut a);
    jobs.insert((a.namespace.clone(), a.job_id.clone()));
    let a = Arc::new(a);
    txn.put_alloc(a.clone());
    out.events.push(StateEventKind::Alloc(a));
}

/// Keeps a deployment's placed, healthy and unhealthy counts in step with
/// one allocation's change (Nomad's `updateDeploymentWithAlloc`).
pub(super) fn account_deployment(
    txn: &mut Txn,
    old: Option<&Allocation>,
    new: &Allocation,
    out: &mut Applied,
) {
    let Some(id) = &new.deployment_id else {
        return;
    };
    let Some(d) = txn.state.deployments.get(id).cloned() else {
        return;
    };
    let Some(group) = d.task_groups.get(&new.task_group) else {
        return;
    };
    let mut g = group.clone();
    let health = |a: Option<&Allocation>| a.and_then(|a| a.deployment_status.as_ref()?.healthy);
    let canary = new.deployment_status.as_ref().is_some_and(|s| s.canary);
    let mut changed = false;
    if old.is_none() {
        g.placed_allocs += 1;
        if canary && !g.placed_canaries.contains(&new.id) {
            g.placed_canaries.push(new.id.clone());
        }
        changed = true;
    }
    let (was, is) = (health(old), health(Some(new)));
    if was != is {
        match was {
            Some(true) => g.healthy_allocs -= 1,
            Some(false) => g.unhealthy_allocs -= 1,
            None => {}
        }
        match is {
            Some(true) => g.healthy_allocs += 1,
            Some(false) => g.unhealthy_allocs += 1,
            None => {}
        }
        changed = true;
    }
    if changed {
        let mut d2 = (*d).clone();
        d2.task_groups.insert(new.task_group.clone(), g);
        d2.modify_index = txn.index;
        let d2 = Arc::new(d2);
        txn.put_deployment(d2.clone());
        out.events.push(StateEventKind::Deployment(d2));
    }
}

/// Changes an existing node; `NodeNotFound` when it does not exist.
fn update_node(
    txn: &mut Txn,
    id: &sched_core::model::NodeId,
    out: &mut Applied,
    change: impl FnOnce(&mut sched_core::model::Node) -> Result<(), ApplyError>,
) -> Result<(), ApplyError> {
    let Some(old) = txn.state.nodes.get(id).cloned() else {
        return Err(ApplyError::NodeNotFound(id.to_string()));
    };
    let mut n = (*old).clone();
    change(&mut n)?;
    n.modify_index = txn.index;
    let n = Arc::new(n);
    txn.put_node(n.clone());
    out.events.push(StateEventKind::Node(n));
    Ok(())
}

/// Checks a variable write's compare-and-set index against the current one.
fn check_cas(key: &NsKey, old: Option<&Variable>, cas: Option<u64>) -> Result<(), ApplyError> {
    let Some(cas) = cas else { return Ok(()) };
    let current = old.map_or(0, |v| v.modify_index);
    if cas == current {
        Ok(())
    } else {
        Err(ApplyError::CasConflict {
            namespace: key.0.clone(),
            path: key.1.clone(),
            cas,
            current,
        })
    }
}

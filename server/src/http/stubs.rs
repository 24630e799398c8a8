//! The list shapes Nomad answers with: stubs that leave out the heavy parts
//! of jobs, allocations and nodes, and the job summary.

use std::collections::BTreeMap;

use sched_core::model::{Allocation, ClientStatus, Job, Node};
use serde::Serialize;
use serde_json::{Value, json};

use crate::state::StateSnapshot;

/// One task group's allocation counts, by client status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TaskGroupSummary {
    pub(crate) queued: i64,
    pub(crate) complete: i64,
    pub(crate) failed: i64,
    pub(crate) running: i64,
    pub(crate) starting: i64,
    pub(crate) lost: i64,
    pub(crate) unknown: i64,
}

/// Nomad's `JobSummary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct JobSummary {
    #[serde(rename = "JobID")]
    pub(crate) job_id: String,
    pub(crate) namespace: String,
    pub(crate) summary: BTreeMap<String, TaskGroupSummary>,
    pub(crate) children: Value,
    pub(crate) create_index: u64,
    pub(crate) modify_index: u64,
}

/// Counts a job's allocations per group; queued counts come from its newest
/// evaluation, as Nomad's summary reports what is still waiting for room.
pub(crate) fn job_summary(snap: &StateSnapshot, job: &Job) -> JobSummary {
    let ns = job.namespace.clone().unwrap_or_else(|| "default".into());
    let id = job.id.clone().unwrap_or_default();
    let mut summary: BTreeMap<String, TaskGroupSummary> = job
        .task_groups
        .iter()
        .flatten()
        .filter_map(|g| g.name.clone())
        .map(|n| (n, TaskGroupSummary::default()))
        .collect();
    for a in snap.allocs_by_job(&ns, &id) {
        let s = summary.entry(a.task_group.clone()).or_default();
        match a.client_status {
            ClientStatus::Pending => s.starting += 1,
            ClientStatus::Running => s.running += 1,
            ClientStatus::Complete => s.complete += 1,
            ClientStatus::Failed => s.failed += 1,
            ClientStatus::Lost => s.lost += 1,
            ClientStatus::Unknown => s.unknown += 1,
        }
    }
    if let Some(latest) = snap
        .evals_by_job(&ns, &id)
        .into_iter()
        .max_by_key(|e| e.create_index)
    {
        for (g, n) in &latest.queued_allocations {
            summary.entry(g.clone()).or_default().queued = *n;
        }
    }
    let (mut pending, mut running, mut dead) = (0, 0, 0);
    for child in snap
        .jobs(&ns, &format!("{id}/"))
        .iter()
        .filter(|c| c.parent_id.as_deref() == Some(id.as_str()))
    {
        match child.status.as_deref() {
            Some("running") => running += 1,
            Some("dead") => dead += 1,
            _ => pending += 1,
        }
    }
    JobSummary {
        job_id: id,
        namespace: ns,
        summary,
        children: json!({"Pending": pending, "Running": running, "Dead": dead}),
        create_index: job.create_index.unwrap_or(0),
        modify_index: job.modify_index.unwrap_or(0),
    }
}

/// Nomad's `JobListStub`.
pub(crate) fn job_stub(snap: &StateSnapshot, job: &Job) -> Value {
    json!({
        "ID": job.id.clone().unwrap_or_default(),
        "ParentID": job.parent_id.clone().unwrap_or_default(),
        "Name": job.name.clone().or_else(|| job.id.clone()).unwrap_or_default(),
        "Namespace": job.namespace.clone().unwrap_or_else(|| "default".into()),
        "Datacenters": job.datacenters,
        "NodePool": job.node_pool,
        "Multiregion": job.multiregion,
        "Type": job.r#type.clone().unwrap_or_else(|| "service".into()),
        "Priority": job.priority.unwrap_or(50),
        "Periodic": job.periodic.as_ref().is_some_and(|p| p.enabled.unwrap_or(true)),
        "ParameterizedJob": job.parameterized_job.is_some(),
        "Stop": job.stop.unwrap_or(false),
        "Status": job.status.clone().unwrap_or_else(|| "pending".into()),
        "StatusDescription": job.status_description.clone().unwrap_or_default(),
        "JobSummary": job_summary(snap, job),
        "Version": job.version.unwrap_or(0),
        "CreateIndex": job.create_index.unwrap_or(0),
        "ModifyIndex": job.modify_index.unwrap_or(0),
        "JobModifyIndex": job.job_modify_index.unwrap_or(0),
        "SubmitTime": job.submit_time.unwrap_or(0),
        "Meta": job.meta,
    })
}

/// Nomad's `AllocListStub`: the allocation without its job and resources.
pub(crate) fn alloc_stub(a: &Allocation) -> Value {
    let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.remove("Job");
        m.remove("AllocatedResources");
        let (job_type, job_version) = a
            .job
            .as_ref()
            .map(|j| (j.r#type.clone(), j.version.unwrap_or(0)))
            .unwrap_or((None, 0));
        m.insert("JobType".into(), json!(job_type));
        m.insert("JobVersion".into(), json!(job_version));
    }
    v
}

/// Nomad's `NodeListStub`.
pub(crate) fn node_stub(n: &Node) -> Value {
    let address = n
        .http_addr
        .rsplit_once(':')
        .map(|(h, _)| h.to_string())
        .unwrap_or_else(|| n.http_addr.clone());
    json!({
        "Address": address,
        "ID": n.id,
        "Datacenter": n.datacenter,
        "Name": n.name,
        "NodeClass": n.node_class,
        "NodePool": n.node_pool,
        "Version": n.attributes.get("nomad.version").cloned().unwrap_or_default(),
        "Drain": n.drain_strategy.is_some(),
        "SchedulingEligibility": n.scheduling_eligibility,
        "Status": n.status,
        "StatusDescription": n.status_description,
        "Drivers": n.drivers,
        "Attributes": n.attributes,
        "CreateIndex": n.create_index,
        "ModifyIndex": n.modify_index,
    })
}

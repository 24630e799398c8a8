//! `/v1/job/:id/plan`: the scheduler run as a dry run on the current state,
//! answered as Nomad's plan response (what would change, what would not fit,
//! and a diff of the job).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use sched_core::model::{
    Allocation, Deployment, Evaluation, Job, Node, NodeId, Plan, PlanResult, Task, TaskGroup,
};
use sched_scheduler::{Planner, PlannerError, SchedulerConfig};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Ctx;
use super::error::ApiError;
use super::evals::{new_eval, register_needs_eval, trigger};
use super::jobs::{parse_body, prepare_job};
use super::query::{QueryParams, json_with_meta};
use crate::state::StateSnapshot;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PlanRequest {
    job: Option<Job>,
    #[serde(default)]
    diff: bool,
}

/// The state as it would be with the planned job registered.
struct PlanState {
    snap: StateSnapshot,
    job: Job,
}

impl sched_scheduler::State for PlanState {
    fn nodes(&self) -> Vec<&Node> {
        sched_scheduler::State::nodes(&self.snap)
    }
    fn node(&self, id: &NodeId) -> Option<&Node> {
        sched_scheduler::State::node(&self.snap, id)
    }
    fn allocs_by_node(&self, id: &NodeId) -> Vec<&Allocation> {
        sched_scheduler::State::allocs_by_node(&self.snap, id)
    }
    fn allocs_by_job(&self, namespace: &str, job_id: &str) -> Vec<&Allocation> {
        sched_scheduler::State::allocs_by_job(&self.snap, namespace, job_id)
    }
    fn job(&self, namespace: &str, id: &str) -> Option<&Job> {
        if self.job.namespace.as_deref() == Some(namespace) && self.job.id.as_deref() == Some(id) {
            Some(&self.job)
        } else {
            sched_scheduler::State::job(&self.snap, namespace, id)
        }
    }
    fn latest_deployment(&self, namespace: &str, job_id: &str) -> Option<&Deployment> {
        sched_scheduler::State::latest_deployment(&self.snap, namespace, job_id)
    }
    fn index(&self) -> u64 {
        self.snap.index()
    }
}

/// A planner that records what the scheduler decides and commits nothing:
/// every plan is "accepted" so the scheduler reports its whole intent.
struct DryRunPlanner {
    state: PlanState,
    plans: Vec<Plan>,
    eval: Option<Evaluation>,
    created: Vec<Evaluation>,
}

impl Planner for DryRunPlanner {
    fn state(&self) -> &dyn sched_scheduler::State {
        &self.state
    }
    fn submit_plan(&mut self, plan: Plan) -> Result<PlanResult, PlannerError> {
        let result = PlanResult {
            node_update: plan.node_update.clone(),
            node_allocation: plan.node_allocation.clone(),
            node_preemptions: plan.node_preemptions.clone(),
            deployment: plan.deployment.clone(),
            deployment_updates: plan.deployment_updates.clone(),
            refresh_index: 0,
            alloc_index: self.state.snap.index(),
        };
        self.plans.push(plan);
        Ok(result)
    }
    fn update_eval(&mut self, eval: Evaluation) -> Result<(), PlannerError> {
        self.eval = Some(eval);
        Ok(())
    }
    fn create_eval(&mut self, eval: Evaluation) -> Result<(), PlannerError> {
        self.created.push(eval);
        Ok(())
    }
    fn reblock_eval(&mut self, eval: Evaluation) -> Result<(), PlannerError> {
        self.created.push(eval);
        Ok(())
    }
}

pub(crate) async fn plan_job(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let req: PlanRequest = parse_body(&body)?;
    let job = req
        .job
        .ok_or_else(|| ApiError::bad("Job must be specified"))?;
    let mut job = prepare_job(job, &q)?;
    let job_id = job.id.clone().unwrap_or_default();
    if job_id != id {
        return Err(ApiError::bad(format!(
            "Job ID does not match: {job_id:?} is not {id:?}"
        )));
    }
    let ns = job.namespace.clone().unwrap_or_default();
    let snap = ctx.read(false).await?;
    let existing = snap.job(&ns, &job_id);
    let now = ctx.backend.now();
    // The planned version as the FSM would store it, so the scheduler sees
    // an update (not the same version) when the job changed.
    let cur_version = existing.as_ref().and_then(|j| j.version);
    job.version = Some(cur_version.map_or(0, |v| v + 1));
    job.job_modify_index = Some(snap.index() + 1);
    job.create_index = existing
        .as_ref()
        .and_then(|j| j.create_index)
        .or(Some(snap.index() + 1));
    job.modify_index = Some(snap.index() + 1);
    job.submit_time = Some(now);
    let diff = req.diff.then(|| job_diff(existing.as_deref(), &job));
    let mut annotations = json!({"DesiredTGUpdates": {}, "PreemptedAllocs": []});
    let mut failed: Value = json!({});
    let mut created: Vec<Evaluation> = Vec::new();
    if register_needs_eval(&job) {
        let eval = new_eval(&job, trigger::JOB_REGISTER, now);
        let existing_allocs: Vec<Arc<Allocation>> = snap.allocs_by_job(&ns, &job_id);
        let mut planner = DryRunPlanner {
            state: PlanState {
                snap: snap.clone(),
                job: job.clone(),
            },
            plans: Vec::new(),
            eval: None,
            created: Vec::new(),
        };
        let config = SchedulerConfig {
            now_nanos: Some(now),
            ..SchedulerConfig::default()
        };
        // The scheduler is synchronous and CPU-bound: keep it off the
        // runtime's I/O threads.
        let eval_for_task = eval.clone();
        let planner = tokio::task::spawn_blocking(move || {
            let res = sched_scheduler::process_eval(&mut planner, &eval_for_task, &config);
            (planner, res)
        })
        .await
        .map_err(|e| ApiError::bad(format!("plan could not run: {e}")))?;
        let (planner, res) = planner;
        res.map_err(|e| ApiError::bad(format!("plan failed: {e}")))?;
        annotations = json!({
            "DesiredTGUpdates": desired_updates(&job, &existing_allocs, &planner.plans),
            "PreemptedAllocs": planner.plans.iter()
                .flat_map(|p| p.node_preemptions.values().flatten())
                .map(super::stubs::alloc_stub).collect::<Vec<_>>(),
        });
        if let Some(e) = &planner.eval {
            failed = serde_json::to_value(&e.failed_tg_allocs).unwrap_or(Value::Null);
        }
        created = planner.created;
    }
    Ok(json_with_meta(
        ctx.backend.as_ref(),
        snap.index(),
        &json!({
            "Annotations": annotations,
            "FailedTGAllocs": failed,
            "JobModifyIndex": existing.as_ref().and_then(|j| j.job_modify_index).unwrap_or(0),
            "CreatedEvals": created,
            "Diff": diff,
            "NextPeriodicLaunch": null,
            "Warnings": "",
            "Index": snap.index(),
        }),
    ))
}

/// Nomad's `DesiredTGUpdates`: per group, how many allocations the plan
/// would place, stop, update in place or replace, and leave alone.
fn desired_updates(job: &Job, existing: &[Arc<Allocation>], plans: &[Plan]) -> Value {
    let live: BTreeMap<&str, &Allocation> = existing
        .iter()
        .filter(|a| !a.is_terminal())
        .map(|a| (a.id.as_str(), a.as_ref()))
        .collect();
    let mut counts: BTreeMap<String, BTreeMap<&'static str, u64>> = BTreeMap::new();
    for g in job
        .task_groups
        .iter()
        .flatten()
        .filter_map(|g| g.name.clone())
    {
        counts.entry(g).or_default();
    }
    let mut touched: BTreeSet<&str> = BTreeSet::new();
    let mut replaced: BTreeSet<String> = BTreeSet::new();
    for p in plans {
        for a in p.node_allocation.values().flatten() {
            let c = counts.entry(a.task_group.clone()).or_default();
            if live.contains_key(a.id.as_str()) {
                touched.insert(a.id.as_str());
                *c.entry("InPlaceUpdate").or_default() += 1;
            } else if let Some(prev) = a
                .previous_allocation
                .as_ref()
                .filter(|p| live.contains_key(p.as_str()))
            {
                replaced.insert(prev.0.clone());
                *c.entry("DestructiveUpdate").or_default() += 1;
            } else {
                *c.entry("Place").or_default() += 1;
            }
        }
    }
    for p in plans {
        for a in p.node_update.values().flatten() {
            touched.insert(a.id.as_str());
            if replaced.contains(&a.id.0) {
                continue;
            }
            *counts
                .entry(a.task_group.clone())
                .or_default()
                .entry("Stop")
                .or_default() += 1;
        }
    }
    for a in live.values() {
        if !touched.contains(a.id.as_str()) && !replaced.contains(&a.id.0) {
            *counts
                .entry(a.task_group.clone())
                .or_default()
                .entry("Ignore")
                .or_default() += 1;
        }
    }
    let out: serde_json::Map<String, Value> = counts
        .into_iter()
        .map(|(g, c)| {
            let get = |k: &str| c.get(k).copied().unwrap_or(0);
            (
                g,
                json!({
                    "Ignore": get("Ignore"), "Place": get("Place"), "Migrate": 0,
                    "Stop": get("Stop"), "InPlaceUpdate": get("InPlaceUpdate"),
                    "DestructiveUpdate": get("DestructiveUpdate"), "Canary": 0, "Preemptions": 0,
                }),
            )
        })
        .collect();
    Value::Object(out)
}

/// Fields that change on every write and say nothing about the spec.
const BOOKKEEPING: &[&str] = &[
    "Version",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
    "SubmitTime",
    "Status",
    "StatusDescription",
    "Stable",
];

fn diff_type(old: Option<&Value>, new: Option<&Value>) -> &'static str {
    match (old, new) {
        (None, Some(_)) => "Added",
        (Some(_), None) => "Deleted",
        (Some(a), Some(b)) if a != b => "Edited",
        _ => "None",
    }
}

/// Scalar field changes between two objects, Nomad's `FieldDiff`s.
fn field_diffs(old: Option<&Value>, new: Option<&Value>, skip: &[&str]) -> Vec<Value> {
    let empty = serde_json::Map::new();
    let o = old.and_then(Value::as_object).unwrap_or(&empty);
    let n = new.and_then(Value::as_object).unwrap_or(&empty);
    let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    keys.into_iter()
        .filter(|k| !skip.contains(&k.as_str()))
        .filter_map(|k| {
            let (a, b) = (o.get(k), n.get(k));
            let scalar = |v: Option<&Value>| v.is_none_or(|v| !v.is_object() && !v.is_array());
            if !scalar(a) || !scalar(b) {
                return None;
            }
            let t = diff_type(a.filter(|v| !v.is_null()), b.filter(|v| !v.is_null()));
            (t != "None").then(|| {
                let show = |v: Option<&Value>| match v {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(v) => v.to_string(),
                };
                json!({"Type": t, "Name": k, "Old": show(a), "New": show(b), "Annotations": null})
            })
        })
        .collect()
}

fn named<T>(items: Option<&Vec<T>>, name: impl Fn(&T) -> Option<&String>) -> BTreeMap<String, &T> {
    items
        .into_iter()
        .flatten()
        .filter_map(|x| name(x).map(|n| (n.clone(), x)))
        .collect()
}

fn task_diffs(old: Option<&TaskGroup>, new: Option<&TaskGroup>) -> Vec<Value> {
    let o = named(old.and_then(|g| g.tasks.as_ref()), |t: &Task| {
        t.name.as_ref()
    });
    let n = named(new.and_then(|g| g.tasks.as_ref()), |t: &Task| {
        t.name.as_ref()
    });
    let names: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    names
        .into_iter()
        .map(|name| {
            let a = o.get(name).and_then(|t| serde_json::to_value(t).ok());
            let b = n.get(name).and_then(|t| serde_json::to_value(t).ok());
            json!({
                "Type": diff_type(a.as_ref(), b.as_ref()),
                "Name": name,
                "Fields": field_diffs(a.as_ref(), b.as_ref(), &[]),
                "Objects": null,
                "Annotations": null,
            })
        })
        .collect()
}

/// Nomad's `JobDiff`, down to task level with scalar fields.
fn job_diff(old: Option<&Job>, new: &Job) -> Value {
    let strip = |j: &Job| {
        let mut v = serde_json::to_value(j).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            for k in BOOKKEEPING {
                m.remove(*k);
            }
        }
        v
    };
    let a = old.map(strip);
    let b = strip(new);
    let og = named(old.and_then(|j| j.task_groups.as_ref()), |g: &TaskGroup| {
        g.name.as_ref()
    });
    let ng = named(new.task_groups.as_ref(), |g: &TaskGroup| g.name.as_ref());
    let names: BTreeSet<&String> = og.keys().chain(ng.keys()).collect();
    let groups: Vec<Value> = names
        .into_iter()
        .map(|name| {
            let ga = og.get(name).and_then(|g| serde_json::to_value(g).ok());
            let gb = ng.get(name).and_then(|g| serde_json::to_value(g).ok());
            json!({
                "Type": diff_type(ga.as_ref(), gb.as_ref()),
                "Name": name,
                "Fields": field_diffs(ga.as_ref(), gb.as_ref(), &[]),
                "Objects": null,
                "Tasks": task_diffs(og.get(name).copied(), ng.get(name).copied()),
                "Updates": null,
            })
        })
        .collect();
    json!({
        "Type": diff_type(a.as_ref(), Some(&b)),
        "ID": new.id,
        "Fields": field_diffs(a.as_ref(), Some(&b), BOOKKEEPING),
        "Objects": null,
        "TaskGroups": groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(count: i64, image: &str) -> Job {
        serde_json::from_value(json!({
            "ID": "web", "Name": "web", "Priority": 50,
            "TaskGroups": [{"Name": "g", "Count": count,
                "Tasks": [{"Name": "t", "Driver": "docker", "Config": {"image": image}}]}]
        }))
        .unwrap()
    }

    #[test]
    fn diff_reports_added_edited_and_unchanged() {
        let a = job(1, "nginx");
        assert_eq!(job_diff(None, &a)["Type"], "Added");
        assert_eq!(job_diff(Some(&a), &a)["Type"], "None");
        let d = job_diff(Some(&a), &job(3, "nginx"));
        assert_eq!(d["Type"], "Edited");
        assert_eq!(d["TaskGroups"][0]["Type"], "Edited");
        assert_eq!(d["TaskGroups"][0]["Fields"][0]["Name"], "Count");
        assert_eq!(d["TaskGroups"][0]["Fields"][0]["Old"], "1");
        assert_eq!(d["TaskGroups"][0]["Fields"][0]["New"], "3");
        assert_eq!(d["TaskGroups"][0]["Tasks"][0]["Type"], "None");
        let d = job_diff(Some(&a), &job(1, "redis"));
        assert_eq!(d["TaskGroups"][0]["Tasks"][0]["Type"], "Edited");
    }
}

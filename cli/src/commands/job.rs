//! `sched job ...`: run, plan, validate, init, status, stop, inspect,
//! history, revert, dispatch, periodic force, scale, allocs, eval.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sched_api::{Client, Job, QueryOptions};

use crate::cli::{JobInit, JobRun, JobValidate};
use crate::commands::lookup::{
    ago, api_err, block, date, id_col, job_id, now_ns, parse_duration, short, wire,
};
use crate::commands::monitor::{Outcome, failure_text, monitor};
use crate::commands::status::{ApiArgs, fields, json, table};
use crate::exit::{silent, user};
use crate::jobfile;

/// The example `sched job init` writes: the quick-start job.
const EXAMPLE: &str = include_str!("../../../jobspecs/hello-raw-exec.nomad.hcl");

/// How long `job run` waits for a service's allocations by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// `job status [ID]`
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The job ID (or a unique prefix); every job when absent.
    pub id: Option<String>,
    /// Show whole IDs.
    #[arg(long)]
    pub verbose: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// A command on one job.
#[derive(Debug, clap::Args)]
pub struct IdArgs {
    /// The job ID (or a unique prefix).
    pub id: String,
    /// Return at once instead of monitoring the evaluation.
    #[arg(long)]
    pub detach: bool,
    /// Show whole IDs.
    #[arg(long)]
    pub verbose: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `job stop`
#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// Also remove the job and its history.
    #[arg(long)]
    pub purge: bool,
    #[command(flatten)]
    pub job: IdArgs,
}

/// `job history`
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Show what changed between versions.
    #[arg(short = 'p')]
    pub diff: bool,
    #[command(flatten)]
    pub job: IdArgs,
}

/// `job revert ID VERSION`
#[derive(Debug, clap::Args)]
pub struct RevertArgs {
    #[command(flatten)]
    pub job: IdArgs,
    /// The version to go back to.
    pub version: u64,
}

/// `job dispatch`
#[derive(Debug, clap::Args)]
pub struct DispatchArgs {
    /// Metadata for the dispatched job, `key=value` (repeatable).
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    pub meta: Vec<String>,
    /// Only dispatch once per token.
    #[arg(long = "idempotency-token")]
    pub idempotency_token: Option<String>,
    #[command(flatten)]
    pub job: IdArgs,
    /// The payload file; `-` reads stdin.
    pub payload: Option<PathBuf>,
}

/// `job periodic ...`
#[derive(Debug, clap::Subcommand)]
pub enum PeriodicCommand {
    /// Launch a periodic job now.
    Force(IdArgs),
}

/// `job scale ID [GROUP] COUNT`
#[derive(Debug, clap::Args)]
pub struct ScaleArgs {
    /// The job ID (or a unique prefix).
    pub id: String,
    /// The group (may be left out when the job has one) and the new count.
    #[arg(num_args = 1..=2, required = true)]
    pub rest: Vec<String>,
    /// Return at once instead of monitoring the evaluation.
    #[arg(long)]
    pub detach: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `job plan FILE`
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The job file (HCL or JSON); `-` reads stdin.
    pub file: PathBuf,
    #[command(flatten)]
    pub vars: jobfile::VarArgs,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Reads, canonicalizes and validates a job file; nothing is contacted.
fn load(file: &Path, vars: &jobfile::VarArgs) -> anyhow::Result<Job> {
    let parsed = jobfile::parse(file, vars)?;
    let mut job = parsed.job;
    job.canonicalize();
    job.validate()
        .map_err(|e| user(format!("error: the job is not valid:\n{e}")))?;
    Ok(job)
}

fn end(outcome: Outcome) -> anyhow::Result<()> {
    match outcome {
        Outcome::Ok => Ok(()),
        Outcome::Failed => Err(silent(2)),
    }
}

/// `job run`: with -output, print `{"Job": ...}` as `nomad job run -output` does;
/// otherwise submit and follow the evaluation.
pub fn run(args: &JobRun) -> anyhow::Result<()> {
    if args.output {
        let parsed = jobfile::parse(&args.file, &args.vars)?;
        let body = serde_json::json!({ "Job": parsed.job });
        return super::println_out(&serde_json::to_string_pretty(&body)?);
    }
    let job = load(&args.file, &args.vars)?;
    let timeout = match &args.timeout {
        Some(t) => parse_duration(t)
            .ok_or_else(|| user(format!("error: -timeout {t:?} is not a duration like 5m")))?,
        None => DEFAULT_TIMEOUT,
    };
    let service = matches!(job.r#type.as_deref(), Some("service") | None);
    let periodic = job.periodic.is_some() || job.parameterized_job.is_some();
    let detach = args.detach;
    let check = args.check_index;
    let outcome = block(&args.api, |c| async move {
        let resp = match check {
            Some(i) => c.register_check_index(&job, i).await,
            None => c.register(&job).await,
        }
        .map_err(api_err)?;
        if !resp.warnings.is_empty() {
            eprintln!("Job Warnings:\n{}", resp.warnings);
        }
        if periodic || resp.eval_id.is_empty() {
            say(&format!(
                "Job registration successful\nJob Modify Index: {}",
                resp.job_modify_index
            ));
            return Ok(Outcome::Ok);
        }
        if detach {
            say(&format!(
                "Job registration successful\nEvaluation ID: {}",
                resp.eval_id
            ));
            return Ok(Outcome::Ok);
        }
        monitor(&c, &resp.eval_id, service, timeout).await
    })?;
    end(outcome)
}

fn say(text: &str) {
    let _ = super::println_out(text);
}

/// `job plan`: a dry run; exit 1 when the submission would change anything.
pub fn plan(args: &PlanArgs) -> anyhow::Result<()> {
    let job = load(&args.file, &args.vars)?;
    let file = args.file.display().to_string();
    let json_out = args.api.json;
    let resp = block(&args.api, |c| async move {
        c.plan(&job, true).await.map_err(api_err)
    })?;
    if json_out {
        return super::print_out(&json(&resp)?);
    }
    let mut s = String::new();
    let mut changes = false;
    if let Some(diff) = &resp.diff {
        let kind = diff.get("Type").and_then(|v| v.as_str()).unwrap_or("None");
        let id = diff.get("ID").and_then(|v| v.as_str()).unwrap_or("");
        changes |= kind != "None";
        s.push_str(&format!("{} Job: {id:?}\n", mark(kind)));
        for tg in diff
            .get("TaskGroups")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            let kind = tg.get("Type").and_then(|v| v.as_str()).unwrap_or("None");
            let name = tg.get("Name").and_then(|v| v.as_str()).unwrap_or("");
            changes |= kind != "None";
            s.push_str(&format!("{} Task Group: {name:?}\n", mark(kind)));
        }
    }
    for (tg, u) in &resp.annotations.desired_tg_updates {
        let mut parts = Vec::new();
        for (n, what) in [
            (u.place, "create"),
            (u.stop, "destroy"),
            (u.in_place_update, "in-place update"),
            (u.destructive_update, "create/destroy update"),
            (u.migrate, "migrate"),
            (u.canary, "canary"),
            (u.ignore, "ignore"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        // Without a diff (an agent that sends none), any placement work counts.
        if resp.diff.is_none() {
            changes |= u.place + u.stop + u.destructive_update + u.migrate > 0;
        }
        if !parts.is_empty() {
            s.push_str(&format!("    Task Group {tg:?}: {}\n", parts.join(", ")));
        }
    }
    s.push_str("\nScheduler dry-run:\n");
    if resp.failed_tg_allocs.is_empty() {
        s.push_str("- All tasks successfully allocated.\n");
    } else {
        s.push_str("- WARNING: Failed to place all allocations.\n");
        let failed: BTreeMap<String, sched_core::model::AllocMetric> = resp
            .failed_tg_allocs
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), serde_json::from_value(v.clone()).ok()?)))
            .collect();
        s.push_str(&failure_text(&failed));
    }
    s.push_str(&format!(
        "\nJob Modify Index: {}\nTo submit the job with version verification run:\n\nsched job run -check-index {} {file}\n",
        resp.job_modify_index, resp.job_modify_index
    ));
    super::print_out(&s)?;
    if changes { Err(silent(1)) } else { Ok(()) }
}

fn mark(kind: &str) -> &'static str {
    match kind {
        "Added" => "+",
        "Deleted" => "-",
        "Edited" => "+/-",
        _ => "",
    }
}

/// `job status [ID]`
pub fn status(args: &StatusArgs) -> anyhow::Result<()> {
    let json_out = args.api.json;
    let verbose = args.verbose;
    let id = args.id.clone();
    let text = block(&args.api, |c| async move {
        match id {
            None => list(&c, json_out).await,
            Some(p) => {
                let id = job_id(&c, &p).await?;
                detail(&c, &id, json_out, verbose).await
            }
        }
    })?;
    super::print_out(&text)
}

async fn list(c: &Client, json_out: bool) -> anyhow::Result<String> {
    let (jobs, _) = c.jobs(&QueryOptions::default()).await.map_err(api_err)?;
    if json_out {
        return json(&jobs);
    }
    if jobs.is_empty() {
        return Ok("No running jobs\n".into());
    }
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                j.id.clone(),
                j.r#type.clone(),
                j.priority.to_string(),
                j.status.clone(),
                date(j.submit_time),
            ]
        })
        .collect();
    Ok(table(
        &["ID", "Type", "Priority", "Status", "Submit Date"],
        &rows,
    ))
}

async fn detail(c: &Client, id: &str, json_out: bool, verbose: bool) -> anyhow::Result<String> {
    let none = QueryOptions::default();
    let (job, _) = c.job(id, &none).await.map_err(api_err)?;
    if json_out {
        return json(&job);
    }
    let (summary, _) = c.job_summary(id, &none).await.map_err(api_err)?;
    let (evals, _) = c.job_evaluations(id, &none).await.map_err(api_err)?;
    let (allocs, _) = c.job_allocations(id, &none).await.map_err(api_err)?;
    let mut s = fields(&[
        ("ID", job.id.clone().unwrap_or_default()),
        ("Name", job.name.clone().unwrap_or_default()),
        ("Submit Date", date(job.submit_time.unwrap_or(0))),
        ("Type", job.r#type.clone().unwrap_or_default()),
        ("Priority", job.priority.unwrap_or(0).to_string()),
        (
            "Datacenters",
            job.datacenters.clone().unwrap_or_default().join(","),
        ),
        ("Namespace", job.namespace.clone().unwrap_or_default()),
        ("Node Pool", job.node_pool.clone().unwrap_or_default()),
        ("Status", job.status.clone().unwrap_or_default()),
        ("Periodic", job.periodic.is_some().to_string()),
        ("Parameterized", job.parameterized_job.is_some().to_string()),
    ]);
    s.push_str("\nSummary\n");
    let rows: Vec<Vec<String>> = summary
        .summary
        .iter()
        .map(|(tg, t)| {
            vec![
                tg.clone(),
                t.queued.to_string(),
                t.starting.to_string(),
                t.running.to_string(),
                t.failed.to_string(),
                t.complete.to_string(),
                t.lost.to_string(),
            ]
        })
        .collect();
    s.push_str(&table(
        &[
            "Task Group",
            "Queued",
            "Starting",
            "Running",
            "Failed",
            "Complete",
            "Lost",
        ],
        &rows,
    ));
    // Nomad shows why the newest evaluation could not place everything.
    let latest = evals.iter().max_by_key(|e| e.create_index);
    if let Some(e) = latest.filter(|e| !e.failed_tg_allocs.is_empty()) {
        s.push_str("\nPlacement Failure\n");
        s.push_str(&failure_text(&e.failed_tg_allocs));
    }
    // Nomad shows the latest deployment of jobs that can have one.
    let deployable = job.periodic.is_none()
        && job.parameterized_job.is_none()
        && matches!(job.r#type.as_deref(), Some("service") | None);
    if deployable && let Some(d) = crate::commands::deployment::latest_of_job(c, id).await? {
        s.push_str("\nLatest Deployment\n");
        s.push_str(&crate::commands::deployment::latest_block(&d, verbose));
    }
    s.push_str("\nLatest Evaluations\n");
    s.push_str(&eval_table(&evals, verbose, 3));
    s.push_str("\nAllocations\n");
    s.push_str(&alloc_table(&allocs, verbose));
    Ok(s)
}

/// The newest `limit` evaluations of a job, newest first.
fn eval_table(evals: &[sched_api::Evaluation], verbose: bool, limit: usize) -> String {
    if evals.is_empty() {
        return "No evaluations\n".into();
    }
    let mut sorted: Vec<&sched_api::Evaluation> = evals.iter().collect();
    sorted.sort_by_key(|e| std::cmp::Reverse(e.create_index));
    let rows: Vec<Vec<String>> = sorted
        .iter()
        .take(limit)
        .map(|e| {
            vec![
                id_col(e.id.as_str(), verbose),
                e.priority.to_string(),
                e.triggered_by.clone(),
                wire(&e.status),
                (!e.failed_tg_allocs.is_empty()).to_string(),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "Priority",
            "Triggered By",
            "Status",
            "Placement Failures",
        ],
        &rows,
    )
}

/// The allocations table `job status`, `job allocs` and `node status` share.
pub fn alloc_table(allocs: &[sched_api::AllocListStub], verbose: bool) -> String {
    if allocs.is_empty() {
        return "No allocations placed\n".into();
    }
    let now = now_ns();
    let mut sorted = allocs.to_vec();
    sorted.sort_by_key(|a| std::cmp::Reverse(a.create_index));
    let rows: Vec<Vec<String>> = sorted
        .iter()
        .map(|a| {
            vec![
                id_col(&a.id, verbose),
                id_col(&a.node_id, verbose),
                a.task_group.clone(),
                a.job_version.to_string(),
                a.desired_status.clone(),
                a.client_status.clone(),
                ago(a.create_time, now),
                ago(a.modify_time, now),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "Node ID",
            "Task Group",
            "Version",
            "Desired",
            "Status",
            "Created",
            "Modified",
        ],
        &rows,
    )
}

/// Follows `eval_id` unless detached, then maps the outcome to the exit code.
async fn follow(c: &Client, eval_id: String, detach: bool) -> anyhow::Result<Outcome> {
    if eval_id.is_empty() {
        return Ok(Outcome::Ok);
    }
    if detach {
        say(&format!("Evaluation ID: {eval_id}"));
        return Ok(Outcome::Ok);
    }
    monitor(c, &eval_id, false, DEFAULT_TIMEOUT).await
}

/// `job stop [-purge] ID`
pub fn stop(args: &StopArgs) -> anyhow::Result<()> {
    let p = args.job.id.clone();
    let (purge, detach) = (args.purge, args.job.detach);
    let outcome = block(&args.job.api, |c| async move {
        let id = job_id(&c, &p).await?;
        let resp = c.deregister(&id, None, purge).await.map_err(api_err)?;
        follow(&c, resp.eval_id, detach).await
    })?;
    end(outcome)
}

/// `job inspect ID`: the submitted job as `{"Job": ...}`.
pub fn inspect(args: &IdArgs) -> anyhow::Result<()> {
    let p = args.id.clone();
    let job = block(&args.api, |c| async move {
        let id = job_id(&c, &p).await?;
        Ok(c.job(&id, &QueryOptions::default())
            .await
            .map_err(api_err)?
            .0)
    })?;
    super::print_out(&json(&serde_json::json!({ "Job": job }))?)
}

/// `job history [-p] ID`
pub fn history(args: &HistoryArgs) -> anyhow::Result<()> {
    let p = args.job.id.clone();
    let versions = block(&args.job.api, |c| async move {
        let id = job_id(&c, &p).await?;
        Ok(c.job_versions(&id, &QueryOptions::default())
            .await
            .map_err(api_err)?
            .0)
    })?;
    if args.job.api.json {
        return super::print_out(&json(&versions)?);
    }
    let mut s = String::new();
    for (i, v) in versions.iter().enumerate() {
        s.push_str(&fields(&[
            ("Version", v.version.unwrap_or(0).to_string()),
            ("Stable", v.stable.unwrap_or(false).to_string()),
            ("Submit Date", date(v.submit_time.unwrap_or(0))),
        ]));
        if args.diff
            && let Some(older) = versions.get(i + 1)
        {
            s.push_str(&format!(
                "Diff from version {}:\n",
                older.version.unwrap_or(0)
            ));
            for line in json_diff(older, v) {
                s.push_str(&format!("  {line}\n"));
            }
        }
        s.push('\n');
    }
    super::print_out(&s)
}

/// Fields that differ between two versions (bookkeeping fields left out),
/// as `+ path: new`, `- path: old` and `~ path: old => new`.
pub fn json_diff(old: &Job, new: &Job) -> Vec<String> {
    fn flat(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    flat(
                        &format!("{prefix}{}{k}", if prefix.is_empty() { "" } else { "." }),
                        v,
                        out,
                    );
                }
            }
            serde_json::Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    flat(&format!("{prefix}[{i}]"), v, out);
                }
            }
            serde_json::Value::Null => {}
            other => {
                out.insert(prefix.to_string(), other.to_string());
            }
        }
    }
    const BOOKKEEPING: [&str; 7] = [
        "Version",
        "SubmitTime",
        "ModifyIndex",
        "JobModifyIndex",
        "CreateIndex",
        "Stable",
        "Status",
    ];
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flat("", &serde_json::to_value(old).unwrap_or_default(), &mut a);
    flat("", &serde_json::to_value(new).unwrap_or_default(), &mut b);
    for k in BOOKKEEPING {
        a.remove(k);
        b.remove(k);
    }
    let mut out = Vec::new();
    for (k, v) in &b {
        match a.get(k) {
            None => out.push(format!("+ {k}: {v}")),
            Some(o) if o != v => out.push(format!("~ {k}: {o} => {v}")),
            Some(_) => {}
        }
    }
    for (k, v) in &a {
        if !b.contains_key(k) {
            out.push(format!("- {k}: {v}"));
        }
    }
    out
}

/// `job revert ID VERSION`
pub fn revert(args: &RevertArgs) -> anyhow::Result<()> {
    let p = args.job.id.clone();
    let (version, detach) = (args.version, args.job.detach);
    let outcome = block(&args.job.api, |c| async move {
        let id = job_id(&c, &p).await?;
        let resp = c.revert(&id, version).await.map_err(api_err)?;
        follow(&c, resp.eval_id, detach).await
    })?;
    end(outcome)
}

/// `job dispatch [-meta k=v] ID [PAYLOAD]`
pub fn dispatch(args: &DispatchArgs) -> anyhow::Result<()> {
    use base64::Engine as _;
    let mut meta = BTreeMap::new();
    for kv in &args.meta {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| user(format!("error: -meta {kv:?} is not key=value")))?;
        meta.insert(k.to_string(), v.to_string());
    }
    let payload = match &args.payload {
        Some(p) => {
            let text = jobfile::read_text(p, 16 * 1024 * 1024)?;
            Some(base64::engine::general_purpose::STANDARD.encode(text.as_bytes()))
        }
        None => None,
    };
    let p = args.job.id.clone();
    let token = args.idempotency_token.clone();
    let detach = args.job.detach;
    let outcome = block(&args.job.api, |c| async move {
        let id = job_id(&c, &p).await?;
        let resp = c
            .dispatch(&id, &meta, payload.as_deref(), token.as_deref())
            .await
            .map_err(api_err)?;
        say(&format!(
            "Dispatched Job ID = {}\nEvaluation ID     = {}",
            resp.dispatched_job_id,
            short(&resp.eval_id)
        ));
        follow(&c, resp.eval_id, detach).await
    })?;
    end(outcome)
}

/// `job periodic force ID`
pub fn periodic(cmd: &PeriodicCommand) -> anyhow::Result<()> {
    let PeriodicCommand::Force(args) = cmd;
    let p = args.id.clone();
    let detach = args.detach;
    let outcome = block(&args.api, |c| async move {
        let id = job_id(&c, &p).await?;
        let resp = c.periodic_force(&id).await.map_err(api_err)?;
        say("Force periodic successful");
        follow(&c, resp.eval_id, detach).await
    })?;
    end(outcome)
}

/// `job scale ID [GROUP] COUNT`
pub fn scale(args: &ScaleArgs) -> anyhow::Result<()> {
    let (group, count) = match args.rest.as_slice() {
        [count] => (None, count),
        [group, count] => (Some(group.clone()), count),
        _ => return Err(user("error: usage: sched job scale ID [GROUP] COUNT")),
    };
    let count: i64 = count
        .parse()
        .map_err(|_| user(format!("error: count {count:?} is not a number")))?;
    let p = args.id.clone();
    let detach = args.detach;
    let outcome = block(&args.api, |c| async move {
        let id = job_id(&c, &p).await?;
        let group = match group {
            Some(g) => g,
            None => {
                let (job, _) = c
                    .job(&id, &QueryOptions::default())
                    .await
                    .map_err(api_err)?;
                let groups: Vec<String> = job
                    .task_groups
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|g| g.name)
                    .collect();
                match groups.as_slice() {
                    [only] => only.clone(),
                    _ => {
                        return Err(user(format!(
                            "error: job {id:?} has several groups ({}); name one",
                            groups.join(", ")
                        )));
                    }
                }
            }
        };
        let resp = c.scale(&id, &group, count).await.map_err(api_err)?;
        follow(&c, resp.eval_id, detach).await
    })?;
    end(outcome)
}

/// `job allocs ID`
pub fn allocs(args: &IdArgs) -> anyhow::Result<()> {
    let p = args.id.clone();
    let allocs = block(&args.api, |c| async move {
        let id = job_id(&c, &p).await?;
        Ok(c.job_allocations(&id, &QueryOptions::default())
            .await
            .map_err(api_err)?
            .0)
    })?;
    if args.api.json {
        return super::print_out(&json(&allocs)?);
    }
    super::print_out(&alloc_table(&allocs, args.verbose))
}

/// `job eval ID`: a new evaluation of the job as it is.
pub fn eval(args: &IdArgs) -> anyhow::Result<()> {
    let p = args.id.clone();
    let detach = args.detach;
    let outcome = block(&args.api, |c| async move {
        let id = job_id(&c, &p).await?;
        let resp = c.evaluate_job(&id).await.map_err(api_err)?;
        follow(&c, resp.eval_id, detach).await
    })?;
    end(outcome)
}

/// `job validate`: syntax, variables, then the job's own rules.
pub fn validate(args: &JobValidate) -> anyhow::Result<()> {
    let parsed = jobfile::parse(&args.file, &args.vars)?;
    let mut job = parsed.job;
    job.canonicalize();
    if let Err(e) = job.validate() {
        return Err(user(format!(
            "Job validation errors in {}:\n{e}",
            args.file.display()
        )));
    }
    if args.json {
        return super::println_out(&serde_json::to_string_pretty(&job)?);
    }
    super::println_out("Job validation successful")
}

/// `job init`: writes the example job, never over an existing file.
pub fn init(args: &JobInit) -> anyhow::Result<()> {
    write_new(&args.file, EXAMPLE)?;
    super::println_out(&format!(
        "Example job file written to {}\nRun it with: sched run {}",
        args.file.display(),
        args.file.display()
    ))
}

fn write_new(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => user(format!(
                "error: {} already exists; not overwriting it",
                path.display()
            )),
            _ => user(format!("error: cannot create {}: {e}", path.display())),
        })?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_diff_names_changed_fields_only() {
        let old = Job {
            id: Some("web".into()),
            priority: Some(50),
            version: Some(0),
            ..Default::default()
        };
        let new = Job {
            id: Some("web".into()),
            priority: Some(70),
            version: Some(1),
            region: Some("global".into()),
            ..Default::default()
        };
        assert_eq!(
            json_diff(&old, &new),
            ["~ Priority: 50 => 70", "+ Region: \"global\""]
        );
    }
}

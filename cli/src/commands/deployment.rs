//! `sched deployment list|status|promote|fail|pause|resume` and
//! `sched job promote`, with Nomad's flags and output, and the deployment
//! tables `job status` and the run monitor share. The servers decide what a
//! promotion or failure does; this only asks and shows.

use std::time::Duration;

use sched_api::{Client, Deployment, DeploymentUpdateResponse, QueryOptions};

use crate::commands::lookup::{api_err, block, id_col, job_id, pick, wire};
use crate::commands::monitor::{Outcome, monitor};
use crate::commands::status::{ApiArgs, fields, json, table};
use crate::exit::{silent, user};

/// How long a command that follows its evaluation waits at most.
const FOLLOW_TIMEOUT: Duration = Duration::from_secs(600);

/// `sched deployment ...`
#[derive(Debug, clap::Subcommand)]
pub enum DeploymentCommand {
    /// List deployments, newest first.
    List(ListArgs),
    /// Show a deployment and its groups' progress.
    Status(StatusArgs),
    /// Promote a deployment's canaries.
    Promote(PromoteArgs),
    /// Mark a deployment failed (reverting the job where it auto-reverts).
    Fail(IdArgs),
    /// Pause a deployment.
    Pause(IdArgs),
    /// Resume a paused deployment.
    Resume(IdArgs),
}

/// `deployment list`
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Show whole IDs.
    #[arg(long)]
    pub verbose: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `deployment status ID`
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The deployment ID (or a unique prefix).
    pub id: String,
    /// Show whole IDs and the deployment's allocations.
    #[arg(long)]
    pub verbose: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// A command on one deployment.
#[derive(Debug, clap::Args)]
pub struct IdArgs {
    /// The deployment ID (or a unique prefix).
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

/// `deployment promote [-group G]... ID`
#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    /// Promote only this group's canaries (repeatable); every group when absent.
    #[arg(long = "group")]
    pub groups: Vec<String>,
    #[command(flatten)]
    pub target: IdArgs,
}

/// `job promote [-group G]... JOB`
#[derive(Debug, clap::Args)]
pub struct JobPromoteArgs {
    /// Promote only this group's canaries (repeatable); every group when absent.
    #[arg(long = "group")]
    pub groups: Vec<String>,
    /// The job ID (or a unique prefix).
    pub job: String,
    /// Return at once instead of monitoring the evaluation.
    #[arg(long)]
    pub detach: bool,
    /// Show whole IDs.
    #[arg(long)]
    pub verbose: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Runs one `sched deployment` command.
pub fn run(cmd: &DeploymentCommand) -> anyhow::Result<()> {
    match cmd {
        DeploymentCommand::List(a) => list(a),
        DeploymentCommand::Status(a) => status(a),
        DeploymentCommand::Promote(a) => promote(a),
        DeploymentCommand::Fail(a) => fail(a),
        DeploymentCommand::Pause(a) => pause(a, true),
        DeploymentCommand::Resume(a) => pause(a, false),
    }
}

/// The full deployment ID `prefix` names.
pub async fn deployment_id(c: &Client, prefix: &str) -> anyhow::Result<String> {
    let (ds, _) = c
        .deployments(&QueryOptions::with_prefix(prefix))
        .await
        .map_err(api_err)?;
    pick(
        "deployment",
        prefix,
        ds.into_iter().map(|d| d.id.0).collect(),
    )
}

/// The job's latest deployment; `None` when it never had one, or when the
/// agent predates deployments (it answers 404 for the path).
pub async fn latest_of_job(c: &Client, job: &str) -> anyhow::Result<Option<Deployment>> {
    match c.job_latest_deployment(job, &QueryOptions::default()).await {
        Ok((d, _)) => Ok(d),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(api_err(e)),
    }
}

fn list(args: &ListArgs) -> anyhow::Result<()> {
    let json_out = args.api.json;
    let verbose = args.verbose;
    let text = block(&args.api, |c| async move {
        let (ds, _) = c
            .deployments(&QueryOptions::default())
            .await
            .map_err(api_err)?;
        if json_out {
            return json(&ds);
        }
        Ok(list_table(&ds, verbose))
    })?;
    super::print_out(&text)
}

/// `deployment list` as Nomad prints it: newest first.
pub fn list_table(ds: &[Deployment], verbose: bool) -> String {
    if ds.is_empty() {
        return "No deployments found\n".into();
    }
    let mut sorted: Vec<&Deployment> = ds.iter().collect();
    sorted.sort_by_key(|d| std::cmp::Reverse(d.create_index));
    let rows: Vec<Vec<String>> = sorted
        .iter()
        .map(|d| {
            vec![
                id_col(d.id.as_str(), verbose),
                d.job_id.clone(),
                d.job_version.to_string(),
                wire(&d.status),
                d.status_description.clone(),
            ]
        })
        .collect();
    table(
        &["ID", "Job ID", "Job Version", "Status", "Description"],
        &rows,
    )
}

fn status(args: &StatusArgs) -> anyhow::Result<()> {
    let json_out = args.api.json;
    let verbose = args.verbose;
    let prefix = args.id.clone();
    let text = block(&args.api, |c| async move {
        let id = deployment_id(&c, &prefix).await?;
        let none = QueryOptions::default();
        let (d, _) = c.deployment(&id, &none).await.map_err(api_err)?;
        if json_out {
            return json(&d);
        }
        let mut s = format_deployment(&d, verbose);
        if verbose {
            let (allocs, _) = c
                .deployment_allocations(&id, &none)
                .await
                .map_err(api_err)?;
            s.push_str("\nAllocations\n");
            s.push_str(&super::job::alloc_table(&allocs, verbose));
        }
        Ok(s)
    })?;
    super::print_out(&text)
}

/// `deployment status` as Nomad prints it: the deployment, then each
/// group's progress.
pub fn format_deployment(d: &Deployment, verbose: bool) -> String {
    let mut s = fields(&[
        ("ID", id_col(d.id.as_str(), verbose)),
        ("Job ID", d.job_id.clone()),
        ("Job Version", d.job_version.to_string()),
        ("Status", wire(&d.status)),
        ("Description", d.status_description.clone()),
    ]);
    if !d.task_groups.is_empty() {
        s.push_str("\nDeployed\n");
        s.push_str(&group_table(d));
    }
    s
}

/// The "Latest Deployment" block of `job status`.
pub fn latest_block(d: &Deployment, verbose: bool) -> String {
    let mut s = fields(&[
        ("ID", id_col(d.id.as_str(), verbose)),
        ("Status", wire(&d.status)),
        ("Description", d.status_description.clone()),
    ]);
    if !d.task_groups.is_empty() {
        s.push_str("\nDeployed\n");
        s.push_str(&group_table(d));
    }
    s
}

/// Each group's progress (Nomad's `formatDeploymentGroups`): the Auto
/// Revert column when a group auto-reverts, Promoted and Canaries when a
/// group has canaries.
pub fn group_table(d: &Deployment) -> String {
    let auto_revert = d.task_groups.values().any(|g| g.auto_revert);
    let canaries = d.task_groups.values().any(|g| g.desired_canaries > 0);
    let mut header = vec!["Task Group"];
    if auto_revert {
        header.push("Auto Revert");
    }
    if canaries {
        header.push("Promoted");
    }
    header.push("Desired");
    if canaries {
        header.push("Canaries");
    }
    header.extend(["Placed", "Healthy", "Unhealthy", "Progress Deadline"]);
    let rows: Vec<Vec<String>> = d
        .task_groups
        .iter()
        .map(|(name, g)| {
            let mut row = vec![name.clone()];
            if auto_revert {
                row.push(g.auto_revert.to_string());
            }
            if canaries {
                row.push(if g.desired_canaries > 0 {
                    g.promoted.to_string()
                } else {
                    "N/A".into()
                });
            }
            row.push(g.desired_total.to_string());
            if canaries {
                row.push(g.desired_canaries.to_string());
            }
            row.push(g.placed_allocs.to_string());
            row.push(g.healthy_allocs.to_string());
            row.push(g.unhealthy_allocs.to_string());
            row.push(progress_deadline(g.require_progress_by.as_deref()));
            row
        })
        .collect();
    table(&header, &rows)
}

/// A progress deadline as an RFC 3339 time to the second; `N/A` when unset
/// (Go's zero time counts as unset).
fn progress_deadline(t: Option<&str>) -> String {
    let Some(t) = t.filter(|t| !t.is_empty()) else {
        return "N/A".into();
    };
    match chrono::DateTime::parse_from_rfc3339(t) {
        Ok(dt) if dt.timestamp() > 0 => dt
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        Ok(_) => "N/A".into(),
        Err(_) => t.to_string(),
    }
}

fn say(text: &str) {
    let _ = super::println_out(text);
}

/// Follows the evaluation a deployment write created, unless detached.
async fn follow(
    c: &Client,
    resp: &DeploymentUpdateResponse,
    detach: bool,
) -> anyhow::Result<Outcome> {
    if resp.eval_id.is_empty() {
        return Ok(Outcome::Ok);
    }
    if detach {
        say(&format!("Evaluation ID: {}", resp.eval_id));
        return Ok(Outcome::Ok);
    }
    monitor(c, &resp.eval_id, true, FOLLOW_TIMEOUT).await
}

fn end(outcome: Outcome) -> anyhow::Result<()> {
    match outcome {
        Outcome::Ok => Ok(()),
        Outcome::Failed => Err(silent(2)),
    }
}

fn promote(args: &PromoteArgs) -> anyhow::Result<()> {
    let groups = args.groups.clone();
    let prefix = args.target.id.clone();
    let detach = args.target.detach;
    let outcome = block(&args.target.api, |c| async move {
        let id = deployment_id(&c, &prefix).await?;
        let resp = c.promote_deployment(&id, &groups).await.map_err(api_err)?;
        follow(&c, &resp, detach).await
    })?;
    end(outcome)
}

/// `job promote`: promotes the canaries of the job's latest deployment.
pub fn job_promote(args: &JobPromoteArgs) -> anyhow::Result<()> {
    let groups = args.groups.clone();
    let prefix = args.job.clone();
    let detach = args.detach;
    let outcome = block(&args.api, |c| async move {
        let job = job_id(&c, &prefix).await?;
        let Some(d) = latest_of_job(&c, &job).await? else {
            return Err(user(format!(
                "error: job {job:?} has no deployment to promote"
            )));
        };
        let resp = c
            .promote_deployment(d.id.as_str(), &groups)
            .await
            .map_err(api_err)?;
        follow(&c, &resp, detach).await
    })?;
    end(outcome)
}

fn fail(args: &IdArgs) -> anyhow::Result<()> {
    let prefix = args.id.clone();
    let detach = args.detach;
    let outcome = block(&args.api, |c| async move {
        let id = deployment_id(&c, &prefix).await?;
        let resp = c.fail_deployment(&id).await.map_err(api_err)?;
        match resp.reverted_job_version {
            Some(v) => say(&format!(
                "Deployment {id:?} failed. Auto-reverted to job version {v}.\n"
            )),
            None => say(&format!("Deployment {id:?} failed\n")),
        }
        follow(&c, &resp, detach).await
    })?;
    end(outcome)
}

fn pause(args: &IdArgs, pause: bool) -> anyhow::Result<()> {
    let prefix = args.id.clone();
    let detach = args.detach;
    let outcome = block(&args.api, |c| async move {
        let id = deployment_id(&c, &prefix).await?;
        let resp = c.pause_deployment(&id, pause).await.map_err(api_err)?;
        if pause {
            say(&format!("Deployment {id:?} paused"));
            return Ok(Outcome::Ok);
        }
        say(&format!("Deployment {id:?} resumed\n"));
        follow(&c, &resp, detach).await
    })?;
    end(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deployment as the agent sends it: one canary group mid-rollout
    /// and one plain group.
    const CANARY: &str = r#"{
        "ID": "0b23b149-3a47-7a7c-3a31-26fc06a32b4c",
        "Namespace": "default",
        "JobID": "web",
        "JobVersion": 2,
        "Status": "running",
        "StatusDescription": "Deployment is running but requires manual promotion",
        "CreateIndex": 40,
        "TaskGroups": {
            "web": {
                "AutoRevert": true,
                "Promoted": false,
                "DesiredCanaries": 1,
                "DesiredTotal": 3,
                "PlacedAllocs": 1,
                "HealthyAllocs": 1,
                "UnhealthyAllocs": 0,
                "PlacedCanaries": ["6b8a2c1e-0000-0000-0000-000000000000"],
                "ProgressDeadline": 600000000000,
                "RequireProgressBy": "2026-11-30T19:10:05.123456789Z"
            },
            "api": {
                "AutoRevert": false,
                "DesiredTotal": 2,
                "PlacedAllocs": 2,
                "HealthyAllocs": 0,
                "UnhealthyAllocs": 2,
                "RequireProgressBy": "0001-01-01T00:00:00Z"
            }
        }
    }"#;

    const PLAIN: &str = r#"{
        "ID": "a6e3b5c1-8a2d-4f00-9d3c-1f2e3d4c5b6a",
        "JobID": "cache",
        "JobVersion": 0,
        "Status": "successful",
        "StatusDescription": "Deployment completed successfully",
        "CreateIndex": 12,
        "TaskGroups": {
            "cache": {
                "DesiredTotal": 1,
                "PlacedAllocs": 1,
                "HealthyAllocs": 1,
                "UnhealthyAllocs": 0,
                "RequireProgressBy": "2026-11-30T18:00:00Z"
            }
        }
    }"#;

    fn d(s: &str) -> Deployment {
        serde_json::from_str(s).expect("canned deployment decodes")
    }

    #[test]
    fn status_shows_canary_and_revert_columns_only_when_used() {
        assert_eq!(
            format_deployment(&d(CANARY), false),
            "ID          = 0b23b149\n\
             Job ID      = web\n\
             Job Version = 2\n\
             Status      = running\n\
             Description = Deployment is running but requires manual promotion\n\
             \n\
             Deployed\n\
             Task Group  Auto Revert  Promoted  Desired  Canaries  Placed  Healthy  Unhealthy  Progress Deadline\n\
             api         false        N/A       2        0         2       0        2          N/A\n\
             web         true         false     3        1         1       1        0          2026-11-30T19:10:05Z\n"
        );
        assert_eq!(
            format_deployment(&d(PLAIN), true),
            "ID          = a6e3b5c1-8a2d-4f00-9d3c-1f2e3d4c5b6a\n\
             Job ID      = cache\n\
             Job Version = 0\n\
             Status      = successful\n\
             Description = Deployment completed successfully\n\
             \n\
             Deployed\n\
             Task Group  Desired  Placed  Healthy  Unhealthy  Progress Deadline\n\
             cache       1        1       1        0          2026-11-30T18:00:00Z\n"
        );
    }

    #[test]
    fn job_status_block_is_the_short_form() {
        let s = latest_block(&d(PLAIN), false);
        assert!(
            s.starts_with(
                "ID          = a6e3b5c1\n\
                 Status      = successful\n\
                 Description = Deployment completed successfully\n\nDeployed\n"
            ),
            "{s}"
        );
        let no_groups = Deployment {
            task_groups: Default::default(),
            ..d(PLAIN)
        };
        assert!(!latest_block(&no_groups, false).contains("Deployed"));
    }

    #[test]
    fn list_is_newest_first() {
        assert_eq!(
            list_table(&[d(PLAIN), d(CANARY)], false),
            "ID        Job ID  Job Version  Status      Description\n\
             0b23b149  web     2            running     Deployment is running but requires manual promotion\n\
             a6e3b5c1  cache   0            successful  Deployment completed successfully\n"
        );
        assert_eq!(list_table(&[], false), "No deployments found\n");
    }

    #[test]
    fn progress_deadlines_read_like_nomad() {
        assert_eq!(progress_deadline(None), "N/A");
        assert_eq!(progress_deadline(Some("")), "N/A");
        assert_eq!(progress_deadline(Some("0001-01-01T00:00:00Z")), "N/A");
        assert_eq!(
            progress_deadline(Some("2026-11-30T20:10:05+01:00")),
            "2026-11-30T19:10:05Z"
        );
        assert_eq!(progress_deadline(Some("soon")), "soon");
    }
}

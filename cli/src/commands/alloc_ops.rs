//! `sched alloc signal | restart | exec`: operations on a running
//! allocation, through the agent's `/v1/client/allocation/:id/...`
//! endpoints, which forward to the node running it.
//!
//! Owns the flags, resolving the allocation ID prefix, checking the task
//! name against the allocation's group, and printing or exiting as Nomad
//! does. The node's client does the work.

use std::io::Write;

use sched_api::{Client, QueryOptions};

use crate::commands::lookup::{alloc_id, block};
use crate::commands::status::ApiArgs;
use crate::exit::{silent, user};

/// `alloc signal [-s SIGNAL] [-task T] ALLOC [TASK]`
#[derive(Debug, clap::Args)]
pub struct SignalArgs {
    /// The signal to send (a name such as SIGUSR1 or USR1, or a number).
    #[arg(short = 's', default_value = "SIGKILL")]
    pub signal: String,
    /// The task to signal; every running task when neither this nor TASK is given.
    #[arg(long)]
    pub task: Option<String>,
    /// The allocation ID (or a unique prefix).
    pub alloc: String,
    /// The task, as an argument (Nomad's older form).
    pub task_arg: Option<String>,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `alloc restart [-task T] [-all-tasks] ALLOC [TASK]`
#[derive(Debug, clap::Args)]
pub struct RestartArgs {
    /// The task to restart; every running task when neither this nor TASK is given.
    #[arg(long)]
    pub task: Option<String>,
    /// Restart every task (cannot be combined with a task name).
    #[arg(long = "all-tasks")]
    pub all_tasks: bool,
    /// The allocation ID (or a unique prefix).
    pub alloc: String,
    /// The task, as an argument (Nomad's older form).
    pub task_arg: Option<String>,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `alloc exec [-task T] ALLOC COMMAND [ARGS...]`
#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// The task to run the command in; optional when the group has one task.
    #[arg(long)]
    pub task: Option<String>,
    /// Interactive stdin: only `-i=false` is supported (see docs/agent.md).
    #[arg(short = 'i', long = "i", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub stdin: Option<bool>,
    /// A terminal: only `-t=false` is supported (see docs/agent.md).
    #[arg(short = 't', long = "t", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub tty: Option<bool>,
    /// The allocation ID (or a unique prefix).
    pub alloc: String,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// The agent's HTTP address (default: SCHED_ADDR, NOMAD_ADDR, then http://127.0.0.1:4646).
    #[arg(long)]
    pub address: Option<String>,
}

/// An API failure as one line: the agent's own message where it sent one.
fn op_err(e: sched_api::Error) -> anyhow::Error {
    match e {
        sched_api::Error::Api { message, .. } if !message.is_empty() => {
            user(format!("error: {message}"))
        }
        other => user(format!("error: {other}")),
    }
}

/// The task named by the flag or the argument (not both), checked against
/// the allocation's group so a typo is named before the node is asked.
fn task_name(
    alloc: &sched_api::Allocation,
    flag: Option<&str>,
    arg: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let named = match (flag, arg) {
        (Some(a), Some(b)) if a != b => {
            return Err(user(format!(
                "error: two different tasks named: -task {a} and {b}"
            )));
        }
        (Some(t), _) | (None, Some(t)) => t.to_string(),
        (None, None) => return Ok(None),
    };
    let tasks: Vec<String> = alloc
        .job
        .as_ref()
        .and_then(|j| j.task_groups.as_ref())
        .into_iter()
        .flatten()
        .filter(|g| g.name.as_deref() == Some(alloc.task_group.as_str()))
        .flat_map(|g| g.tasks.iter().flatten())
        .filter_map(|t| t.name.clone())
        .collect();
    if !tasks.contains(&named) {
        return Err(user(format!(
            "error: allocation {} has no task {named:?} (its tasks: {})",
            short(&alloc.id.0),
            tasks.join(", ")
        )));
    }
    Ok(Some(named))
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// The allocation `prefix` names, whole.
async fn allocation(c: &Client, prefix: &str) -> anyhow::Result<sched_api::Allocation> {
    let id = alloc_id(c, prefix).await?;
    Ok(c.allocation(&id, &QueryOptions::default())
        .await
        .map_err(op_err)?
        .0)
}

/// `alloc signal`
pub fn signal(args: &SignalArgs) -> anyhow::Result<()> {
    block(&args.api, |c| async move {
        let alloc = allocation(&c, &args.alloc).await?;
        let task = task_name(&alloc, args.task.as_deref(), args.task_arg.as_deref())?;
        c.signal_allocation(&alloc.id.0, task.as_deref(), &args.signal)
            .await
            .map_err(op_err)
    })
}

/// `alloc restart`
pub fn restart(args: &RestartArgs) -> anyhow::Result<()> {
    block(&args.api, |c| async move {
        let alloc = allocation(&c, &args.alloc).await?;
        let task = task_name(&alloc, args.task.as_deref(), args.task_arg.as_deref())?;
        if args.all_tasks && task.is_some() {
            return Err(user(
                "error: -all-tasks cannot be combined with a task name",
            ));
        }
        c.restart_allocation(&alloc.id.0, task.as_deref(), args.all_tasks)
            .await
            .map_err(op_err)
    })
}

/// `alloc exec`: prints the command's output and exits with its exit code.
pub fn exec(args: &ExecArgs) -> anyhow::Result<()> {
    if args.stdin == Some(true) || args.tty == Some(true) {
        return Err(user(
            "error: interactive exec (-i, -t) needs a streaming driver contract, which sched's drivers do not offer yet; run a one-shot command (-i=false -t=false, the default)",
        ));
    }
    let api = ApiArgs {
        address: args.address.clone(),
        json: false,
    };
    let out = block(&api, |c| async move {
        let alloc = allocation(&c, &args.alloc).await?;
        let task = task_name(&alloc, args.task.as_deref(), None)?;
        c.exec_allocation(&alloc.id.0, task.as_deref(), &args.command)
            .await
            .map_err(op_err)
    })?;
    // Output that cannot be written (a closed pipe) is the reader's choice.
    let _ = std::io::stdout().lock().write_all(&out.stdout);
    let _ = std::io::stderr().lock().write_all(&out.stderr);
    match u8::try_from(out.exit_code) {
        Ok(0) => Ok(()),
        Ok(code) => Err(silent(code)),
        Err(_) => Err(silent(1)),
    }
}

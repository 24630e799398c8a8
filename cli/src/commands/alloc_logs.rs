//! `sched alloc logs [-f] [-stderr] [-tail] [-n N] ALLOC [TASK]`: a task's
//! output through the agent's `/v1/client/fs/logs`, which forwards to the
//! node running the allocation.
//!
//! Owns the flags, finding the allocation and its task, and writing the
//! bytes as they arrive. It does not read log files itself.

use std::io::Write;
use std::time::Duration;

use sched_api::QueryOptions;

use crate::exit::user;

/// How long the agent may take to start answering.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a read that does not follow may take per chunk.
const CHUNK_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes asked for per line wanted with `-tail`, bounded by [`MAX_TAIL_BYTES`].
const TAIL_BYTES_PER_LINE: u64 = 4096;
/// The most bytes `-tail` asks for.
const MAX_TAIL_BYTES: u64 = 4 * 1024 * 1024;

/// `sched alloc logs`
#[derive(Debug, Clone, clap::Args)]
pub struct AllocLogsArgs {
    /// Keep printing output as the task writes it, until interrupted.
    #[arg(short = 'f')]
    pub follow: bool,
    /// Show standard error instead of standard output.
    #[arg(long)]
    pub stderr: bool,
    /// Show only the end of the logs (the last 10 lines unless -n says).
    #[arg(long)]
    pub tail: bool,
    /// With -tail, how many lines from the end.
    #[arg(short = 'n')]
    pub lines: Option<u64>,
    /// The allocation ID (or a unique prefix).
    pub alloc: String,
    /// The task; optional when the allocation's group has one task.
    pub task: Option<String>,
    /// The agent's HTTP address (default: SCHED_ADDR, NOMAD_ADDR, then http://127.0.0.1:4646).
    #[arg(long)]
    pub address: Option<String>,
}

/// Runs `sched alloc logs`.
pub fn run(args: &AllocLogsArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(logs(args))
}

async fn logs(args: &AllocLogsArgs) -> anyhow::Result<()> {
    let api = sched_api::Client::from_env(args.address.as_deref())
        .map_err(|e| user(format!("error: {e}")))?;
    let (alloc, _) = api
        .allocation(&args.alloc, &QueryOptions::default())
        .await
        .map_err(|e| user(format!("error: allocation {}: {e}", args.alloc)))?;
    let task = pick_task(&alloc, args.task.as_deref())?;
    let http = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(|e| user(format!("error: {e}")))?;
    let kind = if args.stderr { "stderr" } else { "stdout" };
    let base = format!(
        "{}/v1/client/fs/logs/{}?task={}&type={kind}&plain=true",
        api.address().trim_end_matches('/'),
        alloc.id,
        percent(&task),
    );
    let mut out = std::io::stdout().lock();
    if args.tail {
        let lines = args.lines.unwrap_or(10);
        let bytes = lines
            .saturating_mul(TAIL_BYTES_PER_LINE)
            .min(MAX_TAIL_BYTES);
        let url = format!("{base}&origin=end&offset={bytes}");
        let mut body = Vec::new();
        fetch(&http, &url, false, |chunk| {
            body.extend_from_slice(chunk);
            Ok(())
        })
        .await?;
        write(&mut out, last_lines(&body, lines))?;
        if !args.follow {
            return Ok(());
        }
        // Following from the end: bytes written between the two requests
        // are not shown.
        let url = format!("{base}&origin=end&offset=0&follow=true");
        fetch(&http, &url, true, |chunk| write(&mut out, chunk)).await?;
    } else {
        let url = format!("{base}&follow={}", args.follow);
        fetch(&http, &url, args.follow, |chunk| write(&mut out, chunk)).await?;
    }
    if args.follow {
        return Err(user(
            "error: the log stream ended: the agent stopped or the allocation left its node",
        ));
    }
    Ok(())
}

/// The task to show: the one named (checked against the group), or the
/// group's only task.
fn pick_task(alloc: &sched_api::Allocation, named: Option<&str>) -> anyhow::Result<String> {
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
    match (named, tasks.as_slice()) {
        (Some(t), _) if tasks.iter().any(|k| k == t) => Ok(t.to_string()),
        (Some(t), _) => Err(user(format!(
            "error: allocation {} has no task {t:?} (its tasks: {})",
            alloc.id,
            tasks.join(", ")
        ))),
        (None, [only]) => Ok(only.clone()),
        (None, _) => Err(user(format!(
            "error: allocation {} has several tasks; name one of: {}",
            alloc.id,
            tasks.join(", ")
        ))),
    }
}

/// GETs `url` and hands each chunk of the body to `sink`; a failure (the
/// agent refusing, going away, or stalling while not following) is one line
/// for the user.
async fn fetch(
    http: &reqwest::Client,
    url: &str,
    follow: bool,
    mut sink: impl FnMut(&[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| user(format!("error: cannot reach the agent: {e}")))?;
    if !resp.status().is_success() {
        let status = resp.status().as_u16();
        let msg = resp.text().await.unwrap_or_default();
        return Err(user(format!("error: {status}: {}", msg.trim())));
    }
    loop {
        let next = if follow {
            resp.chunk().await
        } else {
            tokio::time::timeout(CHUNK_TIMEOUT, resp.chunk())
                .await
                .map_err(|_| user("error: the agent stopped sending logs"))?
        };
        match next {
            Ok(Some(chunk)) => sink(&chunk)?,
            Ok(None) => return Ok(()),
            Err(e) => {
                return Err(user(format!("error: the log stream broke: {e}")));
            }
        }
    }
}

fn write(out: &mut impl Write, bytes: &[u8]) -> anyhow::Result<()> {
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// The last `n` lines of `body` (a trailing newline ends the last line).
fn last_lines(body: &[u8], n: u64) -> &[u8] {
    let end = body.len();
    let search_end = if body.last() == Some(&b'\n') {
        end - 1
    } else {
        end
    };
    let mut seen = 0;
    for i in (0..search_end).rev() {
        if body[i] == b'\n' {
            seen += 1;
            if seen == n {
                return &body[i + 1..];
            }
        }
    }
    if n == 0 { &body[end..] } else { body }
}

/// Percent-encodes a task name for a query string.
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_keeps_the_tail() {
        assert_eq!(last_lines(b"a\nb\nc\n", 2), b"b\nc\n");
        assert_eq!(last_lines(b"a\nb\nc", 2), b"b\nc");
        assert_eq!(last_lines(b"a\nb\n", 5), b"a\nb\n");
        assert_eq!(last_lines(b"a\nb\n", 0), b"");
    }

    #[test]
    fn task_names_are_encoded() {
        assert_eq!(percent("web-1"), "web-1");
        assert_eq!(percent("a b&c"), "a%20b%26c");
    }
}

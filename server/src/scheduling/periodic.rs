//! The periodic launcher: while this server leads, every enabled periodic
//! job gets a child job (`<parent>/periodic-<unix seconds>`) at each time its
//! cron specs name, in its time zone, like Nomad's periodic dispatcher.
//!
//! It keeps no table of its own: the last launch of a parent is read from
//! its children's IDs, so a new leader neither repeats a launch nor loses
//! track. A launch that falls while no leader runs happens once, when one
//! takes over (missed launches are not replayed one by one). With
//! `prohibit_overlap` a launch is skipped while an earlier child still runs.
//! It does not schedule the children: each is registered with its
//! evaluation, which the broker picks up like any other.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::CronParser;
use sched_core::model::{Job, PeriodicConfig};
use sched_scheduler::job_view::JobView;
use tokio::sync::watch;

use super::Cluster;
use crate::evals::{new_eval, trigger};
use crate::fsm::Command;
use crate::state::{StateSnapshot, Table};

/// Longest sleep between looks at the state (jobs changing wake it sooner).
const IDLE: Duration = Duration::from_secs(30);

/// Why a periodic job's schedule cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodicError {
    /// A cron expression does not parse.
    #[error("periodic spec {spec:?}: {message}")]
    Spec {
        /// The expression.
        spec: String,
        /// What is wrong with it.
        message: String,
    },
    /// The time zone is not an IANA name.
    #[error("periodic time_zone {0:?} is not a known time zone")]
    TimeZone(String),
    /// Neither `cron` nor `crons` is set.
    #[error("periodic block has no cron spec")]
    NoSpec,
}

/// A parsed periodic block.
#[derive(Debug, Clone)]
pub struct Schedule {
    crons: Vec<Cron>,
    tz: Tz,
}

impl Schedule {
    /// Parses `cron`/`crons` and `time_zone` (UTC when unset). Specs follow
    /// Nomad's cronexpr: 5 fields (minute to weekday), 6 (minute to year) or
    /// 7 (second to year), and the `@hourly`-style shorthands.
    pub fn of(config: &PeriodicConfig) -> Result<Schedule, PeriodicError> {
        let specs: Vec<&String> = config
            .spec
            .iter()
            .chain(config.specs.iter().flatten())
            .collect();
        if specs.is_empty() {
            return Err(PeriodicError::NoSpec);
        }
        let parser = CronParser::builder().build();
        let crons = specs
            .into_iter()
            .map(|spec| {
                let fields = spec.split_whitespace().count();
                // cronexpr reads six fields as minute..year; croner reads
                // them as second..weekday. A leading zero second makes the
                // meaning cronexpr's.
                let text = if fields == 6 && !spec.trim_start().starts_with('@') {
                    format!("0 {spec}")
                } else {
                    spec.clone()
                };
                parser.parse(&text).map_err(|e| PeriodicError::Spec {
                    spec: spec.clone(),
                    message: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tz = match config.time_zone.as_deref() {
            None | Some("") | Some("UTC") => Tz::UTC,
            Some(name) => name
                .parse::<Tz>()
                .map_err(|_| PeriodicError::TimeZone(name.to_owned()))?,
        };
        Ok(Schedule { crons, tz })
    }

    /// The first launch strictly after `after` (Unix nanoseconds), across
    /// every spec.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let start: DateTime<Tz> = self
            .tz
            .from_utc_datetime(&Utc.timestamp_nanos(after).naive_utc());
        self.crons
            .iter()
            .filter_map(|c| c.find_next_occurrence(&start, false).ok())
            .filter_map(|t| t.with_timezone(&Utc).timestamp_nanos_opt())
            .min()
    }
}

/// The child job a launch at `at` (Unix nanoseconds) registers.
pub fn child_job(parent: &Job, at: i64) -> Job {
    let parent_id = parent.job_id().to_owned();
    let id = format!("{parent_id}/periodic-{}", at.div_euclid(1_000_000_000));
    let mut child = parent.clone();
    child.id = Some(id.clone());
    child.name = Some(id);
    child.parent_id = Some(parent_id);
    child.periodic = None;
    child.version = None;
    child.create_index = None;
    child.modify_index = None;
    child.job_modify_index = None;
    child.status = None;
    child.submit_time = None;
    child
}

/// The parent's children, as (launch time in Unix nanoseconds, whether it
/// still runs).
fn children(snapshot: &StateSnapshot, parent: &Job) -> Vec<(i64, bool)> {
    let prefix = format!("{}/periodic-", parent.job_id());
    snapshot
        .jobs(parent.ns(), &prefix)
        .iter()
        .filter_map(|c| {
            let secs: i64 = c.job_id().strip_prefix(&prefix)?.parse().ok()?;
            let running = c.status.as_deref() != Some("dead");
            Some((secs.saturating_mul(1_000_000_000), running))
        })
        .collect()
}

/// What the launcher should do for one parent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Launch a child for this launch time.
    Launch(i64),
    /// Skip this launch time: an earlier child still runs.
    Skip(i64),
    /// Nothing before this time.
    Wait(i64),
    /// No further launch.
    Never,
}

/// Decides the next step for `parent` at `now`; `skipped` is the latest
/// launch time already skipped for overlap.
pub fn due(
    snapshot: &StateSnapshot,
    parent: &Job,
    schedule: &Schedule,
    now: i64,
    skipped: i64,
) -> Due {
    let kids = children(snapshot, parent);
    let last = kids.iter().map(|(t, _)| *t).max().unwrap_or(0);
    // A parent that never launched starts counting from its registration.
    let base = last.max(skipped).max(if last == 0 {
        parent.submit_time.unwrap_or(now)
    } else {
        0
    });
    let Some(next) = schedule.next_after(base) else {
        return Due::Never;
    };
    if next > now {
        return Due::Wait(next);
    }
    // Launch only the most recent missed time, not every one in between.
    let mut at = next;
    while let Some(n) = schedule.next_after(at) {
        if n > now {
            break;
        }
        at = n;
    }
    let prohibit = parent
        .periodic
        .as_ref()
        .and_then(|p| p.prohibit_overlap)
        .unwrap_or(false);
    if prohibit && kids.iter().any(|(_, running)| *running) {
        Due::Skip(at)
    } else {
        Due::Launch(at)
    }
}

/// Whether `job` is a periodic parent the launcher serves.
fn launches(job: &Job) -> bool {
    job.periodic
        .as_ref()
        .is_some_and(|p| p.enabled.unwrap_or(true))
        && !job.stopped()
}

/// Runs the launcher until `shutdown` turns true; it works only while
/// `leader` is true.
pub async fn run_periodic(
    cluster: Arc<dyn Cluster>,
    mut leader: watch::Receiver<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let reader = cluster.state();
    let mut skipped: HashMap<(String, String), i64> = HashMap::new();
    let mut reported: HashMap<(String, String), String> = HashMap::new();
    loop {
        if *shutdown.borrow() {
            return;
        }
        if !*leader.borrow_and_update() {
            skipped.clear();
            tokio::select! {
                r = leader.changed() => if r.is_err() { return },
                _ = shutdown.wait_for(|s| *s) => return,
            }
            continue;
        }
        let snapshot = reader.snapshot();
        let now = cluster.now();
        let mut wake = now.saturating_add(IDLE.as_nanos() as i64);
        for parent in snapshot.jobs("*", "").iter().filter(|j| launches(j)) {
            let key = (parent.ns().to_owned(), parent.job_id().to_owned());
            let Some(config) = parent.periodic.as_ref() else {
                continue;
            };
            let schedule = match Schedule::of(config) {
                Ok(s) => s,
                Err(err) => {
                    let msg = err.to_string();
                    if reported.get(&key) != Some(&msg) {
                        tracing::warn!(job_id = %key.1, error = %msg, "periodic job cannot be launched");
                        reported.insert(key, msg);
                    }
                    continue;
                }
            };
            let skip = skipped.get(&key).copied().unwrap_or(0);
            match due(&snapshot, parent, &schedule, now, skip) {
                Due::Launch(at) => {
                    let child = child_job(parent, at);
                    let eval = new_eval(&child, trigger::PERIODIC_JOB, now);
                    tracing::info!(job_id = %key.1, child = ?child.id, eval_id = %eval.id.0, trace_id = %eval.trace_id, "launching periodic job");
                    let cmd = Command::JobRegister {
                        job: Box::new(child),
                        eval: Some(eval),
                        submission: None,
                        now,
                    };
                    if let Err(err) = cluster.apply(cmd).await {
                        tracing::warn!(job_id = %key.1, error = %err, "periodic launch failed; retrying");
                        wake = wake.min(now.saturating_add(1_000_000_000));
                    }
                }
                Due::Skip(at) => {
                    tracing::info!(job_id = %key.1, "periodic launch skipped: the previous child still runs (prohibit_overlap)");
                    skipped.insert(key, at);
                }
                Due::Wait(at) => wake = wake.min(at),
                Due::Never => {}
            }
        }
        let sleep =
            Duration::from_nanos(u64::try_from(wake.saturating_sub(cluster.now())).unwrap_or(0));
        let seen = snapshot.table_index(Table::Jobs);
        tokio::select! {
            _ = reader.wait_for_change(&[Table::Jobs], seen, sleep) => {}
            r = leader.changed() => if r.is_err() { return },
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .timestamp_nanos_opt()
            .expect("in range")
    }

    fn periodic(spec: &str, tz: Option<&str>) -> PeriodicConfig {
        PeriodicConfig {
            spec: Some(spec.into()),
            time_zone: tz.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn five_six_and_seven_fields_read_as_cronexpr_does() {
        let five = Schedule::of(&periodic("*/15 * * * *", None)).expect("parses");
        assert_eq!(
            five.next_after(at("2026-11-30T10:01:00Z")),
            Some(at("2026-11-30T10:15:00Z"))
        );
        // Six fields: minute to year, not second to weekday.
        let six = Schedule::of(&periodic("*/15 * * * * *", None)).expect("parses");
        assert_eq!(
            six.next_after(at("2026-11-30T10:01:00Z")),
            Some(at("2026-11-30T10:15:00Z"))
        );
        let seven = Schedule::of(&periodic("*/10 * * * * * *", None)).expect("parses");
        assert_eq!(
            seven.next_after(at("2026-11-30T10:01:01Z")),
            Some(at("2026-11-30T10:01:10Z"))
        );
        let daily = Schedule::of(&periodic("@daily", None)).expect("parses");
        assert_eq!(
            daily.next_after(at("2026-11-30T10:01:00Z")),
            Some(at("2026-12-01T00:00:00Z"))
        );
    }

    #[test]
    fn time_zones_and_several_specs() {
        let ny = Schedule::of(&periodic("0 9 * * *", Some("America/New_York"))).expect("parses");
        // 09:00 in New York in winter is 14:00 UTC.
        assert_eq!(
            ny.next_after(at("2026-11-30T10:00:00Z")),
            Some(at("2026-11-30T14:00:00Z"))
        );
        let both = Schedule::of(&PeriodicConfig {
            specs: Some(vec!["0 12 * * *".into(), "30 6 * * *".into()]),
            ..Default::default()
        })
        .expect("parses");
        assert_eq!(
            both.next_after(at("2026-11-30T07:00:00Z")),
            Some(at("2026-11-30T12:00:00Z"))
        );
    }

    #[test]
    fn bad_specs_and_zones_are_named() {
        let e = Schedule::of(&periodic("61 * * * *", None)).expect_err("bad minute");
        assert!(e.to_string().contains("61 * * * *"), "{e}");
        let e = Schedule::of(&periodic("* * * * *", Some("Mars/Olympus"))).expect_err("bad zone");
        assert_eq!(e, PeriodicError::TimeZone("Mars/Olympus".into()));
        assert_eq!(
            Schedule::of(&PeriodicConfig::default()).expect_err("none"),
            PeriodicError::NoSpec
        );
    }

    fn parent(submit: i64, prohibit: bool) -> Job {
        Job {
            id: Some("report".into()),
            namespace: Some("default".into()),
            r#type: Some("batch".into()),
            submit_time: Some(submit),
            periodic: Some(PeriodicConfig {
                spec: Some("*/5 * * * *".into()),
                prohibit_overlap: Some(prohibit),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn with_child(snapshot: &mut StateSnapshot, child: Job) {
        let key = (child.ns().to_owned(), child.job_id().to_owned());
        snapshot.jobs.insert(key, Arc::new(child));
    }

    #[test]
    fn launches_once_per_time_and_only_the_latest_missed_one() {
        let p = parent(at("2026-11-30T10:01:00Z"), false);
        let s = Schedule::of(p.periodic.as_ref().expect("periodic")).expect("parses");
        let mut snap = StateSnapshot::default();
        assert_eq!(
            due(&snap, &p, &s, at("2026-11-30T10:03:00Z"), 0),
            Due::Wait(at("2026-11-30T10:05:00Z"))
        );
        // Down for a while: only the latest missed time is launched.
        let now = at("2026-11-30T10:21:00Z");
        assert_eq!(
            due(&snap, &p, &s, now, 0),
            Due::Launch(at("2026-11-30T10:20:00Z"))
        );
        let child = child_job(&p, at("2026-11-30T10:20:00Z"));
        assert_eq!(child.id.as_deref(), Some("report/periodic-1796034000"));
        assert_eq!(child.parent_id.as_deref(), Some("report"));
        assert!(child.periodic.is_none());
        with_child(&mut snap, child);
        // The child's ID is the record: no second launch for the same time.
        assert_eq!(
            due(&snap, &p, &s, now, 0),
            Due::Wait(at("2026-11-30T10:25:00Z"))
        );
    }

    #[test]
    fn prohibit_overlap_skips_while_a_child_runs() {
        let p = parent(at("2026-11-30T10:01:00Z"), true);
        let s = Schedule::of(p.periodic.as_ref().expect("periodic")).expect("parses");
        let mut snap = StateSnapshot::default();
        let mut running = child_job(&p, at("2026-11-30T10:05:00Z"));
        running.status = Some("running".into());
        with_child(&mut snap, running.clone());
        let now = at("2026-11-30T10:10:30Z");
        assert_eq!(
            due(&snap, &p, &s, now, 0),
            Due::Skip(at("2026-11-30T10:10:00Z"))
        );
        assert_eq!(
            due(&snap, &p, &s, now, at("2026-11-30T10:10:00Z")),
            Due::Wait(at("2026-11-30T10:15:00Z"))
        );
        running.status = Some("dead".into());
        with_child(&mut snap, running);
        assert_eq!(
            due(
                &snap,
                &p,
                &s,
                at("2026-11-30T10:15:01Z"),
                at("2026-11-30T10:10:00Z")
            ),
            Due::Launch(at("2026-11-30T10:15:00Z"))
        );
    }
}

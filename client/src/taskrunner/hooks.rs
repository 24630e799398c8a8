//! The task runner's hooks: the steps around a task's run, as one ordered
//! list built in [`Hooks::new`].
//!
//! Prestart hooks run (on a blocking thread: they do file and network I/O)
//! before every start of the task, restarts included, so a restart finds
//! its directories, logs and artifacts in place. Stop hooks run before the
//! task is killed.

use std::path::PathBuf;
use std::time::Duration;

use sched_core::model::{Task, TaskEvent};

use super::artifact;
use super::events;
use crate::allocrunner::dir::{AllocDir, TaskDir};
use crate::logs::{LogRotator, Stream};

/// When a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Before each start.
    Prestart,
    /// Before the task is killed.
    Stop,
}

/// One hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hook {
    /// Makes the task's directories (`local/`, `secrets/`, `tmp/`).
    TaskDir,
    /// Prepares the log files and rotation.
    Logs,
    /// Writes a dispatched job's payload to `local/<file>`.
    DispatchPayload {
        /// The file, relative to `local/`.
        file: String,
    },
    /// Downloads the task's artifacts.
    Artifacts,
    /// Waits `shutdown_delay` before the kill, so load balancers drain.
    ShutdownDelay(Duration),
}

/// What a hook run leaves for the task runner.
#[derive(Debug, Default)]
pub struct HookOutput {
    /// Events to record, in order.
    pub events: Vec<TaskEvent>,
    /// The task's directories, once made.
    pub task_dir: Option<TaskDir>,
    /// The files stdout and stderr go to, once prepared.
    pub log_paths: Option<(PathBuf, PathBuf)>,
}

/// A failed hook: the event that explains it, and whether a restart might
/// help (a download can; a bad destination cannot).
#[derive(Debug)]
pub struct HookFailure {
    /// The event to record.
    pub event: Box<TaskEvent>,
    /// Whether to go through the restart policy (else the task fails).
    pub recoverable: bool,
}

/// What the hooks work on.
#[derive(Debug)]
pub struct HookContext<'a> {
    /// The allocation's directory.
    pub alloc_dir: &'a AllocDir,
    /// The task.
    pub task: &'a Task,
    /// The task's name.
    pub task_name: &'a str,
    /// The dispatched job's payload, decoded.
    pub payload: Option<&'a [u8]>,
    /// The log rotators (stdout, stderr).
    pub logs: &'a (LogRotator, LogRotator),
}

/// A task's hooks, in the order they run.
#[derive(Debug, Clone)]
pub struct Hooks {
    list: Vec<(Stage, Hook)>,
}

impl Hooks {
    /// The hooks of `task`: every stage's, in order.
    pub fn new(task: &Task, group_shutdown_delay: Option<Duration>) -> Hooks {
        let mut list = Vec::new();
        // Prestart 1: the task's directories, before anything writes there.
        list.push((Stage::Prestart, Hook::TaskDir));
        // Prestart 2: the log files, so the driver has somewhere to write.
        list.push((Stage::Prestart, Hook::Logs));
        // Prestart 3: a dispatched job's payload, which artifacts may sit beside.
        if let Some(file) = task
            .dispatch_payload
            .as_ref()
            .and_then(|d| d.file.clone())
            .filter(|f| !f.is_empty())
        {
            list.push((Stage::Prestart, Hook::DispatchPayload { file }));
        }
        // Prestart 4: artifacts, last: the slowest step, and the most likely to fail.
        if task.artifacts.as_ref().is_some_and(|a| !a.is_empty()) {
            list.push((Stage::Prestart, Hook::Artifacts));
        }
        // Stop 1: the shutdown delay (the task's over the group's) before the kill signal.
        let delay = task
            .shutdown_delay
            .map(|d| d.to_std())
            .or(group_shutdown_delay)
            .filter(|d| !d.is_zero());
        if let Some(d) = delay {
            list.push((Stage::Stop, Hook::ShutdownDelay(d)));
        }
        Hooks { list }
    }

    /// The hooks of one stage, in order.
    pub fn stage(&self, stage: Stage) -> impl Iterator<Item = &Hook> {
        self.list
            .iter()
            .filter(move |(s, _)| *s == stage)
            .map(|(_, h)| h)
    }

    /// Runs the prestart hooks; the first failure stops the rest.
    pub fn prestart(
        &self,
        cx: &HookContext<'_>,
    ) -> Result<HookOutput, Box<(HookOutput, HookFailure)>> {
        let mut out = HookOutput::default();
        for hook in self.stage(Stage::Prestart) {
            if let Err(f) = hook.run(cx, &mut out) {
                return Err(Box::new((out, *f)));
            }
        }
        Ok(out)
    }

    /// How long the stop hooks wait before the kill.
    pub fn stop_delay(&self) -> Duration {
        self.stage(Stage::Stop)
            .map(|h| match h {
                Hook::ShutdownDelay(d) => *d,
                _ => Duration::ZERO,
            })
            .sum()
    }
}

fn setup_failure(message: String) -> Box<HookFailure> {
    let mut event = events::event(events::SETUP_FAILURE, message);
    event.fails_task = true;
    Box::new(HookFailure {
        event: Box::new(event),
        recoverable: false,
    })
}

impl Hook {
    fn run(&self, cx: &HookContext<'_>, out: &mut HookOutput) -> Result<(), Box<HookFailure>> {
        match self {
            Hook::TaskDir => {
                out.events
                    .push(events::event(events::TASK_SETUP, "Building Task Directory"));
                cx.alloc_dir
                    .build()
                    .and_then(|()| cx.alloc_dir.build_task(cx.task_name))
                    .map(|d| out.task_dir = Some(d))
                    .map_err(|e| setup_failure(format!("failed to build task directory: {e}")))
            }
            Hook::Logs => {
                let stdout = cx.logs.0.live_path();
                let stderr = cx.logs.1.live_path();
                match (stdout, stderr) {
                    (Ok(o), Ok(e)) => {
                        out.log_paths = Some((o, e));
                        Ok(())
                    }
                    (Err(e), _) | (_, Err(e)) => {
                        Err(setup_failure(format!("failed to set up logs: {e}")))
                    }
                }
            }
            Hook::DispatchPayload { file } => {
                let local = cx.alloc_dir.task(cx.task_name).local;
                let dest = artifact::dest_in(&local, file)
                    .map_err(|e| setup_failure(format!("dispatch payload: {e}")))?;
                if let Some(parent) = dest.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        setup_failure(format!("dispatch payload {}: {e}", parent.display()))
                    })?;
                }
                std::fs::write(&dest, cx.payload.unwrap_or_default())
                    .map_err(|e| setup_failure(format!("dispatch payload {}: {e}", dest.display())))
            }
            Hook::Artifacts => {
                out.events.push(events::event(
                    events::DOWNLOADING_ARTIFACTS,
                    "Client is downloading artifacts",
                ));
                let dir = cx.alloc_dir.task(cx.task_name).dir;
                for a in cx.task.artifacts.iter().flatten() {
                    if let Err(e) = artifact::fetch(a, &dir) {
                        let recoverable = !matches!(
                            e,
                            artifact::ArtifactError::Escapes(_)
                                | artifact::ArtifactError::Unsupported(_)
                                | artifact::ArtifactError::NoSource
                                | artifact::ArtifactError::BadChecksumOption(_)
                        );
                        let mut ev = events::event(
                            events::ARTIFACT_DOWNLOAD_FAILED,
                            format!(
                                "failed to download artifact {:?}: {e}",
                                a.getter_source.as_deref().unwrap_or("")
                            ),
                        );
                        ev.details.insert("error".into(), e.to_string());
                        return Err(Box::new(HookFailure {
                            event: Box::new(ev),
                            recoverable,
                        }));
                    }
                }
                Ok(())
            }
            Hook::ShutdownDelay(_) => Ok(()),
        }
    }
}

/// The log rotators of a task from its `logs` block (Nomad's defaults: 10
/// files of 10 MB).
pub fn rotators(alloc_dir: &AllocDir, task: &Task) -> (LogRotator, LogRotator) {
    let cfg = task.log_config.clone().unwrap_or_default();
    let files = cfg.max_files.unwrap_or(10);
    let size = cfg.max_file_size_mb.unwrap_or(10);
    let dir = alloc_dir.logs();
    let name = task.name.clone().unwrap_or_default();
    (
        LogRotator::new(&dir, &name, Stream::Stdout, files, size),
        LogRotator::new(&dir, &name, Stream::Stderr, files, size),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sched_core::model::{Artifact, DispatchPayloadConfig, Duration as D};

    #[test]
    fn one_ordered_list() {
        let task = Task {
            name: Some("t".into()),
            artifacts: Some(vec![Artifact::default()]),
            dispatch_payload: Some(DispatchPayloadConfig {
                file: Some("in.json".into()),
            }),
            shutdown_delay: Some(D::from_secs(2)),
            ..Task::default()
        };
        let h = Hooks::new(&task, None);
        let pre: Vec<_> = h.stage(Stage::Prestart).cloned().collect();
        assert_eq!(
            pre,
            vec![
                Hook::TaskDir,
                Hook::Logs,
                Hook::DispatchPayload {
                    file: "in.json".into()
                },
                Hook::Artifacts
            ]
        );
        assert_eq!(h.stop_delay(), Duration::from_secs(2));
        let plain = Hooks::new(&Task::default(), Some(Duration::from_secs(1)));
        assert_eq!(plain.stage(Stage::Prestart).count(), 2);
        assert_eq!(plain.stop_delay(), Duration::from_secs(1));
    }
}

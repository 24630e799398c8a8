//! `docker`: runs a task as a container through the `docker` capability
//! (requests to the Docker Engine API on the node's socket; the only
//! capability it uses).
//!
//! - start: `load` (an image tar in the task dir) through `docker.load-image`;
//!   pull when the image is absent or `force_pull`; create the container
//!   `<task-name>-<alloc-id>` (a leftover of that name is removed first),
//!   start it, then `docker.follow-logs` into the task's log files. The
//!   task's `user` becomes the container's `User`; the task and alloc dirs
//!   are bound at `/local`, `/secrets` and `/alloc` as Nomad does;
//! - wait / inspect: `GET /containers/{id}/json` (State.Running, ExitCode,
//!   OOMKilled). `wait-task` answers at once; the client polls;
//! - stop: `POST /containers/{id}/stop?t=SECS&signal=SIG` (the engine sends
//!   the signal, then kills after `t`); signal: `POST .../kill?signal=SIG`;
//! - destroy: `DELETE /containers/{id}?force=..&v=true`;
//! - exec: create and start an exec instance, demultiplex its output, read
//!   its exit code; stats: `GET .../stats?stream=false`;
//! - fingerprint: `GET /version`; healthy with the `version` attribute, or
//!   `undetected` when the engine cannot be reached (never an error).
//!
//! Limits: the capability's `request` sends no headers, so registry
//! credentials (`auth`, which Docker takes in `X-Registry-Auth`) cannot be
//! passed: pulls are anonymous, and a private image must be present or
//! `load`ed. `image_pull_timeout` is accepted but the host's call deadline
//! bounds a pull.

pub mod api;
pub mod body;
pub mod config;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use sched_driver_sdk::{
    Driver, DriverCapabilities, DriverError, DriverFingerprint, DriverInfo, ExecOutput, ExitResult,
    FsIsolation, TaskConfig, TaskHandle, TaskState, TaskStatus, TaskUsage, clock, docker, handle,
    log,
};

use crate::config::DockerConfig;

/// The driver's name, as jobs write it.
pub const NAME: &str = "docker";
/// Version of the handle state format.
pub const STATE_VERSION: u32 = 1;

/// What the handle carries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DockerState {
    /// The container's id.
    pub container_id: String,
    /// The container's name.
    pub name: String,
    /// The image it runs.
    pub image: String,
    /// Unix nanoseconds when the driver started it.
    pub started_at: u64,
    /// The task's log files, to follow the logs again after a client restart.
    pub stdout_path: String,
    /// See `stdout_path`.
    pub stderr_path: String,
}

fn state_of(h: &TaskHandle) -> Result<DockerState, DriverError> {
    handle::decode(h, NAME, STATE_VERSION)
}

/// An engine error for `what`, with the engine's message.
fn engine_error(what: &str, r: &docker::Response) -> DriverError {
    DriverError::failed(format!(
        "docker {what}: {} (HTTP {})",
        r.message(),
        r.status
    ))
}

/// Makes sure the image is there: loads `load`, pulls when absent or forced.
fn ensure_image(cfg: &DockerConfig, task: &TaskConfig) -> Result<(), DriverError> {
    if let Some(load) = &cfg.load {
        let loaded = docker::load_image(&body::task_path(task, load))?;
        log::info(
            "docker: image loaded",
            &[("task", &task.id), ("image", &loaded)],
        );
    }
    if !cfg.force_pull {
        let r = docker::request("GET", &format!("/images/{}/json", cfg.image), None)?;
        if r.is_success() {
            return Ok(());
        }
        if r.status != 404 {
            return Err(engine_error("image inspect", &r));
        }
    }
    if cfg.auth.is_some() {
        log::warn(
            "docker: registry credentials cannot be sent through the docker capability; pulling anonymously",
            &[("task", &task.id), ("image", &cfg.image)],
        );
    }
    let r = docker::request("POST", &body::pull_path(&cfg.image), None)?;
    if !r.is_success() {
        return Err(engine_error(&format!("pull {}", cfg.image), &r));
    }
    // The pull answers 200 and streams progress; a failure is the last message.
    let text = String::from_utf8_lossy(&r.body);
    if let Some(last) = text.lines().rev().find(|l| !l.trim().is_empty())
        && let Ok(Value::Object(m)) = serde_json::from_str::<Value>(last)
        && let Some(e) = m.get("error").and_then(Value::as_str)
    {
        return Err(DriverError::failed(format!(
            "docker pull {}: {e}",
            cfg.image
        )));
    }
    Ok(())
}

/// Creates the container, replacing a leftover of the same name once.
fn create(name: &str, body: &Value) -> Result<String, DriverError> {
    let path = format!("/containers/create?name={}", body::query_escape(name));
    let mut r = docker::request_json("POST", &path, Some(body))?;
    if r.status == 409 {
        let gone = docker::request(
            "DELETE",
            &format!("/containers/{name}?force=true&v=true"),
            None,
        )?;
        if !gone.is_success() && gone.status != 404 {
            return Err(engine_error("remove of the leftover container", &gone));
        }
        r = docker::request_json("POST", &path, Some(body))?;
    }
    if !r.is_success() {
        return Err(engine_error("create", &r));
    }
    match r.json()?.get("Id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => Ok(id.to_string()),
        _ => Err(DriverError::failed("docker create: the answer has no Id")),
    }
}

/// `GET /containers/{id}/json`, with 404 as not-found.
fn inspect(h: &TaskHandle, state: &DockerState) -> Result<Value, DriverError> {
    let r = docker::request(
        "GET",
        &format!("/containers/{}/json", state.container_id),
        None,
    )?;
    if r.status == 404 {
        return Err(DriverError::not_found(format!(
            "task {}: container {} is gone",
            h.id, state.name
        )));
    }
    if !r.is_success() {
        return Err(engine_error("inspect", &r));
    }
    r.json()
}

/// The docker driver.
#[derive(Debug)]
pub struct Docker;

impl Driver for Docker {
    fn info() -> DriverInfo {
        DriverInfo {
            name: NAME.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            capabilities: DriverCapabilities {
                send_signals: true,
                exec: true,
                fs_isolation: FsIsolation::Image,
                network_modes: vec!["host".into(), "bridge".into(), "none".into()],
            },
        }
    }

    fn config_schema() -> String {
        include_str!("schema.json").to_string()
    }

    fn fingerprint() -> DriverFingerprint {
        match docker::request("GET", "/version", None) {
            Ok(r) if r.is_success() => {
                let v = r.json().unwrap_or(Value::Null);
                let mut attributes = Vec::new();
                if let Some(version) = v["Version"].as_str() {
                    attributes.push(("version".to_string(), version.to_string()));
                }
                if let Some(api) = v["ApiVersion"].as_str() {
                    attributes.push(("api_version".to_string(), api.to_string()));
                }
                DriverFingerprint::healthy("docker engine reachable", attributes)
            }
            Ok(r) => DriverFingerprint::unhealthy(format!(
                "docker engine: {} (HTTP {})",
                r.message(),
                r.status
            )),
            Err(e) => DriverFingerprint::undetected(format!(
                "docker engine not reachable: {}",
                e.message()
            )),
        }
    }

    fn start_task(task: TaskConfig) -> Result<TaskHandle, DriverError> {
        let cfg = DockerConfig::parse(&task.driver_config)?;
        let create_body = body::create_body(&cfg, &task)?;
        ensure_image(&cfg, &task)?;
        let name = body::container_name(&task);
        let id = create(&name, &create_body)?;
        let started_at = clock::now();
        let r = docker::request("POST", &format!("/containers/{id}/start"), None)?;
        if !r.is_success() && r.status != 304 {
            let _ = docker::request(
                "DELETE",
                &format!("/containers/{id}?force=true&v=true"),
                None,
            );
            return Err(engine_error("start", &r));
        }
        if let Err(e) = docker::follow_logs(&id, &task.stdout_path, &task.stderr_path) {
            log::warn(
                "docker: cannot follow the container's logs",
                &[("task", &task.id), ("error", e.message())],
            );
        }
        let state = DockerState {
            container_id: id,
            name,
            image: cfg.image,
            started_at,
            stdout_path: task.stdout_path,
            stderr_path: task.stderr_path,
        };
        handle::encode(&task.id, NAME, STATE_VERSION, &state)
    }

    fn wait_task(h: TaskHandle, _timeout_ms: u32) -> Result<Option<ExitResult>, DriverError> {
        let state = state_of(&h)?;
        Ok(api::container_state(&inspect(&h, &state)?).exit)
    }

    fn stop_task(
        h: TaskHandle,
        timeout_ms: u32,
        signal: Option<String>,
    ) -> Result<(), DriverError> {
        let state = state_of(&h)?;
        let secs = timeout_ms.div_ceil(1000);
        let mut path = format!("/containers/{}/stop?t={secs}", state.container_id);
        if let Some(sig) = signal.filter(|s| !s.is_empty()) {
            path.push_str(&format!("&signal={}", body::query_escape(&sig)));
        }
        let r = docker::request("POST", &path, None)?;
        // 304: already stopped; 404: already gone.
        if r.is_success() || r.status == 304 || r.status == 404 {
            Ok(())
        } else {
            Err(engine_error("stop", &r))
        }
    }

    fn destroy_task(h: TaskHandle, force: bool) -> Result<(), DriverError> {
        let state = state_of(&h)?;
        let path = format!("/containers/{}?force={force}&v=true", state.container_id);
        let r = docker::request("DELETE", &path, None)?;
        if r.is_success() || r.status == 404 {
            Ok(())
        } else {
            Err(engine_error("remove", &r))
        }
    }

    fn inspect_task(h: TaskHandle) -> Result<TaskStatus, DriverError> {
        let state = state_of(&h)?;
        let c = api::container_state(&inspect(&h, &state)?);
        Ok(TaskStatus {
            id: h.id.clone(),
            state: if c.running {
                TaskState::Running
            } else {
                TaskState::Exited
            },
            started_at: c.started_at.unwrap_or(state.started_at),
            completed_at: if c.running {
                0
            } else {
                c.finished_at.unwrap_or_else(clock::now)
            },
            exit: c.exit,
            attributes: vec![
                ("container_id".to_string(), state.container_id.clone()),
                ("container_name".to_string(), state.name.clone()),
                ("image".to_string(), state.image.clone()),
            ],
        })
    }

    fn signal_task(h: TaskHandle, signal: String) -> Result<(), DriverError> {
        let state = state_of(&h)?;
        let path = format!(
            "/containers/{}/kill?signal={}",
            state.container_id,
            body::query_escape(&signal)
        );
        let r = docker::request("POST", &path, None)?;
        if r.status == 404 {
            return Err(DriverError::not_found(format!(
                "task {}: container {} is gone",
                h.id, state.name
            )));
        }
        if !r.is_success() {
            return Err(engine_error("kill", &r));
        }
        Ok(())
    }

    fn exec_task(
        h: TaskHandle,
        argv: Vec<String>,
        _timeout_ms: u32,
    ) -> Result<ExecOutput, DriverError> {
        let state = state_of(&h)?;
        if argv.first().is_none_or(|a| a.is_empty()) {
            return Err(DriverError::invalid_config("argv", "no command given"));
        }
        let r = docker::request_json(
            "POST",
            &format!("/containers/{}/exec", state.container_id),
            Some(&body::exec_body(&argv)),
        )?;
        if r.status == 404 {
            return Err(DriverError::not_found(format!(
                "task {}: container {} is gone",
                h.id, state.name
            )));
        }
        if !r.is_success() {
            return Err(engine_error("exec create", &r));
        }
        let exec_id = match r.json()?.get("Id").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => {
                return Err(DriverError::failed(
                    "docker exec create: the answer has no Id",
                ));
            }
        };
        let start = serde_json::json!({ "Detach": false, "Tty": false });
        let r = docker::request_json("POST", &format!("/exec/{exec_id}/start"), Some(&start))?;
        if !r.is_success() {
            return Err(engine_error("exec start", &r));
        }
        let (stdout, stderr) = api::demux(&r.body);
        let r = docker::request("GET", &format!("/exec/{exec_id}/json"), None)?;
        if !r.is_success() {
            return Err(engine_error("exec inspect", &r));
        }
        let code = r.json()?["ExitCode"]
            .as_i64()
            .and_then(|c| i32::try_from(c).ok())
            .unwrap_or(-1);
        Ok(ExecOutput {
            stdout,
            stderr,
            exit: ExitResult::code(code),
        })
    }

    fn task_stats(h: TaskHandle) -> Result<TaskUsage, DriverError> {
        let state = state_of(&h)?;
        let r = docker::request(
            "GET",
            &format!("/containers/{}/stats?stream=false", state.container_id),
            None,
        )?;
        if r.status == 404 {
            return Err(DriverError::not_found(format!(
                "task {}: container {} is gone",
                h.id, state.name
            )));
        }
        if !r.is_success() {
            return Err(engine_error("stats", &r));
        }
        Ok(api::usage(&r.json()?, clock::now()))
    }

    fn recover_task(h: TaskHandle) -> Result<(), DriverError> {
        let state = state_of(&h)?;
        let c = api::container_state(&inspect(&h, &state)?);
        if c.running {
            // The client's log follower ended with the client.
            if let Err(e) =
                docker::follow_logs(&state.container_id, &state.stdout_path, &state.stderr_path)
            {
                log::debug(
                    "docker: logs not re-followed",
                    &[("task", &h.id), ("error", e.message())],
                );
            }
        }
        Ok(())
    }
}

sched_driver_sdk::export_driver!(Docker);

#[cfg(test)]
mod tests;

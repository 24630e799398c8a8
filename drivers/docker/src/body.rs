//! Request bodies and paths for the Docker Engine API, built from the task
//! config (pure functions, tested on the host).

use serde_json::{Map, Value, json};

use sched_driver_sdk::{DriverError, TaskConfig};

use crate::config::{DockerConfig, MountConfig, parse_volume};

const MIB: u64 = 1024 * 1024;

/// Docker refuses CPU shares below 2.
const MIN_CPU_SHARES: u32 = 2;

/// The container's name: `<task-name>-<alloc-id>`.
pub fn container_name(task: &TaskConfig) -> String {
    format!("{}-{}", task.name, task.alloc_id)
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
pub fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Splits an image reference into `fromImage` and `tag` for a pull: the tag
/// follows the last `:` after the last `/`; a digest reference is pulled
/// whole; no tag means `latest`.
pub fn split_image(image: &str) -> (String, String) {
    if image.contains('@') {
        return (image.to_string(), String::new());
    }
    let name_start = image.rfind('/').map_or(0, |i| i + 1);
    match image[name_start..].rfind(':') {
        Some(i) => {
            let at = name_start + i;
            (image[..at].to_string(), image[at + 1..].to_string())
        }
        None => (image.to_string(), "latest".to_string()),
    }
}

/// The path of the pull request for `image`.
pub fn pull_path(image: &str) -> String {
    let (from, tag) = split_image(image);
    if tag.is_empty() {
        format!("/images/create?fromImage={}", query_escape(&from))
    } else {
        format!(
            "/images/create?fromImage={}&tag={}",
            query_escape(&from),
            query_escape(&tag)
        )
    }
}

/// Joins a path relative to the task dir.
pub fn task_path(task: &TaskConfig, rel: &str) -> String {
    let rel = rel.trim_start_matches("./");
    if rel.starts_with('/') {
        rel.to_string()
    } else {
        format!("{}/{}", task.task_dir.trim_end_matches('/'), rel)
    }
}

/// Rewrites a host path inside the task or alloc dir to the path the
/// container sees (`/alloc`, `/local`, `/secrets`, ...).
fn container_path(value: &str, task: &TaskConfig) -> Option<String> {
    fn under<'a>(value: &'a str, dir: &str) -> Option<&'a str> {
        let dir = dir.trim_end_matches('/');
        if dir.is_empty() {
            return None;
        }
        let rest = value.strip_prefix(dir)?;
        (rest.is_empty() || rest.starts_with('/')).then_some(rest)
    }
    if let Some(rest) = under(value, &task.alloc_dir) {
        return Some(format!("/alloc{rest}"));
    }
    under(value, &task.task_dir).map(|rest| {
        if rest.is_empty() {
            "/".to_string()
        } else {
            rest.to_string()
        }
    })
}

/// The container's environment: the task's, with Nomad's and sched's
/// `*_DIR` variables rewritten to container paths, then `config.env` over it.
pub fn container_env(cfg: &DockerConfig, task: &TaskConfig) -> Vec<String> {
    let mut env: Vec<(String, String)> = task
        .env
        .iter()
        .filter(|(k, _)| !cfg.env.contains_key(k))
        .map(|(k, v)| {
            let ours = (k.starts_with("NOMAD_") || k.starts_with("SCHED_")) && k.ends_with("_DIR");
            match ours.then(|| container_path(v, task)).flatten() {
                Some(p) => (k.clone(), p),
                None => (k.clone(), v.clone()),
            }
        })
        .collect();
    env.extend(cfg.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
}

/// `Binds`: the task's directories (as Nomad's docker driver mounts them),
/// then `config.volumes` with relative host paths taken from the task dir.
pub fn binds(cfg: &DockerConfig, task: &TaskConfig) -> Vec<String> {
    let dir = task.task_dir.trim_end_matches('/');
    let mut out = vec![
        format!("{}:/alloc", task.alloc_dir.trim_end_matches('/')),
        format!("{dir}/local:/local"),
        format!("{dir}/secrets:/secrets"),
    ];
    for v in &cfg.volumes {
        // Checked by DockerConfig::parse.
        if let Ok((host, container, mode)) = parse_volume(v) {
            let host = if host.starts_with('/') || !(host.starts_with('.') || host.contains('/')) {
                // Absolute paths and named volumes pass through.
                host.to_string()
            } else {
                task_path(task, host)
            };
            out.push(match mode {
                Some(m) => format!("{host}:{container}:{m}"),
                None => format!("{host}:{container}"),
            });
        }
    }
    out
}

/// `Mounts`: `config.mounts` in the Engine API's shape.
pub fn mounts(cfg: &DockerConfig, task: &TaskConfig) -> Vec<Value> {
    cfg.mounts.iter().map(|m| mount(m, task)).collect()
}

fn mount(m: &MountConfig, task: &TaskConfig) -> Value {
    let mut out = Map::new();
    out.insert("Type".into(), json!(m.kind));
    out.insert("Target".into(), json!(m.target));
    out.insert("ReadOnly".into(), json!(m.readonly));
    match m.kind.as_str() {
        "bind" => {
            let source = m.source.as_deref().unwrap_or_default();
            let source = if source.starts_with('/') {
                source.to_string()
            } else {
                task_path(task, source)
            };
            out.insert("Source".into(), json!(source));
            if let Some(p) = m.bind_options.as_ref().and_then(|o| o.propagation.as_ref()) {
                out.insert("BindOptions".into(), json!({ "Propagation": p }));
            }
        }
        "volume" => {
            out.insert(
                "Source".into(),
                json!(m.source.as_deref().unwrap_or_default()),
            );
            if let Some(o) = &m.volume_options {
                out.insert("VolumeOptions".into(), json!({ "NoCopy": o.no_copy }));
            }
        }
        _ => {
            if let Some(o) = &m.tmpfs_options {
                let mut t = Map::new();
                if let Some(size) = o.size {
                    t.insert("SizeBytes".into(), json!(size));
                }
                if let Some(mode) = o.mode {
                    t.insert("Mode".into(), json!(mode));
                }
                out.insert("TmpfsOptions".into(), Value::Object(t));
            }
        }
    }
    Value::Object(out)
}

/// `ExposedPorts` and `PortBindings` for `config.ports`, each label looked
/// up in the group's ports; TCP and UDP are both published, as Nomad does.
pub fn ports(cfg: &DockerConfig, task: &TaskConfig) -> Result<(Value, Value), DriverError> {
    let mut exposed = Map::new();
    let mut bindings = Map::new();
    for (i, label) in cfg.ports.iter().enumerate() {
        let Some(p) = task.ports.iter().find(|p| &p.label == label) else {
            return Err(DriverError::invalid_config(
                &format!("ports[{i}]"),
                format!("no port labelled {label:?} in the group's network"),
            ));
        };
        let inside = if p.task_port == 0 {
            p.host_port
        } else {
            p.task_port
        };
        for proto in ["tcp", "udp"] {
            let key = format!("{inside}/{proto}");
            exposed.insert(key.clone(), json!({}));
            let binding = json!({ "HostIp": p.host_ip, "HostPort": p.host_port.to_string() });
            match bindings.get_mut(&key) {
                Some(Value::Array(list)) => list.push(binding),
                _ => {
                    bindings.insert(key, json!([binding]));
                }
            }
        }
    }
    Ok((Value::Object(exposed), Value::Object(bindings)))
}

/// The body of `POST /containers/create`.
pub fn create_body(cfg: &DockerConfig, task: &TaskConfig) -> Result<Value, DriverError> {
    let (exposed, port_bindings) = ports(cfg, task)?;

    let mut labels: Map<String, Value> = cfg
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    labels.insert("sched.alloc_id".into(), json!(task.alloc_id));
    labels.insert("sched.job_id".into(), json!(task.job_id));
    labels.insert("sched.task_name".into(), json!(task.name));

    let r = task.resources;
    let memory_mb = if r.memory_max_mb > r.memory_mb {
        r.memory_max_mb
    } else {
        r.memory_mb
    };
    let mut host = Map::new();
    host.insert("Binds".into(), json!(binds(cfg, task)));
    host.insert("Mounts".into(), json!(mounts(cfg, task)));
    host.insert("PortBindings".into(), port_bindings);
    host.insert("Privileged".into(), json!(cfg.privileged));
    host.insert("CpuShares".into(), json!(r.cpu_mhz.max(MIN_CPU_SHARES)));
    if memory_mb > 0 {
        let limit = u64::from(memory_mb) * MIB;
        host.insert("Memory".into(), json!(limit));
        // No swap beyond the limit.
        host.insert("MemorySwap".into(), json!(limit));
        if r.memory_max_mb > r.memory_mb && r.memory_mb > 0 {
            host.insert(
                "MemoryReservation".into(),
                json!(u64::from(r.memory_mb) * MIB),
            );
        }
    }
    let network_mode = match (&cfg.network_mode, task.network_mode.as_str()) {
        (Some(m), _) if !m.is_empty() => Some(m.clone()),
        (_, "none") => Some("none".to_string()),
        _ => None,
    };
    if let Some(m) = network_mode {
        host.insert("NetworkMode".into(), json!(m));
    }

    let mut body = Map::new();
    body.insert("Image".into(), json!(cfg.image));
    let cmd: Option<Vec<String>> = match &cfg.command {
        Some(c) => Some(
            std::iter::once(c.clone())
                .chain(cfg.args.iter().cloned())
                .collect(),
        ),
        None if !cfg.args.is_empty() => Some(cfg.args.clone()),
        None => None,
    };
    if let Some(cmd) = cmd {
        body.insert("Cmd".into(), json!(cmd));
    }
    if let Some(ep) = &cfg.entrypoint {
        body.insert("Entrypoint".into(), json!(ep));
    }
    body.insert("Env".into(), json!(container_env(cfg, task)));
    body.insert("Labels".into(), Value::Object(labels));
    if let Some(user) = task.user.as_ref().filter(|u| !u.is_empty()) {
        body.insert("User".into(), json!(user));
    }
    if let Some(w) = cfg.work_dir.as_ref().filter(|w| !w.is_empty()) {
        body.insert("WorkingDir".into(), json!(w));
    }
    body.insert("ExposedPorts".into(), exposed);
    body.insert("HostConfig".into(), Value::Object(host));
    Ok(Value::Object(body))
}

/// The body of `POST /containers/{id}/exec`.
pub fn exec_body(argv: &[String]) -> Value {
    json!({ "AttachStdin": false, "AttachStdout": true, "AttachStderr": true, "Tty": false, "Cmd": argv })
}

//! The docker task's `config` block and its checks.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use sched_driver_sdk::{DriverError, config, duration};

/// The task's `config` block (Nomad's docker driver options that sched supports).
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DockerConfig {
    /// The image to run (required).
    pub image: String,
    /// The command, replacing the image's CMD.
    #[serde(default)]
    pub command: Option<String>,
    /// Arguments of the command (or the image's CMD when `command` is unset).
    #[serde(default)]
    pub args: Vec<String>,
    /// Replaces the image's ENTRYPOINT.
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// Variables merged over the task's environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Labels of the group's network ports to publish.
    #[serde(default)]
    pub ports: Vec<String>,
    /// Bind mounts, `host:container[:mode]`; a relative host path is taken
    /// from the task dir.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// Mounts of type bind, volume or tmpfs.
    #[serde(default)]
    pub mounts: Vec<MountConfig>,
    /// Container labels: a map, or Nomad's list of one-element maps.
    #[serde(default, deserialize_with = "labels")]
    pub labels: BTreeMap<String, String>,
    /// The working directory inside the container.
    #[serde(default)]
    pub work_dir: Option<String>,
    /// Docker network mode (`bridge`, `host`, `none`, `container:<id>`, a network name).
    #[serde(default)]
    pub network_mode: Option<String>,
    /// Runs the container privileged (the host refuses unless the operator allowed it).
    #[serde(default)]
    pub privileged: bool,
    /// Pulls the image even when it is present.
    #[serde(default)]
    pub force_pull: bool,
    /// Accepted for compatibility; the host's call deadline bounds pulls.
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    pub image_pull_timeout: Option<Duration>,
    /// An image tar (relative to the task dir) loaded before the container is created.
    #[serde(default)]
    pub load: Option<String>,
    /// Registry credentials (see the crate docs for their limits).
    #[serde(default)]
    pub auth: Option<AuthConfig>,
}

/// A `mount` of the task.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MountConfig {
    /// `bind` (default), `volume` or `tmpfs`.
    #[serde(rename = "type", default = "default_mount_type")]
    pub kind: String,
    /// Host path (bind; relative to the task dir) or volume name; unused for tmpfs.
    #[serde(default)]
    pub source: Option<String>,
    /// Path inside the container.
    #[serde(default)]
    pub target: String,
    /// Mounted read-only.
    #[serde(default)]
    pub readonly: bool,
    /// `{propagation}` of a bind mount.
    #[serde(default)]
    pub bind_options: Option<BindOptions>,
    /// `{no_copy}` of a volume mount.
    #[serde(default)]
    pub volume_options: Option<VolumeOptions>,
    /// `{size, mode}` of a tmpfs mount.
    #[serde(default)]
    pub tmpfs_options: Option<TmpfsOptions>,
}

/// Options of a bind mount.
#[derive(Debug, Default, Deserialize, PartialEq)]
pub struct BindOptions {
    /// Mount propagation (`rprivate`, `rshared`, ...).
    #[serde(default)]
    pub propagation: Option<String>,
}

/// Options of a volume mount.
#[derive(Debug, Default, Deserialize, PartialEq)]
pub struct VolumeOptions {
    /// Do not copy the image's data into a new volume.
    #[serde(default)]
    pub no_copy: bool,
}

/// Options of a tmpfs mount.
#[derive(Debug, Default, Deserialize, PartialEq)]
pub struct TmpfsOptions {
    /// Size in bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// File mode (octal as an integer, e.g. 1777 is written 1023).
    #[serde(default)]
    pub mode: Option<u32>,
}

/// Registry credentials.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// User name.
    #[serde(default)]
    pub username: String,
    /// Password.
    #[serde(default)]
    pub password: String,
    /// Registry address.
    #[serde(default)]
    pub server_address: String,
    /// Accepted for compatibility with Nomad's auth block.
    #[serde(default)]
    pub email: String,
}

fn default_mount_type() -> String {
    "bind".to_string()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Labels {
    Map(BTreeMap<String, String>),
    List(Vec<BTreeMap<String, String>>),
}

fn labels<'de, D: serde::Deserializer<'de>>(de: D) -> Result<BTreeMap<String, String>, D::Error> {
    match Labels::deserialize(de) {
        Ok(Labels::Map(m)) => Ok(m),
        Ok(Labels::List(list)) => Ok(list.into_iter().flatten().collect()),
        Err(_) => Err(serde::de::Error::custom(
            "expected a map of strings or a list of maps of strings",
        )),
    }
}

impl DockerConfig {
    /// Parses and checks the task's `config` block.
    pub fn parse(driver_config: &str) -> Result<Self, DriverError> {
        let cfg: DockerConfig = config::parse(driver_config)?;
        config::require_non_empty("image", &cfg.image)?;
        if let Some(command) = &cfg.command {
            config::require_non_empty("command", command)?;
        }
        for (i, v) in cfg.volumes.iter().enumerate() {
            parse_volume(v)
                .map_err(|m| DriverError::invalid_config(&format!("volumes[{i}]"), m))?;
        }
        for (i, m) in cfg.mounts.iter().enumerate() {
            let field = format!("mounts[{i}]");
            match m.kind.as_str() {
                "bind" | "volume" => {
                    if m.source.as_deref().is_none_or(|s| s.trim().is_empty()) {
                        return Err(DriverError::invalid_config(
                            &format!("{field}.source"),
                            "required",
                        ));
                    }
                }
                "tmpfs" => {}
                other => {
                    return Err(DriverError::invalid_config(
                        &format!("{field}.type"),
                        format!("{other:?} is not bind, volume or tmpfs"),
                    ));
                }
            }
            if !m.target.starts_with('/') {
                return Err(DriverError::invalid_config(
                    &format!("{field}.target"),
                    "must be an absolute path",
                ));
            }
        }
        if let Some(load) = &cfg.load {
            check_relative("load", load)?;
        }
        Ok(cfg)
    }
}

/// A `volumes` entry split into host path, container path and mode.
pub fn parse_volume(v: &str) -> Result<(&str, &str, Option<&str>), String> {
    let parts: Vec<&str> = v.split(':').collect();
    let (host, container, mode) = match parts.as_slice() {
        [h, c] => (*h, *c, None),
        [h, c, m] => (*h, *c, Some(*m)),
        _ => return Err(format!("{v:?} is not host:container[:mode]")),
    };
    if host.is_empty() || container.is_empty() || mode.is_some_and(str::is_empty) {
        return Err(format!("{v:?} is not host:container[:mode]"));
    }
    if !container.starts_with('/') {
        return Err(format!("container path {container:?} must be absolute"));
    }
    Ok((host, container, mode))
}

/// Refuses absolute paths and `..` for a path that must stay in the task dir.
pub fn check_relative(field: &str, path: &str) -> Result<(), DriverError> {
    if path.trim().is_empty() {
        return Err(DriverError::invalid_config(field, "must not be empty"));
    }
    if path.starts_with('/') || path.split('/').any(|c| c == "..") {
        return Err(DriverError::invalid_config(
            field,
            "must be a path inside the task dir",
        ));
    }
    Ok(())
}

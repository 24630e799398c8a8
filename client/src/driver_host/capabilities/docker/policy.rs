//! What a driver may ask of the Docker Engine.
//!
//! Owns the endpoint allow-list (method + path pattern, with an optional
//! `/v1.xx` prefix), the query rules that keep raw requests from turning into
//! never-ending streams or imports, and the checks on the JSON bodies of
//! `POST /containers/create` and `POST /containers/{id}/exec`. It is pure:
//! no I/O except resolving symlinks of bind-mount sources, and no knowledge
//! of how requests are sent.
//!
//! The engine decodes JSON with Go's `encoding/json`, which matches field
//! names case-insensitively (with Unicode simple folding) and lets a repeated
//! key override an earlier one. The checks therefore look at every key that
//! folds to the field's name, so `"hostconfig": {"privileged": true}` is
//! refused like `"HostConfig": {"Privileged": true}`.

use std::path::{Component, Path, PathBuf};

use hyper::Method;
use serde_json::{Map, Value};

use super::error::DockerError;

/// Capabilities a container may only add when privileged containers are
/// allowed: each one is enough to escape to the host.
const HOST_ESCAPING_CAPABILITIES: &[&str] = &[
    "ALL",
    "SYS_ADMIN",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_PTRACE",
    "SYS_BOOT",
    "DAC_READ_SEARCH",
    "BPF",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
];

/// Well-known engine sockets that no bind mount may expose, besides the
/// configured one.
const WELL_KNOWN_SOCKETS: &[&str] = &[
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
];

/// The checks a request passes before it reaches the engine.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    allow_privileged: bool,
    volume_roots: Option<Vec<PathBuf>>,
    protected: Vec<PathBuf>,
}

/// A request the policy let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Allowed {
    /// The method to send.
    pub method: Method,
    /// Whether the request carries a JSON body.
    pub json_body: bool,
}

/// What an endpoint accepts as a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyRule {
    /// Nothing (an empty body, `{}` or `null` is tolerated).
    None,
    /// Any JSON object.
    Json,
    /// A container configuration, checked field by field.
    ContainerCreate,
    /// An exec configuration (checked for `Privileged`).
    ExecCreate,
}

/// Which query parameters an endpoint needs or refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QueryRule {
    /// Anything the engine accepts.
    Any,
    /// `follow` must be off (following is `follow-logs`' job).
    LogsWithoutFollow,
    /// `stream` must be off (a streaming response never completes).
    StatsWithoutStream,
    /// A pull (`fromImage`), never an import (`fromSrc`).
    PullOnly,
}

impl Policy {
    /// A policy for the engine at `socket`. `volume_roots`, when given,
    /// limits bind-mount sources to those directories.
    pub(crate) fn new(
        allow_privileged: bool,
        volume_roots: Option<Vec<PathBuf>>,
        socket: &Path,
    ) -> Self {
        let mut protected: Vec<PathBuf> = Vec::new();
        let mut protect = |path: PathBuf| {
            if !protected.contains(&path) {
                protected.push(path);
            }
        };
        for path in WELL_KNOWN_SOCKETS.iter().map(PathBuf::from) {
            protect(path);
        }
        if let Some(path) = normalize_absolute(socket) {
            protect(path);
        }
        if let Ok(path) = std::fs::canonicalize(socket) {
            protect(path);
        }
        let volume_roots = volume_roots.map(|roots| {
            let mut all = Vec::new();
            for root in roots {
                if let Ok(canonical) = std::fs::canonicalize(&root) {
                    all.push(canonical);
                }
                if let Some(lexical) = normalize_absolute(&root) {
                    all.push(lexical);
                }
            }
            all
        });
        Self {
            allow_privileged,
            volume_roots,
            protected,
        }
    }

    /// Checks one request: the endpoint must be on the allow-list, its query
    /// must fit the endpoint and its body must pass the endpoint's checks.
    pub(crate) fn check(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<Allowed, DockerError> {
        let method = method.trim().to_ascii_uppercase();
        let (raw_path, query) = match path.split_once('?') {
            Some((raw_path, query)) => (raw_path, Some(query)),
            None => (path, None),
        };
        let refuse_endpoint = || {
            DockerError::Forbidden(format!(
                "docker endpoint {method} {raw_path} is not allowed for drivers"
            ))
        };
        if !raw_path.starts_with('/') || path.contains('#') {
            return Err(DockerError::Forbidden(format!(
                "docker request path {path:?} must be an absolute path without a fragment"
            )));
        }
        let decoded = unescape(raw_path, false).ok_or_else(|| {
            DockerError::Forbidden(format!("docker request path {raw_path:?} is malformed"))
        })?;
        if decoded.chars().any(|c| c.is_control() || c == '\\') {
            return Err(DockerError::Forbidden(format!(
                "docker request path {raw_path:?} contains control characters or backslashes"
            )));
        }
        let mut segments: Vec<&str> = decoded[1..].split('/').collect();
        if segments
            .iter()
            .any(|segment| segment.is_empty() || *segment == "." || *segment == "..")
        {
            return Err(DockerError::Forbidden(format!(
                "docker request path {raw_path:?} has empty, `.` or `..` segments"
            )));
        }
        if segments.first().is_some_and(|first| is_api_version(first)) {
            segments.remove(0);
        }
        let (body_rule, query_rule) = route(&method, &segments).ok_or_else(refuse_endpoint)?;
        let query = parse_query(query.unwrap_or("")).ok_or_else(|| {
            DockerError::Forbidden(format!("docker request query of {raw_path} is malformed"))
        })?;
        check_query(query_rule, &query, &method, raw_path)?;
        let body = body.filter(|body| !body.is_empty());
        let json_body = body.is_some();
        match (body_rule, body) {
            (BodyRule::None, None) => {}
            (BodyRule::None, Some(body)) => match serde_json::from_slice::<Value>(body) {
                Ok(Value::Null) => {}
                Ok(Value::Object(map)) if map.is_empty() => {}
                _ => {
                    return Err(DockerError::Forbidden(format!(
                        "docker endpoint {method} {raw_path} takes no body"
                    )));
                }
            },
            (BodyRule::Json, None) => {}
            (BodyRule::Json, Some(body)) => {
                json_object(body, &method, raw_path)?;
            }
            (BodyRule::ContainerCreate, body) => {
                let config = json_object(body.unwrap_or_default(), &method, raw_path)?;
                self.check_container_config(&config)?;
            }
            (BodyRule::ExecCreate, body) => {
                let config = json_object(body.unwrap_or_default(), &method, raw_path)?;
                self.check_exec_config(&config)?;
            }
        }
        let method = Method::from_bytes(method.as_bytes()).map_err(|_| refuse_endpoint())?;
        Ok(Allowed { method, json_body })
    }

    /// The checks on a container configuration (`POST /containers/create`).
    ///
    /// The engine also reads host-configuration fields placed at the top
    /// level of the body (a legacy embedded `HostConfig`, used when no
    /// nested one is given), so the top level is checked like `HostConfig`.
    fn check_container_config(&self, config: &Map<String, Value>) -> Result<(), DockerError> {
        self.check_host_config(config, "top-level ")?;
        for host_config in fields(config, "HostConfig") {
            match host_config {
                Value::Null => {}
                Value::Object(host_config) => self.check_host_config(host_config, "HostConfig.")?,
                _ => return Err(refuse("HostConfig must be an object")),
            }
        }
        Ok(())
    }

    /// The checks on `HostConfig`; `scope` prefixes field names in messages.
    fn check_host_config(&self, host: &Map<String, Value>, scope: &str) -> Result<(), DockerError> {
        if !self.allow_privileged {
            if fields(host, "Privileged").any(|value| value.as_bool() == Some(true)) {
                return Err(refuse(&format!(
                    "{scope}Privileged is true, and privileged containers are not allowed on this client"
                )));
            }
            for capability in strings(host, "CapAdd", scope)? {
                let name = capability.trim().to_ascii_uppercase();
                let name = name.strip_prefix("CAP_").unwrap_or(&name);
                if HOST_ESCAPING_CAPABILITIES.contains(&name) {
                    return Err(refuse(&format!(
                        "{scope}CapAdd adds {capability}, which is only allowed with privileged containers"
                    )));
                }
            }
            for field in ["Devices", "DeviceCgroupRules"] {
                if fields(host, field).any(non_empty) {
                    return Err(refuse(&format!(
                        "{scope}{field} gives access to host devices, which is only allowed with privileged containers"
                    )));
                }
            }
            for option in strings(host, "SecurityOpt", scope)? {
                let lowered = option.to_ascii_lowercase();
                if lowered.contains("unconfined") || lowered.contains("disable") {
                    return Err(refuse(&format!(
                        "{scope}SecurityOpt {option:?} lifts confinement, which is only allowed with privileged containers"
                    )));
                }
            }
        }
        for field in ["PidMode", "IpcMode", "UsernsMode"] {
            if fields(host, field).any(|value| {
                value
                    .as_str()
                    .is_some_and(|mode| mode.trim().eq_ignore_ascii_case("host"))
            }) {
                return Err(refuse(&format!(
                    "{scope}{field} \"host\" shares the host's namespace, which drivers may not do"
                )));
            }
        }
        if fields(host, "VolumesFrom").any(non_empty) {
            return Err(refuse(&format!(
                "{scope}VolumesFrom would share another container's mounts, which drivers may not do"
            )));
        }
        for bind in strings(host, "Binds", scope)? {
            let source = bind.split(':').next().unwrap_or_default();
            if source.starts_with('/') {
                self.check_bind_source(&format!("{scope}Binds"), source)?;
            }
        }
        for mounts in fields(host, "Mounts") {
            let mounts = match mounts {
                Value::Null => continue,
                Value::Array(mounts) => mounts,
                _ => return Err(refuse(&format!("{scope}Mounts must be an array"))),
            };
            for mount in mounts {
                let Value::Object(mount) = mount else {
                    return Err(refuse(&format!("{scope}Mounts entries must be objects")));
                };
                self.check_mount(mount, scope)?;
            }
        }
        Ok(())
    }

    /// The checks on one `HostConfig.Mounts` entry.
    fn check_mount(&self, mount: &Map<String, Value>, scope: &str) -> Result<(), DockerError> {
        let kinds: Vec<&str> = fields(mount, "Type").filter_map(Value::as_str).collect();
        if kinds.is_empty() {
            return Err(refuse(&format!("{scope}Mounts entries need a Type")));
        }
        for kind in kinds {
            match kind {
                "bind" => {
                    for source in fields(mount, "Source") {
                        let source = source.as_str().unwrap_or_default();
                        self.check_bind_source(&format!("{scope}Mounts"), source)?;
                    }
                }
                "volume" => {
                    let with_driver_config = fields(mount, "VolumeOptions")
                        .filter_map(Value::as_object)
                        .any(|options| fields(options, "DriverConfig").any(non_empty));
                    if with_driver_config {
                        return Err(refuse(&format!(
                            "{scope}Mounts volume with VolumeOptions.DriverConfig can bind arbitrary host paths, which drivers may not do"
                        )));
                    }
                }
                "tmpfs" | "image" => {}
                other => {
                    return Err(refuse(&format!(
                        "{scope}Mounts type {other:?} is not allowed for drivers"
                    )));
                }
            }
        }
        Ok(())
    }

    /// A bind-mount source must not be `/`, the engine socket or a directory
    /// holding it, and must lie under the allowed volume roots when those
    /// are configured.
    fn check_bind_source(&self, field: &str, source: &str) -> Result<(), DockerError> {
        let path = Path::new(source);
        if path.components().any(|c| c == Component::ParentDir) {
            return Err(refuse(&format!("{field} source {source:?} contains `..`")));
        }
        let Some(lexical) = normalize_absolute(path) else {
            return Err(refuse(&format!(
                "{field} source {source:?} must be an absolute path"
            )));
        };
        let mut candidates = vec![lexical];
        if let Ok(canonical) = std::fs::canonicalize(path)
            && !candidates.contains(&canonical)
        {
            candidates.push(canonical);
        }
        for candidate in &candidates {
            if candidate.parent().is_none() {
                return Err(refuse(&format!(
                    "{field} binds the host's root directory {source:?}"
                )));
            }
            if self
                .protected
                .iter()
                .any(|socket| socket.starts_with(candidate))
            {
                return Err(refuse(&format!(
                    "{field} source {source:?} would expose the docker socket to the container"
                )));
            }
            if let Some(roots) = &self.volume_roots
                && !roots.iter().any(|root| candidate.starts_with(root))
            {
                let allowed = roots
                    .iter()
                    .map(|root| root.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(refuse(&format!(
                    "{field} source {source:?} is outside the allowed volume roots ({allowed})"
                )));
            }
        }
        Ok(())
    }

    /// The checks on an exec configuration (`POST /containers/{id}/exec`).
    fn check_exec_config(&self, config: &Map<String, Value>) -> Result<(), DockerError> {
        if !self.allow_privileged
            && fields(config, "Privileged").any(|value| value.as_bool() == Some(true))
        {
            return Err(DockerError::Forbidden(
                "docker exec refused: Privileged is true, and privileged containers are not allowed on this client"
                    .to_owned(),
            ));
        }
        Ok(())
    }
}

/// The allow-list: the body and query rules of an allowed endpoint, `None`
/// for anything else.
fn route(method: &str, segments: &[&str]) -> Option<(BodyRule, QueryRule)> {
    use BodyRule as B;
    use QueryRule as Q;
    let rules = match (method, segments) {
        ("GET", ["version"]) | ("GET" | "HEAD", ["_ping"]) => (B::None, Q::Any),
        ("GET", ["containers", "json"]) => (B::None, Q::Any),
        ("POST", ["containers", "create"]) => (B::ContainerCreate, Q::Any),
        (
            "POST",
            [
                "containers",
                _,
                "start" | "stop" | "kill" | "wait" | "restart",
            ],
        ) => (B::None, Q::Any),
        ("POST", ["containers", _, "exec"]) => (B::ExecCreate, Q::Any),
        ("GET", ["containers", _, "json"]) => (B::None, Q::Any),
        ("GET", ["containers", _, "stats"]) => (B::None, Q::StatsWithoutStream),
        ("GET", ["containers", _, "logs"]) => (B::None, Q::LogsWithoutFollow),
        ("DELETE", ["containers", _]) => (B::None, Q::Any),
        ("POST", ["exec", _, "start"]) => (B::Json, Q::Any),
        ("GET", ["exec", _, "json"]) => (B::None, Q::Any),
        ("GET", ["images", "json"]) => (B::None, Q::Any),
        ("GET", ["images", name @ .., "json"]) if !name.is_empty() => (B::None, Q::Any),
        ("POST", ["images", "create"]) => (B::None, Q::PullOnly),
        ("DELETE", ["images", name @ ..]) if !name.is_empty() => (B::None, Q::Any),
        _ => return None,
    };
    Some(rules)
}

/// Applies an endpoint's query rule. The engine reads the first value of a
/// repeated parameter, and so does this.
fn check_query(
    rule: QueryRule,
    query: &[(String, String)],
    method: &str,
    path: &str,
) -> Result<(), DockerError> {
    let first = |name: &str| {
        query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    match rule {
        QueryRule::Any => Ok(()),
        QueryRule::LogsWithoutFollow => {
            if first("follow").is_some_and(go_bool) {
                Err(DockerError::Forbidden(format!(
                    "docker endpoint {method} {path} with follow=1 never completes; use follow-logs"
                )))
            } else {
                Ok(())
            }
        }
        QueryRule::StatsWithoutStream => {
            if first("stream").is_none_or(go_bool) {
                Err(DockerError::Forbidden(format!(
                    "docker endpoint {method} {path} needs stream=false (a streaming response never completes)"
                )))
            } else {
                Ok(())
            }
        }
        QueryRule::PullOnly => {
            if query.iter().any(|(key, _)| key == "fromSrc") {
                Err(DockerError::Forbidden(format!(
                    "docker endpoint {method} {path} may only pull (fromImage), not import (fromSrc)"
                )))
            } else if first("fromImage").is_none_or(str::is_empty) {
                Err(DockerError::Forbidden(format!(
                    "docker endpoint {method} {path} needs fromImage"
                )))
            } else {
                Ok(())
            }
        }
    }
}

/// A `Forbidden` error about a container configuration.
fn refuse(reason: &str) -> DockerError {
    DockerError::Forbidden(format!("docker container create refused: {reason}"))
}

/// Parses a body that must be a JSON object with no repeated keys.
fn json_object(body: &[u8], method: &str, path: &str) -> Result<Map<String, Value>, DockerError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    match serde::Deserializer::deserialize_any(&mut deserializer, UniqueKeys) {
        Ok(()) => {}
        Err(error) if error.is_data() => {
            return Err(DockerError::Forbidden(format!(
                "docker endpoint {method} {path} refused: {error}"
            )));
        }
        // Malformed JSON is reported by the parse below.
        Err(_) => {}
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(DockerError::Forbidden(format!(
            "docker endpoint {method} {path} needs a JSON object body"
        ))),
        Err(error) => Err(DockerError::Forbidden(format!(
            "docker endpoint {method} {path} needs a JSON object body: {error}"
        ))),
    }
}

/// Walks a JSON document and fails on an object that repeats a key (as the
/// engine would read keys: case-insensitively). The engine decodes a
/// repeated object into the same struct, merging both, while a parsed
/// [`Value`] keeps only the last, so a check on the parsed body could miss
/// what the engine applies.
struct UniqueKeys;

impl<'de> serde::de::Visitor<'de> for UniqueKeys {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(UniqueKeys)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if seen.iter().any(|earlier| go_fold_eq(earlier, &key)) {
                return Err(serde::de::Error::custom(format!(
                    "the body repeats the key {key:?}"
                )));
            }
            seen.push(key);
            map.next_value_seed(UniqueKeys)?;
        }
        Ok(())
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for UniqueKeys {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// Every value whose key the engine would take for `name`.
fn fields<'a>(object: &'a Map<String, Value>, name: &'a str) -> impl Iterator<Item = &'a Value> {
    object
        .iter()
        .filter(move |(key, _)| go_fold_eq(key, name))
        .map(|(_, value)| value)
}

/// The strings of every array field the engine would take for `name`.
fn strings<'a>(
    object: &'a Map<String, Value>,
    name: &str,
    scope: &str,
) -> Result<Vec<&'a str>, DockerError> {
    let mut all = Vec::new();
    for value in object
        .iter()
        .filter(|(key, _)| go_fold_eq(key, name))
        .map(|(_, value)| value)
    {
        match value {
            Value::Null => {}
            Value::Array(items) => {
                for item in items {
                    match item.as_str() {
                        Some(item) => all.push(item),
                        None => {
                            return Err(refuse(&format!(
                                "{scope}{name} must be an array of strings"
                            )));
                        }
                    }
                }
            }
            _ => {
                return Err(refuse(&format!(
                    "{scope}{name} must be an array of strings"
                )));
            }
        }
    }
    Ok(all)
}

/// Whether a JSON value is set to something (not null, false, "" or empty).
fn non_empty(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(value) => *value,
        Value::String(value) => !value.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        Value::Number(_) => true,
    }
}

/// Go's case-insensitive field-name match (`bytes.EqualFold`) for an ASCII
/// `name`: ASCII letters fold, and so do the two non-ASCII letters whose
/// simple fold is ASCII (U+017F long s and U+212A Kelvin sign).
fn go_fold_eq(key: &str, name: &str) -> bool {
    let fold = |c: char| match c {
        '\u{017F}' => 's',
        '\u{212A}' => 'k',
        c => c.to_ascii_lowercase(),
    };
    key.chars().map(fold).eq(name.chars().map(fold))
}

/// The engine's reading of a boolean query parameter (`httputils.BoolValue`):
/// anything but "", "0", "no", "false" and "none" is true.
fn go_bool(value: &str) -> bool {
    let value = value.trim().to_ascii_lowercase();
    !matches!(value.as_str(), "" | "0" | "no" | "false" | "none")
}

/// Whether a path segment is an API version prefix such as `v1.43`.
fn is_api_version(segment: &str) -> bool {
    segment.strip_prefix('v').is_some_and(|version| {
        version.split_once('.').is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && major.bytes().all(|b| b.is_ascii_digit())
                && minor.bytes().all(|b| b.is_ascii_digit())
        })
    })
}

/// Parses a query string as the engine does (`url.ParseQuery`); `None` when
/// the engine would reject it.
fn parse_query(query: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key.contains(';') {
            return None;
        }
        pairs.push((unescape(key, true)?, unescape(value, true)?));
    }
    Some(pairs)
}

/// Strict percent-decoding (every `%` followed by two hex digits, UTF-8
/// result); `plus_is_space` for query components.
fn unescape(text: &str, plus_is_space: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' => {
                let high = hex_value(*bytes.get(index + 1)?)?;
                let low = hex_value(*bytes.get(index + 2)?)?;
                out.push(high * 16 + low);
                index += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                index += 1;
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The value of one hex digit.
fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// The lexical normal form of an absolute path (`.` dropped, `..` applied);
/// `None` for a relative path.
fn normalize_absolute(path: &Path) -> Option<PathBuf> {
    if !path.is_absolute() {
        return None;
    }
    let mut normal = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::Normal(part) => normal.push(part),
            Component::ParentDir => {
                normal.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Some(normal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::new(false, None, Path::new("/var/run/docker.sock"))
    }

    fn refused(policy: &Policy, method: &str, path: &str, body: Option<&str>) -> String {
        match policy.check(method, path, body.map(str::as_bytes)) {
            Err(DockerError::Forbidden(message)) => message,
            other => panic!("{method} {path} {body:?} was not refused: {other:?}"),
        }
    }

    fn allowed(policy: &Policy, method: &str, path: &str, body: Option<&str>) -> Allowed {
        match policy.check(method, path, body.map(str::as_bytes)) {
            Ok(allowed) => allowed,
            Err(error) => panic!("{method} {path} {body:?} was refused: {error}"),
        }
    }

    #[test]
    fn the_allow_list() {
        let policy = policy();
        for (method, path) in [
            ("GET", "/version"),
            ("GET", "/_ping"),
            ("GET", "/v1.41/version"),
            (
                "GET",
                "/containers/json?all=1&filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D",
            ),
            ("POST", "/containers/create?name=web"),
            ("POST", "/containers/abc/start"),
            ("POST", "/v1.43/containers/abc/stop?t=5"),
            ("POST", "/containers/abc/kill?signal=SIGTERM"),
            ("POST", "/containers/abc/wait?condition=not-running"),
            ("POST", "/containers/abc/restart"),
            ("GET", "/containers/abc/json"),
            ("GET", "/containers/abc/stats?stream=false"),
            ("GET", "/containers/abc/logs?stdout=1&tail=10"),
            ("DELETE", "/containers/abc?force=1&v=1"),
            ("POST", "/containers/abc/exec"),
            ("POST", "/exec/123/start"),
            ("GET", "/exec/123/json"),
            ("GET", "/images/json"),
            ("GET", "/images/library/busybox:latest/json"),
            ("GET", "/images/sched-busybox%3Alatest/json"),
            ("POST", "/images/create?fromImage=busybox&tag=1.36"),
            ("DELETE", "/images/registry.local:5000/team/app:1"),
            ("post", "/containers/abc/start"),
        ] {
            let body = match path {
                p if p.starts_with("/containers/create") || p.ends_with("/exec") => Some("{}"),
                _ => None,
            };
            let allowed = allowed(&policy, method, path, body);
            assert_eq!(allowed.method.as_str(), method.to_ascii_uppercase());
        }
    }

    #[test]
    fn everything_else_is_forbidden_by_name() {
        let policy = policy();
        assert_eq!(
            refused(&policy, "POST", "/swarm/init", None),
            "docker endpoint POST /swarm/init is not allowed for drivers"
        );
        for (method, path) in [
            ("GET", "/events"),
            ("POST", "/containers/abc/update"),
            ("POST", "/containers/abc/attach"),
            ("PUT", "/containers/abc/archive?path=/"),
            ("GET", "/containers/abc/export"),
            ("POST", "/images/load"),
            ("POST", "/build"),
            ("POST", "/volumes/create"),
            ("POST", "/networks/create"),
            ("GET", "/info"),
            ("POST", "/plugins/pull"),
            ("GET", "/version/../info"),
            ("GET", "/containers/abc/..%2F..%2Finfo/json"),
            ("GET", "//version"),
            ("GET", "/version/"),
            ("GET", "version"),
            ("GET", "/v1/version"),
            ("GET", "/vx.1/version"),
            ("GET", "/%zz"),
            ("GET", "/version#x"),
            ("DELETE", "/images/"),
            ("POST", "/v1.41/v1.41/version"),
        ] {
            refused(&policy, method, path, None);
        }
    }

    #[test]
    fn raw_requests_never_stream_or_import() {
        let policy = policy();
        assert!(
            refused(&policy, "GET", "/containers/a/logs?follow=1&stdout=1", None)
                .contains("follow-logs")
        );
        allowed(&policy, "GET", "/containers/a/logs?follow=0&follow=1", None);
        assert!(refused(&policy, "GET", "/containers/a/stats", None).contains("stream=false"));
        refused(&policy, "GET", "/containers/a/stats?stream=1", None);
        assert!(refused(&policy, "POST", "/images/create?fromSrc=-", None).contains("fromSrc"));
        refused(
            &policy,
            "POST",
            "/images/create?fromImage=x&fromSrc=http://h/x.tar",
            None,
        );
        refused(&policy, "POST", "/images/create", None);
        refused(&policy, "GET", "/containers/a/logs?fol;low=1", None);
    }

    #[test]
    fn bodies_only_where_the_endpoint_takes_one() {
        let policy = policy();
        allowed(&policy, "POST", "/containers/a/start", Some(""));
        allowed(&policy, "POST", "/containers/a/start", Some("{}"));
        let message = refused(
            &policy,
            "POST",
            "/containers/a/start",
            Some(r#"{"HostConfig":{"Privileged":true}}"#),
        );
        assert!(message.contains("takes no body"), "{message}");
        refused(&policy, "POST", "/containers/create", None);
        refused(&policy, "POST", "/containers/create", Some("[]"));
        refused(&policy, "POST", "/containers/create", Some("{"));
        assert!(allowed(&policy, "POST", "/exec/1/start", Some(r#"{"Detach":true}"#)).json_body);
        assert!(!allowed(&policy, "GET", "/version", None).json_body);
    }

    fn create(policy: &Policy, host_config: &str) -> Result<Allowed, DockerError> {
        let body = format!(r#"{{"Image":"busybox","HostConfig":{host_config}}}"#);
        policy.check("POST", "/containers/create", Some(body.as_bytes()))
    }

    fn create_refused(policy: &Policy, host_config: &str) -> String {
        match create(policy, host_config) {
            Err(DockerError::Forbidden(message)) => message,
            other => panic!("{host_config} was not refused: {other:?}"),
        }
    }

    #[test]
    fn privileged_needs_the_operator() {
        let strict = policy();
        let message = create_refused(&strict, r#"{"Privileged":true}"#);
        assert!(message.contains("HostConfig.Privileged"), "{message}");
        create_refused(&strict, r#"{"privileged":true}"#);
        create_refused(&strict, r#"{"Privileged":false,"PRIVILEGED":true}"#);
        assert!(create(&strict, r#"{"Privileged":false}"#).is_ok());
        for caps in [
            r#"["ALL"]"#,
            r#"["sys_admin"]"#,
            r#"["NET_ADMIN","CAP_SYS_ADMIN"]"#,
        ] {
            let message = create_refused(&strict, &format!(r#"{{"CapAdd":{caps}}}"#));
            assert!(message.contains("HostConfig.CapAdd"), "{message}");
        }
        assert!(create(&strict, r#"{"CapAdd":["NET_BIND_SERVICE"]}"#).is_ok());
        let devices = r#"{"Devices":[{"PathOnHost":"/dev/sda","PathInContainer":"/dev/sda","CgroupPermissions":"rwm"}]}"#;
        assert!(create_refused(&strict, devices).contains("HostConfig.Devices"));
        assert!(create(&strict, r#"{"Devices":[]}"#).is_ok());
        create_refused(&strict, r#"{"DeviceCgroupRules":["a *:* rwm"]}"#);
        create_refused(&strict, r#"{"SecurityOpt":["seccomp=unconfined"]}"#);
        create_refused(&strict, r#"{"SecurityOpt":["label:disable"]}"#);
        assert!(create(&strict, r#"{"SecurityOpt":["no-new-privileges"]}"#).is_ok());
        let message = match strict.check(
            "POST",
            "/containers/a/exec",
            Some(br#"{"Cmd":["sh"],"Privileged":true}"#),
        ) {
            Err(DockerError::Forbidden(message)) => message,
            other => panic!("privileged exec was not refused: {other:?}"),
        };
        assert!(message.contains("Privileged"), "{message}");

        let lenient = Policy::new(true, None, Path::new("/var/run/docker.sock"));
        assert!(create(&lenient, r#"{"Privileged":true,"CapAdd":["ALL"]}"#).is_ok());
        assert!(create(&lenient, devices).is_ok());
        assert!(
            lenient
                .check(
                    "POST",
                    "/containers/a/exec",
                    Some(br#"{"Privileged":true}"#)
                )
                .is_ok()
        );
        // Host namespaces and the socket stay out of reach even so.
        create_refused(&lenient, r#"{"PidMode":"host"}"#);
        create_refused(&lenient, r#"{"Binds":["/var/run/docker.sock:/s"]}"#);
    }

    #[test]
    fn go_field_matching_is_followed() {
        let policy = policy();
        create_refused(&policy, r#"{"pidmode":"host"}"#);
        // U+017F (long s) folds to 's' in Go's field matching.
        let body = "{\"Ho\u{17f}tConfig\":{\"Privileged\":true}}";
        assert!(
            policy
                .check("POST", "/containers/create", Some(body.as_bytes()))
                .is_err()
        );
        let body = r#"{"hostconfig":{"Privileged":true},"HostConfig":{}}"#;
        assert!(
            policy
                .check("POST", "/containers/create", Some(body.as_bytes()))
                .is_err()
        );
        assert!(go_fold_eq("Hostconfig", "HostConfig"));
        assert!(go_fold_eq("\u{212a}ey", "key"));
        assert!(!go_fold_eq("HostConfig2", "HostConfig"));
    }

    #[test]
    fn top_level_host_config_fields_are_checked_too() {
        let policy = policy();
        for (body, field) in [
            (r#"{"Image":"x","Privileged":true}"#, "top-level Privileged"),
            (
                r#"{"Image":"x","pidmode":"host","HostConfig":{}}"#,
                "top-level PidMode",
            ),
            (r#"{"Image":"x","Binds":["/:/host"]}"#, "top-level Binds"),
            (
                r#"{"Image":"x","CapAdd":["ALL"],"HostConfig":null}"#,
                "top-level CapAdd",
            ),
        ] {
            let message = refused(&policy, "POST", "/containers/create", Some(body));
            assert!(message.contains(field), "{message}");
        }
    }

    #[test]
    fn host_namespaces_are_refused() {
        let policy = policy();
        for field in ["PidMode", "IpcMode", "UsernsMode"] {
            let message = create_refused(&policy, &format!(r#"{{"{field}":"host"}}"#));
            assert!(
                message.contains(&format!("HostConfig.{field}")),
                "{message}"
            );
        }
        assert!(
            create(
                &policy,
                r#"{"PidMode":"container:abc","IpcMode":"private"}"#
            )
            .is_ok()
        );
        create_refused(&policy, r#"{"VolumesFrom":["other"]}"#);
    }

    #[test]
    fn binds_of_the_root_or_the_socket_are_refused() {
        let policy = policy();
        for source in [
            "/",
            "//",
            "/var/run/docker.sock",
            "/run/docker.sock",
            "/var/run",
            "/run",
            "/./run/",
            "/run/containerd",
        ] {
            let message = create_refused(&policy, &format!(r#"{{"Binds":["{source}:/x:ro"]}}"#));
            assert!(message.contains("HostConfig.Binds"), "{message}");
            let mount =
                format!(r#"{{"Mounts":[{{"Type":"bind","Source":"{source}","Target":"/x"}}]}}"#);
            let message = create_refused(&policy, &mount);
            assert!(message.contains("HostConfig.Mounts"), "{message}");
        }
        create_refused(&policy, r#"{"Binds":["/srv/../run:/x"]}"#);
        assert!(create(&policy, r#"{"Binds":["/srv/data:/data","named:/cache"]}"#).is_ok());
        assert!(
            create(&policy, r#"{"Mounts":[{"Type":"volume","Source":"v","Target":"/v"},{"Type":"tmpfs","Target":"/t"}]}"#)
                .is_ok()
        );
        create_refused(
            &policy,
            r#"{"Mounts":[{"Type":"volume","Target":"/v","VolumeOptions":{"DriverConfig":{"Name":"local","Options":{"o":"bind","device":"/"}}}}]}"#,
        );
        create_refused(
            &policy,
            r#"{"Mounts":[{"Type":"npipe","Source":"x","Target":"/x"}]}"#,
        );
        create_refused(&policy, r#"{"Mounts":[{"Source":"/srv","Target":"/x"}]}"#);
    }

    #[test]
    fn volume_roots_limit_bind_sources() {
        let policy = Policy::new(
            false,
            Some(vec![PathBuf::from("/srv/sched/alloc")]),
            Path::new("/var/run/docker.sock"),
        );
        assert!(create(&policy, r#"{"Binds":["/srv/sched/alloc/a1/task:/local"]}"#).is_ok());
        let message = create_refused(&policy, r#"{"Binds":["/srv/other:/x"]}"#);
        assert!(
            message.contains("outside the allowed volume roots"),
            "{message}"
        );
        assert!(create(&policy, r#"{"Binds":["named:/x"]}"#).is_ok());
    }

    #[test]
    fn a_custom_socket_is_protected_too() {
        let policy = Policy::new(false, None, Path::new("/srv/engine/api.sock"));
        create_refused(&policy, r#"{"Binds":["/srv/engine:/e"]}"#);
        create_refused(&policy, r#"{"Binds":["/var/run/docker.sock:/e"]}"#);
    }
}

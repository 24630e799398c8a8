//! Nomad's reshaping rules: what the parser does beyond decoding each block.
//!
//! These are the `post` hooks of the schema, each run on one decoded block
//! (as Nomad API JSON) after its children: a task directly under `job` becomes
//! a group of its own, vault and secret blocks are inherited downwards, port
//! blocks split into reserved and dynamic ports, constraint sugar becomes an
//! operator, and the few defaults Nomad's parser itself fills in.
//! Canonical defaults (Type, Priority, Count, ...) are not set here: that is
//! `Job::canonicalize`, so a parsed job says only what its file said.

use serde_json::{Map, Value};

use super::schema::CONSTRAINT_SUGAR;

type Obj = Map<String, Value>;

const SECOND: i64 = 1_000_000_000;

fn set_default(m: &mut Obj, key: &str, v: Value) {
    m.entry(key.to_string()).or_insert(v);
}

/// The job: ID and Name from the label, implicit groups, vault inheritance.
pub(crate) fn job(m: &mut Obj, warnings: &mut Vec<String>) -> Result<(), String> {
    if let Some(Value::String(label)) = m.remove("__label") {
        set_default(m, "ID", Value::String(label.clone()));
        set_default(m, "Name", Value::String(label));
    }
    for key in ["__consul_token", "__vault_token"] {
        if m.remove(key).is_some() {
            warnings.push(format!(
                "{} is no longer part of a job (Nomad removed it); the value is ignored",
                &key[2..]
            ));
        }
    }
    // A task directly under the job becomes a group of its own, ahead of the
    // declared groups.
    if let Some(Value::Array(tasks)) = m.remove("__tasks") {
        let mut groups: Vec<Value> = tasks
            .into_iter()
            .map(|t| {
                let mut g = Obj::new();
                g.insert("Name".into(), t.get("Name").cloned().unwrap_or(Value::Null));
                g.insert("Tasks".into(), Value::Array(vec![t]));
                Value::Object(g)
            })
            .collect();
        if let Some(Value::Array(declared)) = m.remove("TaskGroups") {
            groups.extend(declared);
        }
        m.insert("TaskGroups".into(), Value::Array(groups));
    }
    if let Some(vault) = m.remove("__vault") {
        for_each_task(m, |t| {
            set_default(t, "Vault", vault.clone());
        });
    }
    Ok(())
}

fn for_each_task(job: &mut Obj, mut f: impl FnMut(&mut Obj)) {
    if let Some(Value::Array(groups)) = job.get_mut("TaskGroups") {
        for g in groups {
            if let Some(Value::Array(tasks)) = g.get_mut("Tasks") {
                for t in tasks.iter_mut().filter_map(Value::as_object_mut) {
                    f(t);
                }
            }
        }
    }
}

/// A group: its vault and secrets go to its tasks; port labels are unique.
pub(crate) fn group(m: &mut Obj, _: &mut Vec<String>) -> Result<(), String> {
    let vault = m.remove("__vault");
    let secrets = m.remove("__secrets");
    if let Some(Value::Array(tasks)) = m.get_mut("Tasks") {
        for t in tasks.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(v) = &vault {
                set_default(t, "Vault", v.clone());
            }
            if let Some(Value::Array(group_secrets)) = &secrets {
                let list = t
                    .entry("Secrets".to_string())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(list) = list {
                    for s in group_secrets {
                        let name = s.get("Name");
                        if !list.iter().any(|x| x.get("Name") == name) {
                            list.push(s.clone());
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// A task: the unnamed identity is the default one; scaling blocks are unique.
pub(crate) fn task(m: &mut Obj, _: &mut Vec<String>) -> Result<(), String> {
    if let Some(Value::Array(ids)) = m.get_mut("Identities")
        && let Some(i) = ids.iter().position(|i| i.get("Name").is_none())
    {
        let default = ids.remove(i);
        if ids.is_empty() {
            m.remove("Identities");
        }
        m.insert("Identity".into(), default);
    }
    if let Some(Value::Array(policies)) = m.get("ScalingPolicies") {
        let mut seen = Vec::new();
        for p in policies {
            let ty = p.get("Type").and_then(Value::as_str).unwrap_or_default();
            let name = ty.trim_start_matches("vertical_");
            if seen.contains(&name) {
                return Err(format!(
                    "Duplicate scaling \"{name}\" block: a task has at most one scaling block per resource"
                ));
            }
            seen.push(name);
        }
    }
    Ok(())
}

/// `lifecycle` needs its hook.
pub(crate) fn lifecycle(m: &mut Obj, _: &mut Vec<String>) -> Result<(), String> {
    match m.get("Hook").and_then(Value::as_str) {
        Some("prestart" | "poststart" | "poststop") => Ok(()),
        Some(other) => Err(format!(
            "Invalid lifecycle hook \"{other}\": expected prestart, poststart or poststop"
        )),
        None => Err(
            "Missing required argument: the lifecycle block needs a hook (prestart, poststart or poststop)"
                .into(),
        ),
    }
}

/// A port's label must be usable in `NOMAD_PORT_<label>`.
pub(crate) fn port(m: &mut Obj, _: &mut Vec<String>) -> Result<(), String> {
    let label = m.get("Label").and_then(Value::as_str).unwrap_or_default();
    // Nomad's HCL1 parser allowed only [a-zA-Z0-9_]; its current job files
    // also use dashes, which sched accepts too.
    if label.is_empty()
        || !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "Port label \"{label}\" does not conform to naming requirements ^[a-zA-Z0-9_-]+$"
        ));
    }
    Ok(())
}

/// Ports: labels unique without case, then split into reserved (static) and dynamic.
pub(crate) fn network(m: &mut Obj, _: &mut Vec<String>) -> Result<(), String> {
    let Some(Value::Array(ports)) = m.remove("__ports") else {
        return Ok(());
    };
    let mut labels: Vec<String> = Vec::new();
    let (mut reserved, mut dynamic) = (Vec::new(), Vec::new());
    for p in ports {
        let label = p.get("Label").and_then(Value::as_str).unwrap_or_default();
        let lower = label.to_ascii_lowercase();
        if labels.contains(&lower) {
            return Err(format!(
                "found a port label collision: \"{label}\" (labels are compared without case)"
            ));
        }
        labels.push(lower);
        if p.get("Value").and_then(Value::as_i64).unwrap_or(0) > 0 {
            reserved.push(p);
        } else {
            dynamic.push(p);
        }
    }
    if !reserved.is_empty() {
        m.insert("ReservedPorts".into(), Value::Array(reserved));
    }
    if !dynamic.is_empty() {
        m.insert("DynamicPorts".into(), Value::Array(dynamic));
    }
    Ok(())
}

/// Constraint sugar: `version = "..."` means operator version, and so on.
pub(crate) fn constraint(m: &mut Obj, w: &mut Vec<String>) -> Result<(), String> {
    sugar(m, w)?;
    if let Some(v) = m.remove("__distinct_hosts") {
        m.insert("Operand".into(), "distinct_hosts".into());
        m.insert("RTarget".into(), v);
    }
    if let Some(v) = m.remove("__distinct_property") {
        m.insert("Operand".into(), "distinct_property".into());
        m.insert("LTarget".into(), v);
    }
    for op in ["is_set", "is_not_set"] {
        if let Some(Value::Bool(true)) = m.remove(&format!("__{op}")) {
            m.insert("Operand".into(), op.into());
        }
    }
    set_default(m, "Operand", "=".into());
    Ok(())
}

/// Affinity sugar, as for constraints.
pub(crate) fn affinity(m: &mut Obj, w: &mut Vec<String>) -> Result<(), String> {
    sugar(m, w)?;
    set_default(m, "Operand", "=".into());
    Ok(())
}

fn sugar(m: &mut Obj, _: &mut Vec<String>) -> Result<(), String> {
    let mut used = None;
    for op in CONSTRAINT_SUGAR {
        if let Some(v) = m.remove(&format!("__{op}")) {
            if let Some(prev) = used {
                return Err(format!("\"{prev}\" and \"{op}\" cannot be used together"));
            }
            used = Some(*op);
            m.insert("Operand".into(), (*op).into());
            m.insert("RTarget".into(), v);
        }
    }
    Ok(())
}

/// Periodic: a cron spec means SpecType cron.
pub(crate) fn periodic(m: &mut Obj, _: &mut Vec<String>) -> Result<(), String> {
    if m.contains_key("Spec") || m.contains_key("Specs") {
        m.insert("SpecType".into(), "cron".into());
    }
    Ok(())
}

/// Template defaults Nomad's parser fills in.
pub(crate) fn template(m: &mut Obj, _: &mut Vec<String>) -> Result<(), String> {
    set_default(m, "ChangeMode", "restart".into());
    set_default(m, "Perms", "0644".into());
    set_default(m, "Splay", Value::from(5 * SECOND));
    set_default(m, "ErrMissingKey", false.into());
    Ok(())
}

/// Change script defaults Nomad's parser fills in.
pub(crate) fn change_script(m: &mut Obj, _: &mut Vec<String>) -> Result<(), String> {
    set_default(m, "Args", Value::Array(Vec::new()));
    set_default(m, "Timeout", Value::from(5 * SECOND));
    set_default(m, "FailOnError", false.into());
    set_default(m, "RunOnFirstRender", false.into());
    Ok(())
}

/// Vault defaults Nomad's parser fills in.
pub(crate) fn vault(m: &mut Obj, _: &mut Vec<String>) -> Result<(), String> {
    set_default(m, "Env", true.into());
    set_default(m, "DisableFile", false.into());
    set_default(m, "ChangeMode", "restart".into());
    Ok(())
}

/// A group's scaling block: horizontal, with a max.
pub(crate) fn group_scaling(m: &mut Obj, _: &mut Vec<String>) -> Result<(), String> {
    if !m.contains_key("Max") {
        return Err(
            "Missing required argument: the argument \"max\" is required in a scaling block".into(),
        );
    }
    match m.get("Type").and_then(Value::as_str) {
        None => {
            m.insert("Type".into(), "horizontal".into());
        }
        Some("horizontal") => {}
        Some(other) => {
            return Err(format!(
                "task group scaling policy had invalid type: \"{other}\" (only \"horizontal\" is allowed on a group)"
            ));
        }
    }
    Ok(())
}

/// A task's scaling block: labelled cpu or mem, typed vertical_cpu/vertical_mem.
pub(crate) fn task_scaling(m: &mut Obj, _: &mut Vec<String>) -> Result<(), String> {
    let label = match m.remove("__label") {
        Some(Value::String(l)) => l,
        _ => String::new(),
    };
    let want = match label.as_str() {
        "cpu" => "vertical_cpu",
        "mem" => "vertical_mem",
        other => {
            return Err(format!(
                "scaling policy name must be \"cpu\" or \"mem\", got \"{other}\""
            ));
        }
    };
    match m.get("Type").and_then(Value::as_str) {
        None => {
            m.insert("Type".into(), want.into());
        }
        Some(t) if t == want => {}
        Some(t) => {
            return Err(format!(
                "Invalid scaling policy type \"{t}\": a scaling \"{label}\" block has type \"{want}\""
            ));
        }
    }
    Ok(())
}

//! The task's environment: Nomad's `NOMAD_*` variables (each also as
//! `SCHED_*`), the job's `env` block and `meta`, and the interpolation of
//! `${...}` in env values and driver config strings.

use std::collections::BTreeMap;

use sched_core::model::{Allocation, Job, Node, Task, TaskGroup};

use crate::allocrunner::dir::{AllocDir, TaskDir};

/// What the environment of one task is built from.
#[derive(Debug, Clone, Copy)]
pub struct EnvInputs<'a> {
    /// The allocation.
    pub alloc: &'a Allocation,
    /// Its job.
    pub job: &'a Job,
    /// Its group.
    pub group: &'a TaskGroup,
    /// The task.
    pub task: &'a Task,
    /// The node it runs on.
    pub node: &'a Node,
    /// The region the client is in.
    pub region: &'a str,
    /// The allocation's directory.
    pub alloc_dir: &'a AllocDir,
    /// The task's directories.
    pub task_dir: &'a TaskDir,
    /// The trace id stamped on the task's logs.
    pub trace_id: &'a str,
}

/// A task's environment, in a stable order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskEnv {
    vars: BTreeMap<String, String>,
    node: BTreeMap<String, String>,
}

/// The index in an allocation name `job.group[index]`.
pub fn alloc_index(name: &str) -> Option<u64> {
    let open = name.rfind('[')?;
    name[open + 1..].strip_suffix(']')?.parse().ok()
}

/// An env-var-safe form of a label or key (Nomad keeps case, replaces what
/// a shell cannot take with `_`).
fn env_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl TaskEnv {
    /// Builds the environment.
    pub fn build(i: EnvInputs<'_>) -> TaskEnv {
        let mut v: BTreeMap<String, String> = BTreeMap::new();
        let mut set = |k: &str, val: String| {
            v.insert(format!("SCHED_{k}"), val.clone());
            v.insert(format!("NOMAD_{k}"), val);
        };
        let alloc = i.alloc;
        let task_name = i.task.name.clone().unwrap_or_default();
        set("ALLOC_ID", alloc.id.to_string());
        set("SHORT_ALLOC_ID", alloc.id.short().to_string());
        set("ALLOC_NAME", alloc.name.clone());
        set(
            "ALLOC_INDEX",
            alloc_index(&alloc.name).map_or_else(String::new, |n| n.to_string()),
        );
        set("TASK_NAME", task_name.clone());
        set("GROUP_NAME", i.group.name.clone().unwrap_or_default());
        set("JOB_ID", alloc.job_id.clone());
        set(
            "JOB_NAME",
            i.job.name.clone().unwrap_or_else(|| alloc.job_id.clone()),
        );
        if let Some(p) = &i.job.parent_id {
            set("JOB_PARENT_ID", p.clone());
        }
        set(
            "NAMESPACE",
            i.job
                .namespace
                .clone()
                .unwrap_or_else(|| alloc.namespace.clone()),
        );
        set(
            "REGION",
            i.job.region.clone().unwrap_or_else(|| i.region.to_string()),
        );
        set("DC", i.node.datacenter.clone());
        set("ALLOC_DIR", i.alloc_dir.shared().display().to_string());
        set("TASK_DIR", i.task_dir.local.display().to_string());
        set("SECRETS_DIR", i.task_dir.secrets.display().to_string());
        if let Some(r) = alloc.allocated_resources.tasks.get(&task_name) {
            set("CPU_LIMIT", r.cpu.cpu_shares.to_string());
            set("MEMORY_LIMIT", r.memory.memory_mb.to_string());
            if r.memory.memory_max_mb > 0 {
                set("MEMORY_MAX_LIMIT", r.memory.memory_max_mb.to_string());
            }
            if !r.cpu.reserved_cores.is_empty() {
                let cores: Vec<String> = r.cpu.reserved_cores.iter().map(u32::to_string).collect();
                set("CPU_CORES", cores.join(","));
            }
        } else if let Some(r) = &i.task.resources {
            if let Some(cpu) = r.cpu {
                set("CPU_LIMIT", cpu.to_string());
            }
            if let Some(mem) = r.memory_mb {
                set("MEMORY_LIMIT", mem.to_string());
            }
        }
        for p in &alloc.allocated_resources.shared.ports {
            let label = env_safe(&p.label);
            let inside = if p.to > 0 { p.to } else { p.value };
            set(&format!("IP_{label}"), p.host_ip.clone());
            set(&format!("PORT_{label}"), inside.to_string());
            set(&format!("ADDR_{label}"), format!("{}:{inside}", p.host_ip));
            set(&format!("HOST_IP_{label}"), p.host_ip.clone());
            set(&format!("HOST_PORT_{label}"), p.value.to_string());
            set(
                &format!("HOST_ADDR_{label}"),
                format!("{}:{}", p.host_ip, p.value),
            );
        }
        // Meta: the job's, overridden by the group's, then the task's.
        let mut meta = BTreeMap::new();
        for m in [&i.job.meta, &i.group.meta, &i.task.meta]
            .into_iter()
            .flatten()
        {
            meta.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        for (k, val) in &meta {
            set(&format!("META_{}", env_safe(k)), val.clone());
            set(
                &format!("META_{}", env_safe(k).to_ascii_uppercase()),
                val.clone(),
            );
        }
        v.insert("SCHED_TRACE_ID".into(), i.trace_id.to_string());
        v.insert(
            "PATH".into(),
            std::env::var("PATH").unwrap_or_else(|_| {
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
            }),
        );
        v.insert("TMPDIR".into(), i.task_dir.tmp.display().to_string());

        let mut node = BTreeMap::new();
        node.insert("node.unique.id".into(), i.node.id.to_string());
        node.insert("node.unique.name".into(), i.node.name.clone());
        node.insert("node.datacenter".into(), i.node.datacenter.clone());
        node.insert("node.class".into(), i.node.node_class.clone());
        node.insert("node.pool".into(), i.node.node_pool.clone());
        node.insert("node.region".into(), i.region.to_string());
        for (k, val) in &i.node.attributes {
            node.insert(format!("attr.{k}"), val.clone());
        }
        for (k, val) in &i.node.meta {
            node.insert(format!("meta.{k}"), val.clone());
        }
        let mut env = TaskEnv { vars: v, node };
        // The env block last, interpolated against what is there so far.
        if let Some(block) = &i.task.env {
            let extra: Vec<(String, String)> = block
                .iter()
                .map(|(k, val)| (k.clone(), env.interpolate(val)))
                .collect();
            env.vars.extend(extra);
        }
        env
    }

    /// One variable.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    /// All variables, sorted by name.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.vars
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Replaces `${NAME}` (a task variable), `${node.*}`, `${attr.*}` and
    /// `${meta.*}` in `s`; unknown references are left as written, like
    /// Nomad does.
    pub fn interpolate(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(open) = rest.find("${") {
            out.push_str(&rest[..open]);
            let after = &rest[open + 2..];
            let Some(close) = after.find('}') else {
                out.push_str(&rest[open..]);
                return out;
            };
            let key = after[..close].trim();
            match self.vars.get(key).or_else(|| self.node.get(key)) {
                Some(v) => out.push_str(v),
                None => out.push_str(&rest[open..open + 2 + close + 1]),
            }
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        out
    }

    /// Interpolates every string in a driver config.
    pub fn interpolate_json(&self, v: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match v {
            Value::String(s) => Value::String(self.interpolate(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.interpolate_json(x)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), self.interpolate_json(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_from_the_alloc_name() {
        assert_eq!(alloc_index("web.api[3]"), Some(3));
        assert_eq!(alloc_index("web.api"), None);
        assert_eq!(alloc_index("a[b].c[12]"), Some(12));
    }

    #[test]
    fn interpolation_leaves_unknowns() {
        let mut e = TaskEnv::default();
        e.vars.insert("NOMAD_ALLOC_ID".into(), "abc".into());
        e.node.insert("attr.kernel.name".into(), "linux".into());
        assert_eq!(
            e.interpolate("id=${NOMAD_ALLOC_ID} k=${attr.kernel.name} x=${nope} ${"),
            "id=abc k=linux x=${nope} ${"
        );
    }
}

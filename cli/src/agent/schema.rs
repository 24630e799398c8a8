//! The shape of an agent config file: every block and setting the agent
//! accepts, with the kind of value each takes.
//!
//! One table drives both the file parser (unknown names, value types) and the
//! did-you-mean suggestions, so a setting added here is accepted everywhere.

/// What a setting holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A string.
    Str,
    /// A whole number.
    Int,
    /// Any number.
    Float,
    /// true or false.
    Bool,
    /// A Go-style duration string ("10s", "1h30m").
    Duration,
    /// A list of strings.
    StrList,
    /// String keys to string values, as a block or an object (`meta`, `options`).
    Map,
    /// A block with fixed settings.
    Block(&'static [Field]),
    /// A block with one label, repeatable per label (`host_volume "name" { ... }`).
    Labeled(&'static [Field]),
    /// Free-form content handed to someone else (a plugin's `config`).
    Any,
}

/// One setting or block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field {
    pub name: &'static str,
    pub kind: Kind,
}

const fn f(name: &'static str, kind: Kind) -> Field {
    Field { name, kind }
}

use Kind::*;

const PORTS: &[Field] = &[f("http", Int), f("rpc", Int), f("serf", Int)];
const ADDRESSES: &[Field] = &[f("http", Str), f("rpc", Str)];

const SERVER_JOIN: &[Field] = &[
    f("start_join", StrList),
    f("retry_join", StrList),
    f("retry_max", Int),
    f("retry_interval", Duration),
];

const SERVER: &[Field] = &[
    f("enabled", Bool),
    f("bootstrap_expect", Int),
    f("server_join", Block(SERVER_JOIN)),
    f("raft_multiplier", Int),
    f("num_schedulers", Int),
    f("heartbeat_grace", Duration),
    f("min_heartbeat_ttl", Duration),
    f("max_heartbeats_per_second", Float),
];

const RESERVED: &[Field] = &[
    f("cpu", Int),
    f("memory", Int),
    f("disk", Int),
    f("reserved_ports", Str),
];

const HOST_VOLUME: &[Field] = &[f("path", Str), f("read_only", Bool)];

const DRAIN_ON_SHUTDOWN: &[Field] = &[
    f("deadline", Duration),
    f("force", Bool),
    f("ignore_system_jobs", Bool),
];

const CLIENT: &[Field] = &[
    f("enabled", Bool),
    f("servers", StrList),
    f("server_join", Block(SERVER_JOIN)),
    f("state_dir", Str),
    f("alloc_dir", Str),
    f("node_class", Str),
    f("node_pool", Str),
    f("meta", Map),
    f("options", Map),
    f("reserved", Block(RESERVED)),
    f("host_volume", Labeled(HOST_VOLUME)),
    f("drain_on_shutdown", Block(DRAIN_ON_SHUTDOWN)),
    f("gc_interval", Duration),
    f("fingerprint_interval", Duration),
    f("gc_disk_usage_threshold", Float),
    f("gc_inode_usage_threshold", Float),
    f("gc_max_allocs", Int),
    f("gc_parallel_destroys", Int),
];

const PLUGIN: &[Field] = &[f("capabilities", StrList), f("config", Any)];

const TELEMETRY: &[Field] = &[
    f("collection_interval", Duration),
    f("disable_hostname", Bool),
    f("publish_allocation_metrics", Bool),
    f("publish_node_metrics", Bool),
    f("prometheus_metrics", Bool),
];

/// The top level of an agent config file.
pub(crate) const TOP: &[Field] = &[
    f("name", Str),
    f("region", Str),
    f("datacenter", Str),
    f("data_dir", Str),
    f("bind_addr", Str),
    f("log_level", Str),
    f("ports", Block(PORTS)),
    f("addresses", Block(ADDRESSES)),
    f("advertise", Block(ADDRESSES)),
    f("server", Block(SERVER)),
    f("client", Block(CLIENT)),
    f("plugin", Labeled(PLUGIN)),
    f("telemetry", Block(TELEMETRY)),
];

/// Looks a setting up among `fields`.
pub(crate) fn find(fields: &'static [Field], name: &str) -> Option<Field> {
    fields.iter().copied().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_unique(fields: &'static [Field], path: &str) {
        for (i, a) in fields.iter().enumerate() {
            assert!(
                !fields[i + 1..].iter().any(|b| b.name == a.name),
                "{path}{} twice",
                a.name
            );
            if let Block(inner) | Labeled(inner) = a.kind {
                check_unique(inner, &format!("{path}{}.", a.name));
            }
        }
    }

    #[test]
    fn every_name_appears_once_per_block() {
        check_unique(TOP, "");
    }
}

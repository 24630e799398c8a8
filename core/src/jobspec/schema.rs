//! The shape of a Nomad job file: for every block, the attributes and nested
//! blocks it accepts, the JSON key each one becomes, and the value type it
//! must convert to.
//!
//! The decoder walks a job file against these tables, so an unknown attribute
//! or block is found (with a did-you-mean from the same table) and every value
//! is converted before it reaches the model. Rules that tables cannot say
//! (constraint sugar, port splitting, inheritance) are the `post` hooks, which
//! live in `reshape.rs`.

use super::reshape;

/// The type an attribute's value converts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    /// A string; numbers and bools are written out.
    Str,
    /// A whole number; numeric strings such as "100" are accepted.
    Int,
    /// A bool; "true"/"false" strings are accepted.
    Bool,
    /// A Go duration string ("10s", "1h30m"), stored as integer nanoseconds.
    Dur,
    /// A list of strings; numbers and bools are written out.
    StrList,
    /// A list of whole numbers.
    IntList,
    /// A map of strings (meta, env); numbers and bools are written out.
    StrMap,
    /// Any value, kept as it is.
    Any,
}

/// An attribute a block accepts.
#[derive(Debug)]
pub(crate) struct Attr {
    /// The HCL name.
    pub name: &'static str,
    /// The JSON key (Nomad's Go field name); keys starting with `__` are
    /// scratch space for a `post` hook and never reach the model.
    pub key: &'static str,
    /// What the value converts to.
    pub ty: Ty,
}

/// How often a nested block may appear and how it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nest {
    /// At most once, stored as an object.
    One,
    /// At most once, stored as a one-element list (task `resources.network`).
    OneInList,
    /// Any number of times, stored as a list in file order.
    Many,
    /// Any number of times, stored as a map keyed by the block's label.
    ByLabel,
}

/// What a nested block's body is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Body {
    /// A structured block with its own table.
    Spec(&'static Spec),
    /// A map of strings: `meta { k = "v" }`, also accepted as `meta = { ... }`.
    StrMap,
    /// A map of string lists: a check's `header { Authorization = ["..."] }`.
    StrListMap,
    /// Free-form driver-style configuration, with Nomad's block-to-list rules.
    FreeForm,
    /// Free-form with snake_case keys turned into Go field names; for Consul
    /// blocks sched keeps but does not act on.
    Loose,
}

/// A nested block a block accepts.
#[derive(Debug)]
pub(crate) struct Child {
    /// The HCL block type.
    pub name: &'static str,
    /// The JSON key.
    pub key: &'static str,
    /// How often and how it is stored.
    pub nest: Nest,
    /// What it holds.
    pub body: Body,
}

/// The labels a block takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Labels {
    /// None.
    None,
    /// Exactly one, stored under this key.
    One(&'static str),
}

/// A post hook: Nomad's rules that go beyond the table, run on the decoded
/// object of one block. An `Err` is reported at the block, and so are the
/// warnings it pushes.
pub(crate) type Post =
    fn(&mut serde_json::Map<String, serde_json::Value>, &mut Vec<String>) -> Result<(), String>;

/// One block type.
#[derive(Debug)]
pub(crate) struct Spec {
    /// The HCL block type, for messages.
    pub name: &'static str,
    /// Its labels.
    pub labels: Labels,
    /// Its attributes.
    pub attrs: &'static [Attr],
    /// Its nested blocks.
    pub children: &'static [Child],
    /// Extra rules, if any.
    pub post: Option<Post>,
}

macro_rules! attrs {
    ($($name:literal => $key:literal : $ty:ident),* $(,)?) => {
        &[$(Attr { name: $name, key: $key, ty: Ty::$ty }),*]
    };
}

macro_rules! children {
    ($($name:literal => $key:literal : $nest:ident $body:expr),* $(,)?) => {
        &[$(Child { name: $name, key: $key, nest: Nest::$nest, body: $body }),*]
    };
}

use Body::{FreeForm, Loose, Spec as S, StrListMap, StrMap};

/// The top of a job file.
pub(crate) static JOB: Spec = Spec {
    name: "job",
    labels: Labels::One("__label"),
    attrs: attrs! {
        "region" => "Region": Str,
        "namespace" => "Namespace": Str,
        "id" => "ID": Str,
        "name" => "Name": Str,
        "type" => "Type": Str,
        "priority" => "Priority": Int,
        "all_at_once" => "AllAtOnce": Bool,
        "datacenters" => "Datacenters": StrList,
        "node_pool" => "NodePool": Str,
        "consul_token" => "__consul_token": Str,
        "vault_token" => "__vault_token": Str,
    },
    children: children! {
        "constraint" => "Constraints": Many S(&CONSTRAINT),
        "affinity" => "Affinities": Many S(&AFFINITY),
        "spread" => "Spreads": Many S(&SPREAD),
        "group" => "TaskGroups": Many S(&GROUP),
        "task" => "__tasks": Many S(&TASK),
        "update" => "Update": One S(&UPDATE),
        "multiregion" => "Multiregion": One S(&MULTIREGION),
        "periodic" => "Periodic": One S(&PERIODIC),
        "parameterized" => "ParameterizedJob": One S(&PARAMETERIZED),
        "reschedule" => "Reschedule": One S(&RESCHEDULE),
        "migrate" => "Migrate": One S(&MIGRATE),
        "meta" => "Meta": One StrMap,
        "ui" => "UI": One S(&UI),
        "vault" => "__vault": One S(&VAULT),
    },
    post: Some(reshape::job),
};

static GROUP: Spec = Spec {
    name: "group",
    labels: Labels::One("Name"),
    attrs: attrs! {
        "count" => "Count": Int,
        "shutdown_delay" => "ShutdownDelay": Dur,
        "max_run_duration" => "MaxRunDuration": Dur,
        "stop_after_client_disconnect" => "StopAfterClientDisconnect": Dur,
        "max_client_disconnect" => "MaxClientDisconnect": Dur,
        "prevent_reschedule_on_lost" => "PreventRescheduleOnLost": Bool,
    },
    children: children! {
        "constraint" => "Constraints": Many S(&CONSTRAINT),
        "affinity" => "Affinities": Many S(&AFFINITY),
        "spread" => "Spreads": Many S(&SPREAD),
        "task" => "Tasks": Many S(&TASK),
        "volume" => "Volumes": ByLabel S(&VOLUME),
        "restart" => "RestartPolicy": One S(&RESTART),
        "disconnect" => "Disconnect": One S(&DISCONNECT),
        "reschedule" => "ReschedulePolicy": One S(&RESCHEDULE),
        "ephemeral_disk" => "EphemeralDisk": One S(&EPHEMERAL_DISK),
        "update" => "Update": One S(&UPDATE),
        "migrate" => "Migrate": One S(&MIGRATE),
        "network" => "Networks": Many S(&NETWORK),
        "meta" => "Meta": One StrMap,
        "service" => "Services": Many S(&SERVICE),
        "scaling" => "Scaling": One S(&GROUP_SCALING),
        "consul" => "Consul": One S(&CONSUL),
        "vault" => "__vault": One S(&VAULT),
        "secret" => "__secrets": Many S(&SECRET),
    },
    post: Some(reshape::group),
};

static TASK: Spec = Spec {
    name: "task",
    labels: Labels::One("Name"),
    attrs: attrs! {
        "driver" => "Driver": Str,
        "user" => "User": Str,
        "leader" => "Leader": Bool,
        "kill_timeout" => "KillTimeout": Dur,
        "shutdown_delay" => "ShutdownDelay": Dur,
        "kill_signal" => "KillSignal": Str,
        "kind" => "Kind": Str,
    },
    children: children! {
        "lifecycle" => "Lifecycle": One S(&LIFECYCLE),
        "config" => "Config": One FreeForm,
        "constraint" => "Constraints": Many S(&CONSTRAINT),
        "affinity" => "Affinities": Many S(&AFFINITY),
        "env" => "Env": One StrMap,
        "service" => "Services": Many S(&SERVICE),
        "resources" => "Resources": One S(&RESOURCES),
        "restart" => "RestartPolicy": One S(&RESTART),
        "meta" => "Meta": One StrMap,
        "logs" => "LogConfig": One S(&LOGS),
        "artifact" => "Artifacts": Many S(&ARTIFACT),
        "vault" => "Vault": One S(&VAULT),
        "consul" => "Consul": One S(&CONSUL),
        "template" => "Templates": Many S(&TEMPLATE),
        "dispatch_payload" => "DispatchPayload": One S(&DISPATCH_PAYLOAD),
        "volume_mount" => "VolumeMounts": Many S(&VOLUME_MOUNT),
        "csi_plugin" => "CSIPluginConfig": One S(&CSI_PLUGIN),
        "scaling" => "ScalingPolicies": Many S(&TASK_SCALING),
        "identity" => "Identities": Many S(&IDENTITY),
        "secret" => "Secrets": Many S(&SECRET),
        "action" => "Actions": Many S(&ACTION),
        "schedule" => "Schedule": One S(&SCHEDULE),
    },
    post: Some(reshape::task),
};

static LIFECYCLE: Spec = Spec {
    name: "lifecycle",
    labels: Labels::None,
    attrs: attrs! { "hook" => "Hook": Str, "sidecar" => "Sidecar": Bool },
    children: &[],
    post: Some(reshape::lifecycle),
};

static RESOURCES: Spec = Spec {
    name: "resources",
    labels: Labels::None,
    attrs: attrs! {
        "cpu" => "CPU": Int,
        "cores" => "Cores": Int,
        "memory" => "MemoryMB": Int,
        "memory_max" => "MemoryMaxMB": Int,
        "disk" => "DiskMB": Int,
        "iops" => "IOPS": Int,
        "secrets" => "SecretsMB": Int,
    },
    children: children! {
        "network" => "Networks": OneInList S(&NETWORK),
        "device" => "Devices": Many S(&DEVICE),
        "numa" => "NUMA": One S(&NUMA),
    },
    post: None,
};

static DEVICE: Spec = Spec {
    name: "device",
    labels: Labels::One("Name"),
    attrs: attrs! { "count" => "Count": Int },
    children: children! {
        "constraint" => "Constraints": Many S(&CONSTRAINT),
        "affinity" => "Affinities": Many S(&AFFINITY),
    },
    post: None,
};

static NUMA: Spec = Spec {
    name: "numa",
    labels: Labels::None,
    attrs: attrs! { "affinity" => "Affinity": Str, "devices" => "Devices": StrList },
    children: &[],
    post: None,
};

static NETWORK: Spec = Spec {
    name: "network",
    labels: Labels::None,
    attrs: attrs! {
        "mode" => "Mode": Str,
        "device" => "Device": Str,
        "cidr" => "CIDR": Str,
        "ip" => "IP": Str,
        "hostname" => "Hostname": Str,
        "mbits" => "MBits": Int,
    },
    children: children! {
        "port" => "__ports": Many S(&PORT),
        "dns" => "DNS": One S(&DNS),
        "cni" => "CNI": One S(&CNI),
    },
    post: Some(reshape::network),
};

static PORT: Spec = Spec {
    name: "port",
    labels: Labels::One("Label"),
    attrs: attrs! {
        "static" => "Value": Int,
        "to" => "To": Int,
        "host_network" => "HostNetwork": Str,
        "ignore_collision" => "IgnoreCollision": Bool,
    },
    children: &[],
    post: Some(reshape::port),
};

static DNS: Spec = Spec {
    name: "dns",
    labels: Labels::None,
    attrs: attrs! {
        "servers" => "Servers": StrList,
        "searches" => "Searches": StrList,
        "options" => "Options": StrList,
    },
    children: &[],
    post: None,
};

static CNI: Spec = Spec {
    name: "cni",
    labels: Labels::None,
    attrs: attrs! { "args" => "Args": StrMap },
    children: &[],
    post: None,
};

static SERVICE: Spec = Spec {
    name: "service",
    labels: Labels::None,
    attrs: attrs! {
        "name" => "Name": Str,
        "tags" => "Tags": StrList,
        "canary_tags" => "CanaryTags": StrList,
        "enable_tag_override" => "EnableTagOverride": Bool,
        "port" => "PortLabel": Str,
        "address_mode" => "AddressMode": Str,
        "address" => "Address": Str,
        "task" => "TaskName": Str,
        "on_update" => "OnUpdate": Str,
        "provider" => "Provider": Str,
        "cluster" => "Cluster": Str,
        "kind" => "Kind": Str,
    },
    children: children! {
        "check" => "Checks": Many S(&CHECK),
        "check_restart" => "CheckRestart": One S(&CHECK_RESTART),
        "connect" => "Connect": One S(&CONNECT),
        "meta" => "Meta": One StrMap,
        "canary_meta" => "CanaryMeta": One StrMap,
        "tagged_addresses" => "TaggedAddresses": One StrMap,
        "identity" => "Identity": One S(&IDENTITY),
        "weights" => "Weights": One S(&WEIGHTS),
    },
    post: None,
};

static CHECK: Spec = Spec {
    name: "check",
    labels: Labels::None,
    attrs: attrs! {
        "name" => "Name": Str,
        "type" => "Type": Str,
        "command" => "Command": Str,
        "args" => "Args": StrList,
        "path" => "Path": Str,
        "protocol" => "Protocol": Str,
        "method" => "Method": Str,
        "body" => "Body": Str,
        "port" => "PortLabel": Str,
        "expose" => "Expose": Bool,
        "address_mode" => "AddressMode": Str,
        "advertise" => "Advertise": Str,
        "interval" => "Interval": Dur,
        "timeout" => "Timeout": Dur,
        "initial_status" => "InitialStatus": Str,
        "notes" => "Notes": Str,
        "tls_server_name" => "TLSServerName": Str,
        "tls_skip_verify" => "TLSSkipVerify": Bool,
        "grpc_service" => "GRPCService": Str,
        "grpc_use_tls" => "GRPCUseTLS": Bool,
        "task" => "TaskName": Str,
        "success_before_passing" => "SuccessBeforePassing": Int,
        "failures_before_critical" => "FailuresBeforeCritical": Int,
        "failures_before_warning" => "FailuresBeforeWarning": Int,
        "on_update" => "OnUpdate": Str,
    },
    children: children! {
        "header" => "Header": One StrListMap,
        "check_restart" => "CheckRestart": One S(&CHECK_RESTART),
    },
    post: None,
};

static CHECK_RESTART: Spec = Spec {
    name: "check_restart",
    labels: Labels::None,
    attrs: attrs! {
        "limit" => "Limit": Int,
        "grace" => "Grace": Dur,
        "ignore_warnings" => "IgnoreWarnings": Bool,
    },
    children: &[],
    post: None,
};

static WEIGHTS: Spec = Spec {
    name: "weights",
    labels: Labels::None,
    attrs: attrs! { "passing" => "Passing": Int, "warning" => "Warning": Int },
    children: &[],
    post: None,
};

static CONNECT: Spec = Spec {
    name: "connect",
    labels: Labels::None,
    attrs: attrs! { "native" => "Native": Bool },
    children: children! {
        "sidecar_service" => "SidecarService": One S(&SIDECAR_SERVICE),
        "sidecar_task" => "SidecarTask": One S(&SIDECAR_TASK),
        "gateway" => "Gateway": One Loose,
    },
    post: None,
};

static SIDECAR_SERVICE: Spec = Spec {
    name: "sidecar_service",
    labels: Labels::None,
    attrs: attrs! {
        "tags" => "Tags": StrList,
        "port" => "Port": Str,
        "disable_default_tcp_check" => "DisableDefaultTCPCheck": Bool,
    },
    children: children! {
        "proxy" => "Proxy": One S(&PROXY),
        "meta" => "Meta": One StrMap,
    },
    post: None,
};

static PROXY: Spec = Spec {
    name: "proxy",
    labels: Labels::None,
    attrs: attrs! {
        "local_service_address" => "LocalServiceAddress": Str,
        "local_service_port" => "LocalServicePort": Int,
    },
    children: children! {
        "upstreams" => "Upstreams": Many S(&UPSTREAM),
        "expose" => "Expose": One S(&EXPOSE),
        "transparent_proxy" => "TransparentProxy": One S(&TRANSPARENT_PROXY),
        "config" => "Config": One FreeForm,
    },
    post: None,
};

static UPSTREAM: Spec = Spec {
    name: "upstreams",
    labels: Labels::None,
    attrs: attrs! {
        "destination_name" => "DestinationName": Str,
        "destination_namespace" => "DestinationNamespace": Str,
        "destination_peer" => "DestinationPeer": Str,
        "destination_partition" => "DestinationPartition": Str,
        "destination_type" => "DestinationType": Str,
        "local_bind_port" => "LocalBindPort": Int,
        "local_bind_address" => "LocalBindAddress": Str,
        "local_bind_socket_path" => "LocalBindSocketPath": Str,
        "local_bind_socket_mode" => "LocalBindSocketMode": Str,
        "datacenter" => "Datacenter": Str,
    },
    children: children! {
        "mesh_gateway" => "MeshGateway": One S(&MESH_GATEWAY),
        "config" => "Config": One FreeForm,
    },
    post: None,
};

static MESH_GATEWAY: Spec = Spec {
    name: "mesh_gateway",
    labels: Labels::None,
    attrs: attrs! { "mode" => "Mode": Str },
    children: &[],
    post: None,
};

static EXPOSE: Spec = Spec {
    name: "expose",
    labels: Labels::None,
    attrs: &[],
    children: children! { "path" => "Paths": Many S(&EXPOSE_PATH) },
    post: None,
};

static EXPOSE_PATH: Spec = Spec {
    name: "path",
    labels: Labels::None,
    attrs: attrs! {
        "path" => "Path": Str,
        "protocol" => "Protocol": Str,
        "local_path_port" => "LocalPathPort": Int,
        "listener_port" => "ListenerPort": Str,
    },
    children: &[],
    post: None,
};

static TRANSPARENT_PROXY: Spec = Spec {
    name: "transparent_proxy",
    labels: Labels::None,
    attrs: attrs! {
        "uid" => "UID": Str,
        "outbound_port" => "OutboundPort": Int,
        "exclude_inbound_ports" => "ExcludeInboundPorts": StrList,
        "exclude_outbound_ports" => "ExcludeOutboundPorts": IntList,
        "exclude_outbound_cidrs" => "ExcludeOutboundCIDRs": StrList,
        "exclude_uids" => "ExcludeUIDs": StrList,
        "no_dns" => "NoDNS": Bool,
    },
    children: &[],
    post: None,
};

static SIDECAR_TASK: Spec = Spec {
    name: "sidecar_task",
    labels: Labels::None,
    attrs: attrs! {
        "name" => "Name": Str,
        "driver" => "Driver": Str,
        "user" => "User": Str,
        "kill_timeout" => "KillTimeout": Dur,
        "shutdown_delay" => "ShutdownDelay": Dur,
        "kill_signal" => "KillSignal": Str,
    },
    children: children! {
        "config" => "Config": One FreeForm,
        "env" => "Env": One StrMap,
        "resources" => "Resources": One S(&RESOURCES),
        "meta" => "Meta": One StrMap,
        "logs" => "LogConfig": One S(&LOGS),
    },
    post: None,
};

/// Constraint keys that are sugar for an operator with the value as RTarget.
pub(crate) const CONSTRAINT_SUGAR: &[&str] = &[
    "version",
    "semver",
    "regexp",
    "set_contains",
    "set_contains_any",
    "set_contains_all",
];

static CONSTRAINT: Spec = Spec {
    name: "constraint",
    labels: Labels::None,
    attrs: attrs! {
        "attribute" => "LTarget": Str,
        "value" => "RTarget": Str,
        "operator" => "Operand": Str,
        "version" => "__version": Str,
        "semver" => "__semver": Str,
        "regexp" => "__regexp": Str,
        "set_contains" => "__set_contains": Str,
        "set_contains_any" => "__set_contains_any": Str,
        "set_contains_all" => "__set_contains_all": Str,
        "distinct_hosts" => "__distinct_hosts": Str,
        "distinct_property" => "__distinct_property": Str,
        "is_set" => "__is_set": Bool,
        "is_not_set" => "__is_not_set": Bool,
    },
    children: &[],
    post: Some(reshape::constraint),
};

static AFFINITY: Spec = Spec {
    name: "affinity",
    labels: Labels::None,
    attrs: attrs! {
        "attribute" => "LTarget": Str,
        "value" => "RTarget": Str,
        "operator" => "Operand": Str,
        "weight" => "Weight": Int,
        "version" => "__version": Str,
        "semver" => "__semver": Str,
        "regexp" => "__regexp": Str,
        "set_contains" => "__set_contains": Str,
        "set_contains_any" => "__set_contains_any": Str,
        "set_contains_all" => "__set_contains_all": Str,
    },
    children: &[],
    post: Some(reshape::affinity),
};

static SPREAD: Spec = Spec {
    name: "spread",
    labels: Labels::None,
    attrs: attrs! { "attribute" => "Attribute": Str, "weight" => "Weight": Int },
    children: children! { "target" => "SpreadTarget": Many S(&SPREAD_TARGET) },
    post: None,
};

static SPREAD_TARGET: Spec = Spec {
    name: "target",
    labels: Labels::One("Value"),
    attrs: attrs! { "percent" => "Percent": Int },
    children: &[],
    post: None,
};

static UPDATE: Spec = Spec {
    name: "update",
    labels: Labels::None,
    attrs: attrs! {
        "stagger" => "Stagger": Dur,
        "max_parallel" => "MaxParallel": Int,
        "health_check" => "HealthCheck": Str,
        "min_healthy_time" => "MinHealthyTime": Dur,
        "healthy_deadline" => "HealthyDeadline": Dur,
        "progress_deadline" => "ProgressDeadline": Dur,
        "canary" => "Canary": Int,
        "auto_revert" => "AutoRevert": Bool,
        "auto_promote" => "AutoPromote": Bool,
    },
    children: &[],
    post: None,
};

static MIGRATE: Spec = Spec {
    name: "migrate",
    labels: Labels::None,
    attrs: attrs! {
        "max_parallel" => "MaxParallel": Int,
        "health_check" => "HealthCheck": Str,
        "min_healthy_time" => "MinHealthyTime": Dur,
        "healthy_deadline" => "HealthyDeadline": Dur,
    },
    children: &[],
    post: None,
};

static RESTART: Spec = Spec {
    name: "restart",
    labels: Labels::None,
    attrs: attrs! {
        "attempts" => "Attempts": Int,
        "interval" => "Interval": Dur,
        "delay" => "Delay": Dur,
        "mode" => "Mode": Str,
        "render_templates" => "RenderTemplates": Bool,
    },
    children: &[],
    post: None,
};

static RESCHEDULE: Spec = Spec {
    name: "reschedule",
    labels: Labels::None,
    attrs: attrs! {
        "attempts" => "Attempts": Int,
        "interval" => "Interval": Dur,
        "delay" => "Delay": Dur,
        "delay_function" => "DelayFunction": Str,
        "max_delay" => "MaxDelay": Dur,
        "unlimited" => "Unlimited": Bool,
    },
    children: &[],
    post: None,
};

static DISCONNECT: Spec = Spec {
    name: "disconnect",
    labels: Labels::None,
    attrs: attrs! {
        "lost_after" => "LostAfter": Dur,
        "stop_on_client_after" => "StopOnClientAfter": Dur,
        "replace" => "Replace": Bool,
        "reconcile" => "Reconcile": Str,
    },
    children: &[],
    post: None,
};

static EPHEMERAL_DISK: Spec = Spec {
    name: "ephemeral_disk",
    labels: Labels::None,
    attrs: attrs! {
        "sticky" => "Sticky": Bool,
        "migrate" => "Migrate": Bool,
        "size" => "SizeMB": Int,
    },
    children: &[],
    post: None,
};

static VOLUME: Spec = Spec {
    name: "volume",
    labels: Labels::One("Name"),
    attrs: attrs! {
        "type" => "Type": Str,
        "source" => "Source": Str,
        "read_only" => "ReadOnly": Bool,
        "sticky" => "Sticky": Bool,
        "access_mode" => "AccessMode": Str,
        "attachment_mode" => "AttachmentMode": Str,
        "per_alloc" => "PerAlloc": Bool,
    },
    children: children! { "mount_options" => "MountOptions": One S(&MOUNT_OPTIONS) },
    post: None,
};

static MOUNT_OPTIONS: Spec = Spec {
    name: "mount_options",
    labels: Labels::None,
    attrs: attrs! { "fs_type" => "FSType": Str, "mount_flags" => "MountFlags": StrList },
    children: &[],
    post: None,
};

static VOLUME_MOUNT: Spec = Spec {
    name: "volume_mount",
    labels: Labels::None,
    attrs: attrs! {
        "volume" => "Volume": Str,
        "destination" => "Destination": Str,
        "read_only" => "ReadOnly": Bool,
        "propagation_mode" => "PropagationMode": Str,
        "selinux_label" => "SELinuxLabel": Str,
    },
    children: &[],
    post: None,
};

static PERIODIC: Spec = Spec {
    name: "periodic",
    labels: Labels::None,
    attrs: attrs! {
        "cron" => "Spec": Str,
        "crons" => "Specs": StrList,
        "prohibit_overlap" => "ProhibitOverlap": Bool,
        "time_zone" => "TimeZone": Str,
        "enabled" => "Enabled": Bool,
    },
    children: &[],
    post: Some(reshape::periodic),
};

static PARAMETERIZED: Spec = Spec {
    name: "parameterized",
    labels: Labels::None,
    attrs: attrs! {
        "payload" => "Payload": Str,
        "meta_required" => "MetaRequired": StrList,
        "meta_optional" => "MetaOptional": StrList,
    },
    children: &[],
    post: None,
};

static MULTIREGION: Spec = Spec {
    name: "multiregion",
    labels: Labels::None,
    attrs: &[],
    children: children! {
        "strategy" => "Strategy": One S(&MULTIREGION_STRATEGY),
        "region" => "Regions": Many S(&MULTIREGION_REGION),
    },
    post: None,
};

static MULTIREGION_STRATEGY: Spec = Spec {
    name: "strategy",
    labels: Labels::None,
    attrs: attrs! { "max_parallel" => "MaxParallel": Int, "on_failure" => "OnFailure": Str },
    children: &[],
    post: None,
};

static MULTIREGION_REGION: Spec = Spec {
    name: "region",
    labels: Labels::One("Name"),
    attrs: attrs! {
        "count" => "Count": Int,
        "datacenters" => "Datacenters": StrList,
        "node_pool" => "NodePool": Str,
    },
    children: children! { "meta" => "Meta": One StrMap },
    post: None,
};

static UI: Spec = Spec {
    name: "ui",
    labels: Labels::None,
    attrs: attrs! { "description" => "Description": Str },
    children: children! { "link" => "Links": Many S(&UI_LINK) },
    post: None,
};

static UI_LINK: Spec = Spec {
    name: "link",
    labels: Labels::None,
    attrs: attrs! { "label" => "Label": Str, "url" => "URL": Str },
    children: &[],
    post: None,
};

static LOGS: Spec = Spec {
    name: "logs",
    labels: Labels::None,
    attrs: attrs! {
        "max_files" => "MaxFiles": Int,
        "max_file_size" => "MaxFileSizeMB": Int,
        "enabled" => "Enabled": Bool,
        "disabled" => "Disabled": Bool,
    },
    children: &[],
    post: None,
};

static ARTIFACT: Spec = Spec {
    name: "artifact",
    labels: Labels::None,
    attrs: attrs! {
        "source" => "GetterSource": Str,
        "destination" => "RelativeDest": Str,
        "mode" => "GetterMode": Str,
        "insecure" => "GetterInsecure": Bool,
        "chown" => "Chown": Bool,
    },
    children: children! {
        "options" => "GetterOptions": One StrMap,
        "headers" => "GetterHeaders": One StrMap,
    },
    post: None,
};

static TEMPLATE: Spec = Spec {
    name: "template",
    labels: Labels::None,
    attrs: attrs! {
        "source" => "SourcePath": Str,
        "destination" => "DestPath": Str,
        "data" => "EmbeddedTmpl": Str,
        "change_mode" => "ChangeMode": Str,
        "change_signal" => "ChangeSignal": Str,
        "splay" => "Splay": Dur,
        "perms" => "Perms": Str,
        "uid" => "Uid": Int,
        "gid" => "Gid": Int,
        "left_delimiter" => "LeftDelim": Str,
        "right_delimiter" => "RightDelim": Str,
        "env" => "Envvars": Bool,
        "vault_grace" => "VaultGrace": Dur,
        "error_on_missing_key" => "ErrMissingKey": Bool,
        "once" => "Once": Bool,
    },
    children: children! {
        "change_script" => "ChangeScript": One S(&CHANGE_SCRIPT),
        "wait" => "Wait": One S(&TEMPLATE_WAIT),
    },
    post: Some(reshape::template),
};

static CHANGE_SCRIPT: Spec = Spec {
    name: "change_script",
    labels: Labels::None,
    attrs: attrs! {
        "command" => "Command": Str,
        "args" => "Args": StrList,
        "timeout" => "Timeout": Dur,
        "fail_on_error" => "FailOnError": Bool,
    },
    children: &[],
    post: Some(reshape::change_script),
};

static TEMPLATE_WAIT: Spec = Spec {
    name: "wait",
    labels: Labels::None,
    attrs: attrs! { "min" => "Min": Dur, "max" => "Max": Dur },
    children: &[],
    post: None,
};

static DISPATCH_PAYLOAD: Spec = Spec {
    name: "dispatch_payload",
    labels: Labels::None,
    attrs: attrs! { "file" => "File": Str },
    children: &[],
    post: None,
};

static VAULT: Spec = Spec {
    name: "vault",
    labels: Labels::None,
    attrs: attrs! {
        "policies" => "Policies": StrList,
        "role" => "Role": Str,
        "namespace" => "Namespace": Str,
        "cluster" => "Cluster": Str,
        "env" => "Env": Bool,
        "disable_file" => "DisableFile": Bool,
        "change_mode" => "ChangeMode": Str,
        "change_signal" => "ChangeSignal": Str,
        "allow_token_expiration" => "AllowTokenExpiration": Bool,
    },
    children: &[],
    post: Some(reshape::vault),
};

static CONSUL: Spec = Spec {
    name: "consul",
    labels: Labels::None,
    attrs: attrs! {
        "namespace" => "Namespace": Str,
        "cluster" => "Cluster": Str,
        "partition" => "Partition": Str,
    },
    children: &[],
    post: None,
};

static CSI_PLUGIN: Spec = Spec {
    name: "csi_plugin",
    labels: Labels::None,
    attrs: attrs! {
        "id" => "ID": Str,
        "type" => "Type": Str,
        "mount_dir" => "MountDir": Str,
        "stage_publish_base_dir" => "StagePublishBaseDir": Str,
        "health_timeout" => "HealthTimeout": Dur,
    },
    children: &[],
    post: None,
};

static GROUP_SCALING: Spec = Spec {
    name: "scaling",
    labels: Labels::None,
    attrs: attrs! {
        "min" => "Min": Int,
        "max" => "Max": Int,
        "enabled" => "Enabled": Bool,
        "type" => "Type": Str,
    },
    children: children! { "policy" => "Policy": One FreeForm },
    post: Some(reshape::group_scaling),
};

static TASK_SCALING: Spec = Spec {
    name: "scaling",
    labels: Labels::One("__label"),
    attrs: attrs! {
        "min" => "Min": Int,
        "max" => "Max": Int,
        "enabled" => "Enabled": Bool,
        "type" => "Type": Str,
    },
    children: children! { "policy" => "Policy": One FreeForm },
    post: Some(reshape::task_scaling),
};

static IDENTITY: Spec = Spec {
    name: "identity",
    labels: Labels::None,
    attrs: attrs! {
        "name" => "Name": Str,
        "aud" => "Audience": StrList,
        "change_mode" => "ChangeMode": Str,
        "change_signal" => "ChangeSignal": Str,
        "env" => "Env": Bool,
        "file" => "File": Bool,
        "filepath" => "Filepath": Str,
        "service_name" => "ServiceName": Str,
        "ttl" => "TTL": Dur,
    },
    children: children! { "extra_claims" => "ExtraClaims": One StrMap },
    post: None,
};

static SECRET: Spec = Spec {
    name: "secret",
    labels: Labels::One("Name"),
    attrs: attrs! { "provider" => "Provider": Str, "path" => "Path": Str },
    children: children! {
        "config" => "Config": One FreeForm,
        "env" => "Env": One StrMap,
    },
    post: None,
};

static ACTION: Spec = Spec {
    name: "action",
    labels: Labels::One("Name"),
    attrs: attrs! { "command" => "Command": Str, "args" => "Args": StrList },
    children: &[],
    post: None,
};

static SCHEDULE: Spec = Spec {
    name: "schedule",
    labels: Labels::None,
    attrs: &[],
    children: children! { "cron" => "Cron": One S(&SCHEDULE_CRON) },
    post: None,
};

static SCHEDULE_CRON: Spec = Spec {
    name: "cron",
    labels: Labels::None,
    attrs: attrs! {
        "start" => "Start": Str,
        "end" => "End": Str,
        "timezone" => "Timezone": Str,
    },
    children: &[],
    post: None,
};

impl Spec {
    /// The attribute named `name`.
    pub(crate) fn attr(&self, name: &str) -> Option<&'static Attr> {
        self.attrs_static().iter().find(|a| a.name == name)
    }

    /// The nested block type named `name`.
    pub(crate) fn child(&self, name: &str) -> Option<&'static Child> {
        self.children_static().iter().find(|c| c.name == name)
    }

    /// Every name this block accepts, for suggestions.
    pub(crate) fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.attrs_static()
            .iter()
            .map(|a| a.name)
            .chain(self.children_static().iter().map(|c| c.name))
    }

    fn attrs_static(&self) -> &'static [Attr] {
        self.attrs
    }

    fn children_static(&self) -> &'static [Child] {
        self.children
    }
}

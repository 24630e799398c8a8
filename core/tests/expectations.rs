//! The field-for-field expectations of the Nomad corpus (EXPECTATIONS.md),
//! checked against the JSON the parsed job serialises to.

mod support;

use sched_core::jobspec::{ParseOptions, parse};
use serde_json::{Value, json};

const S: i64 = 1_000_000_000;
const M: i64 = 60 * S;
const H: i64 = 60 * M;

fn job(name: &str) -> Value {
    let path = support::corpus_dir().join("nomad-jobspecs").join(name);
    let src = std::fs::read_to_string(&path).expect("fixture");
    let parsed =
        parse(name, &src, &ParseOptions::default()).unwrap_or_else(|e| panic!("{name}:\n{e}"));
    serde_json::to_value(&parsed.job).expect("serialises")
}

fn check(name: &str, checks: &[(&str, Value)]) {
    let j = job(name);
    let mut errors = Vec::new();
    for (path, want) in checks {
        support::matches(want, support::get(&j, path), path, &mut errors);
    }
    assert!(
        errors.is_empty(),
        "{name}:\n{}\njob: {j:#}",
        errors.join("\n")
    );
}

fn fixture(name: &str) -> String {
    format!("jobspec__test-fixtures__{name}.hcl")
}

#[test]
fn basic() {
    check(
        &fixture("basic"),
        &[
            ("ID", json!("binstore-storagelocker")),
            ("Name", json!("binstore-storagelocker")),
            ("Type", json!("batch")),
            ("Priority", json!(52)),
            ("AllAtOnce", json!(true)),
            ("Datacenters", json!(["us2", "eu1"])),
            ("Region", json!("fooregion")),
            ("Namespace", json!("foonamespace")),
            ("NodePool", json!("dev")),
            ("Meta", json!({"foo": "bar"})),
            (
                "Constraints",
                json!([
            {"LTarget": "kernel.os", "RTarget": "windows", "Operand": "="},
            {"LTarget": "${attr.vault.version}", "RTarget": ">= 0.6.1", "Operand": "semver"}]),
            ),
            (
                "Affinities",
                json!([{"LTarget": "${meta.team}", "RTarget": "mobile", "Operand": "=", "Weight": 50}]),
            ),
            (
                "Spreads",
                json!([{"Attribute": "${meta.rack}", "Weight": 100,
            "SpreadTarget": [{"Value": "r1", "Percent": 40}, {"Value": "r2", "Percent": 60}]}]),
            ),
            (
                "Update",
                json!({"Stagger": 60 * S, "MaxParallel": 2, "HealthCheck": "manual",
            "MinHealthyTime": 10 * S, "HealthyDeadline": 10 * M, "ProgressDeadline": 10 * M,
            "AutoRevert": true, "AutoPromote": true, "Canary": 1}),
            ),
            ("TaskGroups[0].Name", json!("outside")),
            (
                "TaskGroups[0].Tasks[0]",
                json!({"Name": "outside", "Driver": "java",
            "Config": {"jar_path": "s3://my-cool-store/foo.jar"}, "Meta": {"my-cool-key": "foobar"}}),
            ),
            ("TaskGroups[1].Name", json!("binsl")),
            ("TaskGroups[1].Count", json!(5)),
            ("TaskGroups[1].StopAfterClientDisconnect", json!(120 * S)),
            ("TaskGroups[1].MaxClientDisconnect", json!(120 * H)),
            (
                "TaskGroups[1].Disconnect",
                json!({"StopOnClientAfter": 120 * S, "LostAfter": 120 * H,
            "Replace": true, "Reconcile": "best_score"}),
            ),
            (
                "TaskGroups[1].Constraints",
                json!([{"LTarget": "kernel.os", "RTarget": "linux", "Operand": "="}]),
            ),
            (
                "TaskGroups[1].Volumes.foo",
                json!({"Name": "foo", "Type": "host", "Source": "/path"}),
            ),
            (
                "TaskGroups[1].Volumes.bar",
                json!({"Name": "bar", "Type": "csi", "Source": "bar-vol",
            "ReadOnly": true, "AccessMode": "single-mode-writer", "AttachmentMode": "file-system",
            "MountOptions": {"FSType": "ext4"}}),
            ),
            (
                "TaskGroups[1].Volumes.baz",
                json!({"Name": "baz", "Type": "csi", "Source": "bar-vol",
            "MountOptions": {"MountFlags": ["ro"]}, "PerAlloc": true}),
            ),
            (
                "TaskGroups[1].Affinities",
                json!([{"LTarget": "${node.datacenter}", "RTarget": "dc2", "Operand": "=", "Weight": 100}]),
            ),
            (
                "TaskGroups[1].Spreads",
                json!([{"Attribute": "${node.datacenter}", "Weight": 50,
            "SpreadTarget": [{"Value": "dc1", "Percent": 50}, {"Value": "dc2", "Percent": 25}, {"Value": "dc3", "Percent": 25}]}]),
            ),
            (
                "TaskGroups[1].Meta",
                json!({"elb_mode": "tcp", "elb_interval": "10", "elb_checks": "3"}),
            ),
            (
                "TaskGroups[1].RestartPolicy",
                json!({"Attempts": 5, "Interval": 10 * M, "Delay": 15 * S, "Mode": "delay", "RenderTemplates": false}),
            ),
            (
                "TaskGroups[1].ReschedulePolicy",
                json!({"Attempts": 5, "Interval": 12 * H}),
            ),
            (
                "TaskGroups[1].EphemeralDisk",
                json!({"Sticky": true, "SizeMB": 150}),
            ),
            (
                "TaskGroups[1].Update",
                json!({"MaxParallel": 3, "HealthCheck": "checks", "MinHealthyTime": S,
            "HealthyDeadline": M, "ProgressDeadline": M, "AutoRevert": false, "AutoPromote": false, "Canary": 2}),
            ),
            (
                "TaskGroups[1].Migrate",
                json!({"MaxParallel": 2, "HealthCheck": "task_states", "MinHealthyTime": 11 * S, "HealthyDeadline": 11 * M}),
            ),
            ("TaskGroups[1].Tasks[0].Name", json!("binstore")),
            ("TaskGroups[1].Tasks[0].Driver", json!("docker")),
            ("TaskGroups[1].Tasks[0].User", json!("bob")),
            ("TaskGroups[1].Tasks[0].Leader", json!(true)),
            ("TaskGroups[1].Tasks[0].Kind", json!("connect-proxy:test")),
            (
                "TaskGroups[1].Tasks[0].Config",
                json!({"image": "hashicorp/binstore", "labels": [{"FOO": "bar"}]}),
            ),
            (
                "TaskGroups[1].Tasks[0].VolumeMounts",
                json!([{"Volume": "foo", "Destination": "/mnt/foo"}]),
            ),
            (
                "TaskGroups[1].Tasks[0].Affinities",
                json!([{"LTarget": "${meta.foo}", "RTarget": "a,b,c", "Operand": "set_contains", "Weight": 25}]),
            ),
            (
                "TaskGroups[1].Tasks[0].RestartPolicy",
                json!({"Attempts": 10}),
            ),
            (
                "TaskGroups[1].Tasks[0].Env",
                json!({"HELLO": "world", "LOREM": "ipsum"}),
            ),
            (
                "TaskGroups[1].Tasks[0].Services[0].Tags",
                json!(["foo", "bar"]),
            ),
            (
                "TaskGroups[1].Tasks[0].Services[0].CanaryTags",
                json!(["canary", "bam"]),
            ),
            (
                "TaskGroups[1].Tasks[0].Services[0].PortLabel",
                json!("http"),
            ),
            (
                "TaskGroups[1].Tasks[0].Services[0].Meta",
                json!({"abc": "123"}),
            ),
            (
                "TaskGroups[1].Tasks[0].Services[0].CanaryMeta",
                json!({"canary": "boom"}),
            ),
            (
                "TaskGroups[1].Tasks[0].Services[0].Checks",
                json!([{"Name": "check-name", "Type": "tcp",
            "PortLabel": "admin", "Interval": 10 * S, "Timeout": 2 * S, "GRPCService": "foo.Bar",
            "GRPCUseTLS": true, "CheckRestart": {"Limit": 3, "Grace": 10 * S, "IgnoreWarnings": true}}]),
            ),
            ("TaskGroups[1].Tasks[0].Resources.CPU", json!(500)),
            ("TaskGroups[1].Tasks[0].Resources.MemoryMB", json!(128)),
            ("TaskGroups[1].Tasks[0].Resources.MemoryMaxMB", json!(256)),
            (
                "TaskGroups[1].Tasks[0].Resources.Networks",
                json!([{"MBits": 100,
            "ReservedPorts": [{"Label": "one", "Value": 1}, {"Label": "two", "Value": 2}, {"Label": "three", "Value": 3}],
            "DynamicPorts": [{"Label": "http"}, {"Label": "https"}, {"Label": "admin"}]}]),
            ),
            (
                "TaskGroups[1].Tasks[0].Resources.Devices",
                json!([
            {"Name": "nvidia/gpu", "Count": 10,
             "Constraints": [{"LTarget": "${device.attr.memory}", "RTarget": "2GB", "Operand": ">"}],
             "Affinities": [{"LTarget": "${device.model}", "RTarget": "1080ti", "Operand": "=", "Weight": 50}]},
            {"Name": "intel/gpu"}]),
            ),
            ("TaskGroups[1].Tasks[0].KillTimeout", json!(22 * S)),
            ("TaskGroups[1].Tasks[0].ShutdownDelay", json!(11 * S)),
            (
                "TaskGroups[1].Tasks[0].LogConfig",
                json!({"MaxFiles": 14, "MaxFileSizeMB": 101, "Disabled": false}),
            ),
            (
                "TaskGroups[1].Tasks[0].Artifacts[0].GetterSource",
                json!("http://foo.com/artifact"),
            ),
            (
                "TaskGroups[1].Tasks[0].Artifacts[1].RelativeDest",
                json!("test/foo/"),
            ),
            (
                "TaskGroups[1].Tasks[0].Artifacts[1].GetterMode",
                json!("file"),
            ),
            (
                "TaskGroups[1].Tasks[0].Vault",
                json!({"Namespace": "ns1", "Policies": ["foo", "bar"], "Env": true, "DisableFile": false, "ChangeMode": "restart"}),
            ),
            (
                "TaskGroups[1].Tasks[0].Templates[0]",
                json!({"SourcePath": "foo", "DestPath": "foo", "ChangeMode": "foo",
            "ChangeSignal": "foo", "Splay": 10 * S, "Perms": "0644", "Envvars": true, "VaultGrace": 33 * S, "ErrMissingKey": true}),
            ),
            (
                "TaskGroups[1].Tasks[0].Templates[1]",
                json!({"SourcePath": "bar", "DestPath": "bar", "ChangeMode": "script",
            "ChangeScript": {"Command": "/bin/foo", "Args": ["-debug", "-verbose"], "Timeout": 5 * S, "FailOnError": false},
            "Splay": 5 * S, "Perms": "777", "Uid": 1001, "Gid": 20, "LeftDelim": "--", "RightDelim": "__", "ErrMissingKey": false}),
            ),
            ("TaskGroups[1].Tasks[1].Name", json!("storagelocker")),
            (
                "TaskGroups[1].Tasks[1].Lifecycle",
                json!({"Hook": "prestart", "Sidecar": true}),
            ),
            (
                "TaskGroups[1].Tasks[1].Config",
                json!({"image": "hashicorp/storagelocker"}),
            ),
            (
                "TaskGroups[1].Tasks[1].Resources",
                json!({"CPU": 500, "MemoryMB": 128}),
            ),
            (
                "TaskGroups[1].Tasks[1].Constraints",
                json!([{"LTarget": "kernel.arch", "RTarget": "amd64", "Operand": "="}]),
            ),
            (
                "TaskGroups[1].Tasks[1].Vault",
                json!({"Policies": ["foo", "bar"], "Env": false, "DisableFile": false, "ChangeMode": "signal", "ChangeSignal": "SIGUSR1"}),
            ),
        ],
    );
}

#[test]
fn config_compatibility() {
    check(
        "jobspec2__test-fixtures__config-compatibility.hcl",
        &[(
            "TaskGroups[0].Tasks[0].Config",
            json!({
                "attr_string": "b", "attr_int": 3, "attr_large_int": 21474836470_i64, "attr_float": 3.2,
                "attr_list_string": ["a", "b"], "attr_list_int": [1, 2, 4], "attr_list_float": [1.2, 2.3, 4.2],
                "attr_list_hetro": [1, "a", 3.4, {"k": "v"}], "attr_list_empty": [],
                "attr_map": [{"KEY": "VAL", "KEY2": "VAL2"}], "attr_map_empty": [{}],
                "block1": [{"k": "b", "key2": "v2"}],
                "repeated_block_type": [{"a": 2}, {"b": 3}],
                "labeled_block": [{"label1": [{"k": "b"}]}],
                "multi_labeled_block": [{"label1": [{"label2": [{"label3": [{"k": "b"}]}]}]}],
                "label_repeated": [{"l1": [{"a": 1}]}, {"l1": [{"a": 2}]}, {"l2": [{"l21": [{"a": 3}]}]},
                    {"l2": [{"l21": [{"l23": [{"a": 4}]}]}]}, {"l3": [{"a": 5}]}],
                "outer_block": [{"l1": [{"level": 1, "inner_block": [{"l2": [{"level": 2, "most_inner":
                    [{"l3": [{"level": 3, "inner_map": [{"K": "V"}]}]}]}]}]}]}],
            }),
        )],
    );
}

#[test]
fn nested_config_default_and_specified_job() {
    check(
        &fixture("task-nested-config"),
        &[
            ("ID", json!("foo")),
            ("TaskGroups[0].Name", json!("bar")),
            (
                "TaskGroups[0].Tasks[0]",
                json!({"Name": "bar", "Driver": "docker",
            "Config": {"image": "hashicorp/image", "port_map": [{"db": 1234}]}}),
            ),
        ],
    );
    check(
        &fixture("default-job"),
        &[("", json!({"ID": "foo", "Name": "foo"}))],
    );
    check(
        &fixture("specify-job"),
        &[("", json!({"ID": "job1", "Name": "My Job"}))],
    );
}

#[test]
fn constraint_sugar() {
    check(
        &fixture("version-constraint"),
        &[(
            "Constraints",
            json!([{"LTarget": "$attr.kernel.version", "RTarget": "~> 3.2", "Operand": "version"}]),
        )],
    );
    check(
        &fixture("regexp-constraint"),
        &[
            ("Constraints[0].Operand", json!("regexp")),
            ("Constraints[0].RTarget", json!("[0-9.]+")),
        ],
    );
    check(
        &fixture("set-contains-constraint"),
        &[
            ("Constraints[0].Operand", json!("set_contains")),
            ("Constraints[0].RTarget", json!("foo,bar,baz")),
        ],
    );
    check(
        &fixture("distinctHosts-constraint"),
        &[(
            "Constraints",
            json!([{"Operand": "distinct_hosts", "RTarget": "true", "LTarget": ""}]),
        )],
    );
    check(
        &fixture("distinctProperty-constraint"),
        &[(
            "Constraints",
            json!([{"Operand": "distinct_property", "LTarget": "${meta.rack}", "RTarget": ""}]),
        )],
    );
}

#[test]
fn periodic_and_parameterized() {
    check(
        &fixture("periodic-cron"),
        &[
            (
                "Periodic",
                json!({"SpecType": "cron", "ProhibitOverlap": true, "TimeZone": "Europe/Minsk", "Spec": "*/5 * * *"}),
            ),
            ("TaskGroups", Value::Null),
        ],
    );
    check(
        &fixture("periodic-crons"),
        &[(
            "Periodic",
            json!({"SpecType": "cron", "ProhibitOverlap": true, "TimeZone": "Europe/Minsk", "Specs": ["*/5 * * *", "*/7 * * *"]}),
        )],
    );
    check(
        &fixture("parameterized_job"),
        &[
            (
                "ParameterizedJob",
                json!({"Payload": "required", "MetaRequired": ["foo", "bar"], "MetaOptional": ["baz", "bam"]}),
            ),
            (
                "TaskGroups[0].Tasks[0].DispatchPayload",
                json!({"File": "foo/bar"}),
            ),
        ],
    );
}

#[test]
fn vault_inheritance_and_artifacts() {
    let v = |p: &str, env: bool, df: bool| json!({"Policies": [p], "Env": env, "DisableFile": df, "ChangeMode": "restart"});
    check(
        &fixture("vault_inheritance"),
        &[
            ("TaskGroups[0].Tasks[0].Vault", v("group", true, false)),
            ("TaskGroups[0].Tasks[1].Vault", v("task", false, true)),
            ("TaskGroups[1].Tasks[0].Vault", v("job", true, false)),
        ],
    );
    let j = job(&fixture("vault_inheritance"));
    assert!(j.get("Vault").is_none() && j.get("__vault").is_none());
    check(
        &fixture("artifacts"),
        &[(
            "TaskGroups[0].Tasks[0].Artifacts",
            json!([
                {"GetterSource": "http://foo.com/bar", "RelativeDest": "", "GetterOptions": {"foo": "bar"}},
                {"GetterSource": "http://foo.com/baz"},
                {"GetterSource": "http://foo.com/bam", "RelativeDest": "var/foo"},
                {"GetterSource": "https://example.com/file.txt", "GetterHeaders": {"User-Agent": "nomad", "X-Nomad-Alloc": "alloc"}},
            ]),
        )],
    );
    // An empty destination is kept as "", not dropped.
    let j = job(&fixture("artifacts"));
    assert_eq!(
        support::get(&j, "TaskGroups[0].Tasks[0].Artifacts[0].RelativeDest"),
        Some(&json!(""))
    );
    assert_eq!(
        support::get(&j, "TaskGroups[0].Tasks[0].Artifacts[1].RelativeDest"),
        None
    );
}

#[test]
fn group_network_and_connect() {
    check(
        &fixture("tg-network"),
        &[
            ("Datacenters", json!(["dc1"])),
            ("TaskGroups[0].Count", json!(3)),
            ("TaskGroups[0].ShutdownDelay", json!(14 * S)),
            (
                "TaskGroups[0].Networks",
                json!([{"Mode": "bridge",
            "ReservedPorts": [{"Label": "http", "Value": 80, "To": 8080, "HostNetwork": "public"}],
            "DNS": {"Servers": ["8.8.8.8"], "Options": ["ndots:2", "edns0"]}}]),
            ),
            ("TaskGroups[0].Services[0].Name", json!("connect-service")),
            ("TaskGroups[0].Services[0].Tags", json!(["foo", "bar"])),
            (
                "TaskGroups[0].Services[0].CanaryTags",
                json!(["canary", "bam"]),
            ),
            ("TaskGroups[0].Services[0].PortLabel", json!("1234")),
            (
                "TaskGroups[0].Services[0].Connect.SidecarService.Tags",
                json!(["side1", "side2"]),
            ),
            (
                "TaskGroups[0].Services[0].Connect.SidecarService.Proxy.LocalServicePort",
                json!(8080),
            ),
            (
                "TaskGroups[0].Services[0].Connect.SidecarService.Proxy.Upstreams[0]",
                json!({
            "DestinationName": "other-service", "DestinationPeer": "10.0.0.1:6379", "DestinationPartition": "infra",
            "DestinationType": "tcp", "LocalBindPort": 4567, "LocalBindAddress": "0.0.0.0",
            "LocalBindSocketPath": "/var/run/testsocket.sock", "LocalBindSocketMode": "0666",
            "Datacenter": "dc1", "MeshGateway": {"Mode": "local"}}),
            ),
            (
                "TaskGroups[0].Services[0].Connect.SidecarTask.Resources",
                json!({"CPU": 500, "MemoryMB": 1024}),
            ),
            (
                "TaskGroups[0].Services[0].Connect.SidecarTask.Env",
                json!({"FOO": "abc"}),
            ),
            (
                "TaskGroups[0].Services[0].Connect.SidecarTask.ShutdownDelay",
                json!(5 * S),
            ),
            ("TaskGroups[0].Tasks[0].Driver", json!("raw_exec")),
            (
                "TaskGroups[0].Tasks[0].Config",
                json!({"command": "bash", "args": ["-c", "echo hi"]}),
            ),
            (
                "TaskGroups[0].Tasks[0].Resources",
                json!({"Networks": [{"MBits": 10}]}),
            ),
        ],
    );
    check(
        &fixture("tg-service-connect-proxy"),
        &[
            ("TaskGroups[0].Services[0].Connect.Native", json!(false)),
            (
                "TaskGroups[0].Services[0].Connect.SidecarService.Proxy",
                json!({
            "LocalServiceAddress": "10.0.1.2", "LocalServicePort": 8080,
            "Expose": {"Paths": [
                {"Path": "/metrics", "Protocol": "http", "LocalPathPort": 9001, "ListenerPort": "metrics"},
                {"Path": "/health", "Protocol": "http", "LocalPathPort": 9002, "ListenerPort": "health"}]},
            "Upstreams": [{"DestinationName": "upstream1", "LocalBindPort": 2001}, {"DestinationName": "upstream2", "LocalBindPort": 2002}],
            "TransparentProxy": {"UID": "101", "OutboundPort": 15001, "ExcludeInboundPorts": ["www", "9000"],
                "ExcludeOutboundPorts": [443, 80], "ExcludeOutboundCIDRs": ["10.0.0.0/8"], "ExcludeUIDs": ["10", "1001"], "NoDNS": true},
            "Config": {"foo": "bar"}}),
            ),
        ],
    );
    check(
        "jobspec2__test-fixtures__connect-example.hcl",
        &[(
            "TaskGroups[0].Services[0].Connect.SidecarService.Proxy.Upstreams[0].Config.connect_timeout_ms",
            json!(9999),
        )],
    );
    let j = job("jobspec2__test-fixtures__connect-example.hcl");
    assert!(
        j.to_string()
            .contains("http://${NOMAD_UPSTREAM_ADDR_database}")
    );
}

#[test]
fn service_checks() {
    check(
        &fixture("tg-service-check"),
        &[
            ("TaskGroups[0].Count", json!(1)),
            (
                "TaskGroups[0].Networks[0].ReservedPorts",
                json!([{"Label": "http", "Value": 80, "To": 8080}]),
            ),
            ("TaskGroups[0].Services[0].Name", json!("foo-service")),
            ("TaskGroups[0].Services[0].PortLabel", json!("http")),
            ("TaskGroups[0].Services[0].OnUpdate", json!("ignore")),
            (
                "TaskGroups[0].Services[0].Checks",
                json!([{"Name": "check-name", "Type": "script", "Command": "/bin/true",
            "Interval": 10 * S, "Timeout": 2 * S, "InitialStatus": "passing", "TaskName": "foo", "OnUpdate": "ignore", "Body": "post body"}]),
            ),
            ("TaskGroups[0].Tasks", json!([{"Name": "foo"}])),
        ],
    );
    let http = |extra: Value| {
        let mut c = json!({"Name": "check-name", "Type": "http", "Path": "/", "Method": "POST", "Interval": 10 * S, "Timeout": 2 * S, "InitialStatus": "passing"});
        if let (Some(c), Value::Object(e)) = (c.as_object_mut(), extra) {
            c.extend(e);
        }
        c
    };
    check(
        &fixture("service-check-initial-status"),
        &[
            (
                "TaskGroups[0].Tasks[0].Services[0].Tags",
                json!(["foo", "bar"]),
            ),
            (
                "TaskGroups[0].Tasks[0].Services[0].PortLabel",
                json!("http"),
            ),
            (
                "TaskGroups[0].Tasks[0].Services[0].Checks[0]",
                http(json!({"Header": {"Authorization": ["Basic ZWxhc3RpYzpjaGFuZ2VtZQ=="]}})),
            ),
        ],
    );
    check(
        &fixture("service-check-pass-fail"),
        &[
            ("TaskGroups[0].Tasks[0].Services[0].Name", json!("service")),
            (
                "TaskGroups[0].Tasks[0].Services[0].Checks[0]",
                http(
                    json!({"SuccessBeforePassing": 3, "FailuresBeforeCritical": 4, "FailuresBeforeWarning": 2}),
                ),
            ),
        ],
    );
    check(
        &fixture("service-check-driver-address"),
        &[
            (
                "TaskGroups[0].Tasks[0].Services[0].PortLabel",
                json!("http"),
            ),
            (
                "TaskGroups[0].Tasks[0].Services[0].AddressMode",
                json!("auto"),
            ),
            (
                "TaskGroups[0].Tasks[0].Services[0].Checks[0]",
                json!({"Name": "http-check", "Type": "http", "Path": "/", "PortLabel": "http", "AddressMode": "driver"}),
            ),
            (
                "TaskGroups[0].Tasks[0].Services[1].PortLabel",
                json!("9000"),
            ),
            (
                "TaskGroups[0].Tasks[0].Services[1].Checks[0]",
                json!({"Name": "random-check", "Type": "tcp", "PortLabel": "9001", "AddressMode": "driver"}),
            ),
        ],
    );
}

#[test]
fn scaling_policies() {
    check(
        &fixture("tg-scaling-policy"),
        &[(
            "TaskGroups[0].Scaling",
            json!({"Type": "horizontal", "Min": 5, "Max": 100, "Enabled": false,
        "Policy": {"foo": "bar", "b": true, "val": 5, "f": 0.1, "check": [{"foo": [{"query": "some_query"}]}]}}),
        )],
    );
    check(
        &fixture("task-scaling-policy"),
        &[(
            "TaskGroups[0].Tasks[0].ScalingPolicies",
            json!([
        {"Type": "vertical_cpu", "Min": 50, "Max": 1000, "Policy": {"test": "cpu"}, "Enabled": true},
        {"Type": "vertical_mem", "Min": 128, "Max": 1024, "Policy": {"test": "mem"}, "Enabled": false}]),
        )],
    );
}

#[test]
fn reschedule_migrate_multiregion_ports() {
    check(
        &fixture("reschedule-job"),
        &[(
            "Reschedule",
            json!({"Attempts": 15, "Interval": 30 * M, "DelayFunction": "constant", "Delay": 10 * S}),
        )],
    );
    check(
        &fixture("reschedule-job-unlimited"),
        &[(
            "Reschedule",
            json!({"DelayFunction": "exponential", "Delay": 10 * S, "MaxDelay": 120 * S, "Unlimited": true}),
        )],
    );
    check(
        &fixture("migrate-job"),
        &[
            (
                "Migrate",
                json!({"MaxParallel": 2, "HealthCheck": "task_states", "MinHealthyTime": 11 * S, "HealthyDeadline": 11 * M}),
            ),
            (
                "TaskGroups[0].Migrate",
                json!({"MaxParallel": 3, "HealthCheck": "checks", "MinHealthyTime": S, "HealthyDeadline": M}),
            ),
            ("TaskGroups[0].Count", json!(3)),
        ],
    );
    check(
        &fixture("multiregion"),
        &[(
            "Multiregion",
            json!({"Strategy": {"MaxParallel": 1, "OnFailure": "fail_all"},
        "Regions": [{"Name": "west", "Count": 2, "Datacenters": ["west-1"], "Meta": {"region_code": "W"}},
                    {"Name": "east", "Count": 1, "Datacenters": ["east-1", "east-2"], "Meta": {"region_code": "E"}}]}),
        )],
    );
    check(
        &fixture("parse-ports"),
        &[
            (
                "TaskGroups[0].Networks[0].ReservedPorts",
                json!([{"Label": "static", "Value": 9000}]),
            ),
            (
                "TaskGroups[0].Networks[0].DynamicPorts",
                json!([{"Label": "dynamic", "Value": 0}]),
            ),
        ],
    );
}

#[test]
fn identity_and_templates() {
    check(
        "jobspec2__test-fixtures__identity-compat.nomad.hcl",
        &[
            (
                "TaskGroups[0].Tasks[0].Identity",
                json!({"Env": true, "File": true}),
            ),
            (
                "TaskGroups[0].Tasks[0].Identities",
                json!([{"Name": "foo", "Audience": ["bar"], "File": true, "Env": false,
            "ChangeMode": "signal", "ChangeSignal": "sighup", "TTL": 2 * H}]),
            ),
        ],
    );
    check(
        "jobspec2__test-fixtures__restart-render-templates.hcl",
        &[
            ("TaskGroups[0].RestartPolicy.RenderTemplates", json!(true)),
            ("TaskGroups[0].Tasks[0].RestartPolicy", Value::Null),
            (
                "TaskGroups[0].Tasks[1].RestartPolicy.RenderTemplates",
                json!(false),
            ),
        ],
    );
    check(
        "jobspec2__test-fixtures__template-wait-config.hcl",
        &[(
            "TaskGroups[0].Tasks[0].Templates[0].Wait",
            json!({"Min": 5 * S, "Max": 60 * S}),
        )],
    );
    check(
        "jobspec2__test-fixtures__template-err-missing-key.hcl",
        &[(
            "TaskGroups[0].Tasks[0].Templates[0].ErrMissingKey",
            json!(true),
        )],
    );
}

//! `sched agent` through the binary: config files and flags in, exit codes
//! and messages out.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/agent")
}

/// Runs `sched agent ARGS` with its temporary directory under `tmp`.
fn agent(tmp: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sched"))
        .arg("agent")
        .args(args)
        .env("TMPDIR", tmp)
        .output()
        .expect("sched runs")
}

/// A valid config gets as far as starting the server, which this build refuses honestly.
fn assert_valid_but_not_started(out: &Output) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the agent cannot start a server yet")
            || stderr.contains("the agent cannot start a client yet"),
        "{stderr}"
    );
    assert!(text(&out.stdout).contains("==> Starting sched agent..."));
}

#[test]
fn dev_prints_its_configuration_and_removes_its_data_dir() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = agent(tmp.path(), &["-dev"]);
    assert_valid_but_not_started(&out);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Bind Addrs: HTTP: 127.0.0.1:4646; RPC: 127.0.0.1:4647"),
        "{stdout}"
    );
    assert!(stdout.contains("Server: true") && stdout.contains("Client: true"));
    let data_dir = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Data Dir: "))
        .expect("a Data Dir line");
    assert!(
        Path::new(data_dir).starts_with(tmp.path()),
        "{data_dir} is not under TMPDIR"
    );
    assert!(!Path::new(data_dir).exists(), "{data_dir} was left behind");
    assert!(text(&out.stderr).contains("cannot start a server yet"));
}

#[test]
fn example_configs_are_valid() {
    let tmp = tempfile::tempdir().expect("temp dir");
    for name in ["server.hcl", "client.hcl"] {
        let path = here().join(name);
        let out = agent(tmp.path(), &["-config", path.to_str().expect("utf-8")]);
        assert_valid_but_not_started(&out);
        assert!(
            text(&out.stdout).contains(&format!("Loaded configuration from {}", path.display())),
            "{}",
            text(&out.stdout)
        );
    }
    // Both, merged, with flags on top.
    let out = agent(
        tmp.path(),
        &[
            "-config",
            here().join("server.hcl").to_str().expect("utf-8"),
            "--config",
            here().join("client.hcl").to_str().expect("utf-8"),
            "-node",
            "both",
            "-http-port",
            "5646",
        ],
    );
    assert_valid_but_not_started(&out);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Node Name: both"), "{stdout}");
    assert!(stdout.contains("HTTP: 0.0.0.0:5646"), "{stdout}");
}

#[test]
fn the_documented_examples_are_valid() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/agent.md"))
            .expect("docs/agent.md");
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut n = 0;
    for (i, block) in doc.split("```hcl\n").skip(1).enumerate() {
        let hcl = block.split("```").next().expect("a closed block");
        let path = tmp.path().join(format!("example-{i}.hcl"));
        std::fs::write(&path, hcl).expect("write");
        let out = agent(tmp.path(), &["-config", path.to_str().expect("utf-8")]);
        assert_valid_but_not_started(&out);
        n += 1;
    }
    assert!(n >= 3, "only {n} examples");
}

#[test]
fn an_unknown_setting_names_file_line_column_and_a_fix() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = here().join("typo.hcl");
    let out = agent(tmp.path(), &["-config", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:5:3", path.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("did you mean \"bootstrap_expect\"?"),
        "{stderr}"
    );
    assert!(
        text(&out.stdout).is_empty(),
        "nothing starts: {}",
        text(&out.stdout)
    );
}

#[test]
fn invalid_values_name_the_setting_and_its_source() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = tmp.path().join("ports.hcl");
    std::fs::write(
        &path,
        "data_dir = \"/d\"\nserver {\n  enabled = true\n}\nports {\n  rpc = 4646\n}\n",
    )
    .expect("write");
    let out = agent(
        tmp.path(),
        &[
            "-config",
            path.to_str().expect("utf-8"),
            "-bootstrap-expect",
            "0",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:6:9: ports.rpc: 4646 is also ports.http",
            path.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("flag -bootstrap-expect: server.bootstrap_expect: 0 is out of range"),
        "{stderr}"
    );
}

#[test]
fn missing_config_and_no_role_are_user_errors() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let missing = tmp.path().join("missing.hcl");
    let out = agent(tmp.path(), &["-config", missing.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: cannot read agent config"),
        "{}",
        text(&out.stderr)
    );

    let out = agent(
        tmp.path(),
        &["-data-dir", tmp.path().to_str().expect("utf-8")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("the agent runs neither a server nor a client"),
        "{}",
        text(&out.stderr)
    );
}

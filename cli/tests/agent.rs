//! `sched agent` through the binary: config files and flags in, exit codes
//! and messages out.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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

/// Runs `sched config validate ARGS`.
fn validate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sched"))
        .args(["config", "validate"])
        .args(args)
        .output()
        .expect("sched runs")
}

fn assert_valid(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Configuration is valid!"));
}

/// A free loopback port (released before the agent binds it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Answers `GET path` on `port` with the response's body, if anything answers.
fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

#[test]
fn dev_serves_the_api_stops_on_sigterm_and_removes_its_data_dir() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (http, rpc) = (free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_sched"))
        .args([
            "agent",
            "-dev",
            "-http-port",
            &http.to_string(),
            "-rpc-port",
            &rpc.to_string(),
        ])
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sched runs");
    // The agent has a leader once the API names one.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(body) = http_get(http, "/v1/status/leader")
            && body.contains(&format!("127.0.0.1:{rpc}"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dev agent never elected itself"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid")),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the agent did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().expect("stdout"), &mut stdout)
        .expect("stdout");
    assert!(stdout.contains("==> Starting sched agent..."), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "Bind Addrs: HTTP: 127.0.0.1:{http}; RPC: 127.0.0.1:{rpc}"
        )),
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
}

#[test]
fn a_taken_port_is_named_and_nothing_starts() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let out = agent(
        tmp.path(),
        &[
            "-dev",
            "-http-port",
            &port.to_string(),
            "-rpc-port",
            &free_port().to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("cannot listen for HTTP on 127.0.0.1:{port}")),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn example_configs_are_valid() {
    for name in ["server.hcl", "client.hcl"] {
        let path = here().join(name);
        assert_valid(&validate(&[path.to_str().expect("utf-8")]));
    }
    // Both, merged.
    assert_valid(&validate(&[
        here().join("server.hcl").to_str().expect("utf-8"),
        here().join("client.hcl").to_str().expect("utf-8"),
    ]));
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
        assert_valid(&validate(&[path.to_str().expect("utf-8")]));
        n += 1;
    }
    assert!(n >= 3, "only {n} examples");
}

#[test]
fn config_validate_reports_errors_like_the_agent() {
    let path = here().join("typo.hcl");
    let out = validate(&[path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("{}:5:3", path.display())),
        "{}",
        text(&out.stderr)
    );
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

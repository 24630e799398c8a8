//! The docker capability against the real Docker Engine on this machine:
//! running containers, following their logs, loading images, and the
//! policy and bounds that stand between drivers and the engine.
//!
//! Tests that need the engine skip with a loud message when its socket is
//! absent; the rest use a fake socket.
#![allow(clippy::unwrap_used)]

#[path = "support/docker_image.rs"]
mod docker_image;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use docker_image::{ContainerCleanup, SOCKET, SavedImage, busybox_image, engine_available};
use sched_client::driver_host::capabilities::docker::{
    DockerCapability, DockerConfig, DockerError, Response,
};
use serde_json::{Value, json};

fn capability(config: DockerConfig) -> DockerCapability {
    DockerCapability::new(config).expect("runtime starts")
}

fn default_capability() -> DockerCapability {
    capability(DockerConfig {
        socket: PathBuf::from(SOCKET),
        request_timeout: Duration::from_secs(30),
        ..DockerConfig::default()
    })
}

fn json_of(response: &Response) -> Value {
    serde_json::from_slice(&response.body).unwrap_or_else(|error| {
        panic!(
            "status {} body {:?} is not JSON: {error}",
            response.status,
            String::from_utf8_lossy(&response.body)
        )
    })
}

/// Creates a container of the test image labelled for `cleanup`; returns
/// its ID.
fn create(
    docker: &DockerCapability,
    cleanup: &ContainerCleanup,
    image: &str,
    cmd: &[&str],
    extra: Value,
) -> String {
    let mut config = json!({
        "Image": image,
        "Cmd": cmd,
        "Labels": { "sched.test": cleanup.label },
    });
    if let (Some(config), Value::Object(extra)) = (config.as_object_mut(), extra) {
        config.extend(extra);
    }
    let response = docker
        .request(
            "POST",
            "/containers/create",
            Some(serde_json::to_vec(&config).unwrap()),
        )
        .expect("create is allowed");
    assert_eq!(response.status, 201, "create: {}", json_of(&response));
    json_of(&response)["Id"].as_str().unwrap().to_owned()
}

fn start(docker: &DockerCapability, id: &str) {
    let response = docker
        .request("POST", &format!("/containers/{id}/start"), None)
        .unwrap();
    assert_eq!(
        response.status,
        204,
        "start: {}",
        String::from_utf8_lossy(&response.body)
    );
}

/// The IDs of containers carrying the cleanup's label, asked through the
/// capability.
fn labelled(docker: &DockerCapability, cleanup: &ContainerCleanup) -> Vec<String> {
    let filters = json!({ "label": [format!("sched.test={}", cleanup.label)] }).to_string();
    let mut encoded = String::new();
    for byte in filters.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    let response = docker
        .request(
            "GET",
            &format!("/containers/json?all=1&filters={encoded}"),
            None,
        )
        .unwrap();
    assert_eq!(response.status, 200);
    json_of(&response)
        .as_array()
        .unwrap()
        .iter()
        .map(|container| container["Id"].as_str().unwrap().to_owned())
        .collect()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.0 GET with std, retried until `deadline`.
fn http_get(port: u16, deadline: Instant) -> String {
    let mut last_error = String::new();
    while Instant::now() < deadline {
        let attempt = (|| -> std::io::Result<String> {
            let mut stream = TcpStream::connect(("127.0.0.1", port))?;
            stream.set_read_timeout(Some(Duration::from_secs(2)))?;
            stream.write_all(b"GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
            let mut answer = String::new();
            stream.read_to_string(&mut answer)?;
            Ok(answer)
        })();
        match attempt {
            Ok(answer) if answer.starts_with("HTTP/") => return answer,
            Ok(answer) => last_error = format!("unexpected answer {answer:?}"),
            Err(error) => last_error = error.to_string(),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("no HTTP answer on 127.0.0.1:{port}: {last_error}");
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn version_names_the_engine() {
    if !engine_available("version_names_the_engine") {
        return;
    }
    let docker = default_capability();
    let version = docker.version().unwrap();
    assert!(
        version.chars().next().is_some_and(|c| c.is_ascii_digit()),
        "{version}"
    );
    let ping = docker.request("GET", "/_ping", None).unwrap();
    assert_eq!((ping.status, ping.body.as_slice()), (200, &b"OK"[..]));
    let versioned = docker.request("GET", "/v1.41/version", None).unwrap();
    assert_eq!(json_of(&versioned)["Version"], version.as_str());
}

#[test]
fn a_busybox_httpd_answers_on_its_published_port_and_leaves_nothing_behind() {
    let test = "a_busybox_httpd_answers_on_its_published_port_and_leaves_nothing_behind";
    if !engine_available(test) {
        return;
    }
    let Some(image) = busybox_image(test) else {
        return;
    };
    let docker = default_capability();
    let cleanup = ContainerCleanup::new();
    let port = free_port();
    let id = create(
        &docker,
        &cleanup,
        image,
        &["httpd", "-f", "-p", "8080", "-h", "/www"],
        json!({
            "ExposedPorts": { "8080/tcp": {} },
            "HostConfig": {
                "PortBindings": {
                    "8080/tcp": [{ "HostIp": "127.0.0.1", "HostPort": port.to_string() }]
                }
            }
        }),
    );
    start(&docker, &id);
    let inspect = docker
        .request("GET", &format!("/containers/{id}/json"), None)
        .unwrap();
    assert_eq!(json_of(&inspect)["State"]["Running"], true);

    let answer = http_get(port, Instant::now() + Duration::from_secs(15));
    assert!(
        answer.starts_with("HTTP/1.") && answer.contains(" 200 "),
        "{answer}"
    );
    assert!(answer.contains("hello from sched-busybox"), "{answer}");

    let stats = docker
        .request("GET", &format!("/containers/{id}/stats?stream=false"), None)
        .unwrap();
    assert_eq!(stats.status, 200);

    let stop = docker
        .request("POST", &format!("/containers/{id}/stop?t=1"), None)
        .unwrap();
    assert_eq!(stop.status, 204, "{}", String::from_utf8_lossy(&stop.body));
    let wait = docker
        .request("POST", &format!("/containers/{id}/wait"), None)
        .unwrap();
    assert_eq!(wait.status, 200);
    assert_eq!(labelled(&docker, &cleanup), vec![id.clone()]);
    let delete = docker
        .request("DELETE", &format!("/containers/{id}?v=1"), None)
        .unwrap();
    assert_eq!(delete.status, 204);
    assert!(labelled(&docker, &cleanup).is_empty());
    assert!(cleanup.remaining().is_empty());
    let gone = docker
        .request("GET", &format!("/containers/{id}/json"), None)
        .unwrap();
    assert_eq!(gone.status, 404);
}

fn follow_output(tty: bool) -> (String, String) {
    let docker = default_capability();
    let cleanup = ContainerCleanup::new();
    let image = docker_image::IMAGE;
    let id = create(
        &docker,
        &cleanup,
        image,
        &["sh", "-c", "echo out; echo err >&2; echo out2"],
        json!({ "Tty": tty }),
    );
    start(&docker, &id);
    let dir = tempfile::tempdir().unwrap();
    let (stdout, stderr) = (
        dir.path().join("task.stdout.0"),
        dir.path().join("task.stderr.0"),
    );
    docker.follow_logs(&id, &stdout, &stderr).unwrap();
    wait_for("the log stream to end", Duration::from_secs(20), || {
        docker.active_log_followers() == 0
    });
    let read = |path: &Path| std::fs::read_to_string(path).unwrap();
    (read(&stdout), read(&stderr))
}

#[test]
fn follow_logs_demultiplexes_stdout_and_stderr_into_their_files() {
    let test = "follow_logs_demultiplexes_stdout_and_stderr_into_their_files";
    if !engine_available(test) || busybox_image(test).is_none() {
        return;
    }
    let (stdout, stderr) = follow_output(false);
    assert_eq!(stdout, "out\nout2\n");
    assert_eq!(stderr, "err\n");
}

#[test]
fn follow_logs_copies_a_tty_stream_whole_into_stdout() {
    let test = "follow_logs_copies_a_tty_stream_whole_into_stdout";
    if !engine_available(test) || busybox_image(test).is_none() {
        return;
    }
    let (stdout, stderr) = follow_output(true);
    assert_eq!(stdout.replace("\r\n", "\n"), "out\nerr\nout2\n");
    assert_eq!(stderr, "");
}

#[test]
fn follow_logs_of_an_unknown_container_is_an_api_error() {
    if !engine_available("follow_logs_of_an_unknown_container_is_an_api_error") {
        return;
    }
    let docker = default_capability();
    let dir = tempfile::tempdir().unwrap();
    let error = docker
        .follow_logs(
            "sched-no-such-container",
            &dir.path().join("out"),
            &dir.path().join("err"),
        )
        .unwrap_err();
    assert!(
        matches!(error, DockerError::Api { status: 404, .. }),
        "{error:?}"
    );
    assert_eq!(docker.active_log_followers(), 0);
    assert!(matches!(
        docker.follow_logs(
            "../../info",
            &dir.path().join("out"),
            &dir.path().join("err")
        ),
        Err(DockerError::Forbidden(_))
    ));
}

#[test]
fn exec_runs_a_command_in_a_running_container() {
    let test = "exec_runs_a_command_in_a_running_container";
    if !engine_available(test) || busybox_image(test).is_none() {
        return;
    }
    let docker = default_capability();
    let cleanup = ContainerCleanup::new();
    let id = create(
        &docker,
        &cleanup,
        docker_image::IMAGE,
        &["sleep", "30"],
        json!({}),
    );
    start(&docker, &id);
    let exec = docker
        .request(
            "POST",
            &format!("/containers/{id}/exec"),
            Some(
                serde_json::to_vec(&json!({
                    "Cmd": ["echo", "from exec"],
                    "AttachStdout": true,
                    "AttachStderr": true
                }))
                .unwrap(),
            ),
        )
        .unwrap();
    assert_eq!(exec.status, 201, "{}", json_of(&exec));
    let exec_id = json_of(&exec)["Id"].as_str().unwrap().to_owned();
    let started = docker
        .request(
            "POST",
            &format!("/exec/{exec_id}/start"),
            Some(br#"{"Detach":false,"Tty":false}"#.to_vec()),
        )
        .unwrap();
    assert_eq!(started.status, 200);
    // One stdout frame: type 1, three zero bytes, length, payload.
    assert_eq!(&started.body[..4], &[1, 0, 0, 0]);
    assert_eq!(&started.body[8..], b"from exec\n");
    let inspect = docker
        .request("GET", &format!("/exec/{exec_id}/json"), None)
        .unwrap();
    assert_eq!(json_of(&inspect)["ExitCode"], 0);
    let kill = docker
        .request("POST", &format!("/containers/{id}/kill"), None)
        .unwrap();
    assert_eq!(kill.status, 204);
}

#[test]
fn load_image_brings_back_a_saved_archive() {
    let test = "load_image_brings_back_a_saved_archive";
    if !engine_available(test) || busybox_image(test).is_none() {
        return;
    }
    let saved = SavedImage::new().unwrap();
    let docker = default_capability();
    let missing = docker
        .request("GET", &format!("/images/{}/json", saved.tag), None)
        .unwrap();
    assert_eq!(missing.status, 404);
    let name = docker.load_image(&saved.archive).unwrap();
    assert_eq!(name, saved.tag);
    let present = docker
        .request("GET", &format!("/images/{}/json", saved.tag), None)
        .unwrap();
    assert_eq!(present.status, 200);
    assert!(matches!(
        docker.load_image(Path::new("/tmp/../etc/shadow")),
        Err(DockerError::Forbidden(_))
    ));
    assert!(matches!(
        docker.load_image(&saved.archive.with_file_name("missing.tar")),
        Err(DockerError::Io { .. })
    ));
    let deleted = docker
        .request("DELETE", &format!("/images/{}", saved.tag), None)
        .unwrap();
    assert_eq!(deleted.status, 200, "{}", json_of(&deleted));
}

#[test]
fn the_policy_holds_against_the_real_engine() {
    let test = "the_policy_holds_against_the_real_engine";
    if !engine_available(test) {
        return;
    }
    let Some(image) = busybox_image(test) else {
        return;
    };
    let docker = default_capability();
    let cleanup = ContainerCleanup::new();
    let refused = |body: Value| match docker.request(
        "POST",
        "/containers/create",
        Some(serde_json::to_vec(&body).unwrap()),
    ) {
        Err(DockerError::Forbidden(message)) => message,
        other => panic!("{body} was not refused: {other:?}"),
    };
    let labels = json!({ "sched.test": cleanup.label });
    let message = refused(json!({
        "Image": image, "Cmd": ["true"], "Labels": labels,
        "HostConfig": { "Privileged": true }
    }));
    assert!(message.contains("HostConfig.Privileged"), "{message}");
    // This engine reads host settings at the top level of the body too.
    let message = refused(json!({
        "Image": image, "Cmd": ["true"], "Labels": labels, "Privileged": true
    }));
    assert!(message.contains("top-level Privileged"), "{message}");
    let message = refused(json!({
        "Image": image, "Cmd": ["true"], "Labels": labels,
        "HostConfig": { "PidMode": "host" }
    }));
    assert!(message.contains("HostConfig.PidMode"), "{message}");
    let message = refused(json!({
        "Image": image, "Cmd": ["true"], "Labels": labels,
        "HostConfig": { "Binds": ["/var/run/docker.sock:/var/run/docker.sock"] }
    }));
    assert!(message.contains("docker socket"), "{message}");
    match docker.request("POST", "/swarm/init", Some(b"{}".to_vec())) {
        Err(DockerError::Forbidden(message)) => assert_eq!(
            message,
            "docker endpoint POST /swarm/init is not allowed for drivers"
        ),
        other => panic!("swarm init was not refused: {other:?}"),
    }
    assert!(matches!(
        docker.request("POST", "/images/create?fromSrc=-", None),
        Err(DockerError::Forbidden(_))
    ));
    assert!(
        labelled(&docker, &cleanup).is_empty(),
        "a refused create reached the engine"
    );

    let lenient = capability(DockerConfig {
        allow_privileged: true,
        ..DockerConfig::default()
    });
    let id = create(
        &lenient,
        &cleanup,
        image,
        &["true"],
        json!({ "HostConfig": { "Privileged": true } }),
    );
    let inspect = lenient
        .request("GET", &format!("/containers/{id}/json"), None)
        .unwrap();
    assert_eq!(json_of(&inspect)["HostConfig"]["Privileged"], true);
    let delete = lenient
        .request("DELETE", &format!("/containers/{id}?force=1"), None)
        .unwrap();
    assert_eq!(delete.status, 204);
}

#[test]
fn a_missing_socket_is_unavailable_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let docker = capability(DockerConfig {
        socket: dir.path().join("no-docker.sock"),
        ..DockerConfig::default()
    });
    let started = Instant::now();
    let error = docker.version().unwrap_err();
    assert!(error.is_unavailable(), "{error:?}");
    assert!(error.to_string().contains("no-docker.sock"), "{error}");
    let error = docker.request("GET", "/_ping", None).unwrap_err();
    assert!(error.is_unavailable(), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
    // A path that is no socket at all is refused by the kernel the same way.
    let not_a_socket = dir.path().join("plain-file");
    std::fs::write(&not_a_socket, b"").unwrap();
    let docker = capability(DockerConfig {
        socket: not_a_socket,
        ..DockerConfig::default()
    });
    assert!(docker.version().unwrap_err().is_unavailable());
}

#[test]
fn an_engine_that_never_answers_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("silent.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let server = std::thread::spawn(move || {
        // Accepts, reads nothing back, and holds the connection open.
        let held: Vec<_> = listener.incoming().take(1).collect();
        std::thread::sleep(Duration::from_secs(2));
        drop(held);
    });
    let docker = capability(DockerConfig {
        socket,
        request_timeout: Duration::from_millis(300),
        ..DockerConfig::default()
    });
    let started = Instant::now();
    let error = docker.version().unwrap_err();
    assert!(matches!(error, DockerError::Timeout { .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    server.join().unwrap();
}

#[test]
fn a_long_engine_call_is_bounded_by_the_request_timeout() {
    let test = "a_long_engine_call_is_bounded_by_the_request_timeout";
    if !engine_available(test) || busybox_image(test).is_none() {
        return;
    }
    let docker = default_capability();
    let cleanup = ContainerCleanup::new();
    let id = create(
        &docker,
        &cleanup,
        docker_image::IMAGE,
        &["sleep", "30"],
        json!({}),
    );
    start(&docker, &id);
    let impatient = capability(DockerConfig {
        request_timeout: Duration::from_millis(500),
        ..DockerConfig::default()
    });
    let started = Instant::now();
    let error = impatient
        .request("POST", &format!("/containers/{id}/wait"), None)
        .unwrap_err();
    assert!(matches!(error, DockerError::Timeout { .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    // The capability keeps working after a timeout.
    let inspect = impatient
        .request("GET", &format!("/containers/{id}/json"), None)
        .unwrap();
    assert_eq!(json_of(&inspect)["State"]["Running"], true);
}

#[test]
fn bodies_over_the_limit_are_refused() {
    if !engine_available("bodies_over_the_limit_are_refused") {
        return;
    }
    let docker = capability(DockerConfig {
        max_body_bytes: 64,
        ..DockerConfig::default()
    });
    let error = docker.version().unwrap_err();
    assert!(
        matches!(error, DockerError::TooLarge { limit: 64, .. }),
        "{error:?}"
    );
    let big = serde_json::to_vec(&json!({ "Image": "x", "Env": ["A=".repeat(100)] })).unwrap();
    let error = docker
        .request("POST", "/containers/create", Some(big))
        .unwrap_err();
    assert!(matches!(error, DockerError::TooLarge { .. }), "{error:?}");
    // Small answers still fit.
    assert_eq!(docker.request("GET", "/_ping", None).unwrap().status, 200);
}

#[test]
fn a_shared_runtime_must_be_multi_threaded() {
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(
        DockerCapability::with_runtime(DockerConfig::default(), single.handle().clone()).is_err()
    );
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let docker = DockerCapability::with_runtime(
        DockerConfig {
            socket: dir.path().join("absent.sock"),
            ..DockerConfig::default()
        },
        multi.handle().clone(),
    )
    .unwrap();
    assert!(docker.version().unwrap_err().is_unavailable());
}

#[test]
fn follow_logs_keeps_a_long_interleaved_stream_in_order() {
    let test = "follow_logs_keeps_a_long_interleaved_stream_in_order";
    if !engine_available(test) || busybox_image(test).is_none() {
        return;
    }
    let docker = default_capability();
    let cleanup = ContainerCleanup::new();
    let lines = 5000;
    let script = format!(
        "i=0; while [ $i -lt {lines} ]; do echo out-$i-abcdefghijklmnopqrstuvwxyz; echo err-$i >&2; i=$((i+1)); done"
    );
    let id = create(
        &docker,
        &cleanup,
        docker_image::IMAGE,
        &["sh", "-c", &script],
        json!({}),
    );
    start(&docker, &id);
    let dir = tempfile::tempdir().unwrap();
    let (stdout, stderr) = (dir.path().join("out"), dir.path().join("err"));
    docker.follow_logs(&id, &stdout, &stderr).unwrap();
    wait_for("the log stream to end", Duration::from_secs(60), || {
        docker.active_log_followers() == 0
    });
    let expected_out: String = (0..lines)
        .map(|i| format!("out-{i}-abcdefghijklmnopqrstuvwxyz\n"))
        .collect();
    let expected_err: String = (0..lines).map(|i| format!("err-{i}\n")).collect();
    assert!(std::fs::read_to_string(&stdout).unwrap() == expected_out);
    assert!(std::fs::read_to_string(&stderr).unwrap() == expected_err);
}

#[test]
fn concurrent_callers_share_one_capability() {
    if !engine_available("concurrent_callers_share_one_capability") {
        return;
    }
    let docker = std::sync::Arc::new(default_capability());
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let docker = docker.clone();
            std::thread::spawn(move || {
                for _ in 0..5 {
                    docker.version().unwrap();
                    assert_eq!(docker.request("GET", "/_ping", None).unwrap().status, 200);
                }
            })
        })
        .collect();
    for caller in callers {
        caller.join().unwrap();
    }
}

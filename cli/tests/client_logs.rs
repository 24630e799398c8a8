//! `sched alloc logs` and `/v1/client/fs/*` through the binary: a server
//! agent and a client-only agent, so every request to the server's API is
//! forwarded to the client's HTTP port.

mod client_common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use client_common::*;

fn alloc_of(server: &Agent, job: &str, status: &str) -> String {
    wait_for(Duration::from_secs(60), "the allocation", || {
        allocs(server.http, job)
            .into_iter()
            .find(|a| s(a, "ClientStatus") == status)
            .map(|a| s(&a, "ID"))
    })
}

#[test]
fn alloc_logs_shows_a_batch_jobs_output_and_follows_a_service() {
    let tmp = tempfile::tempdir().unwrap();
    let _sweeper = TaskSweeper {
        root: tmp.path().to_path_buf(),
    };
    let server = server(tmp.path(), "");
    let mut client = client(tmp.path(), "c1", &server, free_port());
    wait_nodes_ready(&server, 1);
    let address = format!("http://127.0.0.1:{}", server.http);

    register(
        server.http,
        tmp.path(),
        "hello",
        &sh_job("hello", "batch", 1, "echo hello from sched; echo oops >&2"),
    );
    let id = alloc_of(&server, "hello", "complete");
    // A prefix of the ID and no task name (the group has one task).
    let out = sched(&["alloc", "logs", "-address", &address, &id[..8]]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from sched\n");
    let out = sched(&["alloc", "logs", "-address", &address, "-stderr", &id, "t"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "oops\n");
    let out = sched(&["alloc", "logs", "-address", &address, &id, "nope"]);
    assert_eq!(out.status.code(), Some(1));

    // The JSON frames, the confined file API and the error codes.
    let (st, body) = http(
        server.http,
        "GET",
        &format!("/v1/client/fs/logs/{id}?task=t&type=stdout"),
        "",
    )
    .unwrap();
    assert_eq!(st, 200);
    let frame: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(frame["Data"], "aGVsbG8gZnJvbSBzY2hlZAo=");
    assert_eq!(frame["File"], "t.stdout.0");
    let ls = get_json(
        server.http,
        &format!("/v1/client/fs/ls/{id}?path=/alloc/logs"),
    )
    .unwrap();
    assert!(
        ls.as_array()
            .unwrap()
            .iter()
            .any(|f| f["Name"] == "t.stdout.0")
    );
    let (st, body) = http(
        server.http,
        "GET",
        &format!("/v1/client/fs/cat/{id}?path=alloc/logs/t.stdout.0"),
        "",
    )
    .unwrap();
    assert_eq!((st, body.as_str()), (200, "hello from sched\n"));
    let stat = get_json(server.http, &format!("/v1/client/fs/stat/{id}?path=alloc")).unwrap();
    assert_eq!(stat["IsDir"], true);
    for (path, code) in [
        (format!("/v1/client/fs/cat/{id}?path=../../server"), 400),
        (format!("/v1/client/fs/logs/{id}?task=t&type=stdin"), 400),
        (format!("/v1/client/fs/logs/{id}?task=t&offset=x"), 400),
        (format!("/v1/client/fs/logs/{id}?task=zz"), 404),
        ("/v1/client/fs/logs/no-such-alloc?task=t".to_string(), 404),
        ("/v1/client/fs/ls/no-such-alloc".to_string(), 404),
        ("/v1/client/allocation/no-such-alloc/stats".to_string(), 404),
    ] {
        let (st, body) = http(server.http, "GET", &path, "").unwrap();
        assert_eq!(st, code, "{path}: {body}");
    }
    assert!(get_json(server.http, &format!("/v1/client/allocation/{id}/stats")).is_some());
    assert!(get_json(client.http, "/v1/client/stats").is_some());

    // A service writing a line every 200 ms: -f keeps printing.
    register(
        server.http,
        tmp.path(),
        "ticker",
        &sh_job(
            "ticker",
            "service",
            1,
            "echo $$ > $NOMAD_ALLOC_DIR/pid; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done",
        ),
    );
    let id = alloc_of(&server, "ticker", "running");
    let tail = wait_for(Duration::from_secs(30), "a few lines", || {
        let out = sched(&[
            "alloc", "logs", "-address", &address, "-tail", "-n", "2", &id,
        ]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success() && text.lines().count() >= 2).then_some(text)
    });
    assert_eq!(tail.lines().count(), 2, "{tail}");
    let n: Vec<u64> = tail
        .lines()
        .map(|l| l.trim_start_matches("tick ").parse().unwrap())
        .collect();
    assert_eq!(n[1], n[0] + 1, "{tail}");
    let mut follow = Command::new(env!("CARGO_BIN_EXE_sched"))
        .args(["alloc", "logs", "-address", &address, "-f", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = follow.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    wait_for(Duration::from_secs(30), "followed lines", || {
        while let Ok(b) = rx.try_recv() {
            seen.push_str(&String::from_utf8_lossy(&b));
        }
        // Lines the task wrote after the command started prove it follows.
        seen.contains("tick 30\n").then_some(())
    });
    assert!(seen.starts_with("tick 1\n"), "{seen}");
    assert!(follow.try_wait().unwrap().is_none(), "-f keeps running");

    // The agent holding the allocation dies during -f: one clear line and a
    // non-zero exit.
    client.kill();
    let status = wait_for(Duration::from_secs(30), "the command to end", || {
        follow.try_wait().unwrap()
    });
    assert!(!status.success());
    let mut err = String::new();
    follow
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: "), "{err}");
}

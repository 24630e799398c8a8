//! https artifacts are checked against the system's roots: a server whose
//! CA is trusted through `SSL_CERT_FILE` serves the artifact; with a bundle
//! that lacks the CA the download fails with a clear event and a failed
//! task.
//!
//! The roots are read from the environment of the client's process, so the
//! client runs in a child process of this test (this same test binary, told
//! so by `SCHED_TEST_TLS_URL`) started with the environment under test.
#![allow(clippy::unwrap_used)]

mod client_support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use client_support::*;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use sched_core::model::Artifact;

const TEST: &str = "https_artifacts_are_checked_against_the_system_roots";

/// A CA, and a certificate for 127.0.0.1 it signed.
fn certificates() -> (String, rustls::ServerConfig) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "sched test CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone(), ca.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    (ca.pem(), config)
}

/// Serves `body` over TLS to `n` connections; returns the port.
fn https_server(config: rustls::ServerConfig, body: &'static [u8], n: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = Arc::new(config);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(n) {
            let Ok(tcp) = stream else { continue };
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
            let Ok(conn) = rustls::ServerConnection::new(Arc::clone(&config)) else {
                continue;
            };
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            // A client that rejects the certificate ends the handshake here.
            let mut reader = BufReader::new(&mut tls);
            let mut line = String::new();
            let mut ok = true;
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => {
                        ok = false;
                        break;
                    }
                    Ok(_) if line == "\r\n" => break,
                    Ok(_) => {}
                }
            }
            if !ok {
                continue;
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = tls.write_all(head.as_bytes());
            let _ = tls.write_all(body);
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    port
}

/// Runs this test again in a child process with `SSL_CERT_FILE` set.
fn run_child(url: &str, cert_file: &std::path::Path, expect: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env("SSL_CERT_FILE", cert_file)
        .env_remove("SSL_CERT_DIR")
        .env("SCHED_TEST_TLS_URL", url)
        .env("SCHED_TEST_TLS_EXPECT", expect)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the client ({expect}) failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn https_artifacts_are_checked_against_the_system_roots() {
    if let Ok(url) = std::env::var("SCHED_TEST_TLS_URL") {
        let expect = std::env::var("SCHED_TEST_TLS_EXPECT").unwrap();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(client(&url, &expect));
        return;
    }
    let dir = tempdir();
    let (ca_pem, config) = certificates();
    let trusted = dir.path().join("ca.pem");
    std::fs::write(&trusted, &ca_pem).unwrap();
    // A bundle with only another CA: the server's is not trusted.
    let (other_pem, _) = certificates();
    let untrusted = dir.path().join("other.pem");
    std::fs::write(&untrusted, &other_pem).unwrap();
    let port = https_server(config, b"payload", 2);
    let url = format!("https://127.0.0.1:{port}/ok");
    run_child(&url, &trusted, "ok");
    run_child(&url, &untrusted, "untrusted");
}

/// The child: a client fetching `url` as an artifact.
async fn client(url: &str, expect: &str) {
    let dir = tempdir();
    let servers = InMemoryServers::new();
    let host = driver_host();
    let (client, _stop) = start(dir.path(), &servers, &host).await;
    let mut task = sh_task("t", "test \"$(cat local/ok)\" = payload");
    task.artifacts = Some(vec![Artifact {
        getter_source: Some(url.to_string()),
        ..Artifact::default()
    }]);
    let a = alloc(&client.node_id(), "batch", vec![task], None);
    let id = a.id.clone();
    servers.put_alloc(a);
    let s = eventually(Duration::from_secs(60), || {
        let s = task_state(&client, &id, "t")?;
        (s.state == "dead").then_some(s)
    })
    .await
    .expect("the task ends");
    if expect == "ok" {
        assert!(!s.failed, "{:#?}", s.events);
    } else {
        assert!(s.failed, "{:#?}", s.events);
        let ev = s
            .events
            .iter()
            .find(|e| e.r#type == "Failed Artifact Download")
            .unwrap_or_else(|| panic!("no download failure in {:#?}", s.events));
        assert!(
            ev.display_message.contains("certificate") && ev.display_message.contains(url),
            "{}",
            ev.display_message
        );
    }
    client.shutdown().await;
}

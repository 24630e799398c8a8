//! The Docker cluster kit proves itself: an image made from the `sched`
//! binary runs in containers on a private network, and optionally an
//! internal control network beside it, that the kit can cut, reconnect,
//! kill, stop and restart, and removes when the test ends.
//!
//! Skipped, with the reason printed, only when no Docker engine answers (a
//! failure instead when `SCHED_REQUIRE_DOCKER` is set, as in CI).

mod support;

use std::time::Duration;

use support::docker_cluster::{
    DockerCluster, LABEL, NodeSpec, SchedImage, docker, sched_binary, skip_without_docker,
};

const EXIT: Duration = Duration::from_secs(60);

fn image() -> Option<SchedImage> {
    if skip_without_docker() {
        return None;
    }
    let binary = sched_binary().expect("the sched binary");
    Some(SchedImage::for_binary(&binary).expect("the image builds"))
}

#[test]
fn two_containers_run_sched_on_a_private_network() {
    let Some(image) = image() else { return };
    assert!(image.tag().starts_with("sched-test:"));
    // The image is reused while the binary is unchanged.
    let again = SchedImage::for_binary(&sched_binary().expect("binary")).expect("image");
    assert_eq!(again.tag(), image.tag());

    let mut cluster = DockerCluster::new(&image).expect("network");
    let a = cluster
        .start(&NodeSpec::new("a", 10, &["version"]))
        .expect("start a");
    let b = cluster
        .start(&NodeSpec::new("b", 11, &["version"]))
        .expect("start b");
    assert_ne!(a, b);
    for name in ["a", "b"] {
        assert_eq!(cluster.wait_exit(name, EXIT).expect("exits"), 0, "{name}");
        let logs = cluster.logs(name).expect("logs");
        assert!(logs.starts_with("sched v"), "{name}: {logs}");
    }
    // Both sat on the private network at their own addresses.
    let network = cluster.network().to_string();
    let subnet = docker(
        &[
            "network",
            "inspect",
            "--format",
            "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
            &network,
        ],
        EXIT,
    )
    .expect("inspect network");
    let ip = cluster.ip(0);
    assert_eq!(subnet.trim(), format!("{ip}/24"));
    for (name, want) in [("a", a), ("b", b)] {
        let container = cluster.container(name).expect("known").to_string();
        let format = format!(
            "{{{{(index .NetworkSettings.Networks \"{network}\").IPAMConfig.IPv4Address}}}}"
        );
        let got = docker(&["inspect", "--format", &format, &container], EXIT).expect("inspect");
        assert_eq!(got.trim(), want.to_string(), "{name}");
    }

    // A second run of a stopped container appends to its logs.
    cluster.restart("a").expect("start again");
    assert_eq!(cluster.wait_exit("a", EXIT).expect("exits"), 0);
    let logs = cluster.logs("a").expect("logs");
    assert_eq!(logs.matches("sched v").count(), 2, "{logs}");

    // Dropping the cluster removes everything it made.
    let containers = [
        cluster.container("a").expect("a").to_string(),
        cluster.container("b").expect("b").to_string(),
    ];
    drop(cluster);
    let left = docker(
        &[
            "ps",
            "--all",
            "--quiet",
            "--filter",
            &format!("label={LABEL}={network}"),
        ],
        EXIT,
    )
    .expect("ps");
    assert!(left.trim().is_empty(), "containers left: {left}");
    for c in containers {
        assert!(docker(&["inspect", &c], EXIT).is_err(), "{c} still exists");
    }
    assert!(
        docker(&["network", "inspect", &network], EXIT).is_err(),
        "network left"
    );
}

#[test]
fn a_running_container_can_be_cut_off_reconnected_killed_and_stopped() {
    let Some(image) = image() else { return };
    let mut cluster = DockerCluster::new(&image).expect("network");
    // `job validate -` reads its standard input to the end; kept open, it
    // keeps the container running until the test ends it.
    let ip = cluster
        .start(&NodeSpec {
            stdin_open: true,
            ..NodeSpec::new("r", 20, &["job", "validate", "-"])
        })
        .expect("start");
    let running = |s: &support::docker_cluster::ContainerState| s.status == "running";
    cluster
        .wait_for("r", "run", EXIT, running)
        .expect("running");
    assert_eq!(cluster.attached_ip("r").expect("inspect"), Some(ip));

    cluster.disconnect("r").expect("disconnect");
    assert_eq!(cluster.attached_ip("r").expect("inspect"), None);
    cluster.connect("r").expect("connect");
    assert_eq!(cluster.attached_ip("r").expect("inspect"), Some(ip));

    cluster.kill("r").expect("kill");
    assert_eq!(cluster.wait_exit("r", EXIT).expect("exits"), 137, "SIGKILL");

    cluster.restart("r").expect("start again");
    cluster
        .wait_for("r", "run again", EXIT, running)
        .expect("running");
    assert_eq!(
        cluster.attached_ip("r").expect("inspect"),
        Some(ip),
        "same address after a restart"
    );
    cluster.stop("r", Duration::from_secs(1)).expect("stop");
    let state = cluster.state("r").expect("state");
    assert_eq!(state.status, "exited");
    assert!(cluster.logs("nobody").is_err(), "unknown names are errors");
}

#[test]
fn mounted_files_and_environment_reach_the_container() {
    let Some(image) = image() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("agent.hcl");
    std::fs::write(
        &config,
        "data_dir = \"/tmp/sched\"\nserver {\n  enabled = true\n  bootstrap_expct = 3\n}\n",
    )
    .expect("write");
    let mut cluster = DockerCluster::new(&image).expect("network");
    cluster
        .start(&NodeSpec {
            mounts: vec![(config, "/etc/sched/agent.hcl".into())],
            env: vec![("NOMAD_ADDR".into(), "http://10.0.0.1:4646".into())],
            ..NodeSpec::new("s", 30, &["agent", "-config", "/etc/sched/agent.hcl"])
        })
        .expect("start");
    // The agent read the mounted file: its error points into it.
    assert_eq!(cluster.wait_exit("s", EXIT).expect("exits"), 1);
    let logs = cluster.logs("s").expect("logs");
    assert!(logs.contains("/etc/sched/agent.hcl:4:3"), "{logs}");
    assert!(logs.contains("did you mean \"bootstrap_expect\""), "{logs}");
    let container = cluster.container("s").expect("known").to_string();
    let env = docker(
        &["inspect", "--format", "{{json .Config.Env}}", &container],
        EXIT,
    )
    .expect("inspect");
    assert!(env.contains("NOMAD_ADDR=http://10.0.0.1:4646"), "{env}");
}

#[test]
fn a_control_network_stays_attached_when_the_cluster_network_is_cut() {
    let Some(image) = image() else { return };
    let mut cluster = DockerCluster::with_control_network(&image).expect("networks");
    let control = cluster
        .control_network()
        .expect("a control network")
        .to_string();
    let ip = cluster
        .start(&NodeSpec {
            stdin_open: true,
            ..NodeSpec::new("c", 40, &["job", "validate", "-"])
        })
        .expect("start");
    let control_ip = cluster.control_ip(40).expect("a control address");
    assert_ne!(ip, control_ip);
    assert_eq!(cluster.attached_ip("c").expect("inspect"), Some(ip));
    assert_eq!(
        cluster.control_attached_ip("c").expect("inspect"),
        Some(control_ip)
    );
    // Internal: it routes nowhere but its own subnet, so it never carries
    // traffic meant for the cut network.
    let internal = docker(
        &["network", "inspect", "--format", "{{.Internal}}", &control],
        EXIT,
    )
    .expect("inspect network");
    assert_eq!(internal.trim(), "true");

    cluster.disconnect("c").expect("disconnect");
    assert_eq!(cluster.attached_ip("c").expect("inspect"), None);
    assert_eq!(
        cluster.control_attached_ip("c").expect("inspect"),
        Some(control_ip),
        "the control network stays"
    );

    drop(cluster);
    assert!(
        docker(&["network", "inspect", &control], EXIT).is_err(),
        "control network left"
    );
}

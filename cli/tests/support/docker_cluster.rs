//! A kit for cluster tests in Docker: an image made from the project's own
//! `sched` binary, and a private network of containers that a test can start,
//! stop, kill, cut off and reconnect, and whose logs it can read.
//!
//! No registry is reachable from the test machines, so nothing is pulled: the
//! image is `docker import`ed from a minimal root filesystem holding the
//! binary (as `/bin/sched`, without its debug info), the shared libraries
//! `ldd` lists for it, and an empty `/tmp`. It is tagged `sched-test:<first 16 hex digits of the
//! binary's SHA-256>` and reused while the binary is unchanged.
//!
//! Everything a [`DockerCluster`] creates carries the label `sched-test` and
//! is removed when the cluster drops, also when the test panics. Every
//! `docker` call has a deadline.
//!
//! The kit drives the `docker` CLI. It uses `$SCHED_BIN`, else the `sched`
//! binary Cargo builds for the CLI's integration tests.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The label on every network and container the kit creates; its value is
/// the network's name, so leftovers of a killed test run can be found with
/// `docker ps -a --filter label=sched-test`.
pub const LABEL: &str = "sched-test";

/// How long one ordinary `docker` call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `docker import` of the image may take.
const IMPORT_TIMEOUT: Duration = Duration::from_secs(180);
/// Private subnets tried for a network before giving up.
const SUBNET_ATTEMPTS: usize = 16;

/// What went wrong driving Docker.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// The `docker` command could not be run at all.
    #[error("cannot run docker {args}: {source}")]
    Spawn {
        /// The arguments.
        args: String,
        /// Why.
        source: std::io::Error,
    },
    /// `docker` ran and failed.
    #[error("docker {args} failed ({status}): {stderr}")]
    Failed {
        /// The arguments.
        args: String,
        /// Its exit status.
        status: String,
        /// What it said.
        stderr: String,
    },
    /// `docker` did not finish in time and was killed.
    #[error("docker {args} did not finish within {timeout:?}")]
    Timeout {
        /// The arguments.
        args: String,
        /// The deadline it missed.
        timeout: Duration,
    },
    /// Building the image's root filesystem failed.
    #[error("cannot build the image's root filesystem: {0}")]
    RootFs(String),
    /// The `sched` binary was not found.
    #[error("no sched binary at {0}: point SCHED_BIN at a built `sched`")]
    NoBinary(PathBuf),
    /// A name the cluster does not know.
    #[error("no container named {0:?} in this cluster")]
    UnknownNode(String),
    /// A container did not reach the awaited state in time.
    #[error("container {name} did not {what} within {timeout:?}")]
    Wait {
        /// The container.
        name: String,
        /// What was awaited.
        what: &'static str,
        /// How long the test waited.
        timeout: Duration,
    },
}

/// Runs `docker ARGS` with a deadline and returns its standard output.
pub fn docker(args: &[&str], timeout: Duration) -> Result<String, DockerError> {
    docker_output(args, timeout).map(|(out, _)| out)
}

/// Runs `docker ARGS` with a deadline and returns its standard output and error.
pub fn docker_output(args: &[&str], timeout: Duration) -> Result<(String, String), DockerError> {
    let shown = args.join(" ");
    let mut child = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| DockerError::Spawn {
            args: shown.clone(),
            source,
        })?;
    // Drain both pipes on their own threads so a chatty command never
    // blocks on a full pipe while we poll for its exit.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(DockerError::Timeout {
                    args: shown,
                    timeout,
                });
            }
            Err(source) => {
                return Err(DockerError::Spawn {
                    args: shown,
                    source,
                });
            }
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if status.success() {
        Ok((stdout, stderr))
    } else {
        Err(DockerError::Failed {
            args: shown,
            status: status.to_string(),
            stderr: stderr.trim().to_string(),
        })
    }
}

/// `None` when a Docker engine answers; otherwise why not, for a skip message.
pub fn docker_unavailable() -> Option<String> {
    match docker(
        &["version", "--format", "{{.Server.Version}}"],
        Duration::from_secs(20),
    ) {
        Ok(v) if !v.trim().is_empty() => None,
        Ok(_) => Some("docker answered without a server version".into()),
        Err(e) => Some(e.to_string()),
    }
}

/// Set (to anything but `0`) where Docker must be there, as in CI: a
/// missing engine then fails the Docker tests instead of skipping them.
pub const REQUIRE_ENV: &str = "SCHED_REQUIRE_DOCKER";

/// Whether a Docker test should skip: `true`, with the reason printed, when
/// no engine answers.
///
/// # Panics
///
/// When no engine answers but `$SCHED_REQUIRE_DOCKER` demands one.
pub fn skip_without_docker() -> bool {
    let Some(reason) = docker_unavailable() else {
        return false;
    };
    let required = std::env::var(REQUIRE_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
    assert!(
        !required,
        "{REQUIRE_ENV} is set but no Docker engine answers: {reason}"
    );
    eprintln!("skipping: no Docker engine answers ({reason})");
    true
}

/// The `sched` binary the image is made from: `$SCHED_BIN`, else the one
/// Cargo built for these tests.
pub fn sched_binary() -> Result<PathBuf, DockerError> {
    let p = std::env::var_os("SCHED_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_sched")));
    if p.is_file() {
        Ok(p)
    } else {
        Err(DockerError::NoBinary(p))
    }
}

/// A local image holding the `sched` binary.
#[derive(Debug, Clone)]
pub struct SchedImage {
    tag: String,
}

/// Serialises image builds within one test process; separate processes
/// building the same tag at once only import the same content twice.
static IMAGE_BUILD: Mutex<()> = Mutex::new(());

impl SchedImage {
    /// The image for `binary`, imported unless an image of the same binary exists.
    pub fn for_binary(binary: &Path) -> Result<Self, DockerError> {
        let bytes = std::fs::read(binary)
            .map_err(|e| DockerError::RootFs(format!("{}: {e}", binary.display())))?;
        let digest = Sha256::digest(&bytes);
        let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let tag = format!("sched-test:{hex}");
        let _guard = IMAGE_BUILD.lock().unwrap_or_else(|p| p.into_inner());
        if docker(
            &["image", "inspect", "--format", "{{.Id}}", &tag],
            CALL_TIMEOUT,
        )
        .is_ok()
        {
            return Ok(SchedImage { tag });
        }
        let staging = tempfile::tempdir().map_err(|e| DockerError::RootFs(e.to_string()))?;
        let root = staging.path().join("rootfs");
        build_rootfs(binary, &root)?;
        let tar = staging.path().join("rootfs.tar");
        let status = Command::new("tar")
            .args(["--numeric-owner", "--owner=0", "--group=0", "-cf"])
            .arg(&tar)
            .arg("-C")
            .arg(&root)
            .arg(".")
            .status()
            .map_err(|e| DockerError::RootFs(format!("tar: {e}")))?;
        if !status.success() {
            return Err(DockerError::RootFs(format!("tar exited with {status}")));
        }
        let tar = tar
            .to_str()
            .ok_or_else(|| DockerError::RootFs("temp path is not UTF-8".into()))?;
        docker(
            &["import", "--message", "sched test image", tar, &tag],
            IMPORT_TIMEOUT,
        )?;
        Ok(SchedImage { tag })
    }

    /// The image's tag.
    pub fn tag(&self) -> &str {
        &self.tag
    }
}

/// Lays out `/bin/sched`, its shared libraries at their host paths, and `/tmp`.
fn build_rootfs(binary: &Path, root: &Path) -> Result<(), DockerError> {
    use std::os::unix::fs::PermissionsExt;
    let fs_err = |what: &str, e: std::io::Error| DockerError::RootFs(format!("{what}: {e}"));
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| fs_err("bin", e))?;
    std::fs::copy(binary, bin.join("sched")).map_err(|e| fs_err("copy sched", e))?;
    // A debug build is mostly debug info, which only slows the import down.
    // Without a working `strip` the image just carries it.
    match Command::new("strip")
        .arg("--strip-debug")
        .arg(bin.join("sched"))
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => {}
        _ => eprintln!("sched image: keeping debug info (strip --strip-debug failed)"),
    }
    std::fs::set_permissions(bin.join("sched"), std::fs::Permissions::from_mode(0o755))
        .map_err(|e| fs_err("chmod sched", e))?;
    let tmp = root.join("tmp");
    std::fs::create_dir_all(&tmp).map_err(|e| fs_err("tmp", e))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777))
        .map_err(|e| fs_err("chmod tmp", e))?;
    let out = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| fs_err("ldd", e))?;
    let listing = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() && !listing.contains("not a dynamic executable") {
        return Err(DockerError::RootFs(format!(
            "ldd {}: {}",
            binary.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    for lib in shared_libraries(&listing)? {
        let rel = lib.strip_prefix("/").unwrap_or(&lib);
        let dest = root.join(rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| fs_err("library dir", e))?;
        }
        // Copying follows symlinks, so the image gets the library itself.
        std::fs::copy(&lib, &dest).map_err(|e| fs_err(&lib.display().to_string(), e))?;
    }
    Ok(())
}

/// The library paths in `ldd` output: `name => /path (addr)` and the
/// loader's `/path (addr)`; a library ldd cannot find is an error, since the
/// binary would not start in the image.
fn shared_libraries(listing: &str) -> Result<Vec<PathBuf>, DockerError> {
    let mut libs = Vec::new();
    for line in listing.lines().map(str::trim) {
        if line.contains("not found") {
            return Err(DockerError::RootFs(format!("ldd: {line}")));
        }
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.trim(),
            None => line,
        };
        if let Some(path) = path
            .split_whitespace()
            .next()
            .filter(|p| p.starts_with('/'))
        {
            libs.push(PathBuf::from(path));
        }
    }
    Ok(libs)
}

/// A container's state as `docker inspect` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    /// created, running, exited, ...
    pub status: String,
    /// The exit code of the last run (0 while running).
    pub exit_code: i64,
}

/// What to run in one container.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// The node's name in the cluster, also the container's host name.
    pub name: String,
    /// Its host number on the network's /24 (2 to 254).
    pub host: u8,
    /// Arguments to `/bin/sched`.
    pub args: Vec<String>,
    /// Keep standard input open (and empty), for commands that read it to the end.
    pub stdin_open: bool,
    /// Host files or directories mounted read-only: (host path, container path),
    /// e.g. an agent config file.
    pub mounts: Vec<(PathBuf, String)>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
}

impl NodeSpec {
    /// A container `name` at host number `host` running `/bin/sched ARGS`.
    pub fn new(name: &str, host: u8, args: &[&str]) -> Self {
        NodeSpec {
            name: name.to_string(),
            host,
            args: args.iter().map(|a| a.to_string()).collect(),
            stdin_open: false,
            mounts: Vec::new(),
            env: Vec::new(),
        }
    }
}

#[derive(Debug)]
struct Node {
    name: String,
    container: String,
    ip: Ipv4Addr,
}

/// A private Docker network and the containers on it; all removed on drop.
///
/// Optionally a second, internal "control" network joins every container
/// too: the host reaches the containers' HTTP APIs over it, so a container
/// cut off the cluster network can still be asked things. Being internal,
/// it gives containers no route anywhere else, so traffic for the cluster
/// network never leaks through it.
#[derive(Debug)]
pub struct DockerCluster {
    image: String,
    network: String,
    subnet: [u8; 3],
    control: Option<(String, [u8; 3])>,
    nodes: Vec<Node>,
}

static CLUSTERS: AtomicU32 = AtomicU32::new(0);

fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// Creates the bridge network `name` on a free private /24 and answers its
/// first three octets.
fn create_network(name: &str, internal: bool) -> Result<[u8; 3], DockerError> {
    let mut last = None;
    for _ in 0..SUBNET_ATTEMPTS {
        let r = random_u64();
        // 10.200.0.0 to 10.254.255.0: far from Docker's own default pools.
        let subnet = [10, 200 + (r % 55) as u8, ((r >> 8) & 0xff) as u8];
        let cidr = format!("{}.{}.{}.0/24", subnet[0], subnet[1], subnet[2]);
        let label = format!("{LABEL}={name}");
        let mut args = vec![
            "network", "create", "--driver", "bridge", "--subnet", &cidr, "--label", &label,
        ];
        if internal {
            args.push("--internal");
        }
        args.push(name);
        match docker(&args, CALL_TIMEOUT) {
            Ok(_) => return Ok(subnet),
            // Another network holds this subnet: try another one.
            Err(e @ DockerError::Failed { .. }) if e.to_string().contains("overlap") => {
                last = Some(e)
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| DockerError::RootFs("no free subnet".into())))
}

impl DockerCluster {
    /// Creates a network with a unique name on a free private /24 subnet.
    pub fn new(image: &SchedImage) -> Result<Self, DockerError> {
        let network = format!(
            "sched-test-{}-{}-{:x}",
            std::process::id(),
            CLUSTERS.fetch_add(1, Ordering::Relaxed),
            random_u64() & 0xffff
        );
        let subnet = create_network(&network, false)?;
        Ok(DockerCluster {
            image: image.tag().to_string(),
            network,
            subnet,
            control: None,
            nodes: Vec::new(),
        })
    }

    /// Like [`DockerCluster::new`], plus an internal control network that
    /// every container started afterwards joins at the same host number
    /// (see [`DockerCluster::control_ip`]).
    pub fn with_control_network(image: &SchedImage) -> Result<Self, DockerError> {
        let mut cluster = Self::new(image)?;
        let name = format!("{}-ctl", cluster.network);
        // Recorded only once created; the cluster's drop removes it then.
        let subnet = create_network(&name, true)?;
        cluster.control = Some((name, subnet));
        Ok(cluster)
    }

    /// The address of host number `host` on the control network, if there is one.
    pub fn control_ip(&self, host: u8) -> Option<Ipv4Addr> {
        self.control
            .as_ref()
            .map(|(_, s)| Ipv4Addr::new(s[0], s[1], s[2], host))
    }

    /// The network's name.
    pub fn network(&self) -> &str {
        &self.network
    }

    /// The address of host number `host` (2 to 254) on this network.
    pub fn ip(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(self.subnet[0], self.subnet[1], self.subnet[2], host)
    }

    fn node(&self, name: &str) -> Result<&Node, DockerError> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| DockerError::UnknownNode(name.to_string()))
    }

    /// Starts a container for `spec` and returns its address on the network.
    pub fn start(&mut self, spec: &NodeSpec) -> Result<Ipv4Addr, DockerError> {
        let ip = self.ip(spec.host);
        let container = format!("{}-{}", self.network, spec.name);
        let mut run: Vec<String> = [
            "run",
            "--detach",
            "--name",
            &container,
            "--hostname",
            &spec.name,
            "--network",
            &self.network,
            "--ip",
            &ip.to_string(),
            "--label",
            &format!("{LABEL}={}", self.network),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if spec.stdin_open {
            run.push("--interactive".into());
        }
        for (host_path, container_path) in &spec.mounts {
            run.push("--volume".into());
            run.push(format!("{}:{container_path}:ro", host_path.display()));
        }
        for (k, v) in &spec.env {
            run.push("--env".into());
            run.push(format!("{k}={v}"));
        }
        run.push(self.image.clone());
        run.push("/bin/sched".into());
        run.extend(spec.args.iter().cloned());
        // Record it first: a container that was created but failed to start
        // still has to be removed on drop.
        self.nodes.push(Node {
            name: spec.name.clone(),
            container,
            ip,
        });
        let run: Vec<&str> = run.iter().map(String::as_str).collect();
        docker(&run, CALL_TIMEOUT)?;
        if let (Some((control, _)), Some(control_ip)) = (&self.control, self.control_ip(spec.host))
        {
            let container = &self.node(&spec.name)?.container;
            docker(
                &[
                    "network",
                    "connect",
                    "--ip",
                    &control_ip.to_string(),
                    control,
                    container,
                ],
                CALL_TIMEOUT,
            )?;
        }
        Ok(ip)
    }

    /// The container's name in Docker.
    pub fn container(&self, name: &str) -> Result<&str, DockerError> {
        Ok(&self.node(name)?.container)
    }

    /// Cuts the container off the network.
    pub fn disconnect(&self, name: &str) -> Result<(), DockerError> {
        let n = self.node(name)?;
        docker(
            &["network", "disconnect", &self.network, &n.container],
            CALL_TIMEOUT,
        )
        .map(drop)
    }

    /// Puts the container back on the network at its address.
    pub fn connect(&self, name: &str) -> Result<(), DockerError> {
        let n = self.node(name)?;
        let ip = n.ip.to_string();
        docker(
            &[
                "network",
                "connect",
                "--ip",
                &ip,
                &self.network,
                &n.container,
            ],
            CALL_TIMEOUT,
        )
        .map(drop)
    }

    /// Stops the container: SIGTERM, then SIGKILL after `grace`.
    pub fn stop(&self, name: &str, grace: Duration) -> Result<(), DockerError> {
        let n = self.node(name)?;
        let secs = grace.as_secs().max(1).to_string();
        docker(
            &["stop", "--time", &secs, &n.container],
            CALL_TIMEOUT + grace,
        )
        .map(drop)
    }

    /// Kills the container with SIGKILL.
    pub fn kill(&self, name: &str) -> Result<(), DockerError> {
        let n = self.node(name)?;
        docker(&["kill", &n.container], CALL_TIMEOUT).map(drop)
    }

    /// Starts a stopped container again, with its original command.
    pub fn restart(&self, name: &str) -> Result<(), DockerError> {
        let n = self.node(name)?;
        docker(&["start", &n.container], CALL_TIMEOUT).map(drop)
    }

    /// Standard output and error of every run of the container so far.
    pub fn logs(&self, name: &str) -> Result<String, DockerError> {
        let n = self.node(name)?;
        // `docker logs` replays the container's stderr on its own stderr.
        let (out, err) = docker_output(&["logs", &n.container], CALL_TIMEOUT)?;
        Ok(out + &err)
    }

    /// The container's state.
    pub fn state(&self, name: &str) -> Result<ContainerState, DockerError> {
        let n = self.node(name)?;
        let out = docker(
            &[
                "inspect",
                "--format",
                "{{.State.Status}} {{.State.ExitCode}}",
                &n.container,
            ],
            CALL_TIMEOUT,
        )?;
        let mut parts = out.split_whitespace();
        let status = parts.next().unwrap_or_default().to_string();
        let exit_code = parts.next().and_then(|c| c.parse().ok()).unwrap_or(-1);
        Ok(ContainerState { status, exit_code })
    }

    /// The container's address on this network while it is attached, `None` when it is not.
    pub fn attached_ip(&self, name: &str) -> Result<Option<Ipv4Addr>, DockerError> {
        self.ip_on(name, &self.network)
    }

    /// The control network's name, if the cluster has one.
    pub fn control_network(&self) -> Option<&str> {
        self.control.as_ref().map(|(name, _)| name.as_str())
    }

    /// The container's address on the control network while it is attached.
    pub fn control_attached_ip(&self, name: &str) -> Result<Option<Ipv4Addr>, DockerError> {
        match self.control_network() {
            Some(control) => self.ip_on(name, control),
            None => Ok(None),
        }
    }

    fn ip_on(&self, name: &str, network: &str) -> Result<Option<Ipv4Addr>, DockerError> {
        let n = self.node(name)?;
        let format = format!(
            "{{{{with index .NetworkSettings.Networks \"{network}\"}}}}{{{{.IPAddress}}}}{{{{end}}}}"
        );
        let out = docker(
            &["inspect", "--format", &format, &n.container],
            CALL_TIMEOUT,
        )?;
        Ok(out.trim().parse().ok())
    }

    /// Polls until `pred` holds for the container's state or `timeout` passes.
    pub fn wait_for(
        &self,
        name: &str,
        what: &'static str,
        timeout: Duration,
        pred: impl Fn(&ContainerState) -> bool,
    ) -> Result<ContainerState, DockerError> {
        let deadline = Instant::now() + timeout;
        loop {
            let state = self.state(name)?;
            if pred(&state) {
                return Ok(state);
            }
            if Instant::now() >= deadline {
                return Err(DockerError::Wait {
                    name: name.to_string(),
                    what,
                    timeout,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the container to exit and returns its exit code.
    pub fn wait_exit(&self, name: &str, timeout: Duration) -> Result<i64, DockerError> {
        self.wait_for(name, "exit", timeout, |s| {
            s.status == "exited" || s.status == "dead"
        })
        .map(|s| s.exit_code)
    }
}

impl Drop for DockerCluster {
    fn drop(&mut self) {
        for n in &self.nodes {
            if let Err(e) = docker(&["rm", "--force", "--volumes", &n.container], CALL_TIMEOUT) {
                eprintln!("docker cluster cleanup: {e}");
            }
        }
        let control = self.control.as_ref().map(|(name, _)| name.as_str());
        for network in std::iter::once(self.network.as_str()).chain(control) {
            if let Err(e) = docker(&["network", "rm", network], CALL_TIMEOUT) {
                eprintln!("docker cluster cleanup: {e}");
            }
        }
    }
}

#[test]
fn ldd_output_lists_libraries_and_the_loader() {
    let listing = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
    assert_eq!(
        shared_libraries(listing).expect("all found"),
        [
            PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
            PathBuf::from("/lib64/ld-linux-x86-64.so.2")
        ]
    );
    let missing = "\tlibmissing.so => not found\n";
    assert!(shared_libraries(missing).is_err());
}

//! The local test image for docker tests, `sched-busybox:latest`, built
//! from the host's static busybox because no image can be pulled here.
//!
//! Owns building the image once per test process (installing
//! `busybox-static` when `/bin/busybox` is absent), saving it as an archive
//! for `load_image` tests, and cleaning up what each test creates. It talks
//! to the engine with the docker CLI, not the capability, because importing
//! images is (rightly) not on the drivers' allow-list.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The engine socket the tests use.
pub const SOCKET: &str = "/var/run/docker.sock";
/// The test image.
pub const IMAGE: &str = "sched-busybox:latest";
/// The busybox applets the image links.
const APPLETS: &[&str] = &[
    "sh", "httpd", "sleep", "echo", "cat", "wget", "true", "false", "ls", "ps",
];

/// Whether the engine is here; says so loudly when it is not.
pub fn engine_available(test: &str) -> bool {
    if Path::new(SOCKET).exists() {
        return true;
    }
    eprintln!("\n!!!!!!!!!! SKIPPED {test}: no Docker Engine socket at {SOCKET} !!!!!!!!!!\n");
    false
}

/// The test image, built if missing; `None` (after saying so loudly) when
/// it cannot be built here.
pub fn busybox_image(test: &str) -> Option<&'static str> {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    match BUILT.get_or_init(build_image) {
        Ok(()) => Some(IMAGE),
        Err(reason) => {
            eprintln!("\n!!!!!!!!!! SKIPPED {test}: cannot build {IMAGE}: {reason} !!!!!!!!!!\n");
            None
        }
    }
}

/// A name unique to this test process and call, for labels and tags.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}-{}-{nanos:x}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// Runs the docker CLI.
pub fn docker(args: &[&str]) -> std::io::Result<Output> {
    Command::new("docker").args(args).output()
}

fn build_image() -> Result<(), String> {
    // Test runners that start one process per test would otherwise build
    // (and apt-get install) concurrently.
    let lock = std::fs::File::create(std::env::temp_dir().join("sched-busybox-image.lock"))
        .map_err(|e| format!("creating the image build lock: {e}"))?;
    lock.lock()
        .map_err(|e| format!("taking the image build lock: {e}"))?;
    if docker(&["image", "inspect", IMAGE])
        .map(|out| out.status.success())
        .unwrap_or(false)
    {
        return Ok(());
    }
    let busybox = Path::new("/bin/busybox");
    if !busybox.exists() {
        eprintln!("installing busybox-static for the docker test image");
        let install = || {
            Command::new("apt-get")
                .args(["-o", "DPkg::Lock::Timeout=120", "install", "-y", "-q"])
                .arg("busybox-static")
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .map(|status| status.success())
                .unwrap_or(false)
        };
        if !install() {
            let _ = Command::new("apt-get").args(["update", "-q"]).status();
            if !install() {
                return Err("apt-get install busybox-static failed".to_owned());
            }
        }
    }
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let rootfs = work.path().join("rootfs");
    for dir in ["bin", "www", "tmp", "etc"] {
        std::fs::create_dir_all(rootfs.join(dir)).map_err(|e| e.to_string())?;
    }
    std::fs::copy(busybox, rootfs.join("bin/busybox")).map_err(|e| e.to_string())?;
    for applet in APPLETS {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet))
            .map_err(|e| e.to_string())?;
    }
    std::fs::write(rootfs.join("www/index.html"), "hello from sched-busybox\n")
        .map_err(|e| e.to_string())?;
    std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/:/bin/sh\n")
        .map_err(|e| e.to_string())?;
    let tarball = work.path().join("rootfs.tar");
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tarball)
        .arg(".")
        .output()
        .map_err(|e| format!("running tar: {e}"))?;
    if !tar.status.success() {
        return Err(format!(
            "tar failed: {}",
            String::from_utf8_lossy(&tar.stderr)
        ));
    }
    let tarball = tarball.to_string_lossy().into_owned();
    let import = docker(&["import", "--change", "ENV PATH=/bin", &tarball, IMAGE])
        .map_err(|e| format!("running docker import: {e}"))?;
    if !import.status.success() {
        return Err(format!(
            "docker import failed: {}",
            String::from_utf8_lossy(&import.stderr)
        ));
    }
    Ok(())
}

/// A uniquely tagged copy of the test image saved as a `docker save`
/// archive, with the tag removed from the engine again so that loading the
/// archive brings it back. Dropping it deletes the archive and the tag.
#[derive(Debug)]
pub struct SavedImage {
    /// The tag inside the archive.
    pub tag: String,
    /// The archive.
    pub archive: PathBuf,
    _dir: tempfile::TempDir,
}

impl SavedImage {
    /// Saves the test image under a fresh tag.
    pub fn new() -> Result<Self, String> {
        let tag = format!("{}:latest", unique("sched-busybox-load"));
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let archive = dir.path().join("image.tar");
        let archive_arg = archive.to_string_lossy().into_owned();
        for args in [
            vec!["tag", IMAGE, tag.as_str()],
            vec!["save", "-o", archive_arg.as_str(), tag.as_str()],
            vec!["rmi", tag.as_str()],
        ] {
            let out = docker(&args).map_err(|e| e.to_string())?;
            if !out.status.success() {
                let _ = docker(&["rmi", &tag]);
                return Err(format!(
                    "docker {} failed: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        Ok(Self {
            tag,
            archive,
            _dir: dir,
        })
    }
}

impl Drop for SavedImage {
    fn drop(&mut self) {
        let _ = docker(&["rmi", &self.tag]);
    }
}

/// Removes every container carrying `sched.test=<label>` when dropped, so a
/// failing test leaves nothing behind.
#[derive(Debug)]
pub struct ContainerCleanup {
    /// The value of the `sched.test` label the test's containers carry.
    pub label: String,
}

impl ContainerCleanup {
    /// A fresh label and its cleanup.
    pub fn new() -> Self {
        Self {
            label: unique("sched-test"),
        }
    }

    /// The containers still carrying the label, per the CLI.
    pub fn remaining(&self) -> Vec<String> {
        let filter = format!("label=sched.test={}", self.label);
        docker(&["ps", "-aq", "--filter", &filter])
            .map(|out| {
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for ContainerCleanup {
    fn drop(&mut self) {
        let ids = self.remaining();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids.iter().map(String::as_str));
            let _ = docker(&args);
        }
    }
}

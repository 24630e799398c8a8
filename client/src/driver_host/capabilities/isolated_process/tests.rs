//! Sandboxes for real. Every test here needs root and skips (loudly)
//! without it; this machine and CI run as root, so they run there.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::*;

fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    // Straight to the stream: the test harness captures eprintln!, and a
    // skip must show in every run, not only in failing ones.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: building a sandbox needs root"
    );
    false
}

/// A task laid out as the exec driver describes it: the task dir is the
/// root, the system directories are bound read-only, alloc/ read-write;
/// next to it a marker standing in for the client's data dir.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    alloc: PathBuf,
    marker: PathBuf,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let alloc_dir = dir.path().join("alloc").join(format!("{:x}", rand_id()));
        let root = alloc_dir.join("task");
        let alloc = alloc_dir.join("alloc");
        fs::create_dir_all(root.join("local")).unwrap();
        fs::create_dir_all(&alloc).unwrap();
        let marker = dir.path().join("client-data");
        fs::create_dir_all(&marker).unwrap();
        fs::write(marker.join("secret"), "client state").unwrap();
        Self {
            stdout: dir.path().join("stdout.log"),
            stderr: dir.path().join("stderr.log"),
            root,
            alloc,
            marker,
            _dir: dir,
        }
    }

    fn sandbox(&self, hostname: &str) -> SandboxSpec {
        let mut mounts: Vec<BindMount> = ["/bin", "/etc", "/lib", "/lib64", "/sbin", "/usr"]
            .into_iter()
            .filter(|p| Path::new(p).exists())
            .map(|p| BindMount {
                host_path: p.into(),
                sandbox_path: p.into(),
                read_only: true,
            })
            .collect();
        mounts.push(BindMount {
            host_path: s(&self.alloc),
            sandbox_path: "/alloc".into(),
            read_only: false,
        });
        SandboxSpec {
            root: s(&self.root),
            mounts,
            hostname: hostname.into(),
            isolate_network: false,
            resources: Resources {
                cpu_mhz: 250,
                cores: 0,
                memory_mb: 64,
                memory_max_mb: 0,
            },
            keep_capabilities: Vec::new(),
        }
    }

    fn shell(&self, script: &str) -> SpawnSpec {
        SpawnSpec {
            argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            cwd: "/local".into(),
            user: None,
            stdout_path: s(&self.stdout),
            stderr_path: s(&self.stderr),
        }
    }

    fn output(&self) -> String {
        fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    fn cgroup(&self, svc: &IsolatedProcesses) -> TaskCgroup {
        let root = self.root.canonicalize().unwrap();
        svc.cgroups().unwrap().task(&cgroups::name_for_root(&root))
    }
}

/// A failing test must not leave its sandbox behind: whatever the
/// fixture's cgroup still holds is killed and the cgroup removed.
impl Drop for Fixture {
    fn drop(&mut self) {
        let (Ok(root), Ok(cgroups)) = (self.root.canonicalize(), Cgroups::detect()) else {
            return;
        };
        let cg = cgroups.task(&cgroups::name_for_root(&root));
        for _ in 0..200 {
            let pids = cg.pids();
            if pids.is_empty() {
                break;
            }
            for p in pids {
                let _ = kill(Pid::from_raw(p as i32), Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = cg.remove();
    }
}

fn rand_id() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    u64::from(nanos) ^ (u64::from(std::process::id()) << 32) ^ (&nanos as *const u32 as u64)
}

fn wait_exit(svc: &IsolatedProcesses, pid: u32, within: Duration) -> ExitResult {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(exit) = svc.wait(pid, 5000).unwrap() {
            return exit;
        }
    }
    panic!("sandbox {pid} still running after {within:?}");
}

fn gone(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // A zombie waiting for its (host) reaper holds nothing any more.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z')),
    }
}

#[test]
fn task_sees_only_its_processes_its_root_and_its_hostname() {
    if !root_or_skip("task_sees_only_its_processes_its_root_and_its_hostname") {
        return;
    }
    let f = Fixture::new();
    let svc = IsolatedProcesses::new();
    let marker = s(&f.marker);
    // A descriptor without close-on-exec, as a careless library would leave.
    let leak = fs::File::create(f.marker.join("leaked-fd")).unwrap();
    nix::fcntl::fcntl(
        &leak,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .unwrap();
    let script = format!(
        r#"for p in /proc/[0-9]*; do echo "pid ${{p#/proc/}} $(cat $p/comm)"; done
echo "hostname $(/bin/hostname)"
echo "root entries $(ls -A /root 2>/dev/null | wc -l)"
[ -e {marker} ] && echo "marker visible" || echo "marker hidden"
[ -e {marker}/secret ] && echo "secret visible" || echo "secret hidden"
echo x > /usr/evil 2>/dev/null && echo "usr writable" || echo "usr read-only"
echo x > /etc/evil 2>/dev/null && echo "etc writable" || echo "etc read-only"
echo ok > /local/file && echo "local writable"
echo ok > /alloc/shared && echo "alloc writable"
echo "cwd $(pwd)"
echo "leaked $(ls -l /proc/$$/fd | grep -c leaked-fd)"
echo "devices $(ls /dev | tr '\n' ' ')"
if command -v ps >/dev/null; then ps -e -o pid= -o comm= | sed 's/^ */ps /'; fi
"#
    );
    let pid = svc.spawn(&f.shell(&script), &f.sandbox("web-1")).unwrap();
    let exit = wait_exit(&svc, pid, Duration::from_secs(20));
    let out = f.output();
    assert_eq!(
        exit,
        ExitResult::default(),
        "{out}\n{}",
        fs::read_to_string(&f.stderr).unwrap_or_default()
    );

    let pids: Vec<(u32, String)> = out
        .lines()
        .filter_map(|l| l.strip_prefix("pid "))
        .map(|l| {
            let (pid, comm) = l.split_once(' ').unwrap();
            (pid.parse().unwrap(), comm.to_owned())
        })
        .collect();
    assert!(pids.contains(&(1, "sched-init".into())), "{out}");
    assert!(pids.iter().any(|(p, c)| *p == 2 && c == "sh"), "{out}");
    assert!(
        pids.len() <= 4 && pids.iter().all(|(p, _)| *p < 10),
        "only the task's processes: {out}"
    );
    let ps: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("ps ")).collect();
    if Path::new("/usr/bin/ps").exists() || Path::new("/bin/ps").exists() {
        assert!(ps.contains(&"1 sched-init"), "{out}");
        assert!(ps.len() <= 5, "ps lists only the task's processes: {out}");
    }
    assert!(out.contains("hostname web-1\n"), "{out}");
    assert!(out.contains("root entries 0\n"), "{out}");
    assert!(
        out.contains("marker hidden\n") && out.contains("secret hidden\n"),
        "{out}"
    );
    assert!(
        out.contains("usr read-only\n") && out.contains("etc read-only\n"),
        "{out}"
    );
    assert!(
        out.contains("local writable\n") && out.contains("alloc writable\n"),
        "{out}"
    );
    assert!(out.contains("cwd /local\n"), "{out}");
    assert!(
        out.contains("leaked 0\n"),
        "descriptors the client left open stay out: {out}"
    );
    assert!(out.contains("null ") && out.contains("urandom "), "{out}");
    assert_eq!(
        fs::read_to_string(f.root.join("local/file")).unwrap(),
        "ok\n"
    );
    assert_eq!(fs::read_to_string(f.alloc.join("shared")).unwrap(), "ok\n");
    assert!(!Path::new("/usr/evil").exists());
    assert!(!svc.is_alive(pid, 0));
    svc.kill_tree(pid).unwrap();
    assert!(f.cgroup(&svc).dirs().iter().all(|d| !d.exists()));
}

#[test]
fn over_its_memory_limit_the_task_is_oom_killed() {
    if !root_or_skip("over_its_memory_limit_the_task_is_oom_killed") {
        return;
    }
    let f = Fixture::new();
    let svc = IsolatedProcesses::new();
    let mut sandbox = f.sandbox("oom");
    sandbox.resources.memory_mb = 32;
    // tail keeps the last "line" — 200 MB without a newline — in memory.
    let pid = svc
        .spawn(
            &f.shell("sleep 0.3; head -c 200M /dev/zero | tail -n 1 >/dev/null"),
            &sandbox,
        )
        .unwrap();
    let cg = f.cgroup(&svc);
    if let Cgroups::V1 { memory, cpu, .. } = svc.cgroups().unwrap() {
        let mem = cg.dirs().iter().find(|d| d.starts_with(memory)).unwrap();
        assert_eq!(
            fs::read_to_string(mem.join("memory.limit_in_bytes"))
                .unwrap()
                .trim(),
            (32u64 << 20).to_string()
        );
        let cpu = cg.dirs().iter().find(|d| d.starts_with(cpu)).unwrap();
        assert_eq!(
            fs::read_to_string(cpu.join("cpu.shares")).unwrap().trim(),
            "250"
        );
    }
    let exit = wait_exit(&svc, pid, Duration::from_secs(60));
    assert!(exit.oom_killed, "{exit:?}");
    assert!(exit.exit_code == 137 || exit.signal == 9, "{exit:?}");
    svc.kill_tree(pid).unwrap();
}

#[test]
fn sigterm_stops_the_task_and_kill_tree_leaves_nothing() {
    if !root_or_skip("sigterm_stops_the_task_and_kill_tree_leaves_nothing") {
        return;
    }
    let f = Fixture::new();
    let svc = IsolatedProcesses::new();
    let started = now_ns();
    let pid = svc
        .spawn(&f.shell("sleep 1000"), &f.sandbox("term"))
        .unwrap();
    assert!(svc.is_alive(pid, started));
    assert!(
        !svc.is_alive(pid, started - 60_000_000_000),
        "a different start time is another process"
    );
    // The same task directory cannot hold two running sandboxes.
    let err = svc.spawn(&f.shell("true"), &f.sandbox("term")).unwrap_err();
    assert!(err.to_string().contains("still has processes"), "{err}");
    assert!(svc.is_alive(pid, started), "the running one is untouched");
    assert_eq!(svc.wait(pid, 50).unwrap(), None);
    svc.signal(pid, "SIGTERM").unwrap();
    let exit = wait_exit(&svc, pid, Duration::from_secs(10));
    assert_eq!(exit.signal, 15, "{exit:?}");
    assert!(!svc.is_alive(pid, started));
    svc.kill_tree(pid).unwrap();
    assert!(f.cgroup(&svc).dirs().iter().all(|d| !d.exists()));

    // A tree of processes, some in the background, all killed.
    let pid = svc
        .spawn(
            &f.shell("sleep 1000 & sleep 1000 & (sleep 1000 &) ; sleep 1000"),
            &f.sandbox("tree"),
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while svc.usage(pid).unwrap().pids < 6 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let usage = svc.usage(pid).unwrap();
    assert!(usage.pids >= 6, "{usage:?}");
    assert!(usage.memory_usage > 0 && usage.timestamp > 0, "{usage:?}");
    let members = f.cgroup(&svc).pids();
    assert!(members.contains(&pid));
    svc.kill_tree(pid).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !members.iter().all(|p| gone(*p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(members.iter().all(|p| gone(*p)), "left behind: {members:?}");
    assert!(f.cgroup(&svc).dirs().iter().all(|d| !d.exists()));
    assert_eq!(svc.wait(pid, 0).unwrap().map(|e| e.signal), Some(9));
    assert!(
        svc.signal(pid, "SIGTERM").is_ok(),
        "signalling an ended sandbox is a no-op"
    );
    assert!(matches!(
        svc.signal(pid, "SIGNOPE"),
        Err(IsolationError::UnknownSignal(_))
    ));
}

#[test]
fn exec_runs_commands_inside_the_running_sandbox() {
    if !root_or_skip("exec_runs_commands_inside_the_running_sandbox") {
        return;
    }
    let f = Fixture::new();
    let svc = IsolatedProcesses::new();
    let pid = svc
        .spawn(
            &f.shell("echo ready > /local/ready; sleep 1000"),
            &f.sandbox("exec-host"),
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f.root.join("local/ready").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let env = vec![("PATH".to_string(), "/usr/bin:/bin".to_string())];
    let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    let out = svc
        .exec(pid, &argv(&["cat", "/local/ready"]), &env, 5000)
        .unwrap();
    assert_eq!(
        (out.stdout.as_slice(), out.exit),
        (&b"ready\n"[..], ExitResult::default())
    );
    let out = svc.exec(pid, &argv(&["hostname"]), &env, 5000).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "exec-host\n");
    let name = cgroups::name_for_root(&f.root.canonicalize().unwrap());
    let script =
        "echo $$; cat /proc/self/cgroup; ls /proc | grep -c '^[0-9]'; echo oops >&2; exit 3";
    let out = svc
        .exec(pid, &argv(&["sh", "-c", script]), &env, 5000)
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let shell_pid: u32 = stdout.lines().next().unwrap().parse().unwrap();
    assert!(
        shell_pid < 20,
        "the command is in the sandbox's pid namespace: {stdout}"
    );
    assert!(
        stdout.contains(&format!("/sched/{name}")),
        "and in its cgroup: {stdout}"
    );
    assert_eq!(out.stderr, b"oops\n");
    assert_eq!(out.exit.exit_code, 3);
    // The host's marker is not visible to exec'd commands either.
    let out = svc
        .exec(pid, &argv(&["ls", &s(&f.marker)]), &env, 5000)
        .unwrap();
    assert_ne!(out.exit.exit_code, 0);
    // Output is bounded.
    let out = svc
        .exec(
            pid,
            &argv(&["head", "-c", "3000000", "/dev/zero"]),
            &env,
            10_000,
        )
        .unwrap();
    assert_eq!(out.stdout.len(), EXEC_OUTPUT_LIMIT);
    // A command that outlives its timeout is killed.
    let started = Instant::now();
    let err = svc
        .exec(pid, &argv(&["sleep", "30"]), &env, 300)
        .unwrap_err();
    assert!(matches!(err, IsolationError::Timeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let err = svc
        .exec(pid, &argv(&["no-such-program"]), &env, 1000)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("execute \"no-such-program\" in the sandbox: ENOENT"),
        "{err}"
    );

    svc.kill_tree(pid).unwrap();
    assert!(matches!(
        svc.exec(pid, &argv(&["true"]), &env, 1000),
        Err(IsolationError::NotFound(_))
    ));
}

#[test]
fn user_capabilities_and_network_are_as_asked() {
    if !root_or_skip("user_capabilities_and_network_are_as_asked") {
        return;
    }
    let f = Fixture::new();
    fs::set_permissions(
        f.root.join("local"),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let svc = IsolatedProcesses::new();
    let mut spec = f.shell("id -u; id -g; grep -E '^Cap(Eff|Bnd|Amb)' /proc/self/status; cat /proc/net/dev | tail -n +3 | cut -d: -f1");
    spec.user = Some("nobody".into());
    let mut sandbox = f.sandbox("caps");
    sandbox.keep_capabilities = vec!["CAP_NET_BIND_SERVICE".into()];
    sandbox.isolate_network = true;
    let pid = svc.spawn(&spec, &sandbox).unwrap();
    let exit = wait_exit(&svc, pid, Duration::from_secs(20));
    let out = f.output();
    assert_eq!(exit, ExitResult::default(), "{out}");
    let nobody = user::resolve("nobody").unwrap();
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(lines[0], nobody.uid.to_string());
    assert_eq!(lines[1], nobody.gid.to_string());
    // CAP_NET_BIND_SERVICE is bit 10.
    assert!(out.contains("CapEff:\t0000000000000400"), "{out}");
    assert!(out.contains("CapBnd:\t0000000000000400"), "{out}");
    assert!(out.contains("CapAmb:\t0000000000000400"), "{out}");
    assert_eq!(
        lines[5..],
        ["lo"],
        "only loopback in a new network namespace: {out}"
    );
    svc.kill_tree(pid).unwrap();
}

#[test]
fn bad_input_is_refused_clearly_and_leaves_nothing_behind() {
    if !root_or_skip("bad_input_is_refused_clearly_and_leaves_nothing_behind") {
        return;
    }
    let f = Fixture::new();
    let svc = IsolatedProcesses::new();
    let good = f.sandbox("bad");
    let spec = f.shell("true");
    let check = |spec: &SpawnSpec, sandbox: &SandboxSpec, expect: &str| {
        let err = svc.spawn(spec, sandbox).unwrap_err().to_string();
        assert!(err.contains(expect), "expected {expect:?} in {err:?}");
        assert!(
            f.cgroup(&svc).dirs().iter().all(|d| !d.exists()),
            "cgroup left after {err}"
        );
    };

    let mut sb = good.clone();
    sb.root = s(&f.root.join("missing"));
    check(&spec, &sb, "sandbox root");
    sb.root = "relative/task".into();
    check(
        &spec,
        &sb,
        "sandbox root \"relative/task\" is not an absolute path",
    );
    let mut sb = good.clone();
    sb.mounts.push(BindMount {
        host_path: "/no/such/dir".into(),
        sandbox_path: "/data".into(),
        read_only: true,
    });
    check(&spec, &sb, "mount source /no/such/dir");
    let mut sb = good.clone();
    sb.mounts.push(BindMount {
        host_path: "/usr".into(),
        sandbox_path: "relative".into(),
        read_only: true,
    });
    check(
        &spec,
        &sb,
        "mount target \"relative\" is not an absolute path",
    );
    let mut sb = good.clone();
    sb.keep_capabilities = vec!["CAP_TELEPORT".into()];
    check(&spec, &sb, "unknown capability \"CAP_TELEPORT\"");
    let mut bad = spec.clone();
    bad.user = Some("no-such-user-here".into());
    check(&bad, &good, "unknown user \"no-such-user-here\"");
    let mut bad = spec.clone();
    bad.argv = vec!["/bin/no-such-program".into()];
    check(
        &bad,
        &good,
        "execute \"/bin/no-such-program\" in the sandbox: ENOENT",
    );
    let mut bad = spec.clone();
    bad.cwd = "/no-such-dir".into();
    check(
        &bad,
        &good,
        "enter the working directory /no-such-dir: ENOENT",
    );
    let mut bad = spec.clone();
    bad.argv.clear();
    check(&bad, &good, "argv is empty");
    let mut bad = spec.clone();
    bad.stdout_path = "out.log".into();
    check(
        &bad,
        &good,
        "stdout path \"out.log\" is not an absolute path",
    );
    let mut sb = good.clone();
    sb.hostname = "no spaces".into();
    check(&spec, &sb, "hostname \"no spaces\"");
    assert!(matches!(
        svc.wait(4_000_000, 0),
        Err(IsolationError::NotFound(4_000_000))
    ));
    assert!(!svc.is_alive(4_000_000, 0));
}

#[test]
fn the_init_reaps_orphans() {
    if !root_or_skip("the_init_reaps_orphans") {
        return;
    }
    let f = Fixture::new();
    let svc = IsolatedProcesses::new();
    // Each subshell exits at once; its `true` is re-parented to the init,
    // which must reap it or it stays a zombie.
    let script = "for i in 1 2 3 4 5; do (true &); done; sleep 0.5; cat /proc/[0-9]*/stat | cut -d' ' -f3 | sort | uniq -c";
    let pid = svc.spawn(&f.shell(script), &f.sandbox("reaper")).unwrap();
    let exit = wait_exit(&svc, pid, Duration::from_secs(20));
    let out = f.output();
    assert_eq!(exit, ExitResult::default(), "{out}");
    assert!(!out.contains(" Z"), "zombies left: {out}");
    svc.kill_tree(pid).unwrap();
}

#[test]
fn the_service_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<IsolatedProcesses>();
}

#[test]
fn a_sandbox_from_an_earlier_instance_is_found_through_proc() {
    if !root_or_skip("a_sandbox_from_an_earlier_instance_is_found_through_proc") {
        return;
    }
    let f = Fixture::new();
    let first = IsolatedProcesses::new();
    let started = now_ns();
    let pid = first
        .spawn(&f.shell("sleep 1000"), &f.sandbox("restart"))
        .unwrap();
    // A new instance, as after a client restart.
    let second = IsolatedProcesses::new();
    assert!(second.is_alive(pid, started));
    assert_eq!(second.wait(pid, 20).unwrap(), None);
    assert!(second.usage(pid).unwrap().pids >= 2);
    second.signal(pid, "SIGCONT").unwrap();
    second.kill_tree(pid).unwrap();
    assert!(f.cgroup(&second).dirs().iter().all(|d| !d.exists()));
    assert_eq!(first.wait(pid, 1000).unwrap().map(|e| e.signal), Some(9));
    // Other test threads fork at any moment, and a child that has not
    // exec'd yet holds a copy of the record's lock for that moment: the
    // answer settles within a bounded wait, as the client's polls see it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match second.wait(pid, 50) {
            Err(IsolationError::NotFound(_)) => break,
            other => assert!(
                std::time::Instant::now() < deadline,
                "the ended sandbox is still reported: {other:?}"
            ),
        }
    }
}

#[test]
fn exec_returns_when_the_command_ends_even_if_a_child_keeps_its_output() {
    if !root_or_skip("exec_returns_when_the_command_ends_even_if_a_child_keeps_its_output") {
        return;
    }
    let f = Fixture::new();
    let svc = IsolatedProcesses::new();
    let pid = svc.spawn(&f.shell("sleep 1000"), &f.sandbox("bg")).unwrap();
    let env = vec![("PATH".to_string(), "/usr/bin:/bin".to_string())];
    let argv: Vec<String> = ["sh", "-c", "echo started; sleep 30 & exit 0"]
        .map(String::from)
        .into();
    let started = Instant::now();
    let out = svc.exec(pid, &argv, &env, 10_000).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        (out.stdout.as_slice(), out.exit.exit_code),
        (&b"started\n"[..], 0)
    );
    svc.kill_tree(pid).unwrap();
}

#[test]
fn an_exit_while_no_client_runs_is_read_from_the_record() {
    if !root_or_skip("an_exit_while_no_client_runs_is_read_from_the_record") {
        return;
    }
    let f = Fixture::new();
    let records = f._dir.path().join("exit-records");
    let service = || {
        IsolatedProcesses::with_cgroups_and_records(
            Cgroups::detect().map_err(|e| e.to_string()),
            &records,
        )
    };
    let first = service();
    let started = now_ns();
    let pid = first
        .spawn(&f.shell("exit 3"), &f.sandbox("ended"))
        .unwrap();
    // The client goes away before the task ends (its descriptors with it).
    let cgroup = f.cgroup(&first);
    drop(first);
    let second = service();
    assert!(second.is_alive(pid, started), "adopted on its record");
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = second.wait(pid, 1000).unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "no end recorded");
    };
    assert_eq!((exit.exit_code, exit.signal), (3, 0));
    assert!(!second.is_alive(pid, started));
    assert_eq!(second.wait(pid, 0).unwrap(), Some(exit));
    cgroup.remove().unwrap();
}

# An isolated service: the exec driver runs the task in its own namespaces and
# chroot, as an unprivileged user, under cgroup cpu and memory limits.
# Run it:   sched run jobspecs/exec-isolated.nomad.hcl   (client must run as root)
# Stopping it sends SIGINT, then SIGKILL if the task is still up after 10s.

job "exec-isolated" {
  datacenters = ["*"]
  type        = "service"

  group "sleeper" {
    count = 1

    task "sleep" {
      driver = "exec"
      user   = "nobody"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }

      kill_timeout = "10s"
      kill_signal  = "SIGINT"

      resources {
        cpu        = 100
        memory     = 64  # reserved for placement, and the cgroup's soft limit
        memory_max = 128 # hard limit: the task is OOM-killed above this
      }
    }
  }
}

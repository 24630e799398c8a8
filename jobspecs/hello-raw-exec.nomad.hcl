# The quick-start job: one batch task that prints a greeting and the trace id
# sched gives every task, then exits 0.
# Run it:   sched run jobspecs/hello-raw-exec.nomad.hcl
# Then:     sched job status hello   and   sched alloc logs <alloc-id>

job "hello" {
  datacenters = ["*"]
  type        = "batch"

  group "hello" {
    count = 1

    task "hello" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo hello from sched; echo \"trace=$SCHED_TRACE_ID\""]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}

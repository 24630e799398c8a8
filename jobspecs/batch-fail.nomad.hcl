# A batch job that always fails: the task exits 3, is restarted once on the
# same node, and is then marked failed for good (no rescheduling elsewhere).
# Run it:   sched run jobspecs/batch-fail.nomad.hcl
# Expect:   sched job status batch-fail   shows one failed allocation, 2 task starts.

job "batch-fail" {
  datacenters = ["*"]
  type        = "batch"

  group "fail" {
    count = 1

    # Local retries on the same node: one restart, 1s apart, then give up.
    restart {
      attempts = 1
      interval = "1m"
      delay    = "1s"
      mode     = "fail"
    }

    # Do not place a replacement allocation after the failure.
    reschedule {
      attempts  = 0
      unlimited = false
    }

    task "fail" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo failing on purpose >&2; exit 3"]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}

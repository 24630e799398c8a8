# Task lifecycle in one group: a prestart task that must finish first, a
# prestart sidecar that runs alongside the main task, and a poststop task.
# Run it:   sched run jobspecs/lifecycle-sidecars.nomad.hcl
# Then stop it (sched job stop lifecycle-sidecars) to see the poststop task run.

job "lifecycle-sidecars" {
  datacenters = ["*"]
  type        = "service"

  group "app" {
    count = 1

    # Runs to completion (exit 0) before anything else starts.
    task "init" {
      driver = "raw_exec"

      lifecycle {
        hook    = "prestart"
        sidecar = false
      }

      config {
        command = "/bin/sh"
        args    = ["-c", "echo preparing; echo ready > \"${NOMAD_ALLOC_DIR}/init-done\""]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }

    # Starts before the main task and keeps running beside it.
    task "log-shipper" {
      driver = "raw_exec"

      lifecycle {
        hook    = "prestart"
        sidecar = true
      }

      config {
        command = "/bin/sh"
        args    = ["-c", "echo sidecar up; while true; do sleep 5; done"]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }

    task "main" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "/bin/cat \"${NOMAD_ALLOC_DIR}/init-done\"; echo main running; while true; do sleep 5; done"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }

    # Runs once the main task and the sidecar have stopped.
    task "goodbye" {
      driver = "raw_exec"

      lifecycle {
        hook = "poststop"
      }

      config {
        command = "/bin/sh"
        args    = ["-c", "echo cleaning up after the main task; rm -f \"${NOMAD_ALLOC_DIR}/init-done\""]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}

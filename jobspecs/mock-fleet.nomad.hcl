# Ten long-running tasks on the mock driver, which starts and stops them
# without spawning anything: a cheap load for scheduler and end-to-end tests.
# Run it:   sched run jobspecs/mock-fleet.nomad.hcl   (needs a client with the mock driver enabled)

job "mock-fleet" {
  datacenters = ["*"]
  type        = "service"

  update {
    max_parallel     = 5
    min_healthy_time = "1s"
    healthy_deadline = "30s"
  }

  group "fleet" {
    count = 10

    task "mock" {
      driver = "mock"

      # Other settings of the mock driver: start_error = "..." fails the start,
      # and a short run_for with exit_code = N ends the task with that code.
      config {
        run_for       = "1h"
        exit_code     = 0
        stdout_string = "mock task running"
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}

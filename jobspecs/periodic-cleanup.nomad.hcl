# A periodic batch job: the server launches a child job every 15 minutes and
# once more at 03:05 Berlin time; a tick is skipped while the last run is busy.
# Run it:   sched run jobspecs/periodic-cleanup.nomad.hcl
# Each launch shows up as a child job named periodic-cleanup/periodic-<epoch>.

job "periodic-cleanup" {
  datacenters = ["*"]
  type        = "batch"

  periodic {
    crons            = ["*/15 * * * *", "5 3 * * *"]
    prohibit_overlap = true
    time_zone        = "Europe/Berlin"
  }

  group "cleanup" {
    count = 1

    task "cleanup" {
      driver = "raw_exec"

      # Harmless stand-in for a real cleanup: it only reports what it would do.
      config {
        command = "/bin/sh"
        args = [
          "-c",
          "echo \"cleanup run ${NOMAD_JOB_ID} at $(date -u +%Y-%m-%dT%H:%M:%SZ)\"; sleep 5; echo nothing to remove",
        ]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}

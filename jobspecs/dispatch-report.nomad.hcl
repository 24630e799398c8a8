# A parameterized batch job: running it only registers it; each dispatch
# starts a new child job with its own metadata and an optional payload.
# Run it:   sched run jobspecs/dispatch-report.nomad.hcl
# Then:     sched job dispatch -meta report_name=daily dispatch-report input.txt   (payload file optional)

job "dispatch-report" {
  datacenters = ["*"]
  type        = "batch"

  parameterized {
    payload       = "optional"
    meta_required = ["report_name"]
    meta_optional = ["format"]
  }

  # Defaults for the optional dispatch metadata; a dispatch may override them.
  meta {
    format = "text"
  }

  group "report" {
    count = 1

    task "report" {
      driver = "raw_exec"

      # The dispatch payload, if any, is written to this file in the task dir.
      dispatch_payload {
        file = "input.txt"
      }

      config {
        command = "/bin/sh"
        args = [
          "-c",
          "echo \"report ${NOMAD_META_report_name} (format ${NOMAD_META_format})\"; if [ -f \"${NOMAD_TASK_DIR}/input.txt\" ]; then /bin/cat \"${NOMAD_TASK_DIR}/input.txt\"; else echo \"(no payload)\"; fi",
        ]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}

# Templates rendered on the client before the task starts: a config file from
# the runtime environment, an env file, and a Nomad variable with a fallback.
# Run it:   sched run jobspecs/templates.nomad.hcl
# Then:     sched var put nomad/jobs/templates message=hi   (re-renders, restarts the task)

job "templates" {
  datacenters = ["*"]
  type        = "service"

  group "app" {
    count = 1

    task "app" {
      driver = "raw_exec"

      # A config file filled from the runtime environment. A change to the
      # rendered text restarts the task.
      template {
        data        = <<-EOT
          # rendered by the client for this allocation
          job        = "{{ env "NOMAD_JOB_NAME" }}"
          alloc_id   = "{{ env "NOMAD_ALLOC_ID" }}"
          alloc_idx  = {{ env "NOMAD_ALLOC_INDEX" }}
          datacenter = "{{ env "NOMAD_DC" }}"
        EOT
        destination = "local/app.conf"
        change_mode = "restart"
      }

      # KEY=value lines that become environment variables of the task.
      template {
        data        = <<-EOT
          APP_GREETING="hello from a template"
          APP_CONFIG={{ env "NOMAD_TASK_DIR" }}/app.conf
        EOT
        destination = "local/app.env"
        env         = true
      }

      # A Nomad variable at the job's own path. Guarded with nomadVarExists,
      # so the template renders (with the fallback) when no variable is set.
      template {
        data        = <<-EOT
          {{ if nomadVarExists "nomad/jobs/templates" -}}
          {{ with nomadVar "nomad/jobs/templates" }}message = "{{ .message }}"{{ end }}
          {{- else -}}
          message = "no variable at nomad/jobs/templates yet"
          {{- end }}
        EOT
        destination = "local/message.conf"
        change_mode = "restart"
      }

      config {
        command = "/bin/sh"
        args = [
          "-c",
          "/bin/cat \"${NOMAD_TASK_DIR}/app.conf\" \"${NOMAD_TASK_DIR}/message.conf\"; echo \"greeting: $APP_GREETING\"; while true; do sleep 10; done",
        ]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}

# A system job: one instance on every eligible Linux client, added
# automatically to clients that join later.
# Run it:   sched run jobspecs/system-agent.nomad.hcl

job "system-agent" {
  datacenters = ["*"]
  type        = "system"

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  group "agent" {
    restart {
      attempts = 5
      interval = "5m"
      delay    = "10s"
      mode     = "delay"
    }

    task "agent" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args = [
          "-c",
          "echo \"node agent on ${node.unique.name} (${attr.kernel.name})\"; while true; do sleep 30; echo heartbeat; done",
        ]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}

# Placement controls: hard constraints with several operators, soft affinities,
# and a spread across datacenters, in any datacenter of the default node pool.
# Run it:   sched run jobspecs/placement.nomad.hcl
# distinct_hosts needs two eligible clients; on a one-node agent one alloc waits.

job "placement" {
  datacenters = ["*"]
  node_pool   = "default"
  type        = "service"

  # Constraints are hard: a node that fails one is never used.
  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  constraint {
    attribute = "${attr.kernel.arch}"
    operator  = "regexp"
    value     = "^(x86_64|amd64|aarch64|arm64)$"
  }

  # "semver" rather than "version": kernel versions such as 6.1.0-13-amd64 look
  # like pre-releases, which the "version" operator never matches.
  constraint {
    attribute = "${attr.kernel.version}"
    operator  = "semver"
    value     = ">= 3.10.0"
  }

  constraint {
    attribute = "${attr.cpu.numcores}"
    operator  = "is_set"
  }

  constraint {
    attribute = "${node.datacenter}"
    operator  = "set_contains_any"
    value     = "dc1,dc2"
  }

  group "web" {
    count = 2

    # No two allocations of this group on the same node.
    constraint {
      operator = "distinct_hosts"
      value    = "true"
    }

    # Affinities are soft: they only change the ranking of feasible nodes.
    affinity {
      attribute = "${meta.features}"
      operator  = "set_contains"
      value     = "ssd"
      weight    = 50
    }

    affinity {
      attribute = "${node.class}"
      value     = "batch"
      weight    = -30
    }

    spread {
      attribute = "${node.datacenter}"
      weight    = 100

      target "dc1" {
        percent = 50
      }

      target "dc2" {
        percent = 50
      }
    }

    task "web" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo \"placed on ${node.unique.name} in ${node.datacenter}\"; while true; do sleep 30; done"]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}

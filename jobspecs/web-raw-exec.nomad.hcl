# A long-running service: two instances, each on a dynamic port, registered
# as a native service with a TCP health check, rolled out one at a time.
# Run it:   sched run jobspecs/web-raw-exec.nomad.hcl
# Then:     sched service info web   (address and port of each instance)

job "web" {
  datacenters = ["*"]
  type        = "service"

  update {
    max_parallel      = 1
    min_healthy_time  = "5s"
    healthy_deadline  = "1m"
    progress_deadline = "5m"
    auto_revert       = true
  }

  group "web" {
    count = 2

    network {
      # No "static": the scheduler picks a free port on the node, exposed to
      # the task as NOMAD_PORT_http.
      port "http" {}
    }

    service {
      name     = "web"
      provider = "nomad"
      port     = "http"
      tags     = ["example", "raw-exec"]

      check {
        name     = "web-tcp"
        type     = "tcp"
        interval = "5s"
        timeout  = "2s"
      }
    }

    restart {
      attempts = 3
      interval = "5m"
      delay    = "5s"
      mode     = "delay"
    }

    task "server" {
      driver = "raw_exec"

      # A minimal TCP listener on the allocated port, so the check passes.
      # perl-base is part of every Debian install; the loop accepts and closes.
      config {
        command = "/usr/bin/perl"
        args = [
          "-MIO::Socket::INET",
          "-e",
          "$| = 1; my $s = IO::Socket::INET->new(LocalPort => $ARGV[0], Listen => 16, ReuseAddr => 1) or die \"listen: $!\"; print \"listening on $ARGV[0]\\n\"; while (my $c = $s->accept) { close $c }",
          "${NOMAD_PORT_http}",
        ]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}

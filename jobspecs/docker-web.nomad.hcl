# A web server in a container: busybox httpd on port 8080 inside the container,
# mapped to a dynamic host port. Needs Docker and the local image
# sched-busybox:latest (imported from a busybox rootfs; nothing is pulled).
# Run it:   sched run jobspecs/docker-web.nomad.hcl

job "docker-web" {
  datacenters = ["*"]
  type        = "service"

  group "web" {
    count = 1

    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name     = "docker-web"
      provider = "nomad"
      port     = "http"

      check {
        name     = "docker-web-tcp"
        type     = "tcp"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "httpd" {
      driver = "docker"

      config {
        image   = "sched-busybox:latest"
        command = "httpd"
        args    = ["-f", "-p", "8080"]
        ports   = ["http"]
      }

      # Rotation of the task's stdout/stderr files kept by the client.
      logs {
        max_files     = 3
        max_file_size = 5
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}

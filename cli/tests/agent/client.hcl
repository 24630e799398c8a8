# A client node that talks to the cluster's servers.
name     = "client-1"
data_dir = "/var/lib/sched"

client {
  enabled    = true
  servers    = ["10.0.0.11:4647", "10.0.0.12:4647", "10.0.0.13:4647"]
  node_class = "compute"
  meta {
    rack = "r1"
  }
  reserved {
    cpu            = 500
    memory         = 512
    reserved_ports = "22"
  }
  host_volume "data" {
    path      = "/srv/data"
    read_only = false
  }
}

plugin "raw_exec" {
  config {
    enabled = true
  }
}

plugin "docker" {
  capabilities = ["docker", "log"]
}

# A server of a three-server cluster.
name       = "server-1"
datacenter = "dc1"
data_dir   = "/var/lib/sched"
bind_addr  = "0.0.0.0"

advertise {
  http = "10.0.0.11"
  rpc  = "10.0.0.11"
}

server {
  enabled          = true
  bootstrap_expect = 3
  server_join {
    retry_join     = ["10.0.0.12", "10.0.0.13"]
    retry_interval = "5s"
  }
}

data_dir = "/var/lib/sched"

server {
  enabled          = true
  bootstrap_expct = 3
}

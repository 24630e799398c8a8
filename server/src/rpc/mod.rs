//! gRPC between servers (and later clients): Raft messages, snapshot
//! transfer, forwarding of writes to the leader and joining a cluster.

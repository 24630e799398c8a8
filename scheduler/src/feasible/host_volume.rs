//! The host volume checker: a group's `volume "x" { type = "host" }`
//! requests need the node to offer a host volume by that source name, and a
//! read-write request needs a volume the node does not mount read-only.

use sched_core::model::Node;

/// Whether the node offers every requested host volume.
pub fn has_volumes(node: &Node, requests: &[(String, bool)]) -> bool {
    requests.iter().all(|(source, read_only)| {
        node.host_volumes
            .get(source)
            .is_some_and(|v| *read_only || !v.read_only)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock;
    use sched_core::model::ClientHostVolumeConfig;

    #[test]
    fn by_name_and_read_only() {
        let mut node = mock::node(1);
        assert!(has_volumes(&node, &[]));
        assert!(!has_volumes(&node, &[("data".into(), true)]));
        node.host_volumes.insert(
            "data".into(),
            ClientHostVolumeConfig {
                name: "data".into(),
                path: "/srv/data".into(),
                read_only: true,
            },
        );
        assert!(has_volumes(&node, &[("data".into(), true)]));
        assert!(!has_volumes(&node, &[("data".into(), false)]));
    }
}

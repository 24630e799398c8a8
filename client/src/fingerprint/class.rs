//! The computed class: a hash of everything about a node that placement
//! looks at, so the scheduler can check one node of each class instead of
//! every node (Nomad's `ComputedClass`).

use sha2::{Digest, Sha256};

use sched_core::model::Node;

/// Whether an attribute or meta key is unique to the node: such keys are
/// left out, or no two nodes would share a class.
fn is_unique(key: &str) -> bool {
    key.starts_with("unique.")
}

/// `v1:<decimal u64>`: the hash of the datacenter, class, pool, the
/// non-unique attributes and meta, and the drivers' health.
pub fn computed_class(node: &Node) -> String {
    let mut h = Sha256::new();
    let mut field = |k: &str, v: &str| {
        h.update((k.len() as u64).to_le_bytes());
        h.update(k.as_bytes());
        h.update((v.len() as u64).to_le_bytes());
        h.update(v.as_bytes());
    };
    field("datacenter", &node.datacenter);
    field("node_class", &node.node_class);
    field("node_pool", &node.node_pool);
    for (k, v) in node.attributes.iter().filter(|(k, _)| !is_unique(k)) {
        field(&format!("attr.{k}"), v);
    }
    for (k, v) in node.meta.iter().filter(|(k, _)| !is_unique(k)) {
        field(&format!("meta.{k}"), v);
    }
    for (name, d) in &node.drivers {
        field(
            &format!("driver.{name}"),
            match (d.detected, d.healthy) {
                (true, true) => "healthy",
                (true, false) => "unhealthy",
                _ => "undetected",
            },
        );
    }
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    format!("v1:{}", u64::from_le_bytes(first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_attributes_do_not_split_classes() {
        let mut a = Node::default();
        a.attributes.insert("kernel.name".into(), "linux".into());
        a.attributes
            .insert("unique.hostname".into(), "host-a".into());
        let mut b = a.clone();
        b.attributes
            .insert("unique.hostname".into(), "host-b".into());
        assert_eq!(computed_class(&a), computed_class(&b));
        b.attributes.insert("kernel.name".into(), "freebsd".into());
        assert_ne!(computed_class(&a), computed_class(&b));
        let mut c = a.clone();
        c.node_class = "gpu".into();
        assert_ne!(computed_class(&a), computed_class(&c));
        assert!(computed_class(&a).starts_with("v1:"));
    }
}

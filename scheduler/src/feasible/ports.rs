//! The port checker: static ports must not collide with ports already in
//! use on the node (by allocations or the node's own reservations), and
//! dynamic ports are picked from the dynamic range among free ports.

use std::collections::BTreeSet;

use sched_core::model::{AllocatedPortMapping, Node};

use crate::job_view::GroupAsk;
use crate::usage::{MAX_DYNAMIC_PORT, MIN_DYNAMIC_PORT, Usage, node_reserved_ports};

/// Assigns the group's ports on a node, or names the exhausted dimension.
pub fn assign(
    node: &Node,
    used: &Usage,
    ask: &GroupAsk,
    rng: &mut fastrand::Rng,
) -> Result<Vec<AllocatedPortMapping>, String> {
    if ask.static_ports.is_empty() && ask.dynamic_ports.is_empty() {
        return Ok(Vec::new());
    }
    let reserved = node_reserved_ports(node);
    let mut taken: BTreeSet<i64> = used.ports.clone();
    taken.extend(reserved);
    let mut out = Vec::new();
    for p in &ask.static_ports {
        if !taken.insert(p.value) {
            return Err(format!(
                "network: reserved port collision {}={}",
                p.label, p.value
            ));
        }
        out.push(AllocatedPortMapping {
            label: p.label.clone(),
            value: p.value,
            to: if p.to == 0 { p.value } else { p.to },
            host_ip: String::new(),
        });
    }
    for (label, to) in &ask.dynamic_ports {
        let port = pick_dynamic(&taken, rng).ok_or("network: dynamic port selection failed")?;
        taken.insert(port);
        out.push(AllocatedPortMapping {
            label: label.clone(),
            value: port,
            to: if *to == 0 { port } else { *to },
            host_ip: String::new(),
        });
    }
    Ok(out)
}

/// A free port in the dynamic range: a few random tries, then a scan.
fn pick_dynamic(taken: &BTreeSet<i64>, rng: &mut fastrand::Rng) -> Option<i64> {
    for _ in 0..20 {
        let p = rng.i64(MIN_DYNAMIC_PORT..=MAX_DYNAMIC_PORT);
        if !taken.contains(&p) {
            return Some(p);
        }
    }
    (MIN_DYNAMIC_PORT..=MAX_DYNAMIC_PORT).find(|p| !taken.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job_view::StaticPort;
    use crate::mock;

    #[test]
    fn static_collisions_and_dynamic_range() {
        let mut node = mock::node(1);
        node.reserved_resources.networks.reserved_host_ports = "22,8000-8002".into();
        let mut rng = fastrand::Rng::with_seed(1);
        let mut ask = GroupAsk::default();
        ask.static_ports.push(StaticPort {
            label: "http".into(),
            value: 80,
            to: 0,
        });
        ask.dynamic_ports.push(("db".into(), 5432));
        let mut used = Usage::default();
        let got = assign(&node, &used, &ask, &mut rng).unwrap();
        assert_eq!(got[0].value, 80);
        assert!((MIN_DYNAMIC_PORT..=MAX_DYNAMIC_PORT).contains(&got[1].value));
        assert_eq!(got[1].to, 5432);
        used.ports.insert(80);
        assert!(
            assign(&node, &used, &ask, &mut rng)
                .unwrap_err()
                .contains("collision http=80")
        );
        ask.static_ports[0].value = 8001;
        assert!(assign(&node, &Usage::default(), &ask, &mut rng).is_err());
        // A full dynamic range is exhausted.
        let full = Usage {
            ports: (MIN_DYNAMIC_PORT..=MAX_DYNAMIC_PORT).collect(),
            ..Default::default()
        };
        ask.static_ports.clear();
        assert_eq!(
            assign(&node, &full, &ask, &mut rng).unwrap_err(),
            "network: dynamic port selection failed"
        );
    }
}

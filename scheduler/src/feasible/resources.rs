//! The resource fit check: CPU, memory, reserved cores and device counts of
//! a group's ask against what a node has left after its proposed
//! allocations. A node that does not fit is "exhausted" in the dimension
//! that ran out, not "filtered".

use crate::job_view::GroupAsk;
use crate::usage::{Capacity, Usage};

/// `Ok` if the ask fits, else the exhausted dimension (`cpu`, `memory`,
/// `cores`, `devices: <name>`).
pub fn fits(cap: &Capacity, used: &Usage, ask: &GroupAsk) -> Result<(), String> {
    if used.cpu + ask.cpu > cap.cpu {
        return Err("cpu".to_owned());
    }
    if used.memory_mb + ask.memory_mb > cap.memory_mb {
        return Err("memory".to_owned());
    }
    if ask.cores > 0 && used.cores + ask.cores > cap.cores {
        return Err("cores".to_owned());
    }
    for (name, count) in &ask.devices {
        let have = cap.devices.get(name).copied().unwrap_or(0);
        let taken = used.devices.get(name).copied().unwrap_or(0);
        if taken + count > have {
            return Err(format!("devices: {name}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock;
    use sched_core::model::{NodeDevice, NodeDeviceResource};

    #[test]
    fn cpu_memory_cores_devices() {
        let mut node = mock::node(1);
        node.node_resources.devices.push(NodeDeviceResource {
            vendor: "nvidia".into(),
            r#type: "gpu".into(),
            name: "t4".into(),
            instances: vec![
                NodeDevice {
                    id: "a".into(),
                    healthy: true,
                    ..Default::default()
                },
                NodeDevice {
                    id: "b".into(),
                    healthy: false,
                    ..Default::default()
                },
            ],
            ..Default::default()
        });
        let cap = Capacity::of(&node);
        assert_eq!(cap.cpu, 4000);
        assert_eq!(cap.memory_mb, 8192);
        let mut used = Usage::default();
        let mut ask = GroupAsk {
            cpu: 4000,
            memory_mb: 8192,
            ..Default::default()
        };
        assert_eq!(fits(&cap, &used, &ask), Ok(()));
        used.cpu = 1;
        assert_eq!(fits(&cap, &used, &ask).unwrap_err(), "cpu");
        used = Usage {
            memory_mb: 1,
            ..Default::default()
        };
        assert_eq!(fits(&cap, &used, &ask).unwrap_err(), "memory");
        ask = GroupAsk {
            cores: 5,
            ..Default::default()
        };
        assert_eq!(fits(&cap, &Usage::default(), &ask).unwrap_err(), "cores");
        ask = GroupAsk {
            cores: 4,
            ..Default::default()
        };
        assert_eq!(fits(&cap, &Usage::default(), &ask), Ok(()));
        ask = GroupAsk::default();
        ask.devices.insert("nvidia/gpu".into(), 1);
        assert_eq!(fits(&cap, &Usage::default(), &ask), Ok(()));
        ask.devices.insert("nvidia/gpu".into(), 2);
        assert_eq!(
            fits(&cap, &Usage::default(), &ask).unwrap_err(),
            "devices: nvidia/gpu"
        );
    }
}

//! The driver checker: every task's driver must be detected and healthy on
//! the node, from its `Drivers` map or, for older clients, its
//! `driver.<name>` attribute.

use std::collections::BTreeSet;

use sched_core::model::{Node, TaskGroup};

use crate::job_view::GroupView;

/// The drivers a group's tasks use.
pub fn group_drivers(group: &TaskGroup) -> BTreeSet<String> {
    group
        .task_list()
        .iter()
        .filter_map(|t| t.driver.clone())
        .collect()
}

/// Whether the node offers every driver, detected and healthy.
pub fn has_drivers(node: &Node, drivers: &BTreeSet<String>) -> bool {
    drivers.iter().all(|d| match node.drivers.get(d) {
        Some(info) => info.detected && info.healthy,
        None => node
            .attributes
            .get(&format!("driver.{d}"))
            .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock;
    use sched_core::model::DriverInfo;

    #[test]
    fn detected_healthy_driver_passes() {
        let node = mock::node(1);
        let want: BTreeSet<String> = ["raw_exec".to_owned()].into();
        assert!(has_drivers(&node, &want));
        let want: BTreeSet<String> = ["docker".to_owned()].into();
        assert!(!has_drivers(&node, &want));
    }

    #[test]
    fn unhealthy_driver_fails_and_attribute_fallback_passes() {
        let mut node = mock::node(1);
        node.drivers.insert(
            "exec".into(),
            DriverInfo {
                detected: true,
                healthy: false,
                ..Default::default()
            },
        );
        let exec: BTreeSet<String> = ["exec".to_owned()].into();
        assert!(!has_drivers(&node, &exec));
        node.attributes.insert("driver.java".into(), "1".into());
        let java: BTreeSet<String> = ["java".to_owned()].into();
        assert!(has_drivers(&node, &java));
    }
}

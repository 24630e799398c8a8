// Shared by the test-only drivers (included with `include!`): the calls
// that do not matter for what each one tests.

fn test_info(name: &str) -> sched_driver_sdk::DriverInfo {
    sched_driver_sdk::DriverInfo {
        name: name.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        capabilities: sched_driver_sdk::DriverCapabilities {
            send_signals: false,
            exec: false,
            fs_isolation: sched_driver_sdk::FsIsolation::None,
            network_modes: vec!["host".to_string()],
        },
    }
}

fn test_status(h: &sched_driver_sdk::TaskHandle) -> sched_driver_sdk::TaskStatus {
    sched_driver_sdk::TaskStatus {
        id: h.id.clone(),
        state: sched_driver_sdk::TaskState::Unknown,
        started_at: 0,
        completed_at: 0,
        exit: None,
        attributes: Vec::new(),
    }
}

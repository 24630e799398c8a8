//! The configuration summary an agent prints when it starts, in Nomad's
//! shape, so that an operator sees at a glance where it listens and what it runs.

use super::config::AgentConfig;

/// The "==> Starting sched agent..." block: config files, addresses, roles.
pub fn summary(config: &AgentConfig) -> String {
    let mut out = String::new();
    if !config.files.is_empty() {
        let files: Vec<String> = config
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        out.push_str(&format!(
            "==> Loaded configuration from {}\n",
            files.join(", ")
        ));
    }
    out.push_str("==> Starting sched agent...\n");
    out.push_str("==> sched agent configuration:\n\n");
    let advertise =
        |a: Option<std::net::SocketAddr>| a.map_or("(bind address)".to_string(), |a| a.to_string());
    let rows = [
        (
            "Advertise Addrs",
            format!(
                "HTTP: {}; RPC: {}",
                advertise(config.advertise.http),
                advertise(config.advertise.rpc)
            ),
        ),
        (
            "Bind Addrs",
            format!("HTTP: {}; RPC: {}", config.http_bind(), config.rpc_bind()),
        ),
        ("Client", config.client.enabled.to_string()),
        (
            "Data Dir",
            config
                .data_dir
                .as_ref()
                .map_or("(temporary)".to_string(), |d| d.display().to_string()),
        ),
        ("Log Level", config.log_level.to_string()),
        (
            "Node Name",
            config
                .name
                .clone()
                .unwrap_or_else(|| "(host name)".to_string()),
        ),
        (
            "Region",
            format!("{} (DC: {})", config.region, config.datacenter),
        ),
        ("Server", config.server.enabled.to_string()),
        ("Version", env!("CARGO_PKG_VERSION").to_string()),
    ];
    for (label, value) in rows {
        out.push_str(&format!("{label:>22}: {value}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{AgentArgs, from_sources};
    use super::*;

    #[test]
    fn the_summary_names_the_addresses_and_roles() {
        let args = AgentArgs {
            dev: true,
            ..AgentArgs::default()
        };
        let config = from_sources(&args, &[]).expect("dev config");
        let text = summary(&config);
        assert!(text.starts_with("==> Starting sched agent...\n"), "{text}");
        assert!(
            text.contains("Bind Addrs: HTTP: 127.0.0.1:4646; RPC: 127.0.0.1:4647"),
            "{text}"
        );
        assert!(text.contains("Server: true"), "{text}");
        assert!(text.contains("Client: true"), "{text}");
        assert!(text.contains("Region: global (DC: dc1)"), "{text}");
    }
}

//! Grants from the agent config: the `plugin` blocks of Nomad's agent config
//! shape, one per driver, each with the driver's config and the capabilities
//! the operator grants it.
//!
//! ```hcl
//! plugin "docker" {
//!   capabilities = ["docker", "log"]
//!   config {
//!     allow_privileged = false
//!   }
//! }
//! ```
//!
//! A built-in driver without a `capabilities` list keeps its default grant
//! ([`DriverGrant::builtin`]); any other driver without one gets nothing.
//! This module reads only `plugin` blocks; the rest of the agent config is
//! the agent's.

use std::collections::BTreeSet;

use super::capabilities::{Capability, DriverGrant};

/// Why the `plugin` blocks could not be read; each names the plugin and the
/// setting at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// The config is not valid HCL.
    #[error("agent config: {0}")]
    Syntax(String),
    /// A `plugin` block without exactly one label.
    #[error(
        "agent config: a plugin block needs one label, the driver's name: plugin \"NAME\" {{ ... }}"
    )]
    MissingName,
    /// Two `plugin` blocks for one driver.
    #[error("agent config: plugin {0:?} is configured twice")]
    Duplicate(String),
    /// A setting a plugin block does not have.
    #[error(
        "agent config: plugin {plugin:?}: unsupported setting {setting:?} (expected capabilities or a config block)"
    )]
    Unsupported {
        /// The plugin.
        plugin: String,
        /// The setting.
        setting: String,
    },
    /// `capabilities` is not a list of known capability names.
    #[error("agent config: plugin {plugin:?}: {message}")]
    Capabilities {
        /// The plugin.
        plugin: String,
        /// What is wrong.
        message: String,
    },
}

/// Reads the grants of every `plugin` block in an agent config.
pub fn grants_from_agent_config(src: &str) -> Result<Vec<DriverGrant>, GrantError> {
    let body: hcl::Body = hcl::parse(src).map_err(|e| GrantError::Syntax(e.to_string()))?;
    let mut grants: Vec<DriverGrant> = Vec::new();
    for block in body.blocks().filter(|b| b.identifier() == "plugin") {
        let [label] = block.labels() else {
            return Err(GrantError::MissingName);
        };
        let name = label.as_str().to_string();
        if grants.iter().any(|g| g.name == name) {
            return Err(GrantError::Duplicate(name));
        }
        let mut grant = DriverGrant::builtin(&name).unwrap_or_else(|| DriverGrant::none(&name));
        for attr in block.body().attributes() {
            match attr.key() {
                "capabilities" => grant.capabilities = capabilities(&name, attr.expr())?,
                other => {
                    return Err(GrantError::Unsupported {
                        plugin: name,
                        setting: other.to_string(),
                    });
                }
            }
        }
        for inner in block.body().blocks() {
            if inner.identifier() != "config" || !inner.labels().is_empty() {
                return Err(GrantError::Unsupported {
                    plugin: name,
                    setting: inner.identifier().to_string(),
                });
            }
            grant.config =
                hcl::from_body(inner.body().clone()).map_err(|e| GrantError::Unsupported {
                    plugin: name.clone(),
                    setting: format!("config ({e})"),
                })?;
        }
        grants.push(grant);
    }
    Ok(grants)
}

fn capabilities(plugin: &str, expr: &hcl::Expression) -> Result<BTreeSet<Capability>, GrantError> {
    let err = |message: String| GrantError::Capabilities {
        plugin: plugin.to_string(),
        message,
    };
    let hcl::Expression::Array(items) = expr else {
        return Err(err(
            "capabilities must be a list, e.g. [\"process\", \"log\"]".into(),
        ));
    };
    items
        .iter()
        .map(|item| match item {
            hcl::Expression::String(s) => s.parse::<Capability>().map_err(|e| err(e.to_string())),
            other => Err(err(format!("capabilities must be strings, got {other}"))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_blocks_become_grants() {
        let grants = grants_from_agent_config(
            r#"
            data_dir = "/var/lib/sched"
            plugin "docker" {
              config {
                allow_privileged = true
                volumes { enabled = true }
              }
            }
            plugin "mine" {
              capabilities = ["process", "log"]
            }
            plugin "raw_exec" {
              capabilities = []
            }
            "#,
        )
        .unwrap();
        assert_eq!(grants.len(), 3);
        assert_eq!(grants[0], {
            let mut g = DriverGrant::builtin("docker").unwrap();
            g.config = serde_json::json!({"allow_privileged": true, "volumes": {"enabled": true}});
            g
        });
        assert_eq!(
            grants[1],
            DriverGrant::new("mine", [Capability::Process, Capability::Log])
        );
        assert!(
            grants[2].capabilities.is_empty(),
            "an empty list revokes the built-in grant"
        );
    }

    #[test]
    fn bad_plugin_blocks_say_what_is_wrong() {
        let e = grants_from_agent_config("plugin \"x\" {\n capabilities = [\"proces\"]\n}\n")
            .unwrap_err();
        assert!(
            e.to_string().contains("plugin \"x\"") && e.to_string().contains("\"proces\""),
            "{e}"
        );
        let e = grants_from_agent_config("plugin \"x\" {\n capabilities = \"process\"\n}\n")
            .unwrap_err();
        assert!(e.to_string().contains("must be a list"), "{e}");
        let e = grants_from_agent_config("plugin \"x\" {\n cap = 1\n}\n").unwrap_err();
        assert!(e.to_string().contains("unsupported setting \"cap\""), "{e}");
        let e = grants_from_agent_config("plugin {\n}\n").unwrap_err();
        assert_eq!(e, GrantError::MissingName);
        let e = grants_from_agent_config("plugin \"a\" {}\nplugin \"a\" {}\n").unwrap_err();
        assert_eq!(e, GrantError::Duplicate("a".into()));
        assert!(matches!(
            grants_from_agent_config("plugin \"a\" {"),
            Err(GrantError::Syntax(_))
        ));
    }
}

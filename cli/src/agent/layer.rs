//! A layer of settings: what one source (the defaults, `-dev`, one config
//! file, the flags) says, keyed by the setting's path, each value with its
//! origin. Layers merge in order, a later one winning setting by setting,
//! which is how Nomad merges several config files.

use std::collections::BTreeMap;
use std::time::Duration;

use super::config::Origin;

/// One setting's value, already checked against the kind the schema gives it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Duration(Duration),
    List(Vec<String>),
    Json(serde_json::Value),
    /// A labeled block exists (`plugin "raw_exec" {}` says something even when empty).
    Present,
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Setting {
    pub value: Value,
    pub origin: Origin,
}

/// A setting's path: block names, labels and map keys down to the setting
/// (`["client", "meta", "rack"]`). Kept as parts because map keys may hold dots.
pub(crate) type Path = Vec<String>;

/// The settings of one source.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Layer {
    pub settings: BTreeMap<Path, Setting>,
}

impl Layer {
    /// Sets `path`, replacing any earlier value.
    pub fn set(&mut self, path: &[&str], value: Value, origin: Origin) {
        self.settings.insert(
            path.iter().map(|s| s.to_string()).collect(),
            Setting { value, origin },
        );
    }

    /// Applies `later` over this layer: each of its settings replaces ours.
    pub fn merge(&mut self, later: Layer) {
        self.settings.extend(later.settings);
    }

    /// The setting at `path`.
    pub fn get(&self, path: &[&str]) -> Option<&Setting> {
        let key: Path = path.iter().map(|s| s.to_string()).collect();
        self.settings.get(&key)
    }

    /// The distinct names one level below `prefix` (labels of labeled
    /// blocks, keys of maps), in order.
    pub fn children(&self, prefix: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for k in self.settings.keys() {
            if k.len() > prefix.len()
                && k.iter().zip(prefix).all(|(a, b)| a == b)
                && out.last() != Some(&k[prefix.len()])
            {
                out.push(k[prefix.len()].clone());
            }
        }
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_layers_win_setting_by_setting() {
        let mut a = Layer::default();
        a.set(&["region"], Value::Str("a".into()), Origin::Default);
        a.set(&["datacenter"], Value::Str("dc-a".into()), Origin::Default);
        let mut b = Layer::default();
        b.set(&["region"], Value::Str("b".into()), Origin::Dev);
        a.merge(b);
        assert_eq!(
            a.get(&["region"]).map(|s| &s.value),
            Some(&Value::Str("b".into()))
        );
        assert_eq!(a.get(&["region"]).map(|s| &s.origin), Some(&Origin::Dev));
        assert_eq!(
            a.get(&["datacenter"]).map(|s| &s.value),
            Some(&Value::Str("dc-a".into()))
        );
    }

    #[test]
    fn children_lists_each_label_once() {
        let mut a = Layer::default();
        a.set(
            &["plugin", "docker", "config"],
            Value::Present,
            Origin::Default,
        );
        a.set(&["plugin", "docker"], Value::Present, Origin::Default);
        a.set(&["plugin", "exec"], Value::Present, Origin::Default);
        a.set(&["region"], Value::Str("r".into()), Origin::Default);
        assert_eq!(a.children(&["plugin"]), ["docker", "exec"]);
    }
}

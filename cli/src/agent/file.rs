//! One agent config file (HCL) into a [`Layer`]: every name checked against
//! the schema, every value against its kind, each problem reported with
//! file:line:col and, for a misspelt name, a suggestion.

use std::ops::Range;

use hcl::eval::Evaluate;
use hcl_edit::Span;
use hcl_edit::structure::{Attribute, Block, Body};
use sched_core::jobspec::diag::did_you_mean;
use sched_core::jobspec::duration::parse_go_duration;
use sched_core::jobspec::{Diagnostic, Diagnostics, SourceMap, parse_body};

use super::config::Origin;
use super::layer::{Layer, Value};
use super::schema::{self, Field, Kind};

/// Parses the text of one config file; `file` names it in diagnostics and origins.
pub(crate) fn parse(file: &str, src: &str) -> Result<Layer, Diagnostics> {
    let map = SourceMap::new(file, src);
    let body = parse_body(&map)?;
    let mut walker = Walker {
        map: &map,
        layer: Layer::default(),
        diags: Vec::new(),
    };
    walker.body(&body, schema::TOP, &[]);
    if walker.diags.is_empty() {
        Ok(walker.layer)
    } else {
        Err(Diagnostics(walker.diags))
    }
}

struct Walker<'a> {
    map: &'a SourceMap<'a>,
    layer: Layer,
    diags: Vec<Diagnostic>,
}

impl Walker<'_> {
    fn origin(&self, span: Option<Range<usize>>) -> Origin {
        let p = self.map.position(span.unwrap_or(0..0));
        Origin::File {
            file: p.file,
            line: p.line,
            column: p.column,
        }
    }

    fn error(&mut self, message: String, span: Option<Range<usize>>) {
        let mut d = Diagnostic::error(message);
        d.position = span.map(|r| self.map.position(r));
        self.diags.push(d);
    }

    fn set(&mut self, path: Vec<String>, value: Value, span: Option<Range<usize>>) {
        if let Some(earlier) = self.layer.settings.get(&path) {
            let msg = format!(
                "{} is set twice in this file (first at {})",
                path.join("."),
                earlier.origin
            );
            self.error(msg, span);
            return;
        }
        let origin = self.origin(span);
        self.layer
            .settings
            .insert(path, super::layer::Setting { value, origin });
    }

    fn unknown(
        &mut self,
        what: &str,
        name: &str,
        fields: &[Field],
        path: &[String],
        span: Option<Range<usize>>,
    ) {
        let hint = did_you_mean(name, fields.iter().map(|f| f.name))
            .map(|s| format!("; did you mean \"{s}\"?"))
            .unwrap_or_default();
        let place = if path.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in {}", path.join("."))
        };
        self.error(format!("Unsupported {what} \"{name}\" {place}{hint}"), span);
    }

    fn body(&mut self, body: &Body, fields: &'static [Field], path: &[String]) {
        for structure in body.iter() {
            if let Some(attr) = structure.as_attribute() {
                self.attribute(attr, fields, path);
            } else if let Some(block) = structure.as_block() {
                self.block(block, fields, path);
            }
        }
    }

    fn attribute(&mut self, attr: &Attribute, fields: &'static [Field], path: &[String]) {
        let name = attr.key.as_str();
        let Some(field) = schema::find(fields, name) else {
            self.unknown("argument", name, fields, path, attr.key.span());
            return;
        };
        let mut full = path.to_vec();
        full.push(name.to_string());
        let span = attr.value.span();
        if let Kind::Block(_) | Kind::Labeled(_) = field.kind {
            self.error(
                format!("{} is a block: write {name} {{ ... }}", full.join(".")),
                attr.key.span(),
            );
            return;
        }
        let expr = hcl::Expression::from(attr.value.clone());
        let value = match expr.evaluate(&hcl::eval::Context::new()) {
            Ok(v) => v,
            Err(e) => {
                self.error(format!("{}: {e}", full.join(".")), span);
                return;
            }
        };
        if field.kind == Kind::Map {
            let hcl::Value::Object(entries) = value else {
                self.error(
                    format!(
                        "{} must be a map of strings, e.g. {{ key = \"value\" }}",
                        full.join(".")
                    ),
                    span,
                );
                return;
            };
            for (k, v) in entries {
                match scalar_string(&v) {
                    Some(s) => {
                        let mut p = full.clone();
                        p.push(k);
                        self.set(p, Value::Str(s), span.clone());
                    }
                    None => self.error(
                        format!(
                            "{}.{k} must be a string, got {}",
                            full.join("."),
                            type_name(&v)
                        ),
                        span.clone(),
                    ),
                }
            }
            return;
        }
        match convert(&value, field.kind) {
            Ok(v) => self.set(full, v, span),
            Err(msg) => self.error(format!("{}: {msg}", full.join(".")), span),
        }
    }

    fn block(&mut self, block: &Block, fields: &'static [Field], path: &[String]) {
        let name = block.ident.as_str();
        let Some(field) = schema::find(fields, name) else {
            self.unknown("block type", name, fields, path, block.ident.span());
            return;
        };
        let mut full = path.to_vec();
        full.push(name.to_string());
        let span = block.ident.span();
        match field.kind {
            Kind::Block(inner) => {
                if !block.labels.is_empty() {
                    self.error(format!("{} takes no labels", full.join(".")), span);
                    return;
                }
                // An empty block still says something (`drain_on_shutdown {}`
                // turns draining on); a block may repeat, so no twice-check.
                if !self.layer.settings.contains_key(&full) {
                    let origin = self.origin(span.clone());
                    self.layer.settings.insert(
                        full.clone(),
                        super::layer::Setting {
                            value: Value::Present,
                            origin,
                        },
                    );
                }
                self.body(&block.body, inner, &full);
            }
            Kind::Labeled(inner) => {
                let [label] = block.labels.as_slice() else {
                    self.error(
                        format!(
                            "{} needs exactly one label: {name} \"NAME\" {{ ... }}",
                            full.join(".")
                        ),
                        span,
                    );
                    return;
                };
                if label.as_str().is_empty() {
                    self.error(
                        format!("{}: the label must not be empty", full.join(".")),
                        span,
                    );
                    return;
                }
                full.push(label.as_str().to_string());
                self.set(full.clone(), Value::Present, span);
                self.body(&block.body, inner, &full);
            }
            Kind::Map => {
                if !block.labels.is_empty() {
                    self.error(format!("{} takes no labels", full.join(".")), span);
                    return;
                }
                for structure in block.body.iter() {
                    if let Some(attr) = structure.as_attribute() {
                        self.map_entry(attr, &full);
                    } else if let Some(inner) = structure.as_block() {
                        self.error(
                            format!("{} holds key = \"value\" lines, not blocks", full.join(".")),
                            inner.ident.span(),
                        );
                    }
                }
            }
            Kind::Any => {
                let body = hcl::Body::from(block.body.clone());
                match hcl::from_body::<serde_json::Value>(body) {
                    Ok(v) => self.set(full, Value::Json(v), span),
                    Err(e) => self.error(format!("{}: {e}", full.join(".")), span),
                }
            }
            Kind::Str | Kind::Int | Kind::Float | Kind::Bool | Kind::Duration | Kind::StrList => {
                self.error(
                    format!(
                        "{} is a setting, not a block: write {name} = value",
                        full.join(".")
                    ),
                    span,
                );
            }
        }
    }

    fn map_entry(&mut self, attr: &Attribute, path: &[String]) {
        let key = attr.key.as_str();
        let span = attr.value.span();
        let expr = hcl::Expression::from(attr.value.clone());
        let mut full = path.to_vec();
        full.push(key.to_string());
        match expr.evaluate(&hcl::eval::Context::new()) {
            Ok(v) => match scalar_string(&v) {
                Some(s) => self.set(full, Value::Str(s), span),
                None => self.error(
                    format!("{} must be a string, got {}", full.join("."), type_name(&v)),
                    span,
                ),
            },
            Err(e) => self.error(format!("{}: {e}", full.join(".")), span),
        }
    }
}

/// Strings, and numbers and bools written without quotes, as Nomad's meta accepts them.
fn scalar_string(v: &hcl::Value) -> Option<String> {
    match v {
        hcl::Value::String(s) => Some(s.clone()),
        hcl::Value::Number(n) => Some(n.to_string()),
        hcl::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn type_name(v: &hcl::Value) -> &'static str {
    match v {
        hcl::Value::Null => "null",
        hcl::Value::Bool(_) => "a bool",
        hcl::Value::Number(_) => "a number",
        hcl::Value::String(_) => "a string",
        hcl::Value::Array(_) => "a list",
        hcl::Value::Object(_) => "an object",
    }
}

/// Checks a value against a setting's kind.
fn convert(v: &hcl::Value, kind: Kind) -> Result<Value, String> {
    let want = |what: &str| format!("expected {what}, got {}", type_name(v));
    match kind {
        Kind::Str => match v {
            hcl::Value::String(s) => Ok(Value::Str(s.clone())),
            _ => Err(want("a string")),
        },
        Kind::Int => match v {
            hcl::Value::Number(n) => n
                .as_i64()
                .map(Value::Int)
                .ok_or_else(|| format!("expected a whole number, got {n}")),
            _ => Err(want("a whole number")),
        },
        Kind::Float => match v {
            hcl::Value::Number(n) => n
                .as_f64()
                .map(Value::Float)
                .ok_or_else(|| format!("expected a number, got {n}")),
            _ => Err(want("a number")),
        },
        Kind::Bool => match v {
            hcl::Value::Bool(b) => Ok(Value::Bool(*b)),
            _ => Err(want("true or false")),
        },
        Kind::Duration => match v {
            hcl::Value::String(s) => parse_duration(s).map(Value::Duration),
            _ => Err(want("a duration string such as \"10s\"")),
        },
        Kind::StrList => match v {
            hcl::Value::Array(items) => items
                .iter()
                .map(|i| match i {
                    hcl::Value::String(s) => Ok(s.clone()),
                    other => Err(format!(
                        "expected a list of strings, found {}",
                        type_name(other)
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::List),
            _ => Err(want("a list of strings")),
        },
        Kind::Any => Ok(Value::Json(hcl_to_json(v))),
        Kind::Map | Kind::Block(_) | Kind::Labeled(_) => Err(want("a block")),
    }
}

/// A Go duration string as a non-negative [`std::time::Duration`].
pub(crate) fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let ns = parse_go_duration(s)?;
    u64::try_from(ns)
        .map(std::time::Duration::from_nanos)
        .map_err(|_| format!("duration \"{s}\" must not be negative"))
}

fn hcl_to_json(v: &hcl::Value) -> serde_json::Value {
    // hcl::Value serialises to the same JSON shape; both are plain data.
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(layer: &'a Layer, path: &[&str]) -> &'a Value {
        &layer.get(path).expect("setting present").value
    }

    #[test]
    fn settings_get_their_kind_and_position() {
        let layer = parse(
            "a.hcl",
            "region = \"eu\"\nserver {\n  enabled = true\n  bootstrap_expect = 3\n  heartbeat_grace = \"15s\"\n  max_heartbeats_per_second = 12.5\n}\n",
        )
        .expect("parses");
        assert_eq!(get(&layer, &["region"]), &Value::Str("eu".into()));
        assert_eq!(get(&layer, &["server", "enabled"]), &Value::Bool(true));
        assert_eq!(get(&layer, &["server", "bootstrap_expect"]), &Value::Int(3));
        assert_eq!(
            get(&layer, &["server", "heartbeat_grace"]),
            &Value::Duration(std::time::Duration::from_secs(15))
        );
        assert_eq!(
            get(&layer, &["server", "max_heartbeats_per_second"]),
            &Value::Float(12.5)
        );
        assert_eq!(
            layer
                .get(&["server", "bootstrap_expect"])
                .map(|s| s.origin.to_string()),
            Some("a.hcl:4:22".to_string())
        );
    }

    #[test]
    fn unknown_names_point_at_the_name_with_a_suggestion() {
        let e = parse("a.hcl", "server {\n  bootstrap_expected = 3\n}\n").expect_err("unknown");
        let text = e.to_string();
        assert!(text.contains("a.hcl:2:3"), "{text}");
        assert!(text.contains("did you mean \"bootstrap_expect\""), "{text}");
        let e = parse("a.hcl", "clent {\n}\n").expect_err("unknown block");
        assert!(e.to_string().contains("did you mean \"client\""), "{e}");
    }

    #[test]
    fn wrong_kinds_are_refused_where_they_are() {
        for (src, want) in [
            ("ports {\n  http = \"x\"\n}\n", "a.hcl:2:10"),
            ("server {\n  enabled = 1\n}\n", "true or false"),
            (
                "server {\n  heartbeat_grace = \"soon\"\n}\n",
                "invalid duration",
            ),
            (
                "server {\n  heartbeat_grace = \"-1s\"\n}\n",
                "must not be negative",
            ),
            ("client {\n  servers = [1]\n}\n", "list of strings"),
            ("server = true\n", "is a block"),
            ("region {\n}\n", "not a block"),
            ("client {\n  host_volume {\n  }\n}\n", "exactly one label"),
            ("ports \"x\" {\n}\n", "takes no labels"),
            (
                "client {\n  meta {\n    a = [1]\n  }\n}\n",
                "must be a string",
            ),
            ("region = \"a\"\nregion = \"b\"\n", "redefined attribute"),
            (
                "server {\n  enabled = true\n}\nserver {\n  enabled = false\n}\n",
                "server.enabled is set twice in this file (first at a.hcl:2:13)",
            ),
            ("region = \"a\n", "Unterminated string"),
        ] {
            let e = parse("a.hcl", src).expect_err(src);
            assert!(e.to_string().contains(want), "{src}: {e}");
        }
    }

    #[test]
    fn maps_accept_blocks_and_objects() {
        let layer = parse(
            "a.hcl",
            "client {\n  meta {\n    rack = \"r1\"\n    zone = 2\n  }\n  options = { \"driver.raw_exec.enable\" = \"1\" }\n}\n",
        )
        .expect("parses");
        assert_eq!(
            get(&layer, &["client", "meta", "rack"]),
            &Value::Str("r1".into())
        );
        assert_eq!(
            get(&layer, &["client", "meta", "zone"]),
            &Value::Str("2".into())
        );
        assert_eq!(
            get(&layer, &["client", "options", "driver.raw_exec.enable"]),
            &Value::Str("1".into())
        );
    }

    #[test]
    fn plugin_blocks_keep_capabilities_and_config() {
        let layer = parse(
            "a.hcl",
            "plugin \"docker\" {\n  capabilities = [\"docker\", \"log\"]\n  config {\n    allow_privileged = false\n    volumes {\n      enabled = true\n    }\n  }\n}\nplugin \"raw_exec\" {}\n",
        )
        .expect("parses");
        assert_eq!(get(&layer, &["plugin", "raw_exec"]), &Value::Present);
        assert_eq!(
            get(&layer, &["plugin", "docker", "capabilities"]),
            &Value::List(vec!["docker".into(), "log".into()])
        );
        assert_eq!(
            get(&layer, &["plugin", "docker", "config"]),
            &Value::Json(
                serde_json::json!({"allow_privileged": false, "volumes": {"enabled": true}})
            )
        );
    }
}

//! The constraint checker: resolves `${attr.*}`, `${meta.*}`,
//! `${node.unique.id}`, `${node.unique.name}`, `${node.datacenter}`,
//! `${node.class}` and `${node.pool}` against a node and applies every
//! Nomad operand (`=`/`==`/`is`, `!=`/`not`, `<`, `<=`, `>`, `>=`,
//! `regexp`, `version`, `semver`, `set_contains`, `set_contains_any`,
//! `set_contains_all`, `is_set`, `is_not_set`). Affinities use the same
//! operands.
//!
//! `distinct_hosts` and `distinct_property` are not node facts and are
//! checked in [`super::distinct`].

use std::cmp::Ordering;

use sched_core::model::{Constraint, Node};

use crate::context::EvalContext;

/// Whether a target looks at facts unique to one node, so that a verdict
/// on it cannot be shared by the node's computed class.
pub fn is_escaped(target: &str) -> bool {
    target.contains("${node.unique.")
        || target.contains("${attr.unique.")
        || target.contains("${meta.unique.")
}

/// Resolves a constraint target against a node: literals resolve to
/// themselves, `${...}` interpolations to the node's value if it has one.
pub fn resolve_target(target: &str, node: &Node) -> Option<String> {
    let Some(inner) = target.strip_prefix("${").and_then(|t| t.strip_suffix('}')) else {
        return Some(target.to_owned());
    };
    match inner {
        "node.unique.id" => Some(node.id.to_string()),
        "node.unique.name" => Some(node.name.clone()),
        "node.datacenter" => Some(node.datacenter.clone()),
        "node.class" => Some(node.node_class.clone()),
        "node.pool" => Some(if node.node_pool.is_empty() {
            "default".to_owned()
        } else {
            node.node_pool.clone()
        }),
        _ => {
            if let Some(attr) = inner.strip_prefix("attr.") {
                node.attributes.get(attr).cloned()
            } else if let Some(key) = inner.strip_prefix("meta.") {
                node.meta.get(key).cloned()
            } else {
                None
            }
        }
    }
}

/// Whether a node satisfies a constraint.
pub fn satisfies(ctx: &mut EvalContext<'_>, c: &Constraint, node: &Node) -> bool {
    let l = resolve_target(c.l_target.as_deref().unwrap_or(""), node);
    let r = resolve_target(c.r_target.as_deref().unwrap_or(""), node);
    check_operand(
        ctx,
        c.operand.as_deref().unwrap_or("="),
        l.as_deref(),
        r.as_deref(),
    )
}

/// Applies an operand to resolved targets (`None`: not found on the node).
pub fn check_operand(
    ctx: &mut EvalContext<'_>,
    operand: &str,
    l: Option<&str>,
    r: Option<&str>,
) -> bool {
    match operand {
        "distinct_hosts" | "distinct_property" => true,
        "=" | "==" | "is" => l.is_some() && l == r,
        "!=" | "not" => l != r,
        "<" | "<=" | ">" | ">=" => match (l, r) {
            (Some(l), Some(r)) => check_order(operand, l, r),
            _ => false,
        },
        "is_set" => l.is_some(),
        "is_not_set" => l.is_none(),
        "regexp" => match (l, r) {
            (Some(l), Some(r)) => ctx.regex(r).is_some_and(|re| re.is_match(l)),
            _ => false,
        },
        "version" | "semver" => match (l, r) {
            (Some(l), Some(r)) => ctx
                .version_constraint(r, operand == "semver")
                .is_some_and(|vc| vc.matches(l)),
            _ => false,
        },
        "set_contains" | "set_contains_all" => match (l, r) {
            (Some(l), Some(r)) => {
                let have = split_set(l);
                split_set(r).iter().all(|x| have.contains(x))
            }
            _ => false,
        },
        "set_contains_any" => match (l, r) {
            (Some(l), Some(r)) => {
                let have = split_set(l);
                split_set(r).iter().any(|x| have.contains(x))
            }
            _ => false,
        },
        _ => false,
    }
}

fn split_set(s: &str) -> Vec<&str> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .collect()
}

/// Orders two values numerically when both parse as numbers, else
/// lexically, and applies `<`, `<=`, `>` or `>=`.
pub fn check_order(operand: &str, l: &str, r: &str) -> bool {
    let ord = match (l.trim().parse::<f64>(), r.trim().parse::<f64>()) {
        (Ok(a), Ok(b)) => match a.partial_cmp(&b) {
            Some(o) => o,
            None => return false,
        },
        _ => l.cmp(r),
    };
    match operand {
        "<" => ord == Ordering::Less,
        "<=" => ord != Ordering::Greater,
        ">" => ord == Ordering::Greater,
        ">=" => ord != Ordering::Less,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::Harness;
    use crate::mock;

    fn c(l: &str, op: &str, r: &str) -> Constraint {
        Constraint {
            l_target: Some(l.into()),
            operand: Some(op.into()),
            r_target: Some(r.into()),
        }
    }

    fn sat(con: Constraint) -> bool {
        let h = Harness::new();
        let mut ctx = EvalContext::new(&h, Default::default());
        let mut node = mock::node(7);
        node.attributes
            .insert("kernel.version".into(), "5.15.0".into());
        node.attributes.insert("cpu.numcores".into(), "8".into());
        node.attributes
            .insert("features".into(), "avx, sse4,aes".into());
        node.meta.insert("rack".into(), "r12".into());
        satisfies(&mut ctx, &con, &node)
    }

    #[test]
    fn targets_resolve() {
        let node = mock::node(3);
        assert_eq!(
            resolve_target("${node.unique.id}", &node),
            Some(node.id.to_string())
        );
        assert_eq!(
            resolve_target("${node.unique.name}", &node),
            Some(node.name.clone())
        );
        assert_eq!(
            resolve_target("${node.datacenter}", &node).as_deref(),
            Some("dc1")
        );
        assert_eq!(
            resolve_target("${node.class}", &node),
            Some(node.node_class.clone())
        );
        assert_eq!(
            resolve_target("${node.pool}", &node).as_deref(),
            Some("default")
        );
        assert_eq!(
            resolve_target("${attr.kernel.name}", &node).as_deref(),
            Some("linux")
        );
        assert_eq!(resolve_target("${meta.missing}", &node), None);
        assert_eq!(resolve_target("linux", &node).as_deref(), Some("linux"));
        assert!(is_escaped("${node.unique.id}"));
        assert!(!is_escaped("${attr.kernel.name}"));
    }

    #[test]
    fn equality_operands() {
        assert!(sat(c("${attr.kernel.name}", "=", "linux")));
        assert!(sat(c("${attr.kernel.name}", "==", "linux")));
        assert!(sat(c("${attr.kernel.name}", "is", "linux")));
        assert!(!sat(c("${attr.kernel.name}", "=", "windows")));
        assert!(!sat(c("${attr.nope}", "=", "linux")));
        assert!(sat(c("${attr.kernel.name}", "!=", "windows")));
        assert!(sat(c("${attr.kernel.name}", "not", "windows")));
        assert!(!sat(c("${attr.kernel.name}", "!=", "linux")));
        // Nomad: a missing attribute is "not equal" to anything.
        assert!(sat(c("${attr.nope}", "!=", "linux")));
    }

    #[test]
    fn order_operands_numeric_and_lexical() {
        assert!(sat(c("${attr.cpu.numcores}", ">", "4")));
        assert!(sat(c("${attr.cpu.numcores}", ">=", "8")));
        assert!(!sat(c("${attr.cpu.numcores}", "<", "8")));
        assert!(sat(c("${attr.cpu.numcores}", "<=", "8")));
        // Numerically 8 < 10, lexically "8" > "10".
        assert!(sat(c("${attr.cpu.numcores}", "<", "10")));
        assert!(!check_order(">", "8", "10"));
        assert!(check_order(">", "b", "a"));
        assert!(check_order("<", "abc", "abd"));
        assert!(!sat(c("${attr.nope}", "<", "10")));
    }

    #[test]
    fn regexp_operand() {
        assert!(sat(c("${meta.rack}", "regexp", "^r1[0-9]$")));
        assert!(!sat(c("${meta.rack}", "regexp", "^r2")));
        assert!(!sat(c("${meta.rack}", "regexp", "(")));
    }

    #[test]
    fn version_and_semver_operands() {
        assert!(sat(c("${attr.kernel.version}", "version", ">= 5.4, < 6")));
        assert!(!sat(c("${attr.kernel.version}", "version", ">= 6.0")));
        assert!(sat(c("${attr.kernel.version}", "version", "~> 5.15")));
        assert!(sat(c(
            "${attr.kernel.version}",
            "semver",
            ">= 5.15.0, < 5.16.0"
        )));
        assert!(!sat(c("${attr.kernel.version}", "semver", "> 5.15.0")));
    }

    #[test]
    fn set_operands() {
        assert!(sat(c("${attr.features}", "set_contains", "avx,aes")));
        assert!(sat(c("${attr.features}", "set_contains_all", "sse4")));
        assert!(!sat(c("${attr.features}", "set_contains", "avx,avx512")));
        assert!(sat(c(
            "${attr.features}",
            "set_contains_any",
            "avx512, aes"
        )));
        assert!(!sat(c("${attr.features}", "set_contains_any", "avx512")));
    }

    #[test]
    fn set_and_not_set() {
        assert!(sat(c("${meta.rack}", "is_set", "")));
        assert!(!sat(c("${meta.zone}", "is_set", "")));
        assert!(sat(c("${meta.zone}", "is_not_set", "")));
        assert!(!sat(c("${meta.rack}", "is_not_set", "")));
        assert!(!sat(c("${meta.rack}", "bogus", "x")));
    }
}

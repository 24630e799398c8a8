//! The datacenter and node pool checkers: a node must be in one of the
//! job's datacenters (patterns with `*` and `?` globs) and in its node pool
//! (`all` matches every pool).

use sched_core::model::Node;

/// Whether the node's datacenter matches one of the patterns.
pub fn in_datacenters(node: &Node, patterns: &[String]) -> bool {
    patterns.iter().any(|p| glob_match(p, &node.datacenter))
}

/// Whether the node is in `pool` (`all` matches every pool; a node without
/// a pool is in `default`).
pub fn in_pool(node: &Node, pool: &str) -> bool {
    let node_pool = if node.node_pool.is_empty() {
        "default"
    } else {
        node.node_pool.as_str()
    };
    pool == "all" || pool == node_pool
}

/// Glob matching with `*` (any run) and `?` (one character).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    if !pattern.contains(['*', '?']) {
        return pattern == text;
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock;

    #[test]
    fn globs() {
        assert!(glob_match("*", "dc1"));
        assert!(glob_match("dc*", "dc1"));
        assert!(glob_match("d?1", "dc1"));
        assert!(!glob_match("dc2", "dc1"));
        assert!(glob_match("eu-*-1", "eu-west-1"));
        assert!(!glob_match("eu-*-1", "eu-west-2"));
    }

    #[test]
    fn datacenter_and_pool() {
        let node = mock::node(1);
        assert!(in_datacenters(&node, &["dc1".into()]));
        assert!(in_datacenters(&node, &["dc9".into(), "dc*".into()]));
        assert!(!in_datacenters(&node, &["dc2".into()]));
        assert!(in_pool(&node, "default"));
        assert!(in_pool(&node, "all"));
        assert!(!in_pool(&node, "gpu"));
    }
}

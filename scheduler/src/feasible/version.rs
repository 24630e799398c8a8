//! Version constraints for the `version` and `semver` operands: a
//! comma-separated list such as `>= 1.2, < 2` where every entry must hold.
//!
//! `version` follows HashiCorp go-version: an optional `v`, any number of
//! numeric segments (padded to three), `~>` (pessimistic) besides `=`,
//! `!=`, `<`, `<=`, `>`, `>=`, and a pre-release version only satisfies
//! constraints that name a pre-release of the same release. `semver` orders
//! by the Semantic Versioning precedence (via the `semver` crate) and has
//! no pre-release special case.

use std::cmp::Ordering;

/// A parsed version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    segments: Vec<u64>,
    pre: String,
}

impl Version {
    /// Parses `v1.2.3-beta.1+meta` style versions; build metadata is ignored.
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim();
        let s = s.strip_prefix('v').unwrap_or(s);
        let s = s.split_once('+').map_or(s, |(v, _)| v);
        let (core, pre) = match s.find(|c: char| c == '-' || c.is_ascii_alphabetic()) {
            Some(i) => (&s[..i], s[i..].trim_start_matches('-')),
            None => (s, ""),
        };
        let mut segments = Vec::new();
        for part in core.split('.') {
            segments.push(part.parse::<u64>().ok()?);
        }
        while segments.len() < 3 {
            segments.push(0);
        }
        Some(Version {
            segments,
            pre: pre.to_owned(),
        })
    }

    fn cmp_go(&self, other: &Version) -> Ordering {
        let n = self.segments.len().max(other.segments.len());
        for i in 0..n {
            let a = self.segments.get(i).copied().unwrap_or(0);
            let b = other.segments.get(i).copied().unwrap_or(0);
            if a != b {
                return a.cmp(&b);
            }
        }
        cmp_pre(&self.pre, &other.pre)
    }

    fn to_semver(&self) -> Option<semver::Version> {
        let mut text = format!(
            "{}.{}.{}",
            self.segments.first()?,
            self.segments.get(1)?,
            self.segments.get(2)?
        );
        if !self.pre.is_empty() {
            text.push('-');
            text.push_str(&self.pre);
        }
        semver::Version::parse(&text).ok()
    }
}

/// Pre-release ordering: a release sorts after its pre-releases; parts
/// compare numerically when both are numbers, else lexically.
fn cmp_pre(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let mut ai = a.split('.');
    let mut bi = b.split('.');
    loop {
        match (ai.next(), bi.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(p), Ok(q)) => p.cmp(&q),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    _ => x.cmp(y),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Pessimistic,
}

/// A list of version constraints that must all hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionConstraint {
    parts: Vec<(Op, Version, usize)>,
    semver: bool,
}

impl VersionConstraint {
    /// Parses a constraint list; `semver` selects semver precedence and
    /// refuses `~>`.
    pub fn parse(spec: &str, semver: bool) -> Option<VersionConstraint> {
        let mut parts = Vec::new();
        for item in spec.split(',') {
            let item = item.trim();
            let (op, rest) = [
                ("~>", Op::Pessimistic),
                (">=", Op::Ge),
                ("<=", Op::Le),
                ("!=", Op::Ne),
                (">", Op::Gt),
                ("<", Op::Lt),
                ("=", Op::Eq),
            ]
            .iter()
            .find_map(|(p, op)| item.strip_prefix(p).map(|r| (*op, r)))
            .unwrap_or((Op::Eq, item));
            if semver && op == Op::Pessimistic {
                return None;
            }
            let rest = rest.trim();
            let given = rest
                .strip_prefix('v')
                .unwrap_or(rest)
                .split(['-', '+'])
                .next()
                .unwrap_or("")
                .split('.')
                .count();
            parts.push((op, Version::parse(rest)?, given));
        }
        if parts.is_empty() {
            return None;
        }
        Some(VersionConstraint { parts, semver })
    }

    /// Whether a version string satisfies every constraint.
    pub fn matches(&self, version: &str) -> bool {
        let Some(v) = Version::parse(version) else {
            return false;
        };
        self.parts.iter().all(|(op, c, given)| {
            if self.semver {
                let (Some(a), Some(b)) = (v.to_semver(), c.to_semver()) else {
                    return false;
                };
                apply(*op, a.cmp_precedence(&b))
            } else {
                // go-version: a pre-release only matches constraints on a
                // pre-release of the same release.
                if !v.pre.is_empty() && (c.pre.is_empty() || v.segments != c.segments) {
                    return false;
                }
                if *op == Op::Pessimistic {
                    return pessimistic(&v, c, *given);
                }
                apply(*op, v.cmp_go(c))
            }
        })
    }
}

fn apply(op: Op, ord: Ordering) -> bool {
    match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Ne => ord != Ordering::Equal,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        Op::Pessimistic => false,
    }
}

/// `~> 1.2.3` means `>= 1.2.3, < 1.3`; `~> 1.2` means `>= 1.2, < 2`.
fn pessimistic(v: &Version, c: &Version, given: usize) -> bool {
    if v.cmp_go(c) == Ordering::Less {
        return false;
    }
    let fixed = given.saturating_sub(1).max(1);
    v.segments
        .iter()
        .take(fixed)
        .eq(c.segments.iter().take(fixed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(spec: &str, v: &str) -> bool {
        VersionConstraint::parse(spec, false).is_some_and(|c| c.matches(v))
    }

    fn s(spec: &str, v: &str) -> bool {
        VersionConstraint::parse(spec, true).is_some_and(|c| c.matches(v))
    }

    #[test]
    fn go_version_lists() {
        assert!(m(">= 1.2, < 2", "1.9.9"));
        assert!(!m(">= 1.2, < 2", "2.0.0"));
        assert!(m("1.2", "1.2.0"));
        assert!(m("= 1.2.0", "v1.2"));
        assert!(m("!= 1.0", "1.0.1"));
        assert!(m(">1.0.0.1", "1.0.0.2"));
    }

    #[test]
    fn pessimistic_operator() {
        assert!(m("~> 1.2", "1.9"));
        assert!(!m("~> 1.2", "2.0"));
        assert!(m("~> 1.2.3", "1.2.9"));
        assert!(!m("~> 1.2.3", "1.3.0"));
        assert!(!m("~> 1.2.3", "1.2.2"));
    }

    #[test]
    fn prereleases() {
        assert!(!m(">= 1.0", "1.1.0-beta1"));
        assert!(m(">= 1.1.0-beta1", "1.1.0-beta2"));
        assert!(s(">= 1.0", "1.1.0-beta1"));
        assert!(s("< 1.1.0", "1.1.0-rc.1"));
        assert!(!s("~> 1.0", "1.0.0"));
        assert!(VersionConstraint::parse("", false).is_none());
        assert!(VersionConstraint::parse(">= x", false).is_none());
    }
}

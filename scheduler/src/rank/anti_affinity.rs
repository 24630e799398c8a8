//! Job anti-affinity: a penalty for placing next to allocations of the same
//! job and group, `-(collisions + 1) / desired count`, applied only when
//! there are collisions.

/// The anti-affinity score, if it applies.
pub fn score(collisions: u64, desired_count: u64) -> Option<f64> {
    if collisions == 0 {
        return None;
    }
    Some(-((collisions + 1) as f64) / desired_count.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalty_grows_with_collisions() {
        assert_eq!(score(0, 10), None);
        assert_eq!(score(1, 10), Some(-0.2));
        assert_eq!(score(3, 4), Some(-1.0));
    }
}

//! Limiting and selection: Nomad looks at only `max(2, ceil(log2 N))`
//! feasible nodes of a shuffled list (2 for batch jobs), all of them when
//! affinities or spreads apply, skips up to three options scoring at or
//! below zero while better ones may come, and keeps the highest score.

use super::RankedNode;

/// Options scoring at or below this are set aside while others come.
pub const SKIP_SCORE_THRESHOLD: f64 = 0.0;
/// At most this many low-scoring options are set aside.
pub const MAX_SKIP: usize = 3;

/// Nomad's candidate limit for `n` nodes.
pub fn limit_for(n: usize, batch: bool) -> usize {
    if batch || n == 0 {
        return 2;
    }
    let log = (n as f64).log2().ceil() as usize;
    log.max(2)
}

/// Collects up to `limit` options, setting aside low scorers as Nomad's
/// limit iterator does, then returns the best.
#[derive(Debug, Clone)]
pub struct LimitSelect {
    limit: usize,
    taken: Vec<RankedNode>,
    skipped: Vec<RankedNode>,
}

impl LimitSelect {
    /// A selector that takes `limit` options.
    pub fn new(limit: usize) -> LimitSelect {
        LimitSelect {
            limit,
            taken: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// Offers an option; returns `true` once enough have been taken.
    pub fn offer(&mut self, option: RankedNode) -> bool {
        if option.final_score <= SKIP_SCORE_THRESHOLD && self.skipped.len() < MAX_SKIP {
            self.skipped.push(option);
        } else {
            self.taken.push(option);
        }
        self.is_full()
    }

    /// Whether `limit` options were taken.
    pub fn is_full(&self) -> bool {
        self.taken.len() >= self.limit
    }

    /// The best option: set-aside options fill up to the limit once the
    /// source is exhausted; ties keep the first seen.
    pub fn best(mut self) -> Option<RankedNode> {
        let room = self.limit.saturating_sub(self.taken.len());
        self.taken.extend(self.skipped.into_iter().take(room));
        let mut best: Option<RankedNode> = None;
        for o in self.taken {
            if best.as_ref().is_none_or(|b| o.final_score > b.final_score) {
                best = Some(o);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(index: usize, s: f64) -> RankedNode {
        RankedNode {
            index,
            scores: vec![s],
            final_score: s,
            ports: vec![],
        }
    }

    #[test]
    fn limits() {
        assert_eq!(limit_for(1, false), 2);
        assert_eq!(limit_for(4, false), 2);
        assert_eq!(limit_for(5, false), 3);
        assert_eq!(limit_for(5000, false), 13);
        assert_eq!(limit_for(5000, true), 2);
    }

    #[test]
    fn max_score_among_limit_with_skips() {
        let mut l = LimitSelect::new(2);
        assert!(!l.offer(opt(0, -0.5)));
        assert!(!l.offer(opt(1, 0.3)));
        assert!(l.offer(opt(2, 0.6)));
        assert_eq!(l.best().map(|b| b.index), Some(2));
        // Only low scorers: they are used once the source runs dry.
        let mut l = LimitSelect::new(2);
        l.offer(opt(0, -0.5));
        l.offer(opt(1, -0.1));
        assert_eq!(l.best().map(|b| b.index), Some(1));
    }
}

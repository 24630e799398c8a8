//! The bin-packing scorer: Nomad's BestFit v3 (`ScoreFitBinPack`) and its
//! opposite for the `spread` scheduler algorithm (`ScoreFitSpread`), both
//! normalised to 0..1 by the maximum fit score of 18.

use crate::usage::Capacity;

/// The highest raw fit score; scores are divided by it.
pub const MAX_FIT_SCORE: f64 = 18.0;

fn free_fractions(cap: &Capacity, cpu_used: i64, mem_used: i64) -> (f64, f64) {
    let free_cpu = if cap.cpu > 0 {
        1.0 - cpu_used as f64 / cap.cpu as f64
    } else {
        0.0
    };
    let free_mem = if cap.memory_mb > 0 {
        1.0 - mem_used as f64 / cap.memory_mb as f64
    } else {
        0.0
    };
    (free_cpu, free_mem)
}

/// BestFit v3: `20 - (10^freeCpu + 10^freeMem)`, clamped to 0..18, where
/// the free fractions are what the node has left after the placement. A
/// full node scores 18, an empty one 0.
pub fn score_fit_binpack(cap: &Capacity, cpu_used: i64, mem_used: i64) -> f64 {
    let (c, m) = free_fractions(cap, cpu_used, mem_used);
    (20.0 - (10f64.powf(c) + 10f64.powf(m))).clamp(0.0, MAX_FIT_SCORE)
}

/// The spread algorithm: `(10^freeCpu + 10^freeMem) - 2`, clamped to 0..18,
/// preferring emptier nodes.
pub fn score_fit_spread(cap: &Capacity, cpu_used: i64, mem_used: i64) -> f64 {
    let (c, m) = free_fractions(cap, cpu_used, mem_used);
    (10f64.powf(c) + 10f64.powf(m) - 2.0).clamp(0.0, MAX_FIT_SCORE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap() -> Capacity {
        Capacity {
            cpu: 4000,
            memory_mb: 8192,
            ..Default::default()
        }
    }

    #[test]
    fn bestfit_v3_by_hand() {
        // Half full in both: 20 - (10^0.5 + 10^0.5) = 20 - 6.3245553 = 13.6754447
        let s = score_fit_binpack(&cap(), 2000, 4096);
        assert!((s - 13.675_444_679_663_24).abs() < 1e-9, "{s}");
        assert!((s / MAX_FIT_SCORE - 0.759_746_926_647_958).abs() < 1e-9);
        // Empty: 20 - (10 + 10) = 0; full: 20 - 2 = 18.
        assert_eq!(score_fit_binpack(&cap(), 0, 0), 0.0);
        assert_eq!(score_fit_binpack(&cap(), 4000, 8192), 18.0);
        // cpu 75% used (free .25), memory 25% used (free .75):
        // 20 - (1.7782794 + 5.6234133) = 12.5983073
        let s = score_fit_binpack(&cap(), 3000, 2048);
        assert!((s - 12.598_307_3).abs() < 1e-6, "{s}");
    }

    #[test]
    fn spread_is_the_mirror() {
        assert_eq!(score_fit_spread(&cap(), 0, 0), 18.0);
        assert_eq!(score_fit_spread(&cap(), 4000, 8192), 0.0);
        let s = score_fit_spread(&cap(), 2000, 4096);
        assert!((s - 4.324_555_320_336_759).abs() < 1e-9);
    }
}

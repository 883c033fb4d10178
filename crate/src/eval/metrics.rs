//! Ranking metrics with one target per user, and the paired bootstrap.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// NDCG@k with a single relevant item at `rank` (0-based); 0 when absent or below k.
pub fn ndcg_at(rank: Option<usize>, k: usize) -> f64 {
    match rank {
        Some(r) if r < k => 1.0 / ((r + 2) as f64).log2(),
        _ => 0.0,
    }
}

pub fn recall_at(rank: Option<usize>, k: usize) -> f64 {
    match rank {
        Some(r) if r < k => 1.0,
        _ => 0.0,
    }
}

pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len().max(1) as f64
}

/// 95% CI of mean(a - b) by resampling users with replacement.
pub fn paired_bootstrap(a: &[f64], b: &[f64], resamples: usize, seed: u64) -> (f64, f64, f64) {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let n = d.len();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| d[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let lo = means[(resamples as f64 * 0.025) as usize];
    let hi = means[((resamples as f64 * 0.975) as usize).min(resamples - 1)];
    (mean(&d), lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndcg_and_recall() {
        assert_eq!(ndcg_at(Some(0), 10), 1.0);
        assert!((ndcg_at(Some(1), 10) - 1.0 / 3f64.log2()).abs() < 1e-12);
        assert_eq!(ndcg_at(Some(10), 10), 0.0);
        assert_eq!(ndcg_at(None, 10), 0.0);
        assert_eq!(recall_at(Some(9), 10), 1.0);
    }

    #[test]
    fn bootstrap_brackets_a_clear_difference_and_a_null_one() {
        let a: Vec<f64> = (0..500).map(|i| (i % 3) as f64).collect();
        let b: Vec<f64> = a.iter().map(|x| x - 0.5).collect();
        let (d, lo, hi) = paired_bootstrap(&a, &b, 1000, 1);
        assert!((d - 0.5).abs() < 1e-12 && lo <= 0.5 && hi >= 0.5);
        let (d, lo, hi) = paired_bootstrap(&a, &a, 1000, 1);
        assert_eq!((d, lo, hi), (0.0, 0.0, 0.0));
    }
}

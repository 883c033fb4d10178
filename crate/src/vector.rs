//! Small dense-vector helpers for 384-d embeddings (plain slices; the hot loops are short).

/// Dot product with 8 independent partial sums, so the compiler can use SIMD (a single
/// running sum must be added in order and stays scalar).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 8];
    let chunks = a.chunks_exact(8).zip(b.chunks_exact(8));
    for (x, y) in chunks {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = a[n - n % 8..].iter().zip(&b[n - n % 8..]).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

pub fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

/// Cosine similarity; 0 when either side is (near) zero.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let d = norm(a) * norm(b);
    if d < 1e-12 {
        0.0
    } else {
        dot(a, b) / d
    }
}

/// `acc = acc * keep + w * x`.
pub fn decay_add(acc: &mut [f32], keep: f32, w: f32, x: &[f32]) {
    for (a, v) in acc.iter_mut().zip(x) {
        *a = *a * keep + w * v;
    }
}

/// A valid embedding: the right width, finite, unit length (within tolerance).
pub fn is_unit_embedding(v: &[f32], dim: usize) -> bool {
    v.len() == dim && v.iter().all(|x| x.is_finite()) && (norm(v) - 1.0).abs() < 1e-3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_the_plain_sum_on_odd_lengths() {
        for n in [0usize, 1, 7, 8, 9, 383, 384] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-4, "n = {n}");
        }
    }
}

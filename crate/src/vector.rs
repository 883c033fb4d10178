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
    let tail: f32 = a[n - n % 8..]
        .iter()
        .zip(&b[n - n % 8..])
        .map(|(x, y)| x * y)
        .sum();
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

/// 2D coordinates of vectors on their top two principal axes (power iteration with
/// deflation); for drawing, so approximate is fine. Empty in, empty out.
pub fn project_2d(vectors: &[Vec<f32>]) -> Vec<(f32, f32)> {
    let n = vectors.len();
    if n == 0 {
        return Vec::new();
    }
    let dim = vectors[0].len();
    let mut mean = vec![0f32; dim];
    for v in vectors {
        for (m, x) in mean.iter_mut().zip(v) {
            *m += x / n as f32;
        }
    }
    let centred: Vec<Vec<f32>> = vectors
        .iter()
        .map(|v| v.iter().zip(&mean).map(|(x, m)| x - m).collect())
        .collect();
    let mut axes: Vec<Vec<f32>> = Vec::new();
    for a in 0..2 {
        // Deterministic start; power iteration on C = X'X without forming it.
        let mut axis: Vec<f32> = (0..dim)
            .map(|i| ((i * 7 + a * 13) % 11) as f32 - 5.0)
            .collect();
        for _ in 0..50 {
            let scores: Vec<f32> = centred.iter().map(|x| dot(x, &axis)).collect();
            let mut next = vec![0f32; dim];
            for (x, s) in centred.iter().zip(&scores) {
                for (nx, xi) in next.iter_mut().zip(x) {
                    *nx += s * xi;
                }
            }
            for prev in &axes {
                let p = dot(&next, prev);
                for (nx, pi) in next.iter_mut().zip(prev) {
                    *nx -= p * pi;
                }
            }
            let len = norm(&next);
            if len < 1e-12 {
                break;
            }
            axis = next.iter().map(|x| x / len).collect();
        }
        axes.push(axis);
    }
    centred
        .iter()
        .map(|x| (dot(x, &axes[0]), dot(x, &axes[1])))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn projection_separates_two_clusters_on_the_first_axis() {
        let mut vs = Vec::new();
        for i in 0..10 {
            let mut v = vec![0f32; 16];
            v[0] = if i < 5 { 1.0 } else { -1.0 };
            v[1 + i % 3] = 0.1;
            vs.push(v);
        }
        let p = super::project_2d(&vs);
        assert!(p[..5].iter().all(|(x, _)| x.signum() == p[0].0.signum()));
        assert!(p[5..].iter().all(|(x, _)| x.signum() == -p[0].0.signum()));
        assert!(super::project_2d(&[]).is_empty());
    }

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

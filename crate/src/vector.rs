//! Small dense-vector helpers for 384-d embeddings (plain slices; the hot loops are short).

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
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

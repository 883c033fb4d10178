//! The evaluation's "servers": item-to-item models whose score for a user is the sum of the
//! rows of the items in their history. EASE (Steck 2019): B = I - P diag(1/diag(P)),
//! P = (X'X + λI)^-1, zero diagonal. ItemKNN: cosine of item co-occurrence with a shrink term.

use nalgebra::DMatrix;

/// Which server model a protocol runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerModel {
    /// EASE with lambda chosen on validation.
    Ease,
    /// ItemKNN, cosine with shrink 10 (the reference's weaker generator).
    ItemKnn,
}

/// ItemKNN's shrink: co-occurrence counts below about 10 are damped (the reference's value).
pub const KNN_SHRINK: f32 = 10.0;

pub struct ItemItem {
    pub n_items: usize,
    /// Row-major n_items x n_items.
    pub b: Vec<f32>,
}

/// Item-by-item co-occurrence counts of binary histories.
fn co_occurrence<'a>(histories: impl Iterator<Item = &'a [usize]>, n_items: usize) -> DMatrix<f64> {
    let mut g = DMatrix::<f64>::zeros(n_items, n_items);
    for h in histories {
        let mut items: Vec<usize> = h.to_vec();
        items.sort_unstable();
        items.dedup();
        for &i in &items {
            for &j in &items {
                g[(i, j)] += 1.0;
            }
        }
    }
    g
}

impl ItemItem {
    /// ItemKNN on binary user histories: sim(i, j) = c_ij / (sqrt(c_ii c_jj) + shrink).
    pub fn item_knn<'a>(histories: impl Iterator<Item = &'a [usize]>, n_items: usize) -> Self {
        let g = co_occurrence(histories, n_items);
        let mut b = vec![0f32; n_items * n_items];
        for i in 0..n_items {
            for j in 0..n_items {
                if i != j && g[(i, j)] > 0.0 {
                    b[i * n_items + j] =
                        (g[(i, j)] / ((g[(i, i)] * g[(j, j)]).sqrt() + KNN_SHRINK as f64)) as f32;
                }
            }
        }
        Self { n_items, b }
    }

    /// EASE on binary user histories (item indices).
    pub fn ease<'a>(
        histories: impl Iterator<Item = &'a [usize]>,
        n_items: usize,
        lambda: f64,
    ) -> Self {
        let mut g = co_occurrence(histories, n_items);
        for i in 0..n_items {
            g[(i, i)] += lambda;
        }
        let p = g
            .cholesky()
            .expect("X'X + λI is positive definite for λ > 0")
            .inverse();
        let mut b = vec![0f32; n_items * n_items];
        for i in 0..n_items {
            for j in 0..n_items {
                if i != j {
                    b[i * n_items + j] = (-p[(i, j)] / p[(j, j)]) as f32;
                }
            }
        }
        Self { n_items, b }
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.b[i * self.n_items..(i + 1) * self.n_items]
    }

    pub fn scores(&self, history: &[usize]) -> Vec<f32> {
        let mut s = vec![0f32; self.n_items];
        for &i in history {
            for (x, b) in s.iter_mut().zip(self.row(i)) {
                *x += b;
            }
        }
        s
    }
}

/// The best `k` items by score, excluding `seen`, best first (ties by item index).
pub fn top_k(scores: &[f32], seen: &[usize], k: usize) -> Vec<usize> {
    let mut mask = vec![false; scores.len()];
    for &i in seen {
        mask[i] = true;
    }
    let mut items: Vec<usize> = (0..scores.len()).filter(|&i| !mask[i]).collect();
    let k = k.min(items.len());
    if k == 0 {
        return Vec::new();
    }
    items.select_nth_unstable_by(k - 1, |&a, &b| {
        scores[b].total_cmp(&scores[a]).then(a.cmp(&b))
    });
    items.truncate(k);
    items.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ease_recommends_co_occurring_items() {
        // Items 0 and 1 always together; 2 and 3 together.
        let histories: Vec<Vec<usize>> = (0..20)
            .map(|u| if u % 2 == 0 { vec![0, 1] } else { vec![2, 3] })
            .collect();
        let ease = ItemItem::ease(histories.iter().map(Vec::as_slice), 4, 1.0);
        let s = ease.scores(&[0]);
        assert_eq!(top_k(&s, &[0], 1), vec![1]);
        let s = ease.scores(&[3]);
        assert_eq!(top_k(&s, &[3], 1), vec![2]);
        assert_eq!(ease.row(0)[0], 0.0);
        let knn = ItemItem::item_knn(histories.iter().map(Vec::as_slice), 4);
        assert_eq!(top_k(&knn.scores(&[0]), &[0], 1), vec![1]);
        assert_eq!(knn.row(0)[2], 0.0);
    }
}

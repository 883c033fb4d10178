//! On-device adaptation of the interest model: softmax steps on the gate from the user's own
//! choices, bounded and pulled back to the shipped gate.
//!
//! The score is linear in the gate (`phi . gate`), so the gradient of a choice's softmax loss is
//! the readouts' mean under the model minus the chosen one's: no backward pass on the device.

use crate::vector::norm;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateAdaptation {
    pub lr: f32,
    /// Pull toward the shipped gate per step (L2 strength).
    pub l2: f32,
    /// Largest step norm.
    pub max_step: f32,
    /// Largest distance from the shipped gate: however much feedback, the model stays near
    /// what was trained.
    pub max_distance: f32,
}

/// What the device does after each choice, and what the meta fit prepares for.
pub const DEVICE_ADAPTATION: GateAdaptation = GateAdaptation {
    lr: 0.1,
    l2: 0.1,
    max_step: 0.5,
    max_distance: 4.0,
};

impl Default for GateAdaptation {
    fn default() -> Self {
        DEVICE_ADAPTATION
    }
}

/// One choice: the readouts of the items the user saw, and which one they took. `offset` is
/// each item's score from the rest of the ranking (the prior blend), which the model's score is
/// added to; empty = 0.
pub struct GateStep<'a> {
    pub phi: &'a [Vec<f32>],
    pub offset: &'a [f32],
    pub chosen: usize,
}

/// The softmax loss gradient of one choice with respect to the gate.
pub fn gate_gradient(gate: &[f32], step: &GateStep) -> Vec<f32> {
    let s: Vec<f32> = step
        .phi
        .iter()
        .enumerate()
        .map(|(i, p)| crate::vector::dot(p, gate) + step.offset.get(i).copied().unwrap_or(0.0))
        .collect();
    let max = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f64> = s.iter().map(|x| ((x - max) as f64).exp()).collect();
    let total: f64 = e.iter().sum();
    let mut grad = vec![0f64; gate.len()];
    for (p, ei) in step.phi.iter().zip(&e) {
        let w = ei / total;
        for (g, x) in grad.iter_mut().zip(p) {
            *g += w * *x as f64;
        }
    }
    for (g, x) in grad.iter_mut().zip(&step.phi[step.chosen]) {
        *g -= *x as f64;
    }
    grad.into_iter().map(|g| g as f32).collect()
}

/// The gate after one choice. A step with no finite gradient leaves the gate as it was.
pub fn adapt_gate(gate: &[f32], shipped: &[f32], step: &GateStep, a: &GateAdaptation) -> Vec<f32> {
    if step.chosen >= step.phi.len() || a.lr <= 0.0 {
        return gate.to_vec();
    }
    let grad = gate_gradient(gate, step);
    let mut delta: Vec<f32> = grad
        .iter()
        .zip(gate.iter().zip(shipped))
        .map(|(g, (w, w0))| -a.lr * (g + a.l2 * (w - w0)))
        .collect();
    if delta.iter().any(|d| !d.is_finite()) {
        return gate.to_vec();
    }
    let n = norm(&delta);
    if n > a.max_step {
        delta.iter_mut().for_each(|d| *d *= a.max_step / n);
    }
    let mut next: Vec<f32> = gate.iter().zip(&delta).map(|(w, d)| w + d).collect();
    let offset: Vec<f32> = next.iter().zip(shipped).map(|(w, w0)| w - w0).collect();
    let far = norm(&offset);
    if far > a.max_distance {
        for ((w, w0), o) in next.iter_mut().zip(shipped).zip(&offset) {
            *w = w0 + o * a.max_distance / far;
        }
    }
    next
}

/// Replays a user's choices in order, as the product does: each slate is ranked by the current
/// gate and its top `shown` items are shown; when the user's item is among them, one step is
/// taken over the shown items. Each slate's `chosen` is the index of the item taken in it.
pub fn replay_choices(
    shipped: &[f32],
    slates: &[GateStep],
    shown: usize,
    a: &GateAdaptation,
) -> Vec<f32> {
    let mut gate = shipped.to_vec();
    if a.lr <= 0.0 {
        return gate;
    }
    for GateStep {
        phi,
        offset,
        chosen: target,
    } in slates
    {
        let s: Vec<f32> = phi
            .iter()
            .enumerate()
            .map(|(i, p)| crate::vector::dot(p, &gate) + offset.get(i).copied().unwrap_or(0.0))
            .collect();
        let mut order: Vec<usize> = (0..phi.len()).collect();
        order.sort_by(|&x, &y| s[y].total_cmp(&s[x]));
        order.truncate(shown);
        let Some(chosen) = order.iter().position(|i| i == target) else {
            continue;
        };
        let seen: Vec<Vec<f32>> = order.iter().map(|&i| phi[i].clone()).collect();
        let seen_offset: Vec<f32> = if offset.is_empty() {
            Vec::new()
        } else {
            order.iter().map(|&i| offset[i]).collect()
        };
        gate = adapt_gate(
            &gate,
            shipped,
            &GateStep {
                phi: &seen,
                offset: &seen_offset,
                chosen,
            },
            a,
        );
    }
    gate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_raises_the_chosen_items_score_and_stays_bounded() {
        let phi = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![0.5, 0.5]];
        let shipped = vec![1.0, 1.0];
        let a = GateAdaptation::default();
        let step = GateStep {
            phi: &phi,
            offset: &[],
            chosen: 1,
        };
        let next = adapt_gate(&shipped, &shipped, &step, &a);
        let score = |g: &[f32], i: usize| crate::vector::dot(&phi[i], g);
        assert!(score(&next, 1) - score(&next, 0) > score(&shipped, 1) - score(&shipped, 0));
        // The gradient matches a finite difference of the loss.
        let loss = |g: &[f32]| {
            let s: Vec<f64> = phi
                .iter()
                .map(|p| crate::vector::dot(p, g) as f64)
                .collect();
            let z: f64 = s.iter().map(|x| x.exp()).sum();
            -(s[1] - z.ln())
        };
        let g = gate_gradient(&[0.3, -0.2], &step);
        for k in 0..2 {
            let mut hi = vec![0.3f32, -0.2];
            let mut lo = hi.clone();
            hi[k] += 1e-3;
            lo[k] -= 1e-3;
            let fd = (loss(&hi) - loss(&lo)) / 2e-3;
            assert!((fd as f32 - g[k]).abs() < 1e-3, "{fd} vs {}", g[k]);
        }
        // However many steps, the gate stays within max_distance of the shipped one.
        let mut gate = shipped.clone();
        for _ in 0..1000 {
            gate = adapt_gate(&gate, &shipped, &step, &GateAdaptation { l2: 0.0, ..a });
        }
        let off: Vec<f32> = gate.iter().zip(&shipped).map(|(x, y)| x - y).collect();
        assert!(norm(&off) <= a.max_distance + 1e-4, "{}", norm(&off));
        // A bad index or a zero rate changes nothing.
        let bad = GateStep {
            phi: &phi,
            offset: &[],
            chosen: 9,
        };
        assert_eq!(adapt_gate(&shipped, &shipped, &bad, &a), shipped);
    }
}

//! Multi-head self-attention on plain f32 slices, for the CPU path.
//!
//! burn's attention is eleven tensor ops per layer (slices, transposes, two batched matmuls,
//! scaling, masking, softmax), each allocating and walking its own tensor; at batch 1 a
//! sentence has about 19 tokens, so per-op overhead outweighs the arithmetic (12 heads x 19 x
//! 19 x 32 multiply-adds, twice). Here each query of each head is one pass over the real keys,
//! as the WebGPU attention kernel does, and padding keys are skipped rather than masked.
//! Measured: native batch 1 132 -> 154 sentences/s; in Chromium 104 -> 107 (within a run's
//! spread there; a first version with one running sum per dot product was 103).

use super::round::round_ties_even;
use crate::vector::dot;

/// `qkv` is `[batch][seq][3 * heads * head_dim]` (query, key and value side by side, as the
/// fused projection writes them); `padding` is `[batch][seq]`, true at padding. Returns the
/// context, `[batch][seq][heads * head_dim]`, or None if the lengths disagree. A query with
/// no real key gets zeros.
pub fn attend(
    qkv: &[f32],
    padding: &[bool],
    seq: usize,
    heads: usize,
    head_dim: usize,
) -> Option<Vec<f32>> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        return unsafe { attend_avx2(qkv, padding, seq, heads, head_dim) };
    }
    attend_portable(qkv, padding, seq, heads, head_dim)
}

/// [`attend`] compiled for AVX2: the eight running sums of each dot product and of the
/// softmax's sum fill one 256-bit register instead of two SSE2 ones, in the same order, so the
/// bits are the same (Rust never fuses a multiply and an add on its own). 17% of native
/// batch-32 time was here on SSE2 alone (perf, 2026-12-07).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn attend_avx2(
    qkv: &[f32],
    padding: &[bool],
    seq: usize,
    heads: usize,
    head_dim: usize,
) -> Option<Vec<f32>> {
    attend_portable(qkv, padding, seq, heads, head_dim)
}

#[inline(always)]
fn attend_portable(
    qkv: &[f32],
    padding: &[bool],
    seq: usize,
    heads: usize,
    head_dim: usize,
) -> Option<Vec<f32>> {
    let hidden = heads * head_dim;
    let width = 3 * hidden;
    let batch = padding.len() / seq.max(1);
    if seq == 0 || qkv.len() != batch * seq * width || padding.len() != batch * seq {
        return None;
    }
    // burn divides the scores by √d; so does this, for the same roundings.
    let root = (head_dim as f32).sqrt();
    let mut context = vec![0f32; batch * seq * hidden];
    let mut weights = vec![0f32; seq];
    for (b, (rows, padding)) in qkv
        .chunks_exact(seq * width)
        .zip(padding.chunks_exact(seq))
        .enumerate()
    {
        let head = |row: usize, part: usize, h: usize| {
            let at = row * width + part * hidden + h * head_dim;
            &rows[at..at + head_dim]
        };
        // Only up to the last real key: the sum's running sums then group the same keys however
        // far the batch pads this sentence, so its vector is the same bit for bit in any batch
        // (a reload re-encodes cached texts in other batches; summing the padding too moved
        // scores by up to 9.6e-4 across one).
        let keys = padding
            .iter()
            .rposition(|&pad| !pad)
            .map_or(0, |last| last + 1);
        let weights = &mut weights[..keys];
        for h in 0..heads {
            for i in 0..seq {
                let query = head(i, 0, h);
                let mut max = f32::NEG_INFINITY;
                for (j, weight) in weights.iter_mut().enumerate() {
                    *weight = if padding[j] {
                        f32::NEG_INFINITY
                    } else {
                        dot(query, head(j, 1, h)) / root
                    };
                    max = max.max(*weight);
                }
                if max == f32::NEG_INFINITY {
                    continue;
                }
                for weight in weights.iter_mut() {
                    *weight = exp(*weight - max);
                }
                let sum = sum(weights);
                let at = (b * seq + i) * hidden + h * head_dim;
                let out = &mut context[at..at + head_dim];
                for (j, weight) in weights.iter().enumerate() {
                    if padding[j] {
                        continue;
                    }
                    let p = weight / sum;
                    for (o, v) in out.iter_mut().zip(head(j, 2, h)) {
                        *o += p * v;
                    }
                }
            }
        }
    }
    Some(context)
}

/// e^x for the softmax, to within 2 units in the last place; 0 below -87 (padding's -inf
/// included). libm's `expf` is a call per value in wasm: 3.3% of batch-1 time in a Chromium
/// profile. `2^n · e^r` with `n = round(x / ln 2)`, `r` reduced in two steps (ln 2 split so
/// that `n · LN2_HI` is exact) and e^r by its Taylor series to r^7 (|r| <= 0.35: the first
/// term left out is below 6e-9).
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let clamped = x.clamp(-87.0, 88.0);
    let n = round_ties_even(clamped * std::f32::consts::LOG2_E);
    let r = clamped - n * LN2_HI - n * LN2_LO;
    let mut p = 1.0 / FACTORIALS[7];
    for k in (1..=6).rev() {
        p = p * r + 1.0 / FACTORIALS[k];
    }
    let p = p * r + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    if x < -87.0 {
        0.0
    } else {
        p * scale
    }
}

/// k! for k = 0..=7.
const FACTORIALS: [f32; 8] = [1.0, 1.0, 2.0, 6.0, 24.0, 120.0, 720.0, 5040.0];

/// A sum in eight running sums, as `vector::dot` keeps them, so the compiler can use SIMD.
#[inline(always)]
fn sum(values: &[f32]) -> f32 {
    let mut sums = [0f32; 8];
    let chunks = values.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for i in 0..8 {
            sums[i] += chunk[i];
        }
    }
    sums.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoder::bert::attention;
    use crate::encoder::device::cpu_device;
    use burn::nn::transformer::TransformerEncoderConfig;
    use burn::tensor::{Bool, Tensor, TensorData};

    #[test]
    fn matches_burns_attention_with_padding() {
        let (batch, seq, heads, head_dim) = (3, 7, 4, 8);
        let hidden = heads * head_dim;
        let device = cpu_device();
        let layer = TransformerEncoderConfig::new(hidden, 2 * hidden, heads, 1)
            .init(&device)
            .layers
            .remove(0);
        let mut s = 7u64;
        let qkv: Vec<f32> = (0..batch * seq * 3 * hidden)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
            })
            .collect();
        // Lengths 7, 4 and 1: full, padded, all but the first token padding.
        let padding: Vec<bool> = [7, 4, 1]
            .iter()
            .flat_map(|&len| (0..seq).map(move |j| j >= len))
            .collect();
        let got = attend(&qkv, &padding, seq, heads, head_dim).unwrap();
        let want = attention(
            &layer,
            Tensor::from_data(TensorData::new(qkv, [batch, seq, 3 * hidden]), &device),
            &Tensor::<2, Bool>::from_data(TensorData::new(padding, [batch, seq]), &device),
        )
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() < 1e-5, "value {i}: {g} vs {w}");
        }
    }

    #[test]
    fn exp_is_within_two_units_in_the_last_place() {
        for i in 0..=200_000 {
            let x = -87.0 + i as f32 * (87.0 + 10.0) / 200_000.0;
            let want = (x as f64).exp();
            let got = exp(x) as f64;
            assert!(
                ((got - want) / want).abs() < 2.4e-7,
                "exp({x}) = {got}, want {want}"
            );
        }
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(-100.0), 0.0);
    }

    #[test]
    fn a_sentence_attends_the_same_bits_however_far_it_is_padded() {
        let (real, heads, head_dim) = (13, 2, 8);
        let width = 3 * heads * head_dim;
        let mut s = 11u64;
        let mut value = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
        };
        let sentence: Vec<f32> = (0..real * width).map(|_| value()).collect();
        // 13 keys alone sum as 8 + a tail of 5; padded to 24 they would fill three groups of 8.
        let contexts: Vec<Vec<f32>> = [real, 16, 24]
            .iter()
            .map(|&seq| {
                let mut qkv = sentence.clone();
                qkv.extend((real * width..seq * width).map(|_| value()));
                let padding: Vec<bool> = (0..seq).map(|j| j >= real).collect();
                let context = attend(&qkv, &padding, seq, heads, head_dim).unwrap();
                context[..real * heads * head_dim].to_vec()
            })
            .collect();
        assert_eq!(contexts[0], contexts[1]);
        assert_eq!(contexts[0], contexts[2]);
    }

    #[test]
    fn a_query_without_real_keys_gets_zeros() {
        let got = attend(&[1.0; 2 * 3 * 4], &[true, true], 2, 2, 2).unwrap();
        assert_eq!(got.len(), 2 * 4);
        assert!(attend(&[1.0; 5], &[true, true], 2, 2, 2).is_none());
        assert!(got.iter().all(|&v| v == 0.0));
    }
}

//! Integer products on relaxed SIMD's byte dot product: activations as two 7-bit digits.
//!
//! `i32x4.relaxed_dot_i8x16_i7x16_add` does 16 byte multiply-adds per instruction and, on a CPU
//! with AVX-VNNI, V8 lowers it to one `vpdpbusd`. Its result is the same on every engine only
//! when the second operand's bytes lie in 0..=127, so activations are quantized per row to
//! ±8191 (14 bits: min cosine 0.99972 against 0.99973 at 16, docs/benchmarks.md), offset by
//! 8192 into 0..=16383 and split into a high and a low 7-bit digit. Per block of 32 inputs:
//! `Σ w·x = 128·Σ w·hi + Σ w·lo − 8192·Σ w`, all in i32 (at most 32·127·16383 < 2^27), so the
//! sums are the very integers the 16-bit kernels compute from the same 14-bit activations, and
//! the float steps after them are the same: the portable pair kernel checks this one bit for bit.
//!
//! Weights are packed in quads: per panel of 8 outputs, `[inputs/4][8][4]` bytes, so one
//! 16-byte load holds 4 outputs × 4 inputs, what one dot instruction consumes.

use super::int8_gemm::{scale_for_row, BLOCK, PANEL};
use super::round::round_ties_even;

/// Largest activation magnitude: 14 bits, so that `x + DIGIT_OFFSET` has two 7-bit digits.
pub(super) const DIGIT_ACT_MAX: f32 = 8191.0;
/// Added to every activation so that both digits are non-negative.
const DIGIT_OFFSET: i32 = 8192;
/// Inputs per byte-dot lane.
const QUAD: usize = 4;

/// Quad-packed weights and `8192·Σw` per output and block, from `[outputs][inputs]` values
/// (`inputs` a multiple of 32, `outputs` of 8).
pub(super) fn pack_quads(values: &[i8], inputs: usize, outputs: usize) -> (Vec<i8>, Vec<i32>) {
    let blocks = inputs / BLOCK;
    let mut packed = Vec::with_capacity(inputs * outputs);
    let mut offsets = Vec::with_capacity(blocks * outputs);
    for panel in (0..outputs).step_by(PANEL) {
        for quad in 0..inputs / QUAD {
            for c in panel..panel + PANEL {
                let at = c * inputs + QUAD * quad;
                packed.extend_from_slice(&values[at..at + QUAD]);
            }
        }
        for b in 0..blocks {
            offsets.extend((panel..panel + PANEL).map(|c| {
                let block = &values[c * inputs + b * BLOCK..c * inputs + (b + 1) * BLOCK];
                DIGIT_OFFSET * block.iter().map(|&w| w as i32).sum::<i32>()
            }));
        }
    }
    (packed, offsets)
}

/// Per-row quantization to ±8191, each row stored as `[high digits][low digits]` (`2·width`
/// bytes). Non-finite values become 0; an all-zero row gets scale 1.
pub(super) fn quantize_digits(x: &[f32], width: usize, digits: &mut [u8], row_scales: &mut [f32]) {
    for ((row, d), row_scale) in x
        .chunks_exact(width)
        .zip(digits.chunks_exact_mut(2 * width))
        .zip(row_scales.iter_mut())
    {
        let scale = scale_for_row(row, DIGIT_ACT_MAX);
        let inv = 1.0 / scale;
        let (high, low) = d.split_at_mut(width);
        for ((h, l), v) in high.iter_mut().zip(low.iter_mut()).zip(row) {
            let q = round_ties_even(v * inv).clamp(-DIGIT_ACT_MAX, DIGIT_ACT_MAX);
            (*h, *l) = digits_of(if v.is_finite() { q as i32 } else { 0 });
        }
        *row_scale = scale;
    }
}

/// The high and low 7-bit digits of `a + 8192`, for `a` in ±8191.
pub(super) fn digits_of(a: i32) -> (u8, u8) {
    let u = a + DIGIT_OFFSET;
    ((u >> 7) as u8, (u & 127) as u8)
}

/// The 14-bit activation a high and a low digit stand for.
pub(super) fn digit_value(high: u8, low: u8) -> i16 {
    ((high as i32) * 128 + low as i32 - DIGIT_OFFSET) as i16
}

/// Up to 4 rows of digits against one quad-packed panel of 8 outputs.
pub(super) struct DigitTile<'a> {
    /// `[rows][high digits, low digits]`, `2·inputs` bytes a row.
    pub digits: &'a [u8],
    pub weights: &'a [i8],
    pub scales: &'a [f32],
    pub offsets: &'a [i32],
    pub inputs: usize,
}

impl DigitTile<'_> {
    /// Panics unless the slices hold what the kernels read; `Int8Linear` slices them so.
    fn check<const R: usize>(&self) {
        let blocks = self.inputs / BLOCK;
        assert!(
            self.inputs.is_multiple_of(BLOCK)
                && self.weights.len() >= self.inputs * PANEL
                && self.scales.len() >= blocks * PANEL
                && self.offsets.len() >= blocks * PANEL
                && self.digits.len() >= R * 2 * self.inputs
        );
    }

    /// `Σ_blocks f32(Σ_block w·x) · scale` for `R` rows and 8 outputs.
    pub fn dots<const R: usize>(&self) -> [[f32; PANEL]; R] {
        #[cfg(all(target_arch = "wasm32", feature = "relaxed-simd"))]
        // SAFETY: this build is only loaded where the browser validated relaxed SIMD (a
        // module using it fails to compile elsewhere, js/wasm.js probes first).
        return unsafe { self.dots_relaxed::<R>() };
        #[allow(unreachable_code)]
        self.dots_portable::<R>()
    }

    /// The relaxed-SIMD kernel: per block, the high digits' sums, times 128, then the low
    /// digits' (one set of accumulators: 4 rows × 2 vectors stay in registers, where separate
    /// high and low sums would need 16 of x64's 16).
    #[cfg(all(target_arch = "wasm32", feature = "relaxed-simd"))]
    #[target_feature(enable = "relaxed-simd")]
    unsafe fn dots_relaxed<const R: usize>(&self) -> [[f32; PANEL]; R] {
        use core::arch::wasm32::*;
        self.check::<R>();
        let (w, d, s, o) = (
            self.weights.as_ptr(),
            self.digits.as_ptr(),
            self.scales.as_ptr(),
            self.offsets.as_ptr(),
        );
        let (inputs, stride) = (self.inputs, 2 * self.inputs);
        let mut out = [[0f32; PANEL]; R];
        // SAFETY: `check` bounds every load below; unaligned v128 loads are allowed in wasm.
        unsafe {
            let mut sum = [[f32x4_splat(0.0); 2]; R];
            for block in 0..inputs / BLOCK {
                let mut acc = [[i32x4_splat(0); 2]; R];
                let quads = block * BLOCK / QUAD..(block + 1) * BLOCK / QUAD;
                for (digit, shift) in [(0, true), (inputs, false)] {
                    for q in quads.clone() {
                        let w0 = v128_load(w.add(q * 32) as *const v128);
                        let w1 = v128_load(w.add(q * 32 + 16) as *const v128);
                        for (r, acc) in acc.iter_mut().enumerate() {
                            let x = v128_load32_splat(
                                d.add(r * stride + digit + QUAD * q) as *const u32
                            );
                            acc[0] = i32x4_relaxed_dot_i8x16_i7x16_add(w0, x, acc[0]);
                            acc[1] = i32x4_relaxed_dot_i8x16_i7x16_add(w1, x, acc[1]);
                        }
                    }
                    if shift {
                        for acc in acc.iter_mut() {
                            acc[0] = i32x4_shl(acc[0], 7);
                            acc[1] = i32x4_shl(acc[1], 7);
                        }
                    }
                }
                let o0 = v128_load(o.add(block * PANEL) as *const v128);
                let o1 = v128_load(o.add(block * PANEL + 4) as *const v128);
                let s0 = v128_load(s.add(block * PANEL) as *const v128);
                let s1 = v128_load(s.add(block * PANEL + 4) as *const v128);
                for (sum, acc) in sum.iter_mut().zip(acc) {
                    let a0 = f32x4_convert_i32x4(i32x4_sub(acc[0], o0));
                    let a1 = f32x4_convert_i32x4(i32x4_sub(acc[1], o1));
                    sum[0] = f32x4_add(sum[0], f32x4_mul(a0, s0));
                    sum[1] = f32x4_add(sum[1], f32x4_mul(a1, s1));
                }
            }
            for (o, sum) in out.iter_mut().zip(sum) {
                v128_store(o.as_mut_ptr() as *mut v128, sum[0]);
                v128_store(o.as_mut_ptr().add(4) as *mut v128, sum[1]);
            }
        }
        out
    }

    /// The same sums in plain Rust, digit by digit as the relaxed kernel forms them.
    pub fn dots_portable<const R: usize>(&self) -> [[f32; PANEL]; R] {
        self.check::<R>();
        let stride = 2 * self.inputs;
        let mut sum = [[0f32; PANEL]; R];
        for block in 0..self.inputs / BLOCK {
            let mut acc = [[0i32; PANEL]; R];
            for (r, acc) in acc.iter_mut().enumerate() {
                let row = &self.digits[r * stride..(r + 1) * stride];
                for (digit, weight) in [(0, 128), (self.inputs, 1)] {
                    for q in block * BLOCK / QUAD..(block + 1) * BLOCK / QUAD {
                        let w = &self.weights[q * 32..(q + 1) * 32];
                        let x = &row[digit + QUAD * q..digit + QUAD * (q + 1)];
                        for (c, acc) in acc.iter_mut().enumerate() {
                            let dot: i32 = (0..QUAD)
                                .map(|k| w[QUAD * c + k] as i32 * x[k] as i32)
                                .sum();
                            *acc += weight * dot;
                        }
                    }
                }
            }
            let offsets = &self.offsets[block * PANEL..(block + 1) * PANEL];
            let scales = &self.scales[block * PANEL..(block + 1) * PANEL];
            for (sum, acc) in sum.iter_mut().zip(acc) {
                for c in 0..PANEL {
                    sum[c] += (acc[c] - offsets[c]) as f32 * scales[c];
                }
            }
        }
        sum
    }
}

//! Integer matrix products for the CPU path: int8 weights times 16-bit activations.
//!
//! On one wasm core the encoder is bound by its f32 matrix products (about three quarters of
//! batch-1 time). `i32x4.dot_i16x8_s` does eight multiply-adds per instruction where f32x4 does
//! four, and the weights stream at one byte instead of four.
//!
//! The weights are the model file's own int8 values, with one scale per output column and block
//! of 32 inputs (the file stores each linear weight transposed so that burn's blocks of 32 run
//! along the input axis). The integer sum of each block is converted and scaled once per block.
//! Activations are quantized per row to 16 bits, which adds no error worth measuring, so the
//! int8 file alone sets the accuracy. (Re-quantizing weights from another layout at load cost
//! up to 0.0015 of min cosine; quantizing activations per block of weight scales cost more time
//! than the integer products saved.)
//!
//! The relaxed-SIMD wasm build adds a second kernel (`int8_digits`): byte dot products on
//! activations of 14 bits as two 7-bit digits, one instruction per 16 multiply-adds where the
//! CPU has AVX-VNNI. Elsewhere the engine emulates it and it is slower, so that build times
//! both once ([`choose_digit_kernel`]) and packs its layers for the faster.
//!
//! Plain Rust: a SIMD128 kernel in wasm, the same kernel in SSE2 or AVX2 on x86_64, a portable
//! one elsewhere; all compute the same integer sums and the same f32 operations in the same order,
//! so native tests check what the browser runs.

use super::int8_digits;
use super::round::round_ties_even;

/// Output columns per packed panel (two i16x8 vectors of four column pairs).
pub const PANEL: usize = 8;
/// Inputs sharing one weight scale (the model file's blocks).
pub const BLOCK: usize = 32;
/// Rows per kernel call: 4 rows x 2 vectors of integer and float accumulators.
const MR: usize = 4;
/// Rows per call of the wide kernel (two panels, one 512-bit register per row): 8 rows hold 16
/// of its 32 registers, and each weight load serves twice as many rows as at 4.
const WIDE_MR: usize = 8;
/// Rows per cache block: their quantized activations stay in L2 while every panel streams.
const ROW_BLOCK: usize = 64;
/// Largest activation magnitude after quantization. A block's integer sum is at most
/// 32 * 127 * 32767 < 2^31, and it is converted to f32 after every block.
const ACT_MAX: f32 = 32767.0;

/// A linear layer `y = x Wᵀ + b` with int8 weights and one f32 scale per output and block of 32
/// inputs. Panels of 8 outputs hold `[inputs/2][8][2]` bytes (pairs of inputs per output) and
/// `[inputs/32][8]` scales.
#[derive(Debug, Clone)]
pub struct Int8Linear {
    inputs: usize,
    outputs: usize,
    /// Pairs (`[inputs/2][8][2]` per panel) for the 16-bit kernels; quads (`[inputs/4][8][4]`)
    /// where `digit_offsets` is set.
    packed: Vec<i8>,
    scales: Vec<f32>,
    bias: Vec<f32>,
    /// The relaxed-dot kernel's `8192·Σw` per panel, block and output (`int8_digits`).
    digit_offsets: Option<Vec<i32>>,
}

impl Int8Linear {
    /// Quantizes `weight` (`[outputs][inputs]`, row-major) with a symmetric scale per output and
    /// block of 32 inputs. Weights dequantized from that layout with min-max scales (MiniLM's
    /// int8 file) come back to their exact int8 values. `inputs` must be a multiple of 32 and
    /// `outputs` of 8; both models' shapes are.
    pub fn new(weight: &[f32], bias: &[f32], inputs: usize, outputs: usize) -> Option<Self> {
        if inputs == 0 || !inputs.is_multiple_of(BLOCK) || weight.len() != inputs * outputs {
            return None;
        }
        // [outputs][blocks]
        let block_scales: Vec<f32> = weight
            .chunks_exact(BLOCK)
            .map(|block| {
                let max = block
                    .iter()
                    .filter(|w| w.is_finite())
                    .fold(0f32, |m, w| m.max(w.abs()));
                if max > 0.0 {
                    max / 127.0
                } else {
                    1.0
                }
            })
            .collect();
        let values: Vec<i8> = weight
            .chunks_exact(BLOCK)
            .zip(&block_scales)
            .flat_map(|(block, scale)| {
                block.iter().map(move |w| {
                    let q = (w / scale).round();
                    if q.is_finite() {
                        q.clamp(-127.0, 127.0) as i8
                    } else {
                        0
                    }
                })
            })
            .collect();
        Self::from_blocks(&values, &block_scales, bias, inputs, outputs)
    }

    /// A layer from its int8 values (`[outputs][inputs]`) and one scale per output and block of
    /// 32 inputs, as a model file stores them: no re-quantisation. Values must lie in -127..=127
    /// (the kernel's sums are sized for it).
    pub fn from_blocks(
        values: &[i8],
        block_scales: &[f32],
        bias: &[f32],
        inputs: usize,
        outputs: usize,
    ) -> Option<Self> {
        Self::with_kernel(values, block_scales, bias, inputs, outputs, digit_kernel())
    }

    /// [`Int8Linear::from_blocks`] packed for the relaxed-dot kernel (`digits`) or the 16-bit
    /// ones.
    fn with_kernel(
        values: &[i8],
        block_scales: &[f32],
        bias: &[f32],
        inputs: usize,
        outputs: usize,
        digits: bool,
    ) -> Option<Self> {
        if inputs == 0
            || !inputs.is_multiple_of(BLOCK)
            || !outputs.is_multiple_of(PANEL)
            || values.len() != inputs * outputs
            || block_scales.len() != inputs / BLOCK * outputs
            || bias.len() != outputs
            || values.contains(&i8::MIN)
        {
            return None;
        }
        let blocks = inputs / BLOCK;
        let mut scales = Vec::with_capacity(blocks * outputs);
        for panel in (0..outputs).step_by(PANEL) {
            for b in 0..blocks {
                scales.extend((panel..panel + PANEL).map(|c| block_scales[c * blocks + b]));
            }
        }
        let (packed, digit_offsets) = if digits {
            let (packed, offsets) = int8_digits::pack_quads(values, inputs, outputs);
            (packed, Some(offsets))
        } else {
            (pack_pairs(values, inputs, outputs), None)
        };
        Some(Self {
            inputs,
            outputs,
            packed,
            scales,
            bias: bias.to_vec(),
            digit_offsets,
        })
    }

    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// `x` is `[rows][inputs]`; returns `[rows][outputs]`. A short `x` gives the rows it holds.
    pub fn forward(&self, x: &[f32]) -> Vec<f32> {
        if let Some(offsets) = &self.digit_offsets {
            return self.forward_digits(x, offsets);
        }
        let rows = x.len() / self.inputs;
        let mut out = vec![0f32; rows * self.outputs];
        let mut quantized = vec![0i16; ROW_BLOCK.min(rows) * self.inputs];
        let mut row_scales = vec![0f32; ROW_BLOCK.min(rows)];
        let blocks = self.inputs / BLOCK;
        let panels = self.outputs / PANEL;
        let wide = wide_kernel();
        for block_start in (0..rows).step_by(ROW_BLOCK) {
            let block_rows = (rows - block_start).min(ROW_BLOCK);
            let x_block = &x[block_start * self.inputs..(block_start + block_rows) * self.inputs];
            quantize_rows(x_block, self.inputs, &mut quantized, &mut row_scales);
            let mut panel = 0;
            while panel < panels {
                // Two panels per pass where the wide kernel runs; the last odd one alone.
                let width = if wide && panel + 1 < panels { 2 } else { 1 };
                let tile_rows = if width == 2 { WIDE_MR } else { MR };
                let weights = &self.packed
                    [panel * self.inputs * PANEL..(panel + width) * self.inputs * PANEL];
                let scales = &self.scales[panel * blocks * PANEL..(panel + width) * blocks * PANEL];
                let col = panel * PANEL;
                let bias = &self.bias[col..col + width * PANEL];
                let mut row = 0;
                while row < block_rows {
                    let n = (block_rows - row).min(tile_rows);
                    let tile = Tile {
                        activations: &quantized[row * self.inputs..(row + n) * self.inputs],
                        weights,
                        scales,
                        inputs: self.inputs,
                    };
                    let dst = &mut out[(block_start + row) * self.outputs + col..];
                    let row_scales = &row_scales[row..row + n];
                    let stride = self.outputs;
                    match (width, n) {
                        (2, 8) => write(&tile.dots_pair::<8>(), row_scales, bias, dst, stride),
                        (2, 7) => write(&tile.dots_pair::<7>(), row_scales, bias, dst, stride),
                        (2, 6) => write(&tile.dots_pair::<6>(), row_scales, bias, dst, stride),
                        (2, 5) => write(&tile.dots_pair::<5>(), row_scales, bias, dst, stride),
                        (2, 4) => write(&tile.dots_pair::<4>(), row_scales, bias, dst, stride),
                        (2, 3) => write(&tile.dots_pair::<3>(), row_scales, bias, dst, stride),
                        (2, 2) => write(&tile.dots_pair::<2>(), row_scales, bias, dst, stride),
                        (2, _) => write(&tile.dots_pair::<1>(), row_scales, bias, dst, stride),
                        (_, 4) => write(&tile.dots::<4>(), row_scales, bias, dst, stride),
                        (_, 3) => write(&tile.dots::<3>(), row_scales, bias, dst, stride),
                        (_, 2) => write(&tile.dots::<2>(), row_scales, bias, dst, stride),
                        _ => write(&tile.dots::<1>(), row_scales, bias, dst, stride),
                    }
                    row += n;
                }
                panel += width;
            }
        }
        out
    }
}

impl Int8Linear {
    /// [`Int8Linear::forward`] on the relaxed-dot kernel: the same cache blocks and tiles of
    /// one panel, activations as two 7-bit digits.
    fn forward_digits(&self, x: &[f32], offsets: &[i32]) -> Vec<f32> {
        let rows = x.len() / self.inputs;
        let mut out = vec![0f32; rows * self.outputs];
        let mut digits = vec![0u8; ROW_BLOCK.min(rows) * 2 * self.inputs];
        let mut row_scales = vec![0f32; ROW_BLOCK.min(rows)];
        let blocks = self.inputs / BLOCK;
        for block_start in (0..rows).step_by(ROW_BLOCK) {
            let block_rows = (rows - block_start).min(ROW_BLOCK);
            let x_block = &x[block_start * self.inputs..(block_start + block_rows) * self.inputs];
            int8_digits::quantize_digits(x_block, self.inputs, &mut digits, &mut row_scales);
            for panel in 0..self.outputs / PANEL {
                let col = panel * PANEL;
                let bias = &self.bias[col..col + PANEL];
                let mut row = 0;
                while row < block_rows {
                    let n = (block_rows - row).min(MR);
                    let tile = int8_digits::DigitTile {
                        digits: &digits[row * 2 * self.inputs..(row + n) * 2 * self.inputs],
                        weights: &self.packed
                            [panel * self.inputs * PANEL..(panel + 1) * self.inputs * PANEL],
                        scales: &self.scales[panel * blocks * PANEL..(panel + 1) * blocks * PANEL],
                        offsets: &offsets[panel * blocks * PANEL..(panel + 1) * blocks * PANEL],
                        inputs: self.inputs,
                    };
                    let dst = &mut out[(block_start + row) * self.outputs + col..];
                    let row_scales = &row_scales[row..row + n];
                    let stride = self.outputs;
                    match n {
                        4 => write(&tile.dots::<4>(), row_scales, bias, dst, stride),
                        3 => write(&tile.dots::<3>(), row_scales, bias, dst, stride),
                        2 => write(&tile.dots::<2>(), row_scales, bias, dst, stride),
                        _ => write(&tile.dots::<1>(), row_scales, bias, dst, stride),
                    }
                    row += n;
                }
            }
        }
        out
    }
}

/// Pair-packed weights for the 16-bit kernels: per panel of 8 outputs, `[inputs/2][8][2]`.
fn pack_pairs(values: &[i8], inputs: usize, outputs: usize) -> Vec<i8> {
    let mut packed = Vec::with_capacity(inputs * outputs);
    for panel in (0..outputs).step_by(PANEL) {
        for pair in 0..inputs / 2 {
            for c in panel..panel + PANEL {
                packed.extend([
                    values[c * inputs + 2 * pair],
                    values[c * inputs + 2 * pair + 1],
                ]);
            }
        }
    }
    packed
}

/// `dst[r * stride + c] = dots[r][c] * row_scales[r] + bias[c]` for one tile.
fn write<const R: usize, const W: usize>(
    dots: &[[f32; W]; R],
    row_scales: &[f32],
    bias: &[f32],
    dst: &mut [f32],
    stride: usize,
) {
    for ((dots, scale), r) in dots.iter().zip(row_scales).zip(0..) {
        let out = &mut dst[r * stride..r * stride + W];
        for ((o, d), b) in out.iter_mut().zip(dots).zip(bias) {
            *o = d * scale + b;
        }
    }
}

/// The scale that maps a row's largest finite magnitude to `limit`; 1 for a row of zeros.
pub(super) fn scale_for_row(row: &[f32], limit: f32) -> f32 {
    // Eight running maxima the compiler keeps in one vector register (a single running
    // maximum stays scalar); a non-finite value counts as 0, so it never becomes the maximum.
    let mut lanes = [0f32; 8];
    let chunks = row.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (m, v) in lanes.iter_mut().zip(chunk) {
            *m = m.max(finite_magnitude(*v));
        }
    }
    let max = tail
        .iter()
        .fold(lanes.into_iter().fold(0f32, f32::max), |m, v| {
            m.max(finite_magnitude(*v))
        });
    if max > 0.0 {
        max / limit
    } else {
        1.0
    }
}

/// |v|, or 0 for NaN and the infinities.
#[inline(always)]
fn finite_magnitude(v: f32) -> f32 {
    let magnitude = v.abs();
    if magnitude.to_bits() < f32::INFINITY.to_bits() {
        magnitude
    } else {
        0.0
    }
}

/// Symmetric per-row quantization to ±`ACT_MAX` as i16. Non-finite values become 0; an
/// all-zero row gets scale 1.
fn quantize_rows(x: &[f32], width: usize, quantized: &mut [i16], row_scales: &mut [f32]) {
    for ((row, q), row_scale) in x
        .chunks_exact(width)
        .zip(quantized.chunks_exact_mut(width))
        .zip(row_scales.iter_mut())
    {
        let scale = scale_for_row(row, ACT_MAX);
        let inv = 1.0 / scale;
        for (q, v) in q.iter_mut().zip(row) {
            // A non-finite value becomes 0 before the product (its quantized value is 0).
            let v = if v.is_finite() { *v } else { 0.0 };
            // Ties to even: wasm's `f32.nearest`, one instruction. `round` (ties away from
            // zero) has no wasm instruction and became a libm call per value; natively see
            // `round::round_ties_even`.
            let r = round_ties_even(v * inv).clamp(-ACT_MAX, ACT_MAX);
            // A row whose largest magnitude is below about 1e-34 has a scale so small that
            // `inv` overflows: 0 · ∞ is NaN there, which becomes 0 as the checked cast made it.
            let r = if r.is_nan() { 0.0 } else { r };
            // SAFETY: `r` is not NaN and is clamped to ±32767, so the truncation is exact and
            // in range. The checked `as` cast saturated each value alone and kept the loop
            // scalar: with the row's maximum, 18% of batch-32 time natively.
            *q = unsafe { r.to_int_unchecked::<i32>() } as i16;
        }
        *row_scale = scale;
    }
}

/// Up to `MR` quantized rows against one panel of 8 outputs.
struct Tile<'a> {
    activations: &'a [i16],
    weights: &'a [i8],
    scales: &'a [f32],
    inputs: usize,
}

impl Tile<'_> {
    /// Panics unless the slices hold what the kernels read; `forward` slices them so.
    fn check<const R: usize>(&self) {
        assert!(
            self.inputs.is_multiple_of(BLOCK)
                && self.weights.len() >= self.inputs * PANEL
                && self.scales.len() >= self.inputs / BLOCK * PANEL
                && self.activations.len() >= R * self.inputs
        );
    }

    /// `Σ_blocks f32(Σ_block a·q) · scale` for `R` rows and 8 outputs, in SIMD128.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    fn dots<const R: usize>(&self) -> [[f32; PANEL]; R] {
        use core::arch::wasm32::*;
        self.check::<R>();
        let (w, a, s) = (
            self.weights.as_ptr(),
            self.activations.as_ptr(),
            self.scales.as_ptr(),
        );
        let mut out = [[0f32; PANEL]; R];
        // SAFETY: `check` bounds every load below; unaligned v128 loads are allowed in wasm.
        unsafe {
            let mut sum = [[f32x4_splat(0.0); 2]; R];
            for block in 0..self.inputs / BLOCK {
                let mut acc = [[i32x4_splat(0); 2]; R];
                for p in block * BLOCK / 2..(block + 1) * BLOCK / 2 {
                    // `v128.load8x8_s` loads and sign-extends in one instruction (x64:
                    // `pmovsxbw` from memory), where a load and two extends took four.
                    let lo = i16x8_load_extend_i8x8(w.add(p * 16));
                    let hi = i16x8_load_extend_i8x8(w.add(p * 16 + 8));
                    for (r, acc) in acc.iter_mut().enumerate() {
                        let pair = v128_load32_splat(a.add(r * self.inputs + 2 * p) as *const u32);
                        acc[0] = i32x4_add(acc[0], i32x4_dot_i16x8(pair, lo));
                        acc[1] = i32x4_add(acc[1], i32x4_dot_i16x8(pair, hi));
                    }
                }
                let s0 = v128_load(s.add(block * PANEL) as *const v128);
                let s1 = v128_load(s.add(block * PANEL + 4) as *const v128);
                for (sum, acc) in sum.iter_mut().zip(acc) {
                    sum[0] = f32x4_add(sum[0], f32x4_mul(f32x4_convert_i32x4(acc[0]), s0));
                    sum[1] = f32x4_add(sum[1], f32x4_mul(f32x4_convert_i32x4(acc[1]), s1));
                }
            }
            for (o, sum) in out.iter_mut().zip(sum) {
                v128_store(o.as_mut_ptr() as *mut v128, sum[0]);
                v128_store(o.as_mut_ptr().add(4) as *mut v128, sum[1]);
            }
        }
        out
    }

    /// x86_64: AVX2 where the CPU has it (one 256-bit `vpmaddwd` covers the panel's 8
    /// outputs), else the SSE2 twin of the wasm kernel.
    #[cfg(target_arch = "x86_64")]
    fn dots<const R: usize>(&self) -> [[f32; PANEL]; R] {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is present (checked just above).
            unsafe { self.dots_avx2::<R>() }
        } else {
            self.dots_sse2::<R>()
        }
    }

    /// The same sums and float steps as the other kernels, 8 outputs per register.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn dots_avx2<const R: usize>(&self) -> [[f32; PANEL]; R] {
        use core::arch::x86_64::*;
        self.check::<R>();
        let (w, a, s) = (
            self.weights.as_ptr(),
            self.activations.as_ptr(),
            self.scales.as_ptr(),
        );
        let mut out = [[0f32; PANEL]; R];
        // SAFETY: `check` bounds every (unaligned) load; the caller guarantees AVX2.
        unsafe {
            let mut sum = [_mm256_setzero_ps(); R];
            for block in 0..self.inputs / BLOCK {
                let mut acc = [_mm256_setzero_si256(); R];
                for p in block * BLOCK / 2..(block + 1) * BLOCK / 2 {
                    // 16 int8 weights, (input 2p, 2p+1) for each of the 8 outputs, as i16.
                    let packed =
                        _mm256_cvtepi8_epi16(_mm_loadu_si128(w.add(p * 16) as *const __m128i));
                    for (r, acc) in acc.iter_mut().enumerate() {
                        let pair = (a.add(r * self.inputs + 2 * p) as *const i32).read_unaligned();
                        *acc = _mm256_add_epi32(
                            *acc,
                            _mm256_madd_epi16(_mm256_set1_epi32(pair), packed),
                        );
                    }
                }
                let scale = _mm256_loadu_ps(s.add(block * PANEL));
                for (sum, acc) in sum.iter_mut().zip(acc) {
                    *sum = _mm256_add_ps(*sum, _mm256_mul_ps(_mm256_cvtepi32_ps(acc), scale));
                }
            }
            for (o, sum) in out.iter_mut().zip(sum) {
                _mm256_storeu_ps(o.as_mut_ptr(), sum);
            }
        }
        out
    }

    /// The wasm kernel, instruction for instruction: V8 lowers `i32x4.dot_i16x8_s` to the
    /// same `pmaddwd`. SSE2 is part of x86_64, so this needs no runtime detection.
    #[cfg(target_arch = "x86_64")]
    fn dots_sse2<const R: usize>(&self) -> [[f32; PANEL]; R] {
        use core::arch::x86_64::*;
        self.check::<R>();
        let (w, a, s) = (
            self.weights.as_ptr(),
            self.activations.as_ptr(),
            self.scales.as_ptr(),
        );
        let mut out = [[0f32; PANEL]; R];
        // SAFETY: SSE2 is always present on x86_64; `check` bounds every (unaligned) load.
        unsafe {
            let mut sum = [[_mm_setzero_ps(); 2]; R];
            for block in 0..self.inputs / BLOCK {
                let mut acc = [[_mm_setzero_si128(); 2]; R];
                for p in block * BLOCK / 2..(block + 1) * BLOCK / 2 {
                    let packed = _mm_loadu_si128(w.add(p * 16) as *const __m128i);
                    // Sign-extend i8 to i16: duplicate each byte, shift right arithmetically.
                    let lo = _mm_srai_epi16(_mm_unpacklo_epi8(packed, packed), 8);
                    let hi = _mm_srai_epi16(_mm_unpackhi_epi8(packed, packed), 8);
                    for (r, acc) in acc.iter_mut().enumerate() {
                        let pair = (a.add(r * self.inputs + 2 * p) as *const i32).read_unaligned();
                        let pair = _mm_set1_epi32(pair);
                        acc[0] = _mm_add_epi32(acc[0], _mm_madd_epi16(pair, lo));
                        acc[1] = _mm_add_epi32(acc[1], _mm_madd_epi16(pair, hi));
                    }
                }
                let s0 = _mm_loadu_ps(s.add(block * PANEL));
                let s1 = _mm_loadu_ps(s.add(block * PANEL + 4));
                for (sum, acc) in sum.iter_mut().zip(acc) {
                    sum[0] = _mm_add_ps(sum[0], _mm_mul_ps(_mm_cvtepi32_ps(acc[0]), s0));
                    sum[1] = _mm_add_ps(sum[1], _mm_mul_ps(_mm_cvtepi32_ps(acc[1]), s1));
                }
            }
            for (o, sum) in out.iter_mut().zip(sum) {
                _mm_storeu_ps(o.as_mut_ptr(), sum[0]);
                _mm_storeu_ps(o.as_mut_ptr().add(4), sum[1]);
            }
        }
        out
    }

    /// This panel and the next (their weights and scales follow each other in the slices) for
    /// `R` rows: the wide kernel where it runs, else [`Tile::dots`] on each half.
    fn dots_pair<const R: usize>(&self) -> [[f32; 2 * PANEL]; R] {
        #[cfg(target_arch = "x86_64")]
        if wide_kernel() {
            // SAFETY: AVX-512 F, BW, DQ and VNNI are present (`wide_kernel` checked).
            return unsafe { self.dots_wide_avx512::<R>() };
        }
        join_halves(self.halves().map(|half| half.dots::<R>()))
    }

    /// The two panels of a pair tile as one-panel tiles.
    fn halves(&self) -> [Tile<'_>; 2] {
        let (weights, scales) = (self.inputs * PANEL, self.inputs / BLOCK * PANEL);
        [0, 1].map(|h| Tile {
            activations: self.activations,
            weights: &self.weights[h * weights..(h + 1) * weights],
            scales: &self.scales[h * scales..(h + 1) * scales],
            inputs: self.inputs,
        })
    }

    /// x86_64 with AVX-512 VNNI: two panels, 16 outputs per register. `vpdpwssd` multiplies
    /// pairs of 16-bit values and adds them to the sum in one instruction, where AVX2 takes
    /// `vpmaddwd` and `vpaddd`; the sums are the same integers (no pair reaches 2^31), then
    /// the same float steps per output.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vnni")]
    unsafe fn dots_wide_avx512<const R: usize>(&self) -> [[f32; 2 * PANEL]; R] {
        use core::arch::x86_64::*;
        let blocks = self.inputs / BLOCK;
        assert!(
            self.inputs.is_multiple_of(BLOCK)
                && self.weights.len() >= 2 * self.inputs * PANEL
                && self.scales.len() >= 2 * blocks * PANEL
                && self.activations.len() >= R * self.inputs
        );
        let (w, a, s) = (
            self.weights.as_ptr(),
            self.activations.as_ptr(),
            self.scales.as_ptr(),
        );
        let second = self.inputs * PANEL;
        let mut out = [[0f32; 2 * PANEL]; R];
        // SAFETY: the assert above bounds every (unaligned) load; the caller guarantees the
        // target features.
        unsafe {
            let mut sum = [_mm512_setzero_ps(); R];
            for block in 0..blocks {
                let mut acc = [_mm512_setzero_si512(); R];
                for p in block * BLOCK / 2..(block + 1) * BLOCK / 2 {
                    // Lanes 0-7: the first panel's outputs, 8-15: the second's.
                    let packed = _mm512_cvtepi8_epi16(_mm256_loadu2_m128i(
                        w.add(second + p * 16) as *const __m128i,
                        w.add(p * 16) as *const __m128i,
                    ));
                    for (r, acc) in acc.iter_mut().enumerate() {
                        let pair = (a.add(r * self.inputs + 2 * p) as *const i32).read_unaligned();
                        *acc = _mm512_dpwssd_epi32(*acc, _mm512_set1_epi32(pair), packed);
                    }
                }
                let scale = _mm512_insertf32x8::<1>(
                    _mm512_castps256_ps512(_mm256_loadu_ps(s.add(block * PANEL))),
                    _mm256_loadu_ps(s.add((blocks + block) * PANEL)),
                );
                for (sum, acc) in sum.iter_mut().zip(acc) {
                    *sum = _mm512_add_ps(*sum, _mm512_mul_ps(_mm512_cvtepi32_ps(acc), scale));
                }
            }
            for (o, sum) in out.iter_mut().zip(sum) {
                _mm512_storeu_ps(o.as_mut_ptr(), sum);
            }
        }
        out
    }

    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    fn dots<const R: usize>(&self) -> [[f32; PANEL]; R] {
        self.dots_portable::<R>()
    }

    /// The same sums in plain Rust (other targets; the SIMD kernels are tested against it).
    fn dots_portable<const R: usize>(&self) -> [[f32; PANEL]; R] {
        self.check::<R>();
        let mut sum = [[0f32; PANEL]; R];
        for block in 0..self.inputs / BLOCK {
            let mut acc = [[0i32; PANEL]; R];
            for p in block * BLOCK / 2..(block + 1) * BLOCK / 2 {
                let w = &self.weights[p * 2 * PANEL..(p + 1) * 2 * PANEL];
                for (r, acc) in acc.iter_mut().enumerate() {
                    let a0 = self.activations[r * self.inputs + 2 * p] as i32;
                    let a1 = self.activations[r * self.inputs + 2 * p + 1] as i32;
                    for c in 0..PANEL {
                        acc[c] += a0 * w[2 * c] as i32 + a1 * w[2 * c + 1] as i32;
                    }
                }
            }
            let scales = &self.scales[block * PANEL..(block + 1) * PANEL];
            for (sum, acc) in sum.iter_mut().zip(acc) {
                for c in 0..PANEL {
                    sum[c] += acc[c] as f32 * scales[c];
                }
            }
        }
        sum
    }
}

/// The two halves' rows side by side: `[first panel's 8, second panel's 8]` per row.
fn join_halves<const R: usize>(halves: [[[f32; PANEL]; R]; 2]) -> [[f32; 2 * PANEL]; R] {
    let mut out = [[0f32; 2 * PANEL]; R];
    for (r, row) in out.iter_mut().enumerate() {
        row[..PANEL].copy_from_slice(&halves[0][r]);
        row[PANEL..].copy_from_slice(&halves[1][r]);
    }
    out
}

/// Whether the two-panel kernel may run where the CPU has it (on unless a benchmark turns it
/// off to time the AVX2 kernel beside it).
static WIDE_ALLOWED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Lets (`true`, the default) or stops the two-panel AVX-512 VNNI kernel from running, for
/// the whole process. Both give the same bits; `cloister bench` times one beside the other.
pub fn allow_wide_kernel(allowed: bool) {
    WIDE_ALLOWED.store(allowed, std::sync::atomic::Ordering::Relaxed);
}

/// Whether [`Int8Linear::forward`] runs two panels per pass: x86_64 with AVX-512 VNNI (twice
/// the AVX2 kernel's outputs per register, and one instruction per multiply-add where it
/// takes two).
fn wide_kernel() -> bool {
    #[cfg(target_arch = "x86_64")]
    return WIDE_ALLOWED.load(std::sync::atomic::Ordering::Relaxed)
        && std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512dq")
        && std::arch::is_x86_feature_detected!("avx512vnni");
    #[allow(unreachable_code)]
    false
}

/// Whether new layers may pack for the relaxed-dot kernel where the build has it (on unless
/// the package's probe found the 16-bit kernel faster on this CPU, see [`allow_digit_kernel`]).
static DIGITS_ALLOWED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Lets (`true`, the default) or stops layers made from now on from using the relaxed-dot
/// kernel. It only exists in the relaxed-SIMD wasm build; elsewhere this changes nothing.
pub fn allow_digit_kernel(allowed: bool) {
    DIGITS_ALLOWED.store(allowed, std::sync::atomic::Ordering::Relaxed);
}

/// Whether [`Int8Linear::from_blocks`] packs for the relaxed-dot kernel (`int8_digits`): a
/// wasm build with relaxed SIMD, while allowed.
fn digit_kernel() -> bool {
    has_digit_kernel() && DIGITS_ALLOWED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Whether this build has the relaxed-dot kernel at all.
pub fn has_digit_kernel() -> bool {
    cfg!(all(target_arch = "wasm32", feature = "relaxed-simd"))
}

/// What [`choose_digit_kernel`] timed: the fastest of its rounds for each kernel, in the
/// clock's unit, and the kernel it kept.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KernelChoice {
    pub kernel: &'static str,
    /// `None` where the kernel was forced rather than timed.
    pub simd128: Option<f64>,
    pub relaxed_dot: Option<f64>,
}

/// Rounds per kernel in [`choose_digit_kernel`]: the fastest counts, so that a round run before
/// the engine's optimizing tier took over, or while another tab ran, does not decide.
const PROBE_ROUNDS: usize = 5;

/// The step of the clock `now`: the smallest of three differences between successive readings
/// that differ (browsers coarsen `performance.now()`: 0.1 ms steps in Chromium, 1 ms in
/// Firefox 153, whose kernel timings come in whole ms). 0 where it did not move in 10^6 readings.
fn clock_step(now: &dyn Fn() -> f64) -> f64 {
    let (mut step, mut ticks, mut last) = (f64::INFINITY, 0, now());
    for _ in 0..1_000_000 {
        let t = now();
        if t > last {
            step = step.min(t - last);
            ticks += 1;
            if ticks == 3 {
                break;
            }
            last = t;
        }
    }
    if step.is_finite() {
        step
    } else {
        0.0
    }
}

/// Times the 16-bit and the relaxed-dot kernels on one synthetic 384 → 1536 layer (MiniLM's
/// feed-forward shape) over 64 rows, three products a round (about 4 ms at wasm's speed here),
/// alternating, and keeps the relaxed-dot kernel for layers made from now on only if it is at
/// least 5% and one clock step faster: with Firefox's 1 ms clock, 8 against 9 ms is one tick,
/// and five timings there on 2026-12-08 read 7/8, 8/9, 9/8, 8/8 and 4/5 ms for a kernel it
/// runs 0.75x as fast (docs/benchmarks.md), so 5% alone let a tick pick it. The byte products
/// are one instruction only where the CPU has AVX-VNNI (or ARM's dot product); elsewhere the
/// engine emulates them and the 16-bit kernel, which is also a little more accurate, wins.
/// `now` is a clock in any unit. Returns `None` in a build without the relaxed-dot kernel.
pub fn choose_digit_kernel(now: &dyn Fn() -> f64) -> Option<KernelChoice> {
    if !has_digit_kernel() {
        return None;
    }
    let (inputs, outputs, rows) = (384, 1536, 64);
    let weights = sample_values(inputs * outputs, 71);
    let values: Vec<i8> = weights
        .iter()
        .map(|v| (v * 16.0).clamp(-127.0, 127.0) as i8)
        .collect();
    let scales = vec![1e-3; inputs / BLOCK * outputs];
    let bias = vec![0.0; outputs];
    let x = sample_values(rows * inputs, 72);
    let layer = |digits| Int8Linear::with_kernel(&values, &scales, &bias, inputs, outputs, digits);
    let (Some(pairs), Some(digits)) = (layer(false), layer(true)) else {
        return None;
    };
    let time = |layer: &Int8Linear| {
        let start = now();
        for _ in 0..3 {
            std::hint::black_box(layer.forward(std::hint::black_box(&x)));
        }
        now() - start
    };
    let (mut simd128, mut relaxed_dot) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..PROBE_ROUNDS {
        simd128 = simd128.min(time(&pairs));
        relaxed_dot = relaxed_dot.min(time(&digits));
    }
    let keep = relaxed_dot < 0.95 * simd128 - clock_step(now);
    allow_digit_kernel(keep);
    Some(KernelChoice {
        kernel: kernel_name(),
        simd128: Some(simd128),
        relaxed_dot: Some(relaxed_dot),
    })
}

/// What [`self_check`] found: tiles compared and how many differed by even one bit.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KernelCheck {
    /// The kernel this target runs: "relaxed-dot" (where allowed, else "simd128"), "simd128",
    /// "avx512vnni" (two panels per pass, the rest
    /// "avx2"), "avx2", "sse2" or "portable".
    pub kernel: &'static str,
    pub cases: usize,
    pub mismatches: usize,
}

/// The kernel this target runs.
pub fn kernel_name() -> &'static str {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return if digit_kernel() {
        "relaxed-dot"
    } else {
        "simd128"
    };
    #[cfg(target_arch = "x86_64")]
    return if wide_kernel() {
        "avx512vnni"
    } else if std::arch::is_x86_feature_detected!("avx2") {
        "avx2"
    } else {
        "sse2"
    };
    #[allow(unreachable_code)]
    "portable"
}

/// Runs the kernel this target uses against the portable reference on fixed tiles (every
/// row count, one to twelve blocks, weights and activations at their extremes): they must
/// agree bit for bit. The browser tests call it through the wasm, where the kernel is SIMD128,
/// and in the relaxed-SIMD build also the relaxed-dot kernel, 3 row counts per size.
pub fn self_check() -> KernelCheck {
    let mut check = KernelCheck {
        kernel: kernel_name(),
        cases: 0,
        mismatches: 0,
    };
    for (case, blocks) in [1usize, 2, 3, 4, 12].into_iter().enumerate() {
        let inputs = blocks * BLOCK;
        let seed = case as u64 * 10;
        // Two panels and eight rows: the one-panel kernels read the first panel and rows.
        let mut weights: Vec<i8> = sample_values(2 * inputs * PANEL, seed + 1)
            .iter()
            .map(|v| (v * 127.0).clamp(-127.0, 127.0) as i8)
            .collect();
        let mut activations: Vec<i16> = sample_values(WIDE_MR * inputs, seed + 2)
            .iter()
            .map(|v| (v * ACT_MAX).clamp(-ACT_MAX, ACT_MAX) as i16)
            .collect();
        // The extremes: a block's sum reaches ±32 * 127 * 32767.
        weights[..BLOCK].fill(127);
        activations[..BLOCK].fill(ACT_MAX as i16);
        weights[BLOCK * PANEL - 1] = -127;
        weights[inputs * PANEL..inputs * PANEL + BLOCK].fill(-127);
        let scales: Vec<f32> = sample_values(2 * blocks * PANEL, seed + 3)
            .iter()
            .map(|v| v.abs() * 0.01 + 1e-4)
            .collect();
        let tile = Tile {
            activations: &activations,
            weights: &weights,
            scales: &scales,
            inputs,
        };
        let mut same = vec![
            tile.dots::<4>() == tile.dots_portable::<4>(),
            tile.dots::<3>() == tile.dots_portable::<3>(),
            tile.dots::<2>() == tile.dots_portable::<2>(),
            tile.dots::<1>() == tile.dots_portable::<1>(),
        ];
        if wide_kernel() {
            let portable_pair = |rows| {
                let [a, b] = tile.halves().map(|h| h.dots_portable::<WIDE_MR>());
                join_halves([a, b])[..rows].to_vec()
            };
            same.extend([
                tile.dots_pair::<8>()[..] == portable_pair(8)[..],
                tile.dots_pair::<5>()[..] == portable_pair(5)[..],
                tile.dots_pair::<1>()[..] == portable_pair(1)[..],
            ]);
        }
        if has_digit_kernel() {
            same.extend(digit_cases(&weights, &activations, &scales, inputs));
        }
        for same in same {
            check.cases += 1;
            check.mismatches += usize::from(!same);
        }
    }
    check
}

/// The relaxed-dot kernel against the portable 16-bit one on the same 14-bit activations, for
/// 4, 3 and 1 rows: `weights`' first panel read as `[8][inputs]` values, the activations
/// divided by 4 (±32767 becomes ±8191, both extremes).
fn digit_cases(weights: &[i8], activations: &[i16], scales: &[f32], inputs: usize) -> Vec<bool> {
    let values = &weights[..inputs * PANEL];
    let pairs = pack_pairs(values, inputs, PANEL);
    let (quads, offsets) = int8_digits::pack_quads(values, inputs, PANEL);
    let narrow: Vec<i16> = activations[..MR * inputs].iter().map(|a| a / 4).collect();
    let mut digits = vec![0u8; MR * 2 * inputs];
    for (row, d) in narrow
        .chunks_exact(inputs)
        .zip(digits.chunks_exact_mut(2 * inputs))
    {
        let (high, low) = d.split_at_mut(inputs);
        for ((h, l), &a) in high.iter_mut().zip(low.iter_mut()).zip(row) {
            (*h, *l) = int8_digits::digits_of(a as i32);
        }
    }
    let pair_tile = Tile {
        activations: &narrow,
        weights: &pairs,
        scales,
        inputs,
    };
    let digit_tile = int8_digits::DigitTile {
        digits: &digits,
        weights: &quads,
        scales,
        offsets: &offsets,
        inputs,
    };
    let exact_digits = digits
        .chunks_exact(2 * inputs)
        .zip(narrow.chunks_exact(inputs))
        .all(|(d, row)| {
            (0..inputs).all(|k| int8_digits::digit_value(d[k], d[inputs + k]) == row[k])
        });
    vec![
        exact_digits && digit_tile.dots::<4>() == pair_tile.dots_portable::<4>(),
        digit_tile.dots::<3>() == pair_tile.dots_portable::<3>(),
        digit_tile.dots::<1>() == pair_tile.dots_portable::<1>(),
    ]
}

/// Deterministic values in [-1, 1) with a few outliers (x8), like a transformer's.
fn sample_values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|i| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let v = ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0;
            if i % 97 == 0 {
                v * 8.0
            } else {
                v
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `x Wᵀ + b` in f64, `w` as `[outputs][inputs]`.
    fn reference(x: &[f32], w: &[f32], b: &[f32], inputs: usize, outputs: usize) -> Vec<f32> {
        let rows = x.len() / inputs;
        let mut y = vec![0f32; rows * outputs];
        for r in 0..rows {
            for c in 0..outputs {
                let dot: f64 = (0..inputs)
                    .map(|k| x[r * inputs + k] as f64 * w[c * inputs + k] as f64)
                    .sum();
                y[r * outputs + c] = dot as f32 + b[c];
            }
        }
        y
    }

    fn values(n: usize, seed: u64) -> Vec<f32> {
        sample_values(n, seed)
    }

    #[test]
    fn matches_a_float_product_for_every_row_tail() {
        let (inputs, outputs) = (96, 24);
        let w = values(inputs * outputs, 1);
        let b = values(outputs, 2);
        let layer = Int8Linear::new(&w, &b, inputs, outputs).unwrap();
        let dequantized = int8_round_trip(&w);
        // 1..=9 rows covers every kernel height (4, 3, 2, 1) and more than one tile.
        for rows in 1..=9 {
            let x = values(rows * inputs, 3 + rows as u64);
            let got = layer.forward(&x);
            // Against the int8 weights themselves only the 16-bit activations differ.
            let exact = reference(&x, &dequantized, &b, inputs, outputs);
            assert!(
                relative_error(&got, &exact) < 1e-4,
                "rows {rows}: {}",
                relative_error(&got, &exact)
            );
            // Against the float weights the int8 rounding shows (outlier blocks are coarse).
            let float = reference(&x, &w, &b, inputs, outputs);
            assert!(
                relative_error(&got, &float) < 0.03,
                "rows {rows}: {}",
                relative_error(&got, &float)
            );
        }
    }

    fn relative_error(got: &[f32], want: &[f32]) -> f32 {
        assert_eq!(got.len(), want.len());
        let err: f32 = got
            .iter()
            .zip(want)
            .map(|(g, e)| (g - e).powi(2))
            .sum::<f32>()
            .sqrt();
        err / want.iter().map(|e| e * e).sum::<f32>().sqrt()
    }

    /// What the int8 file holds for `w`: each block of 32 rounded to its max / 127 steps.
    fn int8_round_trip(w: &[f32]) -> Vec<f32> {
        w.chunks_exact(BLOCK)
            .flat_map(|block| {
                let step = block.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
                block.iter().map(move |v| (v / step).round() * step)
            })
            .collect()
    }

    #[test]
    fn the_self_check_finds_the_kernel_exact() {
        let check = self_check();
        // 4 row counts at 5 input sizes, and 3 row counts of the two-panel kernel where it runs.
        assert_eq!(check.cases, if wide_kernel() { 35 } else { 20 });
        assert_eq!(check.mismatches, 0, "{check:?}");
    }

    #[test]
    fn the_simd_kernel_computes_what_the_portable_one_does() {
        let inputs = 64;
        let weights: Vec<i8> = values(inputs * PANEL, 11)
            .iter()
            .map(|v| (v * 15.0) as i8)
            .collect();
        let activations: Vec<i16> = values(4 * inputs, 12)
            .iter()
            .map(|v| (v * 4000.0) as i16)
            .collect();
        let scales: Vec<f32> = values(inputs / BLOCK * PANEL, 13)
            .iter()
            .map(|v| v.abs() + 0.01)
            .collect();
        let tile = Tile {
            activations: &activations,
            weights: &weights,
            scales: &scales,
            inputs,
        };
        assert_eq!(tile.dots::<4>(), tile.dots_portable::<4>());
        assert_eq!(tile.dots::<3>(), tile.dots_portable::<3>());
        assert_eq!(tile.dots::<1>(), tile.dots_portable::<1>());
        #[cfg(target_arch = "x86_64")]
        {
            // Both x86 kernels, whichever `dots` picked on this CPU.
            assert_eq!(tile.dots_sse2::<4>(), tile.dots_portable::<4>());
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 is present.
                assert_eq!(unsafe { tile.dots_avx2::<4>() }, tile.dots_portable::<4>());
                assert_eq!(unsafe { tile.dots_avx2::<2>() }, tile.dots_portable::<2>());
            }
        }
    }

    #[test]
    fn the_digit_kernel_sums_what_the_pair_kernel_sums() {
        // Natively the digit tile runs its portable form; the browser's relaxed build checks
        // the relaxed kernel with the same cases (`self_check`).
        for (blocks, seed) in [(1usize, 40u64), (3, 50), (12, 60)] {
            let inputs = blocks * BLOCK;
            let mut weights: Vec<i8> = values(inputs * PANEL, seed)
                .iter()
                .map(|v| (v * 127.0).clamp(-127.0, 127.0) as i8)
                .collect();
            weights[..BLOCK].fill(-127);
            let mut activations: Vec<i16> = values(MR * inputs, seed + 1)
                .iter()
                .map(|v| (v * ACT_MAX).clamp(-ACT_MAX, ACT_MAX) as i16)
                .collect();
            activations[..BLOCK].fill(-ACT_MAX as i16);
            let scales: Vec<f32> = values(blocks * PANEL, seed + 2)
                .iter()
                .map(|v| v.abs() * 0.01 + 1e-4)
                .collect();
            let cases = digit_cases(&weights, &activations, &scales, inputs);
            assert_eq!(cases, [true; 3], "{blocks} blocks");
        }
    }

    #[test]
    fn a_layer_on_the_digit_kernel_matches_a_float_product() {
        let (inputs, outputs) = (96, 24);
        let w = values(inputs * outputs, 21);
        let b = values(outputs, 22);
        let pairs = Int8Linear::new(&w, &b, inputs, outputs).unwrap();
        let digits = Int8Linear::with_kernel(
            &blocks_of(&w),
            &block_scales_of(&w),
            &b,
            inputs,
            outputs,
            true,
        )
        .unwrap();
        assert!(digits.digit_offsets.is_some() && pairs.digit_offsets.is_none());
        let exact_weights = int8_round_trip(&w);
        for rows in 1..=9 {
            let x = values(rows * inputs, 30 + rows as u64);
            let got = digits.forward(&x);
            let exact = reference(&x, &exact_weights, &b, inputs, outputs);
            // 14-bit activations: about 4x the 16-bit kernel's rounding, far under int8's.
            let err = relative_error(&got, &exact);
            assert!(err < 3e-4, "rows {rows}: {err}");
            assert!(relative_error(&pairs.forward(&x), &exact) < err.max(1e-4));
        }
        let mut x = values(inputs, 9);
        x[1] = f32::NAN;
        x[2] = f32::NEG_INFINITY;
        assert!(digits.forward(&x).iter().all(|v| v.is_finite()));
        assert!(digits
            .forward(&[0.0; 96])
            .iter()
            .zip(&b)
            .all(|(y, b)| y == b));
    }

    /// `w` as the int8 values `Int8Linear::new` would make of it.
    fn blocks_of(w: &[f32]) -> Vec<i8> {
        w.chunks_exact(BLOCK)
            .flat_map(|block| {
                let step = block.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
                block.iter().map(move |v| (v / step).round() as i8)
            })
            .collect()
    }

    fn block_scales_of(w: &[f32]) -> Vec<f32> {
        w.chunks_exact(BLOCK)
            .map(|block| block.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0)
            .collect()
    }

    #[test]
    fn more_rows_than_a_cache_block() {
        let (inputs, outputs) = (32, 8);
        let w = values(inputs * outputs, 5);
        let b = vec![0.0; outputs];
        let layer = Int8Linear::new(&w, &b, inputs, outputs).unwrap();
        let x = values((ROW_BLOCK + 7) * inputs, 6);
        let got = layer.forward(&x);
        // Each row alone must give what it gives inside the big batch.
        for r in [0, ROW_BLOCK - 1, ROW_BLOCK, ROW_BLOCK + 6] {
            let alone = layer.forward(&x[r * inputs..(r + 1) * inputs]);
            assert_eq!(&got[r * outputs..(r + 1) * outputs], &alone[..]);
        }
    }

    #[test]
    fn refuses_shapes_the_kernel_cannot_run() {
        let w = vec![0.5; 64 * 8];
        assert!(Int8Linear::new(&w, &[0.0; 8], 64, 8).is_some());
        assert!(
            Int8Linear::new(&w[..48 * 8], &[0.0; 8], 48, 8).is_none(),
            "48 inputs"
        );
        assert!(
            Int8Linear::new(&w[..64 * 4], &[0.0; 4], 64, 4).is_none(),
            "4 outputs"
        );
        assert!(
            Int8Linear::new(&w, &[0.0; 7], 64, 8).is_none(),
            "bias length"
        );
        assert!(Int8Linear::new(&[], &[], 0, 0).is_none(), "empty");
    }

    #[test]
    fn weights_dequantized_from_the_file_layout_come_back_exactly() {
        // int8 values with an f16-representable scale per output and block of 32 inputs, each
        // block holding a +-127 (what min-max calibration produces).
        let (inputs, outputs) = (64, 16);
        let mut q = vec![0i8; inputs * outputs];
        let mut w = vec![0f32; inputs * outputs];
        for c in 0..outputs {
            for k in 0..inputs {
                let v = ((k * 31 + c * 17) % 255) as i32 - 127;
                let v = if k % BLOCK == c { -127 } else { v };
                let scale = half_float(0.001 + 0.0003 * (c * 2 + k / BLOCK) as f32);
                q[c * inputs + k] = v as i8;
                w[c * inputs + k] = v as f32 * scale;
            }
        }
        let layer = Int8Linear::new(&w, &vec![0.0; outputs], inputs, outputs).unwrap();
        for panel in 0..outputs / PANEL {
            for pair in 0..inputs / 2 {
                for (i, c) in (panel * PANEL..(panel + 1) * PANEL).enumerate() {
                    for (j, k) in [2 * pair, 2 * pair + 1].into_iter().enumerate() {
                        let at = panel * inputs * PANEL + pair * 2 * PANEL + 2 * i + j;
                        assert_eq!(layer.packed[at], q[c * inputs + k], "k {k}, output {c}");
                    }
                }
            }
        }
    }

    /// Rounds to the nearest f16 value (as the model file stores scales).
    fn half_float(v: f32) -> f32 {
        let bits = v.to_bits();
        f32::from_bits((bits + 0x1000) & !0x1fff)
    }

    #[test]
    fn zero_and_non_finite_inputs_stay_finite() {
        let w = values(32 * 8, 7);
        let layer = Int8Linear::new(&w, &[1.0; 8], 32, 8).unwrap();
        let zeros = layer.forward(&[0.0; 32]);
        assert!(zeros.iter().all(|&v| v == 1.0), "{zeros:?}");
        let mut x = values(32, 8);
        x[3] = f32::NAN;
        x[5] = f32::INFINITY;
        assert!(layer.forward(&x).iter().all(|v| v.is_finite()));
    }

    #[test]
    fn a_row_too_small_for_its_scale_quantizes_like_the_checked_cast() {
        // The largest magnitude 1e-38 makes the scale subnormal and its inverse infinite:
        // zeros stay 0 (0 · ∞ is NaN), the rest saturate with their sign.
        let mut row = vec![0f32; 32];
        row[1] = 1e-38;
        row[2] = -1e-39;
        row[4] = f32::NAN;
        let mut q = vec![7i16; 32];
        let mut scales = vec![0f32; 1];
        quantize_rows(&row, 32, &mut q, &mut scales);
        let inv = 1.0 / scales[0];
        let checked: Vec<i16> = row
            .iter()
            .map(|v| {
                let r = (v * inv).round_ties_even().clamp(-ACT_MAX, ACT_MAX);
                if v.is_finite() {
                    r as i16
                } else {
                    0
                }
            })
            .collect();
        assert_eq!(q, checked);
        assert_eq!((q[0], q[1], q[2], q[4]), (0, 32767, -32767, 0));
        let w = values(32 * 8, 7);
        let layer = Int8Linear::new(&w, &[0.0; 8], 32, 8).unwrap();
        assert!(layer.forward(&row).iter().all(|v| v.is_finite()));
    }
}

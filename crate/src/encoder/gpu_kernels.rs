//! WebGPU kernels for the encoder's linear layers and attention, written for the few rows of a
//! sentence batch.
//!
//! burn's matmul on wgpu (cubek's `SimpleUnit` where the adapter has no cooperative matrices)
//! stages tiles in workgroup memory behind barriers. On a software adapter a barrier is a
//! context switch: a [16 x 384] x [384 x 1536] product took 160 ms on SwiftShader. This kernel
//! has no shared memory and no barriers. Each invocation owns four adjacent output columns and
//! eight rows: per step of four inputs it loads four weight vectors (neighbouring invocations
//! read neighbouring vectors) and one input vector per row (the same for the whole workgroup),
//! then does 32 vector multiply-adds. The same product takes 3.5 ms (docs/benchmarks.md).
//!
//! Attention is one kernel too, in place of eleven burn ops (slices, transposes, two batched
//! matmuls, scaling, masking, softmax): each invocation owns one query of one head and walks the
//! keys once with an online softmax, so it needs no score matrix and no barriers.

use burn::backend::wgpu::{CubeBackend, CubeTensor};
use burn::cubecl;
use burn::tensor::{DType, Shape, Tensor as BurnTensor};
use cubecl::prelude::*;

/// Floats per vector load: both the inputs and the output columns go four at a time.
const VECTOR: usize = 4;
/// Invocations per workgroup, each on `VECTOR` output columns.
const UNITS_PER_GROUP: usize = 32;
/// Rows each invocation accumulates, reusing each weight load for all of them.
const ROWS_PER_UNIT: usize = 8;
/// WebGPU's default `maxComputeWorkgroupsPerDimension`: a bigger grid is a validation error, so
/// such inputs (far beyond the encoder's micro-batches) go to burn's ops instead.
const MAX_GROUPS: usize = 65_535;

/// What both kernels index as plain rows: contiguous f32, not storage-tiled (burn-cubecl panics
/// when a tiled tensor is bound to any kernel but its matmul, and a panic kills the instance).
fn plain_f32(t: &CubeTensor) -> bool {
    t.dtype == DType::F32 && t.is_contiguous() && !t.meta.is_tiled()
}

/// An uninitialised contiguous f32 tensor of `shape` on `like`'s device (each kernel writes
/// every element of its output).
fn empty_f32_like(like: &CubeTensor, shape: Shape) -> CubeTensor {
    let bytes = shape.num_elements() * size_of::<f32>();
    let handle = like.client.empty(bytes);
    CubeTensor::new_contiguous(
        like.client.clone(),
        like.device.clone(),
        shape,
        handle,
        DType::F32,
    )
}

#[cube(launch_unchecked)]
fn linear_kernel<N: Size>(
    x: &Tensor<Vector<f32, N>>,
    weight: &Tensor<Vector<f32, N>>,
    bias: &Tensor<Vector<f32, N>>,
    out: &mut Tensor<Vector<f32, N>>,
    rows: usize,
    #[comptime] inputs: usize,
    #[comptime] outputs: usize,
    #[comptime] rows_per_unit: usize,
) {
    // Indices are in vectors of four floats.
    let column = ABSOLUTE_POS_X as usize;
    let row0 = ABSOLUTE_POS_Y as usize * rows_per_unit;
    let out_vectors = outputs / 4;
    let in_vectors = inputs / 4;
    let b = bias[column];
    let mut acc = Array::<Vector<f32, N>>::new(rows_per_unit);
    let mut offsets = Array::<usize>::new(rows_per_unit);
    #[unroll]
    for r in 0..rows_per_unit {
        acc[r] = b;
        // Rows past the end re-read the last row; their results are not written.
        offsets[r] = min(row0 + r, rows - 1) * in_vectors;
    }
    for k in 0..in_vectors {
        let base = k * 4 * out_vectors + column;
        let w0 = weight[base];
        let w1 = weight[base + out_vectors];
        let w2 = weight[base + 2 * out_vectors];
        let w3 = weight[base + 3 * out_vectors];
        #[unroll]
        for r in 0..rows_per_unit {
            let v = x[offsets[r] + k];
            acc[r] += Vector::new(v.extract(0usize)) * w0
                + Vector::new(v.extract(1usize)) * w1
                + Vector::new(v.extract(2usize)) * w2
                + Vector::new(v.extract(3usize)) * w3;
        }
    }
    #[unroll]
    for r in 0..rows_per_unit {
        if row0 + r < rows {
            out[(row0 + r) * out_vectors + column] = acc[r];
        }
    }
}

/// `x [rows, inputs] * weight [inputs, outputs] + bias [outputs]` on the WebGPU device, or `None`
/// where the kernel does not apply: tensors that are not contiguous f32 on a cubecl device, or
/// shapes it does not tile (inputs a multiple of 4, outputs of 128). The caller then uses burn's
/// matmul.
pub fn linear(
    x: &BurnTensor<2>,
    weight: &BurnTensor<2>,
    bias: &BurnTensor<1>,
) -> Option<BurnTensor<2>> {
    let [rows, inputs] = x.dims();
    let [weight_inputs, outputs] = weight.dims();
    let fits = rows > 0
        && inputs == weight_inputs
        && bias.dims()[0] == outputs
        && inputs % VECTOR == 0
        && outputs % (VECTOR * UNITS_PER_GROUP) == 0
        && outputs / (VECTOR * UNITS_PER_GROUP) <= MAX_GROUPS
        && rows.div_ceil(ROWS_PER_UNIT) <= MAX_GROUPS;
    if !fits {
        return None;
    }
    let x: CubeTensor = x.clone().try_into_primitive::<CubeBackend>().ok()?;
    let weight: CubeTensor = weight.clone().try_into_primitive::<CubeBackend>().ok()?;
    let bias: CubeTensor = bias.clone().try_into_primitive::<CubeBackend>().ok()?;
    if [&x, &weight, &bias].iter().any(|t| !plain_f32(t)) {
        return None;
    }
    let client = x.client.clone();
    let out = empty_f32_like(&x, Shape::new([rows, outputs]));
    let groups = CubeCount::Static(
        (outputs / (VECTOR * UNITS_PER_GROUP)) as u32,
        rows.div_ceil(ROWS_PER_UNIT) as u32,
        1,
    );
    // SAFETY: every index is in bounds. The grid is exactly `outputs / 4` invocations wide, row
    // offsets are clamped to `rows - 1`, writes are guarded by `row < rows`, and all four
    // tensors are contiguous with the shapes checked above. The loop is bounded by `inputs`.
    unsafe {
        linear_kernel::launch_unchecked(
            &client,
            groups,
            CubeDim::new_1d(UNITS_PER_GROUP as u32),
            VECTOR,
            x.into_tensor_arg(),
            weight.into_tensor_arg(),
            bias.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            rows,
            inputs,
            outputs,
            ROWS_PER_UNIT,
        );
    }
    Some(BurnTensor::from_primitive::<CubeBackend>(out))
}

/// Queries per workgroup in the attention kernel; neighbouring invocations read the same keys.
const QUERIES_PER_GROUP: usize = 16;

#[cube(launch_unchecked)]
fn attention_kernel<N: Size>(
    qkv: &Tensor<Vector<f32, N>>,
    mask: &Tensor<f32>,
    out: &mut Tensor<Vector<f32, N>>,
    seq: usize,
    scale: f32,
    #[comptime] hidden: usize,
    #[comptime] head_dim: usize,
) {
    // Indices into `qkv` and `out` are in vectors of four floats.
    let query = ABSOLUTE_POS_X as usize;
    let head = CUBE_POS_Y as usize;
    let batch = CUBE_POS_Z as usize;
    let head_vectors = head_dim / 4;
    let row_vectors = 3 * hidden / 4;
    let hidden_vectors = hidden / 4;
    // Queries past the end re-read the last one; their results are not written.
    let q_base = (batch * seq + min(query, seq - 1)) * row_vectors + head * head_vectors;
    let mut q = Array::<Vector<f32, N>>::new(head_vectors);
    let mut acc = Array::<Vector<f32, N>>::new(head_vectors);
    #[unroll]
    for d in 0..head_vectors {
        q[d] = qkv[q_base + d] * Vector::new(scale);
        acc[d] = Vector::new(0.0f32);
    }
    let mut running_max = f32::new(-1.0e30);
    let mut sum = f32::new(0.0);
    for key in 0..seq {
        let k_base = (batch * seq + key) * row_vectors + hidden_vectors + head * head_vectors;
        let v_base = k_base + hidden_vectors;
        let mut dot = Vector::<f32, N>::new(0.0f32);
        #[unroll]
        for d in 0..head_vectors {
            dot += q[d] * qkv[k_base + d];
        }
        let score = dot.extract(0usize)
            + dot.extract(1usize)
            + dot.extract(2usize)
            + dot.extract(3usize)
            + mask[batch * seq + key];
        let new_max = max(running_max, score);
        let correction = (running_max - new_max).exp();
        let weight = (score - new_max).exp();
        sum = sum * correction + weight;
        #[unroll]
        for d in 0..head_vectors {
            acc[d] = acc[d] * Vector::new(correction) + qkv[v_base + d] * Vector::new(weight);
        }
        running_max = new_max;
    }
    if query < seq {
        let o_base = (batch * seq + query) * hidden_vectors + head * head_vectors;
        #[unroll]
        for d in 0..head_vectors {
            out[o_base + d] = acc[d] / Vector::new(sum);
        }
    }
}

/// Multi-head self-attention over fused projections: `qkv [batch, seq, 3 * hidden]` (queries,
/// keys, values side by side, each `heads x head_dim`) and `mask [batch, seq]` (0 for a token,
/// a large negative number for padding, added to every score against that key) to the
/// context `[batch, seq, hidden]`, scores scaled by `1 / sqrt(head_dim)`. `None` where the
/// kernel does not apply (not contiguous f32 on a cubecl device, `head_dim` not a multiple of 4);
/// the caller then uses burn's ops.
pub fn attention(qkv: &BurnTensor<3>, mask: &BurnTensor<2>, heads: usize) -> Option<BurnTensor<3>> {
    let [batch, seq, width] = qkv.dims();
    let hidden = width / 3;
    let fits = batch > 0
        && seq > 0
        && heads > 0
        && width == 3 * hidden
        && hidden.is_multiple_of(heads)
        && (hidden / heads).is_multiple_of(VECTOR)
        && mask.dims() == [batch, seq]
        && [seq.div_ceil(QUERIES_PER_GROUP), heads, batch]
            .iter()
            .all(|&n| n <= MAX_GROUPS);
    if !fits {
        return None;
    }
    let head_dim = hidden / heads;
    let qkv: CubeTensor = qkv.clone().try_into_primitive::<CubeBackend>().ok()?;
    let mask: CubeTensor = mask.clone().try_into_primitive::<CubeBackend>().ok()?;
    if [&qkv, &mask].iter().any(|t| !plain_f32(t)) {
        return None;
    }
    let client = qkv.client.clone();
    let out = empty_f32_like(&qkv, Shape::new([batch, seq, hidden]));
    let groups = CubeCount::Static(
        seq.div_ceil(QUERIES_PER_GROUP) as u32,
        heads as u32,
        batch as u32,
    );
    // SAFETY: every index is in bounds: the grid covers `batch x heads` exactly, query rows are
    // clamped to `seq - 1`, key rows run below `seq`, writes are guarded by `query < seq`, and
    // both inputs are contiguous with the shapes checked above. The loop is bounded by `seq`.
    unsafe {
        attention_kernel::launch_unchecked(
            &client,
            groups,
            CubeDim::new_1d(QUERIES_PER_GROUP as u32),
            VECTOR,
            qkv.into_tensor_arg(),
            mask.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            seq,
            1.0 / (head_dim as f32).sqrt(),
            hidden,
            head_dim,
        );
    }
    Some(BurnTensor::from_primitive::<CubeBackend>(out))
}

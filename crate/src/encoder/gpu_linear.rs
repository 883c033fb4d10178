//! A linear layer kernel for WebGPU, written for the few rows of a sentence batch.
//!
//! burn's matmul on wgpu (cubek's `SimpleUnit` where the adapter has no cooperative matrices)
//! stages tiles in workgroup memory behind barriers. On a software adapter a barrier is a
//! context switch: a [16 x 384] x [384 x 1536] product took 160 ms on SwiftShader. This kernel
//! has no shared memory and no barriers. Each invocation owns four adjacent output columns and
//! eight rows: per step of four inputs it loads four weight vectors (neighbouring invocations
//! read neighbouring vectors) and one input vector per row (the same for the whole workgroup),
//! then does 32 vector multiply-adds. The same product takes 3.5 ms (docs/benchmarks.md).

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
        && outputs % (VECTOR * UNITS_PER_GROUP) == 0;
    if !fits {
        return None;
    }
    let x: CubeTensor = x.clone().try_into_primitive::<CubeBackend>().ok()?;
    let weight: CubeTensor = weight.clone().try_into_primitive::<CubeBackend>().ok()?;
    let bias: CubeTensor = bias.clone().try_into_primitive::<CubeBackend>().ok()?;
    if [&x, &weight, &bias]
        .iter()
        .any(|t| t.dtype != DType::F32 || !t.is_contiguous())
    {
        return None;
    }
    let client = x.client.clone();
    let out = CubeTensor::new_contiguous(
        client.clone(),
        x.device.clone(),
        Shape::new([rows, outputs]),
        client.empty(rows * outputs * size_of::<f32>()),
        DType::F32,
    );
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

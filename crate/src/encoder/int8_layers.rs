//! The int8 CPU strategy: every encoder layer's linear projections as integer products on the
//! model file's own int8 values (`int8_gemm`), the feed-forward GELU fused after its product
//! (`gelu`), and attention on plain slices (`cpu_attention`).

use burn::nn::transformer::TransformerEncoderLayer;
use burn::tensor::quantization::QuantizedBytes;
use burn::tensor::{DType, Tensor, TensorData};

use super::bert::{attention, BatchMask, LayerKernels, LayerLinears, Projection};
use super::cpu_attention;
use super::gelu::gelu_in_place;
use super::int8_gemm::Int8Linear;
use super::record::{Int8RecordLayer, TransposedLinear};
use crate::error::EncoderError;

/// Query, key and value fused into one 3x-wide product, then the attention output and the two
/// feed-forward projections, per layer.
#[derive(Debug, Clone)]
pub struct Int8Layers {
    layers: Vec<LayerLinears<Int8Linear>>,
}

impl Int8Layers {
    /// Packs the linear weights of the int8 file's layers (quantized as stored, or dequantized).
    /// Errors if a shape does not fit the kernel, which both models' shapes always do.
    pub fn from_record_layers(layers: &[Int8RecordLayer]) -> Result<Self, EncoderError> {
        let layers = layers
            .iter()
            .map(|layer| {
                Ok(LayerLinears {
                    qkv: pack(&[&layer.query, &layer.key, &layer.value])?,
                    output: pack(&[&layer.attention_output])?,
                    inner: pack(&[&layer.intermediate])?,
                    outer: pack(&[&layer.output])?,
                })
            })
            .collect::<Result<_, EncoderError>>()?;
        Ok(Self { layers })
    }
}

impl LayerKernels for Int8Layers {
    fn project(
        &self,
        index: usize,
        _layer: &TransformerEncoderLayer,
        projection: Projection,
        x: Tensor<3>,
    ) -> Result<Tensor<3>, EncoderError> {
        forward(self.layers[index].get(projection), x, |_| {})
    }

    /// GELU on the product's output before it becomes a tensor again: one pass, and a rational
    /// erf instead of burn's per-value libm call (`gelu`).
    fn project_gelu(
        &self,
        index: usize,
        _layer: &TransformerEncoderLayer,
        x: Tensor<3>,
    ) -> Result<Tensor<3>, EncoderError> {
        forward(&self.layers[index].inner, x, gelu_in_place)
    }

    fn attend(
        &self,
        layer: &TransformerEncoderLayer,
        qkv: Tensor<3>,
        mask: &BatchMask,
    ) -> Tensor<3> {
        let [batch, seq, _] = qkv.dims();
        let (heads, head_dim) = (layer.mha.n_heads, layer.mha.d_k);
        let context = match (qkv.clone().into_data().try_into_vec::<f32>(), mask.flags()) {
            (Ok(values), Some(padding)) => {
                cpu_attention::attend(&values, padding, seq, heads, head_dim)
            }
            _ => None,
        };
        match context {
            Some(context) => Tensor::from_data(
                TensorData::new(context, [batch, seq, heads * head_dim]),
                &qkv.device(),
            ),
            // Unreadable data or a shape the slices do not hold: burn's ops.
            None => attention(layer, qkv, &mask.padding),
        }
    }

    fn name(&self) -> &'static str {
        "int8"
    }
}

/// `linear` over the last axis of `x` (`[batch, seq, inputs]`), with `then` applied to the
/// output values before they become a tensor again.
fn forward(
    linear: &Int8Linear,
    x: Tensor<3>,
    then: impl FnOnce(&mut [f32]),
) -> Result<Tensor<3>, EncoderError> {
    let device = x.device();
    let [batch, seq, _] = x.dims();
    let mut y = linear.forward(&read_f32(x.into_data())?);
    then(&mut y);
    Ok(Tensor::from_data(
        TensorData::new(y, [batch, seq, linear.outputs()]),
        &device,
    ))
}

/// Stacks linears that share an input (their outputs, i.e. the rows of `[outputs][inputs]`
/// weights, one after another) and packs them: from the file's own int8 values and scales when
/// the weights are still quantized, else by quantizing the f32 weights.
fn pack(linears: &[&TransposedLinear]) -> Result<Int8Linear, EncoderError> {
    let mut values = Vec::new();
    let mut scales = Vec::new();
    let mut weight = Vec::new();
    let mut bias = Vec::new();
    let mut inputs = 0;
    for linear in linears {
        let w = linear.weight.val();
        inputs = w.dims()[1];
        let data = w.into_data();
        match data.dtype() {
            DType::QFloat(scheme) => {
                let (bytes, shape, _) = data.into_parts();
                let (v, s) = QuantizedBytes {
                    bytes,
                    scheme,
                    shape,
                }
                .into_vec_i8();
                values.extend(v);
                scales.extend(s.block);
            }
            _ => weight.extend(read_f32(data)?),
        }
        bias.extend(read_f32(linear.bias.val().into_data())?);
    }
    let outputs = bias.len();
    let linear = match (values.is_empty(), weight.is_empty()) {
        (false, true) => Int8Linear::from_blocks(&values, &scales, &bias, inputs, outputs),
        (true, false) => Int8Linear::new(&weight, &bias, inputs, outputs),
        _ => None,
    };
    linear.ok_or_else(|| {
        EncoderError::WrongModel(format!(
            "a linear layer of {inputs} x {outputs} does not fit the int8 kernel (blocks of 32 \
             along the inputs, values within -127..=127)"
        ))
    })
}

fn read_f32(data: TensorData) -> Result<Vec<f32>, EncoderError> {
    data.try_into_vec::<f32>()
        .map_err(|e| EncoderError::Backend(format!("unexpected tensor data: {e:?}")))
}

//! The WebGPU strategy: every encoder layer's linear projections and attention on Cloister's
//! own kernels (`gpu_kernels`), with burn's ops where a tensor does not fit them (counted).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use burn::nn::transformer::TransformerEncoderLayer;
use burn::nn::Linear;
use burn::tensor::Tensor;

use super::bert::{attention, BatchMask, BertModel, LayerKernels, LayerLinears, Projection};
use super::gpu_kernels;
use crate::error::EncoderError;

/// The linear projections of every encoder layer as f32 weights on the WebGPU device; query,
/// key and value concatenated into one product (a copy: about 10 MB of device memory beside
/// burn's `Linear` weights, which the other projections share).
#[derive(Debug, Clone)]
pub struct GpuLayers {
    layers: Vec<LayerLinears<GpuLinear>>,
    fallbacks: Arc<AtomicUsize>,
}

#[derive(Debug, Clone)]
struct GpuLinear {
    /// `[inputs, outputs]`, burn's `Linear` layout.
    weight: Tensor<2>,
    bias: Tensor<1>,
}

impl GpuLinear {
    /// Linears that share an input, side by side.
    fn from_linears(linears: &[&Linear]) -> Result<Self, EncoderError> {
        let mut weights = Vec::new();
        let mut biases = Vec::new();
        for linear in linears {
            weights.push(linear.weight.val());
            biases.push(
                linear.bias.as_ref().map(|b| b.val()).ok_or_else(|| {
                    EncoderError::WrongModel("a linear layer without a bias".into())
                })?,
            );
        }
        // One linear shares burn's tensors; only the fused query/key/value is a copy.
        if weights.len() == 1 {
            return Ok(Self {
                weight: weights.remove(0),
                bias: biases.remove(0),
            });
        }
        Ok(Self {
            weight: Tensor::cat(weights, 1),
            bias: Tensor::cat(biases, 0),
        })
    }
}

impl GpuLayers {
    /// Takes the weights of `model`'s encoder layers (already on the WebGPU device).
    pub fn from_model(model: &BertModel) -> Result<Self, EncoderError> {
        let layers = model
            .encoder
            .layers
            .iter()
            .map(|layer| {
                Ok(LayerLinears {
                    qkv: GpuLinear::from_linears(&[
                        &layer.mha.query,
                        &layer.mha.key,
                        &layer.mha.value,
                    ])?,
                    output: GpuLinear::from_linears(&[&layer.mha.output])?,
                    inner: GpuLinear::from_linears(&[&layer.pwff.linear_inner])?,
                    outer: GpuLinear::from_linears(&[&layer.pwff.linear_outer])?,
                })
            })
            .collect::<Result<_, EncoderError>>()?;
        Ok(Self {
            layers,
            fallbacks: Default::default(),
        })
    }

    fn fell_back(&self) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
    }
}

impl LayerKernels for GpuLayers {
    fn project(
        &self,
        index: usize,
        _layer: &TransformerEncoderLayer,
        projection: Projection,
        x: Tensor<3>,
    ) -> Result<Tensor<3>, EncoderError> {
        let linear = self.layers[index].get(projection);
        let [batch, seq, inputs] = x.dims();
        let outputs = linear.bias.dims()[0];
        let rows = x.reshape([batch * seq, inputs]);
        let y = gpu_kernels::linear(&rows, &linear.weight, &linear.bias).unwrap_or_else(|| {
            self.fell_back();
            rows.matmul(linear.weight.clone()) + linear.bias.clone().unsqueeze::<2>()
        });
        Ok(y.reshape([batch, seq, outputs]))
    }

    fn attend(
        &self,
        layer: &TransformerEncoderLayer,
        qkv: Tensor<3>,
        mask: &BatchMask,
    ) -> Tensor<3> {
        gpu_kernels::attention(&qkv, mask.additive(), layer.mha.n_heads).unwrap_or_else(|| {
            self.fell_back();
            attention(layer, qkv, &mask.padding)
        })
    }

    fn name(&self) -> &'static str {
        "webgpu-linear"
    }

    fn fallbacks(&self) -> usize {
        self.fallbacks.load(Ordering::Relaxed)
    }
}

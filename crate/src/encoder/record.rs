//! The int8 model file's layout: BERT's tensors with every linear weight stored transposed,
//! `[outputs][inputs]`.
//!
//! burn quantizes in blocks of 32 along a tensor's last axis. Stored this way, a block runs
//! along the inputs, the axis a matrix product sums over, so the CPU's integer kernel
//! (`int8_gemm`) uses the file's int8 values as they are: one scale per block, applied once per
//! 32 products. burn's own `Linear` keeps `[inputs][outputs]`, which would put each block
//! across 32 outputs and its scales inside the sum.

use burn::module::{Module, Param};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::{Device, Tensor};

use super::bert::{BertEmbeddings, BertModel};
use super::config::{BertConfig, LAYER_NORM_EPS};

/// A linear layer's parameters as the int8 file stores them.
#[derive(Module, Debug)]
pub struct TransposedLinear {
    /// `[outputs][inputs]`.
    pub weight: Param<Tensor<2>>,
    /// `[outputs]`.
    pub bias: Param<Tensor<1>>,
}

#[derive(Module, Debug)]
pub struct Int8RecordLayer {
    pub query: TransposedLinear,
    pub key: TransposedLinear,
    pub value: TransposedLinear,
    pub attention_output: TransposedLinear,
    pub intermediate: TransposedLinear,
    pub output: TransposedLinear,
    pub norm_1: LayerNorm,
    pub norm_2: LayerNorm,
}

impl Int8RecordLayer {
    /// Replaces the six linear weights by 1 x 1 placeholders, once a kernel holds its own copy.
    pub fn drop_linear_weights(&mut self, device: &Device) {
        for linear in [
            &mut self.query,
            &mut self.key,
            &mut self.value,
            &mut self.attention_output,
            &mut self.intermediate,
            &mut self.output,
        ] {
            linear.weight = Initializer::Zeros.init([1, 1], device);
        }
    }
}

#[derive(Module, Debug)]
pub struct Int8Record {
    pub embeddings: BertEmbeddings,
    pub layers: Vec<Int8RecordLayer>,
}

impl TransposedLinear {
    /// Shapes only; the values come from the file (parameters initialise lazily).
    fn new(inputs: usize, outputs: usize, device: &Device) -> Self {
        Self {
            weight: Initializer::Zeros.init([outputs, inputs], device),
            bias: Initializer::Zeros.init([outputs], device),
        }
    }

    fn from_linear(linear: Linear) -> Self {
        let weight = linear.weight.val();
        let [_, outputs] = weight.dims();
        let device = weight.device();
        Self {
            weight: Param::from_tensor(weight.transpose()),
            bias: linear
                .bias
                .unwrap_or_else(|| Param::from_tensor(Tensor::zeros([outputs], &device))),
        }
    }

    fn into_linear(self) -> Linear {
        let weight = self.weight.val();
        let device = weight.device();
        // Through TensorData, so the result is laid out row-major: a transposed view made
        // burn's f32 matmul 45% slower at batch 1.
        let weight = Tensor::from_data(weight.transpose().into_data(), &device);
        Linear {
            weight: Param::from_tensor(weight),
            bias: Some(self.bias),
        }
    }
}

impl Int8Record {
    /// The record's shapes for `config`, to load a file into.
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        let (d, ff) = (config.hidden, config.intermediate);
        let norm = || {
            LayerNormConfig::new(d)
                .with_epsilon(LAYER_NORM_EPS)
                .init(device)
        };
        let layers = (0..config.layers)
            .map(|_| Int8RecordLayer {
                query: TransposedLinear::new(d, d, device),
                key: TransposedLinear::new(d, d, device),
                value: TransposedLinear::new(d, d, device),
                attention_output: TransposedLinear::new(d, d, device),
                intermediate: TransposedLinear::new(d, ff, device),
                output: TransposedLinear::new(ff, d, device),
                norm_1: norm(),
                norm_2: norm(),
            })
            .collect();
        Self {
            embeddings: BertModel::new_embeddings(config, device),
            layers,
        }
    }

    pub fn from_model(model: BertModel) -> Self {
        let layers = model
            .encoder
            .layers
            .into_iter()
            .map(|layer| Int8RecordLayer {
                query: TransposedLinear::from_linear(layer.mha.query),
                key: TransposedLinear::from_linear(layer.mha.key),
                value: TransposedLinear::from_linear(layer.mha.value),
                attention_output: TransposedLinear::from_linear(layer.mha.output),
                intermediate: TransposedLinear::from_linear(layer.pwff.linear_inner),
                output: TransposedLinear::from_linear(layer.pwff.linear_outer),
                norm_1: layer.norm_1,
                norm_2: layer.norm_2,
            })
            .collect();
        Self {
            embeddings: model.embeddings,
            layers,
        }
    }

    /// burn's model with these (dequantized) weights, its `Linear` layers included (burn's
    /// f32 matmul and the WebGPU kernels run them).
    pub fn into_model(self, config: &BertConfig, device: &Device) -> BertModel {
        let (mut model, layers) = self.into_parts(config, device);
        for (layer, record) in model.encoder.layers.iter_mut().zip(layers) {
            layer.mha.query = record.query.into_linear();
            layer.mha.key = record.key.into_linear();
            layer.mha.value = record.value.into_linear();
            layer.mha.output = record.attention_output.into_linear();
            layer.pwff.linear_inner = record.intermediate.into_linear();
            layer.pwff.linear_outer = record.output.into_linear();
        }
        model
    }

    /// burn's model with the embeddings and LayerNorms, and the record's layers for a kernel
    /// that holds the linear weights itself. The model's `Linear` layers keep their lazy,
    /// never-materialised initialisers, so their f32 copies (42 MB) are never built.
    pub fn into_parts(
        self,
        config: &BertConfig,
        device: &Device,
    ) -> (BertModel, Vec<Int8RecordLayer>) {
        let mut model = BertModel::new(config, device);
        model.embeddings = self.embeddings;
        for (layer, record) in model.encoder.layers.iter_mut().zip(&self.layers) {
            layer.norm_1 = record.norm_1.clone();
            layer.norm_2 = record.norm_2.clone();
        }
        (model, self.layers)
    }
}

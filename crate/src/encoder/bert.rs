//! The BERT stack of MiniLM: embeddings (written here), burn's post-LayerNorm transformer
//! encoder, then mean pooling over real tokens and L2 normalisation.
//!
//! On the CPU the same layers can run their linear projections as integer products
//! ([`Int8Layers`]); attention, LayerNorm and GELU stay burn ops either way.

use burn::module::Module;
use burn::nn::transformer::{TransformerEncoder, TransformerEncoderConfig, TransformerEncoderInput};
use burn::nn::activation::ActivationConfig;
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig};
use burn::nn::transformer::TransformerEncoderLayer;
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use super::config::{MiniLmConfig, LAYER_NORM_EPS};
use super::int8_gemm::Int8Linear;
use super::record::{Int8Record, TransposedLinear};
use crate::error::EncoderError;

#[derive(Module, Debug)]
pub struct BertEmbeddings {
    pub word_embeddings: Embedding,
    pub position_embeddings: Embedding,
    pub token_type_embeddings: Embedding,
    pub layer_norm: LayerNorm,
}

#[derive(Module, Debug)]
pub struct BertModel {
    pub embeddings: BertEmbeddings,
    pub encoder: TransformerEncoder,
}

impl BertModel {
    /// An uninitialised-weights model of the given shape; weights come from `load`.
    pub fn new(config: &MiniLmConfig, device: &Device) -> Self {
        let embeddings = Self::new_embeddings(config, device);
        let encoder = TransformerEncoderConfig::new(
            config.hidden,
            config.intermediate,
            config.heads,
            config.layers,
        )
        .with_dropout(0.0)
        .with_norm_first(false)
        .with_activation(ActivationConfig::Gelu)
        .with_layer_norm_eps(LAYER_NORM_EPS)
        .init(device);
        Self {
            embeddings,
            encoder,
        }
    }

    pub fn new_embeddings(config: &MiniLmConfig, device: &Device) -> BertEmbeddings {
        BertEmbeddings {
            word_embeddings: EmbeddingConfig::new(config.vocab_size, config.hidden).init(device),
            position_embeddings: EmbeddingConfig::new(config.max_positions, config.hidden)
                .init(device),
            token_type_embeddings: EmbeddingConfig::new(config.type_vocab, config.hidden)
                .init(device),
            layer_norm: LayerNormConfig::new(config.hidden)
                .with_epsilon(LAYER_NORM_EPS)
                .init(device),
        }
    }

    /// Token ids `[batch, seq]` and padding mask (true = padding) to sentence embeddings
    /// `[batch, hidden]`, unit length.
    pub fn embed(&self, input_ids: Tensor<2, Int>, padding: Tensor<2, Bool>) -> Tensor<2> {
        let x = self.embed_tokens(input_ids);
        let hidden = self
            .encoder
            .forward(TransformerEncoderInput::new(x).mask_pad(padding.clone()));
        mean_pool_normalized(hidden, padding)
    }

    /// As [`BertModel::embed`], with every linear projection run by `int8` instead of burn's
    /// f32 matmul.
    pub fn embed_int8(
        &self,
        int8: &Int8Layers,
        input_ids: Tensor<2, Int>,
        padding: Tensor<2, Bool>,
    ) -> Result<Tensor<2>, EncoderError> {
        let mut x = self.embed_tokens(input_ids);
        for (layer, weights) in self.encoder.layers.iter().zip(&int8.layers) {
            x = weights.forward(layer, x, &padding)?;
        }
        Ok(mean_pool_normalized(x, padding))
    }

    /// Word + position + token-type embeddings, then LayerNorm: `[batch, seq, hidden]`.
    fn embed_tokens(&self, input_ids: Tensor<2, Int>) -> Tensor<3> {
        let [_, seq] = input_ids.dims();
        let words = self.embeddings.word_embeddings.forward(input_ids);
        // Positions are 0..seq and token types all 0: slice the tables instead of a gather.
        let positions = self
            .embeddings
            .position_embeddings
            .weight
            .val()
            .slice([0..seq])
            .unsqueeze_dim::<3>(0);
        let token_type = self
            .embeddings
            .token_type_embeddings
            .weight
            .val()
            .slice([0..1])
            .unsqueeze_dim::<3>(0);
        self.embeddings
            .layer_norm
            .forward(words + positions + token_type)
    }
}

/// The linear projections of every encoder layer as int8 integer products (see
/// `int8_gemm`): query, key and value fused into one 3x-wide product, then the attention
/// output and the two feed-forward projections.
#[derive(Debug, Clone)]
pub struct Int8Layers {
    layers: Vec<Int8Layer>,
}

#[derive(Debug, Clone)]
struct Int8Layer {
    qkv: Int8Linear,
    output: Int8Linear,
    inner: Int8Linear,
    outer: Int8Linear,
}

impl Int8Layers {
    /// Packs the (dequantized) linear weights of the int8 file's record. Errors if a shape does
    /// not fit the kernel, which MiniLM's fixed shapes always do.
    pub fn from_record(record: &Int8Record) -> Result<Self, EncoderError> {
        let layers = record
            .layers
            .iter()
            .map(|layer| {
                Ok(Int8Layer {
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

impl Int8Layer {
    /// burn's post-norm `TransformerEncoderLayer::forward` (dropout 0), projections in int8.
    fn forward(
        &self,
        layer: &TransformerEncoderLayer,
        x: Tensor<3>,
        padding: &Tensor<2, Bool>,
    ) -> Result<Tensor<3>, EncoderError> {
        let [batch, seq, hidden] = x.dims();
        let device = x.device();
        let (heads, head_dim) = (layer.mha.n_heads, layer.mha.d_k);
        let qkv = project(&self.qkv, x.clone(), &device)?;
        let split = |i: usize| {
            qkv.clone()
                .slice([0..batch, 0..seq, i * hidden..(i + 1) * hidden])
                .reshape([batch, seq, heads, head_dim])
                .swap_dims(1, 2)
        };
        let (query, key, value) = (split(0), split(1), split(2));
        let scores = query
            .matmul(key.swap_dims(2, 3))
            .div_scalar((head_dim as f32).sqrt())
            .mask_fill(padding.clone().reshape([batch, 1, 1, seq]), layer.mha.min_float);
        let context = softmax(scores, 3)
            .matmul(value)
            .swap_dims(1, 2)
            .reshape([batch, seq, hidden]);
        let attended = project(&self.output, context, &device)?;
        let x = layer.norm_1.forward(x + attended);
        let inner = layer.pwff.activation.forward(project(&self.inner, x.clone(), &device)?);
        let outer = project(&self.outer, inner, &device)?;
        Ok(layer.norm_2.forward(x + outer))
    }
}

/// Stacks linears that share an input (their outputs, i.e. the rows of `[outputs][inputs]`
/// weights, one after another) and packs them.
fn pack(linears: &[&TransposedLinear]) -> Result<Int8Linear, EncoderError> {
    let mut weight = Vec::new();
    let mut bias = Vec::new();
    let mut inputs = 0;
    for linear in linears {
        let w = linear.weight.val();
        inputs = w.dims()[1];
        weight.extend(read_f32(w.into_data())?);
        bias.extend(read_f32(linear.bias.val().into_data())?);
    }
    let outputs = bias.len();
    Int8Linear::new(&weight, &bias, inputs, outputs).ok_or_else(|| {
        EncoderError::WrongModel(format!(
            "a linear layer of {inputs} x {outputs} does not fit the int8 kernel"
        ))
    })
}

/// `linear` over the last axis of `x` (`[batch, seq, inputs]`).
fn project(linear: &Int8Linear, x: Tensor<3>, device: &Device) -> Result<Tensor<3>, EncoderError> {
    let [batch, seq, _] = x.dims();
    let y = linear.forward(&read_f32(x.into_data())?);
    Ok(Tensor::from_data(TensorData::new(y, [batch, seq, linear.outputs()]), device))
}

fn read_f32(data: TensorData) -> Result<Vec<f32>, EncoderError> {
    data.try_into_vec::<f32>()
        .map_err(|e| EncoderError::Backend(format!("unexpected tensor data: {e:?}")))
}

/// Mean over the real (non-padding) tokens, then L2 normalisation, as sentence-transformers does.
pub fn mean_pool_normalized(hidden: Tensor<3>, padding: Tensor<2, Bool>) -> Tensor<2> {
    let keep = padding.bool_not().float().unsqueeze_dim::<3>(2); // [b, s, 1]
    let summed = (hidden * keep.clone()).sum_dim(1); // [b, 1, d]
    let count = keep.sum_dim(1).clamp_min(1e-9); // [b, 1, 1]
    let pooled = (summed / count).squeeze_dim::<2>(1); // [b, d]
    let norm = pooled
        .clone()
        .powf_scalar(2.0)
        .sum_dim(1)
        .sqrt()
        .clamp_min(1e-12); // [b, 1]
    pooled / norm
}

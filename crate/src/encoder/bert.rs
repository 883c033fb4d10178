//! The BERT stack of MiniLM: embeddings (written here), post-LayerNorm encoder layers, mean
//! pooling over real tokens and L2 normalisation. How a layer's linear projections and its
//! attention run is a [`LayerKernels`] strategy: burn's own modules ([`BurnKernels`], here),
//! int8 integer products on the CPU (`int8_layers`) or Cloister's WebGPU kernels
//! (`gpu_layers`); the layer around them is one function for all.

use std::cell::OnceCell;

use burn::module::Module;
use burn::nn::activation::ActivationConfig;
use burn::nn::transformer::{
    TransformerEncoder, TransformerEncoderConfig, TransformerEncoderLayer,
};
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Device, Tensor};

use super::config::{BertConfig, LAYER_NORM_EPS};
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
    /// burn's encoder, used as the container of the layers' parameters.
    pub encoder: TransformerEncoder,
}

/// The four projections of an encoder layer; query, key and value are one fused product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projection {
    Qkv,
    Output,
    Inner,
    Outer,
}

/// The four linear projections of one encoder layer, in the form one strategy runs them.
#[derive(Debug, Clone)]
pub struct LayerLinears<T> {
    pub qkv: T,
    pub output: T,
    pub inner: T,
    pub outer: T,
}

impl<T> LayerLinears<T> {
    pub fn get(&self, projection: Projection) -> &T {
        match projection {
            Projection::Qkv => &self.qkv,
            Projection::Output => &self.output,
            Projection::Inner => &self.inner,
            Projection::Outer => &self.outer,
        }
    }
}

/// The padding of one micro-batch, in the forms the attention strategies take.
pub struct BatchMask {
    /// `[batch, seq]`, true at padding.
    pub padding: Tensor<2, Bool>,
    additive: OnceCell<Tensor<2>>,
    flags: OnceCell<Option<Vec<bool>>>,
}

impl BatchMask {
    pub fn new(padding: Tensor<2, Bool>) -> Self {
        Self {
            padding,
            additive: OnceCell::new(),
            flags: OnceCell::new(),
        }
    }

    /// The padding as plain flags, `[batch * seq]`, read once per batch (None if the tensor
    /// cannot be read as booleans).
    pub fn flags(&self) -> Option<&[bool]> {
        self.flags
            .get_or_init(|| self.padding.clone().into_data().try_into_vec::<bool>().ok())
            .as_deref()
    }

    /// -1e9 at padding, 0 elsewhere: added to a score against a padding key, it makes that
    /// key's softmax weight 0. Made once per batch, on first use.
    pub fn additive(&self) -> &Tensor<2> {
        self.additive
            .get_or_init(|| self.padding.clone().float().mul_scalar(-1.0e9))
    }
}

/// How an encoder layer's linear projections and attention run. Implementations are
/// interchangeable: each gives the same layer (`layer_forward`) to within its arithmetic.
/// `Send + Sync`: the Python wheel runs one encoder from whichever thread released the GIL.
pub trait LayerKernels: std::fmt::Debug + Send + Sync {
    /// `projection` of encoder layer `index` (`layer`) over the last axis of
    /// `x` (`[batch, seq, inputs]`).
    fn project(
        &self,
        index: usize,
        layer: &TransformerEncoderLayer,
        projection: Projection,
        x: Tensor<3>,
    ) -> Result<Tensor<3>, EncoderError>;

    /// The feed-forward block's first projection followed by its GELU. burn's activation by
    /// default; a strategy that can fuse the two overrides it.
    fn project_gelu(
        &self,
        index: usize,
        layer: &TransformerEncoderLayer,
        x: Tensor<3>,
    ) -> Result<Tensor<3>, EncoderError> {
        let inner = self.project(index, layer, Projection::Inner, x)?;
        Ok(layer.pwff.activation.forward(inner))
    }

    /// Multi-head self-attention from the fused `qkv` (`[batch, seq, 3 * hidden]`) to the
    /// context (`[batch, seq, hidden]`), padding keys masked.
    fn attend(
        &self,
        layer: &TransformerEncoderLayer,
        qkv: Tensor<3>,
        mask: &BatchMask,
    ) -> Tensor<3>;

    /// What runs the projections: `f32-matmul`, `int8` or `webgpu-linear` (diagnostics).
    fn name(&self) -> &'static str;

    /// Projections or attentions handed to burn's ops because the input did not fit the
    /// strategy's kernel (always 0 for the model's own shapes; tests check it stays so).
    fn fallbacks(&self) -> usize {
        0
    }
}

/// burn's `Linear` modules and attention in burn ops: f32 on the model's device.
#[derive(Debug, Clone, Copy, Default)]
pub struct BurnKernels;

impl LayerKernels for BurnKernels {
    fn project(
        &self,
        _index: usize,
        layer: &TransformerEncoderLayer,
        projection: Projection,
        x: Tensor<3>,
    ) -> Result<Tensor<3>, EncoderError> {
        Ok(match projection {
            Projection::Qkv => Tensor::cat(
                vec![
                    layer.mha.query.forward(x.clone()),
                    layer.mha.key.forward(x.clone()),
                    layer.mha.value.forward(x),
                ],
                2,
            ),
            Projection::Output => layer.mha.output.forward(x),
            Projection::Inner => layer.pwff.linear_inner.forward(x),
            Projection::Outer => layer.pwff.linear_outer.forward(x),
        })
    }

    fn attend(
        &self,
        layer: &TransformerEncoderLayer,
        qkv: Tensor<3>,
        mask: &BatchMask,
    ) -> Tensor<3> {
        attention(layer, qkv, &mask.padding)
    }

    fn name(&self) -> &'static str {
        "f32-matmul"
    }
}

impl BertModel {
    /// An uninitialised-weights model of the given shape; weights come from `load`.
    pub fn new(config: &BertConfig, device: &Device) -> Self {
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

    pub fn new_embeddings(config: &BertConfig, device: &Device) -> BertEmbeddings {
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

    /// Word vectors `[batch, seq, hidden]` (the token ids' rows of the word table, gathered
    /// by [`super::word_table::WordTable`]) and padding mask (true = padding) to sentence
    /// embeddings `[batch, hidden]`, unit length, with every layer run by `kernels`.
    pub fn embed(
        &self,
        kernels: &dyn LayerKernels,
        words: Tensor<3>,
        padding: Tensor<2, Bool>,
    ) -> Result<Tensor<2>, EncoderError> {
        let mask = BatchMask::new(padding);
        let mut x = self.embed_tokens(words);
        for (index, layer) in self.encoder.layers.iter().enumerate() {
            x = layer_forward(kernels, index, layer, x, &mask)?;
        }
        Ok(mean_pool_normalized(x, mask.padding))
    }

    /// Word + position + token-type embeddings, then LayerNorm: `[batch, seq, hidden]`.
    fn embed_tokens(&self, words: Tensor<3>) -> Tensor<3> {
        let [_, seq, _] = words.dims();
        // Positions are 0..seq and token types all 0: slice the tables instead of a gather.
        let positions = self
            .embeddings
            .position_embeddings
            .weight
            .val()
            .narrow(0, 0, seq)
            .unsqueeze_dim::<3>(0);
        let token_type = self
            .embeddings
            .token_type_embeddings
            .weight
            .val()
            .narrow(0, 0, 1)
            .unsqueeze_dim::<3>(0);
        self.embeddings
            .layer_norm
            .forward(words + positions + token_type)
    }
}

/// burn's post-norm `TransformerEncoderLayer::forward` (dropout 0) with the projections and
/// the attention run by `kernels` (and GELU, where the strategy fuses it); LayerNorm is burn's.
fn layer_forward(
    kernels: &dyn LayerKernels,
    index: usize,
    layer: &TransformerEncoderLayer,
    x: Tensor<3>,
    mask: &BatchMask,
) -> Result<Tensor<3>, EncoderError> {
    let project = |projection, x| kernels.project(index, layer, projection, x);
    let context = kernels.attend(layer, project(Projection::Qkv, x.clone())?, mask);
    let attended = project(Projection::Output, context)?;
    let x = layer.norm_1.forward(x + attended);
    let inner = kernels.project_gelu(index, layer, x.clone())?;
    let outer = project(Projection::Outer, inner)?;
    Ok(layer.norm_2.forward(x + outer))
}

/// Multi-head self-attention in burn ops, from `qkv [batch, seq, 3 * hidden]` to the context
/// `[batch, seq, hidden]`; padding keys are masked as burn's `MultiHeadAttention` does.
pub fn attention(
    layer: &TransformerEncoderLayer,
    qkv: Tensor<3>,
    padding: &Tensor<2, Bool>,
) -> Tensor<3> {
    let [batch, seq, width] = qkv.dims();
    let hidden = width / 3;
    let (heads, head_dim) = (layer.mha.n_heads, layer.mha.d_k);
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
        .mask_fill(
            padding.clone().reshape([batch, 1, 1, seq]),
            layer.mha.min_float,
        );
    softmax(scores, 3)
        .matmul(value)
        .swap_dims(1, 2)
        .reshape([batch, seq, hidden])
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

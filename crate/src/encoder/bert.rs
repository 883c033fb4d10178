//! The BERT stack of MiniLM: embeddings (written here), burn's post-LayerNorm transformer
//! encoder, then mean pooling over real tokens and L2 normalisation.

use burn::module::Module;
use burn::nn::transformer::{TransformerEncoder, TransformerEncoderConfig, TransformerEncoderInput};
use burn::nn::activation::ActivationConfig;
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig};
use burn::tensor::{Bool, Device, Int, Tensor};

use super::config::{MiniLmConfig, LAYER_NORM_EPS};

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
        let embeddings = BertEmbeddings {
            word_embeddings: EmbeddingConfig::new(config.vocab_size, config.hidden).init(device),
            position_embeddings: EmbeddingConfig::new(config.max_positions, config.hidden)
                .init(device),
            token_type_embeddings: EmbeddingConfig::new(config.type_vocab, config.hidden)
                .init(device),
            layer_norm: LayerNormConfig::new(config.hidden)
                .with_epsilon(LAYER_NORM_EPS)
                .init(device),
        };
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

    /// Token ids `[batch, seq]` and padding mask (true = padding) to sentence embeddings
    /// `[batch, hidden]`, unit length.
    pub fn embed(&self, input_ids: Tensor<2, Int>, padding: Tensor<2, Bool>) -> Tensor<2> {
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
        let x = self
            .embeddings
            .layer_norm
            .forward(words + positions + token_type);
        let hidden = self
            .encoder
            .forward(TransformerEncoderInput::new(x).mask_pad(padding.clone()));
        mean_pool_normalized(hidden, padding)
    }
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

//! Shape of all-MiniLM-L6-v2 (its `config.json`). Fixed: the loader checks every tensor against it.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MiniLmConfig {
    pub vocab_size: usize,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub max_positions: usize,
    pub type_vocab: usize,
}

/// BERT's LayerNorm epsilon (burn defaults to 1e-5; the reference uses 1e-12).
pub const LAYER_NORM_EPS: f64 = 1e-12;

impl MiniLmConfig {
    /// What this model expects of its tokenizer (checked at load).
    pub fn tokenizer_fit(&self) -> crate::tokenize::TokenizerFit<'static> {
        crate::tokenize::TokenizerFit {
            vocab_size: self.vocab_size,
            max_positions: self.max_positions,
            first: "[CLS]",
            last: "[SEP]",
        }
    }

    pub const ALL_MINILM_L6_V2: MiniLmConfig = MiniLmConfig {
        vocab_size: 30522,
        hidden: 384,
        layers: 6,
        heads: 12,
        intermediate: 1536,
        max_positions: 512,
        type_vocab: 2,
    };
}

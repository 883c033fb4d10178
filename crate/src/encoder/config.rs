//! The encoders Cloister runs: their BERT shapes and how each expects text. The loader checks
//! every tensor against the shape.

/// A BERT encoder's shape (its `config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub max_positions: usize,
    pub type_vocab: usize,
}

/// BERT's LayerNorm epsilon (burn defaults to 1e-5; both models use 1e-12).
pub const LAYER_NORM_EPS: f64 = 1e-12;

impl BertConfig {
    pub const ALL_MINILM_L6_V2: BertConfig = BertConfig {
        vocab_size: 30522,
        hidden: 384,
        layers: 6,
        heads: 12,
        intermediate: 1536,
        max_positions: 512,
        type_vocab: 2,
    };

    /// intfloat/multilingual-e5-small with the full XLM-R vocabulary (250,037 rows, of which
    /// the tokenizer uses 250,002). Cloister ships it pruned (`ModelFamily::config` takes the
    /// row count from the tokenizer). Its position table here starts at XLM-R's position 2
    /// (`padding_idx + 1`): position ids are 0.. as for BERT.
    pub const MULTILINGUAL_E5_SMALL: BertConfig = BertConfig {
        vocab_size: 250_037,
        hidden: 384,
        layers: 12,
        heads: 12,
        intermediate: 1536,
        max_positions: 512,
        type_vocab: 2,
    };
}

/// Which encoder a model and tokenizer pair is: it decides the shape, the special tokens and
/// the prefixes. The tokenizer file tells them apart (WordPiece or a SentencePiece unigram).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFamily {
    /// sentence-transformers/all-MiniLM-L6-v2: English WordPiece, `[CLS] ... [SEP]`.
    MiniLm,
    /// intfloat/multilingual-e5-small: XLM-R unigram, `<s> ... </s>`, "query: " / "passage: ".
    E5,
}

/// What a text is to the encoder. E5 was trained with a prefix on each side of a retrieval
/// pair; MiniLM ignores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextRole {
    /// Something looked for: a stated interest, a search.
    Query,
    /// Something looked at: an item, the text of an event.
    Passage,
}

impl ModelFamily {
    pub fn name(self) -> &'static str {
        match self {
            Self::MiniLm => "all-MiniLM-L6-v2",
            Self::E5 => "multilingual-e5-small",
        }
    }

    /// The family `name` names.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::MiniLm, Self::E5]
            .into_iter()
            .find(|f| f.name() == name)
    }

    /// The shape, with `vocab_rows` word-table rows for E5, whose vocabulary Cloister prunes.
    pub fn config(self, vocab_rows: usize) -> BertConfig {
        match self {
            Self::MiniLm => BertConfig::ALL_MINILM_L6_V2,
            Self::E5 => BertConfig {
                vocab_size: vocab_rows,
                ..BertConfig::MULTILINGUAL_E5_SMALL
            },
        }
    }

    /// The special tokens each encoded text starts and ends with.
    pub fn bounds(self) -> (&'static str, &'static str) {
        match self {
            Self::MiniLm => ("[CLS]", "[SEP]"),
            Self::E5 => ("<s>", "</s>"),
        }
    }

    /// The unknown-token piece (a text made mostly of it has collapsed).
    pub fn unknown(self) -> &'static str {
        match self {
            Self::MiniLm => "[UNK]",
            Self::E5 => "<unk>",
        }
    }

    /// What goes before a text of `role` (the model card's "query: " and "passage: ").
    pub fn prefix(self, role: TextRole) -> &'static str {
        match (self, role) {
            (Self::MiniLm, _) => "",
            (Self::E5, TextRole::Query) => "query: ",
            (Self::E5, TextRole::Passage) => "passage: ",
        }
    }
}

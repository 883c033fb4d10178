//! Wrapper over the `tokenizers` crate: WordPiece as in the reference, no padding (we pad each
//! length-sorted micro-batch ourselves), truncation at a configurable length.

use tokenizers::{Tokenizer, TruncationParams};

use crate::error::EncoderError;

/// Token ids of one text, special tokens included.
pub type TokenIds = Vec<u32>;

/// The sentence-transformers default (`max_seq_length` of all-MiniLM-L6-v2).
pub const DEFAULT_MAX_TOKENS: usize = 256;

pub struct TextTokenizer {
    inner: Tokenizer,
    max_tokens: usize,
    /// The ids every encoded text starts and ends with (`[CLS]`, `[SEP]`).
    first: u32,
    last: u32,
    /// Rows of the model's word table: every id must be below it.
    vocab_size: usize,
}

/// What the model the tokenizer feeds expects of it.
#[derive(Debug, Clone, Copy)]
pub struct TokenizerFit<'a> {
    /// Rows of the model's word-embedding table.
    pub vocab_size: usize,
    /// Rows of its position table: `max_tokens` may not exceed it.
    pub max_positions: usize,
    /// The special tokens an encoded text starts and ends with.
    pub first: &'a str,
    pub last: &'a str,
}

impl TextTokenizer {
    /// Parses a `tokenizer.json` and checks it against the model it feeds (`fit`): every id in
    /// its vocabulary must index the word table (a larger one would index past it at the first
    /// text that uses it), and the vocabulary must hold the model's special tokens, which
    /// Cloister adds itself around each text. `max_tokens` counts the special tokens.
    pub fn from_bytes(
        bytes: &[u8],
        max_tokens: usize,
        fit: TokenizerFit,
    ) -> Result<Self, EncoderError> {
        if max_tokens < 3 || max_tokens > fit.max_positions {
            return Err(EncoderError::InvalidOption(format!(
                "max_tokens must be between 3 and {}, got {max_tokens}",
                fit.max_positions
            )));
        }
        // Parsed to a value first, and two parts dropped, each a panic inside tokenizers 0.23
        // that the `tokenizer` fuzz target found: a syntax error in `decoder` (read with an
        // `expect`), and a post-processor template naming a special token it does not define
        // (indexed at the first encode). Neither is needed: ids are never decoded, and the two
        // special tokens BERT wants are added here.
        let mut document: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| EncoderError::Tokenizer(format!("tokenizer.json: {e}")))?;
        if let Some(object) = document.as_object_mut() {
            object.insert("decoder".into(), serde_json::Value::Null);
            object.insert("post_processor".into(), serde_json::Value::Null);
        }
        let mut inner: Tokenizer = serde_json::from_value(document)
            .map_err(|e| EncoderError::Tokenizer(format!("tokenizer.json: {e}")))?;
        // The shipped tokenizer.json pads every input to 128 and truncates at 128: undo both.
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens - 2,
                ..Default::default()
            }))
            .map_err(|e| EncoderError::Tokenizer(e.to_string()))?;
        if let Some((token, id)) = inner
            .get_vocab(true)
            .into_iter()
            .find(|(_, id)| *id as usize >= fit.vocab_size)
        {
            return Err(EncoderError::Tokenizer(format!(
                "the tokenizer maps {token:?} to id {id}, but the model's word table has {} rows: \
                 this tokenizer.json belongs to another model",
                fit.vocab_size
            )));
        }
        let special = |token: &str| {
            inner.token_to_id(token).ok_or_else(|| {
                EncoderError::Tokenizer(format!(
                    "the tokenizer has no {token}, a special token the model was trained with: \
                     this tokenizer.json belongs to another model"
                ))
            })
        };
        let (first, last) = (special(fit.first)?, special(fit.last)?);
        Ok(Self {
            inner,
            max_tokens,
            first,
            last,
            vocab_size: fit.vocab_size,
        })
    }

    /// Token ids for each text, with the special tokens. An id outside the model's word table
    /// is an error, never an index past it.
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Vec<TokenIds>, EncoderError> {
        texts
            .iter()
            .map(|text| {
                let encoding = self
                    .inner
                    .encode(token_prefix(text, self.max_tokens), false)
                    .map_err(|e| EncoderError::Tokenizer(e.to_string()))?;
                let mut ids = Vec::with_capacity(encoding.len() + 2);
                ids.push(self.first);
                ids.extend_from_slice(encoding.get_ids());
                ids.push(self.last);
                match ids.iter().find(|&&id| id as usize >= self.vocab_size) {
                    Some(id) => Err(EncoderError::Tokenizer(format!(
                        "token id {id} is outside the model's word table ({} rows)",
                        self.vocab_size
                    ))),
                    None => Ok(ids),
                }
            })
            .collect()
    }
}

/// The prefix of `text` that still yields the first `max_tokens` tokens, so a 1 MB text costs
/// as much as a short one. Every whitespace-separated word gives at least one token, so the
/// first `max_tokens` words suffice; a run without whitespace is capped at 128 bytes per
/// token (WordPiece turns any word over 100 characters into a single [UNK] either way).
pub fn token_prefix(text: &str, max_tokens: usize) -> &str {
    let byte_cap = max_tokens.saturating_mul(128);
    let mut words = 0usize;
    let mut in_word = false;
    for (at, ch) in text.char_indices() {
        if at >= byte_cap {
            return &text[..at];
        }
        let space = ch.is_whitespace();
        if !space && !in_word {
            words += 1;
            if words > max_tokens {
                return &text[..at];
            }
        }
        in_word = !space;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::token_prefix;

    #[test]
    fn prefix_keeps_short_texts_whole() {
        assert_eq!(token_prefix("hello world", 4), "hello world");
        assert_eq!(token_prefix("", 4), "");
    }

    #[test]
    fn prefix_cuts_after_enough_words() {
        assert_eq!(token_prefix("a b c d e f", 3), "a b c ");
    }

    #[test]
    fn prefix_caps_runs_without_spaces_on_a_char_boundary() {
        let text = "é".repeat(10_000);
        let cut = token_prefix(&text, 2);
        assert!(cut.len() <= 256 + 1 && text.starts_with(cut));
    }
}

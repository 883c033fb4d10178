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
    /// its vocabulary, and those its post-processor adds, must index the word table (a larger
    /// one would index past it at the first text that uses it), and an encoded text must start
    /// and end with the model's special tokens. `max_tokens` counts the special tokens.
    pub fn from_bytes(
        bytes: &[u8],
        max_tokens: usize,
        fit: TokenizerFit,
    ) -> Result<Self, EncoderError> {
        if max_tokens < 2 || max_tokens > fit.max_positions {
            return Err(EncoderError::InvalidOption(format!(
                "max_tokens must be between 2 and {}, got {max_tokens}",
                fit.max_positions
            )));
        }
        // Parsed to a value first: tokenizers 0.23 reads the `decoder` part with an `expect` and
        // panics on a syntax error there (found by the `tokenizer` fuzz target). The decoder
        // is never used (ids are only encoded), so it is dropped.
        let mut document: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| EncoderError::Tokenizer(format!("tokenizer.json: {e}")))?;
        if let Some(object) = document.as_object_mut() {
            object.insert("decoder".into(), serde_json::Value::Null);
        }
        let mut inner: Tokenizer = serde_json::from_value(document)
            .map_err(|e| EncoderError::Tokenizer(format!("tokenizer.json: {e}")))?;
        // The shipped tokenizer.json pads every input to 128 and truncates at 128: undo both.
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
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
        let tokenizer = Self {
            inner,
            max_tokens,
            vocab_size: fit.vocab_size,
        };
        // The post-processor adds ids of its own: check them on a probe.
        let probe = tokenizer.encode_batch(&["a"])?.remove(0);
        let id = |token: &str| tokenizer.inner.token_to_id(token);
        if probe.first().copied() != id(fit.first) || probe.last().copied() != id(fit.last) {
            return Err(EncoderError::Tokenizer(format!(
                "an encoded text must start with {} and end with {} (got ids {probe:?}): this \
                 tokenizer.json does not add the special tokens the model was trained with",
                fit.first, fit.last
            )));
        }
        Ok(tokenizer)
    }

    /// Token ids for each text, with the special tokens. An id outside the model's word table
    /// is an error, never an index past it.
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Vec<TokenIds>, EncoderError> {
        texts
            .iter()
            .map(|text| {
                let ids = self
                    .inner
                    .encode(token_prefix(text, self.max_tokens), true)
                    .map(|enc| enc.get_ids().to_vec())
                    .map_err(|e| EncoderError::Tokenizer(e.to_string()))?;
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

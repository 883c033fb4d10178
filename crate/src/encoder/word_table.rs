//! The word-embedding table, kept as the model file stores it and looked up on the CPU.
//!
//! A text uses a few dozen of the table's rows, so there is no reason to hold all of them in
//! f32: multilingual-e5-small's pruned table (131,668 x 384) is 50 MB as int8 and would be
//! 202 MB in f32; MiniLM's 11.7 MB against 47 MB. Rows are dequantized as they are gathered,
//! which gives the same f32 values burn's dequantization does.

use burn::module::Param;
use burn::tensor::quantization::QuantizedBytes;
use burn::tensor::{DType, Tensor};

use crate::error::EncoderError;

#[derive(Debug, Clone)]
enum Storage {
    /// int8 values `[rows][width]` with one scale per `block` values along a row.
    Int8 {
        values: Vec<i8>,
        scales: Vec<f32>,
        block: usize,
    },
    /// The fp32 checkpoint's table.
    Float(Vec<f32>),
}

#[derive(Debug, Clone)]
pub struct WordTable {
    rows: usize,
    width: usize,
    storage: Storage,
}

impl WordTable {
    /// Takes the table out of the loaded module's parameter (quantized or f32).
    pub fn from_param(weight: Param<Tensor<2>>) -> Result<Self, EncoderError> {
        let tensor = weight.val();
        let [rows, width] = tensor.dims();
        let data = tensor.into_data();
        let storage = match data.dtype() {
            DType::QFloat(scheme) => {
                let block = scheme
                    .block_size()
                    .map(|b| b.as_slice().last().copied().unwrap_or(0) as usize)
                    .filter(|&b| b > 0 && width.is_multiple_of(b))
                    .ok_or_else(|| {
                        EncoderError::WrongModel(format!(
                            "the word table is quantized as {scheme:?}, expected blocks along \
                             its rows"
                        ))
                    })?;
                let (bytes, shape, _) = data.into_parts();
                let (values, scales) = QuantizedBytes {
                    bytes,
                    scheme,
                    shape,
                }
                .into_vec_i8();
                if values.len() != rows * width || scales.block.len() != rows * width / block {
                    return Err(EncoderError::ModelCorrupt(format!(
                        "the word table holds {} values and {} scales for {rows} x {width}",
                        values.len(),
                        scales.block.len()
                    )));
                }
                Storage::Int8 {
                    values,
                    scales: scales.block,
                    block,
                }
            }
            _ => Storage::Float(data.try_into_vec::<f32>().map_err(|e| {
                EncoderError::Backend(format!("unexpected word table data: {e:?}"))
            })?),
        };
        Ok(Self {
            rows,
            width,
            storage,
        })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The rows of `ids`, one after another (`ids.len() * width` values). Ids are checked
    /// against the table by the tokenizer; one past it here is an error, not an index.
    pub fn gather(&self, ids: &[i32]) -> Result<Vec<f32>, EncoderError> {
        let mut out = Vec::with_capacity(ids.len() * self.width);
        for &id in ids {
            let row = usize::try_from(id)
                .ok()
                .filter(|&r| r < self.rows)
                .ok_or_else(|| {
                    EncoderError::Tokenizer(format!(
                        "token id {id} is outside the word table ({} rows)",
                        self.rows
                    ))
                })?;
            let span = row * self.width..(row + 1) * self.width;
            match &self.storage {
                Storage::Int8 {
                    values,
                    scales,
                    block,
                } => {
                    let first_scale = row * self.width / block;
                    for (chunk, scale) in values[span]
                        .chunks_exact(*block)
                        .zip(&scales[first_scale..])
                    {
                        out.extend(chunk.iter().map(|&v| v as f32 * scale));
                    }
                }
                Storage::Float(values) => out.extend_from_slice(&values[span]),
            }
        }
        Ok(out)
    }
}

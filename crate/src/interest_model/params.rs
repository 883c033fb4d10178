//! The interest model's weights and their file: JSON with base64 floats, every shape checked on
//! load, pinned by sha256 like the encoder.

use rand::SeedableRng;
use rand_distr::Distribution;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::history::EVENT_FEATURES;
use crate::profile::interest::f32_base64;

/// Width of the attention. 32 keeps the file at about 260 KB (four 384 x 32 projections) and a
/// rerank of 100 candidates at a few hundred thousand multiply-adds beyond the projections.
pub const HIDDEN: usize = 32;

/// The file format's name and version.
pub const FORMAT: &str = "cloister-interest-model-1";

/// What can be wrong with an interest model file. The ranking goes on without the model.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum InterestModelError {
    /// Not JSON, or not this format.
    #[error("interest model file is corrupt or not an interest model: {0}")]
    Corrupt(String),
    /// A well-formed file whose arrays do not have the shapes it declares.
    #[error("interest model has the wrong shape: {0}")]
    WrongShape(String),
    /// Made for an encoder of another width.
    #[error("interest model reads {model}-dimensional embeddings, the encoder makes {encoder}")]
    WrongDimension { model: usize, encoder: usize },
    /// Trained on another encoder's embeddings (of the same width: both shipped encoders make
    /// 384, and one's vectors mean nothing to a model trained on the other's).
    #[error("interest model was trained on {model} embeddings, the encoder is {encoder}")]
    WrongEncoder { model: String, encoder: String },
    /// The backend failed while running it.
    #[error("interest model backend error: {0}")]
    Backend(String),
}

impl InterestModelError {
    /// Stable machine-readable kind (the CLI's JSON errors, the JS error classes).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Corrupt(_) => "interest_model_corrupt",
            Self::WrongShape(_) => "interest_model_wrong_shape",
            Self::WrongDimension { .. } => "interest_model_wrong_dimension",
            Self::WrongEncoder { .. } => "interest_model_wrong_encoder",
            Self::Backend(_) => "interest_model_backend",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterestModelParams {
    pub format: String,
    /// Embedding width it reads (384 for both shipped encoders).
    pub dim: usize,
    pub hidden: usize,
    /// `[dim, 4 * hidden]` row-major: the query, key, value and output projections side by side.
    #[serde(with = "f32_base64")]
    pub projections: Vec<f32>,
    /// `[EVENT_FEATURES, 2 * hidden]`: what an event's kind, signal, age and position add to its
    /// key and its value.
    #[serde(with = "f32_base64")]
    pub event: Vec<f32>,
    /// `[hidden]`: the readout. The only part a user's feedback adapts.
    #[serde(with = "f32_base64")]
    pub gate: Vec<f32>,
    /// How it was made (data, recipe, seed), for the manifest and the report.
    pub source: String,
    /// The encoder whose embeddings it was trained on ('all-MiniLM-L6-v2' or
    /// 'multilingual-e5-small'); empty when the file does not say.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub encoder: String,
}

impl InterestModelParams {
    /// Random initial weights from `seed`: projections N(0, 1/dim) so that a unit embedding
    /// projects to values of about 1/sqrt(dim) per coordinate, the gate all ones.
    pub fn init(dim: usize, seed: u64) -> Self {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let sd = (1.0 / dim as f64).sqrt() as f32 * 4.0;
        let normal = rand_distr::Normal::new(0.0f32, sd).expect("a finite sd");
        let projections = (0..dim * 4 * HIDDEN)
            .map(|_| normal.sample(&mut rng))
            .collect();
        let event_normal = rand_distr::Normal::new(0.0f32, 0.01).expect("a finite sd");
        let event = (0..EVENT_FEATURES * 2 * HIDDEN)
            .map(|_| event_normal.sample(&mut rng))
            .collect();
        Self {
            format: FORMAT.into(),
            dim,
            hidden: HIDDEN,
            projections,
            event,
            gate: vec![1.0; HIDDEN],
            source: format!("init seed {seed}"),
            encoder: String::new(),
        }
    }

    /// Reads and checks a model file.
    pub fn from_json(bytes: &[u8]) -> Result<Self, InterestModelError> {
        let p: Self = serde_json::from_slice(bytes)
            .map_err(|e| InterestModelError::Corrupt(e.to_string()))?;
        if p.format != FORMAT {
            return Err(InterestModelError::Corrupt(format!(
                "format {:?}, expected {FORMAT:?}",
                p.format
            )));
        }
        let check = |name: &str, len: usize, expected: usize| {
            if len == expected {
                Ok(())
            } else {
                Err(InterestModelError::WrongShape(format!(
                    "{name} holds {len} values, expected {expected}"
                )))
            }
        };
        if p.hidden == 0 || p.hidden > crate::limits::MAX_MODEL_HIDDEN || p.dim == 0 || p.dim > 8192
        {
            return Err(InterestModelError::WrongShape(format!(
                "dim {} hidden {}",
                p.dim, p.hidden
            )));
        }
        check("projections", p.projections.len(), p.dim * 4 * p.hidden)?;
        check("event", p.event.len(), EVENT_FEATURES * 2 * p.hidden)?;
        check("gate", p.gate.len(), p.hidden)?;
        if [&p.projections, &p.event, &p.gate]
            .iter()
            .any(|v| v.iter().any(|x| !x.is_finite()))
        {
            return Err(InterestModelError::Corrupt(
                "a weight is not a finite number".into(),
            ));
        }
        Ok(p)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain data serialises")
    }

    /// sha256 of the file's bytes, hex.
    pub fn sha256(bytes: &[u8]) -> String {
        Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Checks the model reads the encoder's embeddings.
    /// The file names no encoder, or `encoder` (a model family's name).
    pub fn check_encoder(&self, encoder: &str) -> Result<(), InterestModelError> {
        if self.encoder.is_empty() || self.encoder == encoder {
            Ok(())
        } else {
            Err(InterestModelError::WrongEncoder {
                model: self.encoder.clone(),
                encoder: encoder.into(),
            })
        }
    }

    pub fn check_dimension(&self, encoder: usize) -> Result<(), InterestModelError> {
        if self.dim == encoder {
            Ok(())
        } else {
            Err(InterestModelError::WrongDimension {
                model: self.dim,
                encoder,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_file_round_trips_and_bad_files_are_typed_errors() {
        let p = InterestModelParams::init(8, 1);
        let json = p.to_json();
        assert_eq!(InterestModelParams::from_json(json.as_bytes()).unwrap(), p);
        assert_eq!(
            InterestModelParams::init(8, 1),
            p,
            "the seed decides the weights"
        );
        let err = InterestModelParams::from_json(&json.as_bytes()[..json.len() / 2]).unwrap_err();
        assert_eq!(err.kind(), "interest_model_corrupt");
        let mut short = p.clone();
        short.gate.pop();
        let err = InterestModelParams::from_json(short.to_json().as_bytes()).unwrap_err();
        assert_eq!(err.kind(), "interest_model_wrong_shape");
        let mut other = p.clone();
        other.format = "something-else".into();
        let err = InterestModelParams::from_json(other.to_json().as_bytes()).unwrap_err();
        assert_eq!(err.kind(), "interest_model_corrupt");
        assert_eq!(
            p.check_dimension(384).unwrap_err().kind(),
            "interest_model_wrong_dimension"
        );
    }
}

//! What encodes the texts a request lacks, between the core's steps: an encoder loaded in this
//! wasm instance, or a JS function that asks one elsewhere. The ranking-only build (no
//! `encoder` feature) has only the second: its recommender serves the first ranking while the
//! encoder build downloads, and is then handed that build's encoder as a function.

use std::cell::{Cell, RefCell};
#[cfg(feature = "encoder")]
use std::rc::Rc;

use js_sys::{Array, Float32Array, Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::errors::input_error;
use crate::embedding::{Embeddings, EMBEDDING_DIM};
use crate::encoder::config::TextRole;
use crate::error::{InputError, InputErrorKind};
use crate::recommender::Pending;
use crate::Recommender;

pub enum TextEncoder {
    /// An encoder in this instance (the builds with the `encoder` feature).
    #[cfg(feature = "encoder")]
    Loaded(Rc<crate::encoder::Encoder>),
    /// `(texts, role) => Promise<{ embeddings: Float32Array, unknownShares }>`: `texts.length`
    /// rows of 384 floats, row-major, and per text the share of it the model cannot read.
    Function(Function),
}

fn bad_reply(detail: impl std::fmt::Display) -> JsValue {
    input_error(InputError::new(
        InputErrorKind::InvalidEmbedding,
        format!("the embedding function's reply: {detail}"),
    ))
}

impl TextEncoder {
    /// The embeddings of `texts` in `role`, and the share of each the model cannot read.
    async fn encode(
        &self,
        texts: &[String],
        role: TextRole,
    ) -> Result<(Embeddings, Vec<f32>), JsValue> {
        match self {
            #[cfg(feature = "encoder")]
            TextEncoder::Loaded(encoder) => {
                use super::errors::encoder_error;
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                let embeddings = encoder
                    .embed_async_as(&refs, role)
                    .await
                    .map_err(encoder_error)?;
                let shares = encoder.unknown_shares(&refs, role).map_err(encoder_error)?;
                Ok((embeddings, shares))
            }
            TextEncoder::Function(embed) => {
                let list: Array = texts.iter().map(|t| JsValue::from_str(t)).collect();
                let role = match role {
                    TextRole::Passage => "passage",
                    TextRole::Query => "query",
                };
                let promise: Promise = embed
                    .call2(&JsValue::NULL, &list, &role.into())?
                    .dyn_into()
                    .map_err(|_| bad_reply("not a Promise"))?;
                let reply = JsFuture::from(promise).await?;
                let embeddings: Float32Array = Reflect::get(&reply, &"embeddings".into())?
                    .dyn_into()
                    .map_err(|_| bad_reply("embeddings is not a Float32Array"))?;
                let expected = texts.len() * EMBEDDING_DIM;
                if embeddings.length() as usize != expected {
                    return Err(bad_reply(format!(
                        "{} floats for {} texts, expected {expected}",
                        embeddings.length(),
                        texts.len()
                    )));
                }
                // An array or a Float32Array; anything else reads as empty and is refused.
                let shares = Float32Array::new(&Reflect::get(&reply, &"unknownShares".into())?);
                let shares = shares.to_vec();
                if shares.len() != texts.len() {
                    return Err(bad_reply(format!(
                        "{} unknownShares for {} texts",
                        shares.len(),
                        texts.len()
                    )));
                }
                Ok((
                    Embeddings {
                        data: embeddings.to_vec(),
                    },
                    shares,
                ))
            }
        }
    }

    /// The model family's name for warnings: the loaded encoder's, else the recommender's.
    fn family_name(&self, rec: &RefCell<Recommender>) -> &'static str {
        match self {
            #[cfg(feature = "encoder")]
            TextEncoder::Loaded(encoder) => encoder.family().name(),
            TextEncoder::Function(_) => rec.borrow().model_family().name(),
        }
    }
}

/// Encodes the texts `pending` lacks, runs `step`, and releases the hold whatever happened.
/// No borrow of the recommender is held across the await: other calls may run meanwhile.
pub async fn with_texts<T>(
    rec: &RefCell<Recommender>,
    encoder: &TextEncoder,
    encoded: &Cell<u64>,
    pending: Pending,
    step: impl FnOnce(&mut Recommender) -> Result<T, InputError>,
) -> Result<T, JsValue> {
    let result = async {
        for (texts, role) in [
            (&pending.missing, TextRole::Passage),
            (&pending.queries, TextRole::Query),
        ] {
            if texts.is_empty() {
                continue;
            }
            let (embeddings, shares) = encoder.encode(texts, role).await?;
            encoded.set(encoded.get() + texts.len() as u64);
            let family = encoder.family_name(rec);
            let mut rec = rec.borrow_mut();
            match role {
                TextRole::Passage => rec.put_embeddings(texts, &embeddings),
                TextRole::Query => rec.put_query_embeddings(texts, &embeddings),
            }
            .map_err(input_error)?;
            rec.note_unreadable(texts, &shares, family);
        }
        step(&mut rec.borrow_mut()).map_err(input_error)
    }
    .await;
    rec.borrow_mut().release(pending.hold);
    result
}

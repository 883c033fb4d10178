//! Core errors as JS `Error`s carrying the core's stable `kind`: the JS package maps each kind
//! to its error class in one table (`js/errors.js`), so nothing here names a class.

use js_sys::Reflect;
use wasm_bindgen::JsValue;

use crate::error::{EncoderError, InputError, InputErrorKind, StoreError};

fn error(kind: &str, message: &str) -> JsValue {
    let js = js_sys::Error::new(message);
    let _ = Reflect::set(&js, &"kind".into(), &kind.into());
    js.into()
}

pub fn encoder_error(e: EncoderError) -> JsValue {
    error(e.kind(), &e.to_string())
}

pub fn input_error(e: InputError) -> JsValue {
    error(e.kind.as_str(), &e.message)
}

#[cfg(feature = "encoder")]
pub fn interest_model_error(e: crate::interest_model::InterestModelError) -> JsValue {
    error(e.kind(), &e.to_string())
}

pub fn store_error(e: StoreError) -> JsValue {
    error(e.kind(), &e.to_string())
}

/// A JS value that does not have the shape the API documents.
pub fn invalid_input(what: &str, detail: impl std::fmt::Display) -> JsValue {
    input_error(InputError::new(
        InputErrorKind::InvalidInput,
        format!("{what}: {detail}"),
    ))
}

//! The browser edge: wasm-bindgen types over the core, one file per concern (`encoder`,
//! `recommender`, `text_encoding`, `device`, `errors`). It converts types and awaits the GPU;
//! every policy is the core's. Without the `encoder` feature it is the ranking-only build:
//! `WasmRecommender` alone, opened with `withoutEncoder`.

#[cfg(feature = "encoder")]
mod device;
#[cfg(feature = "encoder")]
mod encoder;
mod errors;
mod recommender;
mod text_encoding;

#[cfg(feature = "encoder")]
pub use encoder::{int8_kernel_check, WasmEncoder};
pub use recommender::WasmRecommender;

use wasm_bindgen::prelude::*;

extern "C" {
    /// The static constructors wasm-ld collects (cubecl registers its IR types with `inventory`).
    fn __wasm_call_ctors();
}

#[wasm_bindgen(start)]
pub fn start() {
    // Run the constructors once, here. Without an explicit call wasm-ld wraps EVERY export in a
    // `.command_export` shim that re-runs them on each call: 13% of CPU time at batch 1 in a
    // profile of `embed` (cubecl's inventory submissions, re-done per JS-to-wasm crossing).
    // SAFETY: called once, first thing, before any other export runs.
    unsafe { __wasm_call_ctors() };
    // A panic kills the instance; at least say why in the console.
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&format!("cloister panicked: {info}").into());
    }));
}

/// A JS value to a core type; a wrong shape is an `invalid_input` error naming `what`.
fn from_js<T: serde::de::DeserializeOwned>(value: JsValue, what: &str) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(value).map_err(|e| errors::invalid_input(what, e))
}

/// A core value to plain JS objects and arrays (maps become objects).
fn to_js<T: serde::Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsValue::from(e.to_string()))
}

//! `WasmEncoder`: the sentence encoder for JS. Converts bytes, strings and arrays, and awaits
//! the GPU's read-back; the model and its batching are the core's.

use std::rc::Rc;

use js_sys::{Float32Array, Promise};
use wasm_bindgen::prelude::*;

use super::errors::{encoder_error, invalid_input};
use super::to_js;
use crate::encoder::{int8_gemm, Encoder, TextRole};

#[wasm_bindgen]
pub struct WasmEncoder {
    pub(crate) inner: Rc<Encoder>,
}

#[wasm_bindgen]
impl WasmEncoder {
    /// Loads the model (int8 .bpk or fp32 .safetensors bytes) and tokenizer.json bytes onto
    /// `backend`: "webgpu" or "cpu", as the package decided after probing the adapter.
    pub async fn load(
        model: Vec<u8>,
        tokenizer: Vec<u8>,
        backend: String,
    ) -> Result<WasmEncoder, JsValue> {
        let (device, backend) = super::device::start(&backend)
            .await
            .map_err(encoder_error)?;
        // The int8 layers are packed for one kernel when the model loads: choose it first.
        if backend == crate::encoder::Backend::Cpu {
            int8_kernel_choice();
        }
        let encoder = Encoder::load(model, &tokenizer, device, backend).map_err(encoder_error)?;
        Ok(WasmEncoder {
            inner: Rc::new(encoder),
        })
    }

    /// "webgpu" or "cpu": the backend in use.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.inner.backend().as_str().into()
    }

    /// "int8" or "fp32": the precision of the loaded file.
    #[wasm_bindgen(getter)]
    pub fn precision(&self) -> String {
        self.inner.precision().as_str().into()
    }

    /// What runs the linear projections: "int8", "f32-matmul" or "webgpu-linear" (diagnostics).
    #[wasm_bindgen(getter, js_name = linearKernel)]
    pub fn linear_kernel(&self) -> String {
        self.inner.linear_kernel().into()
    }

    /// Projections the WebGPU kernel left to burn's slower matmul (diagnostics; 0 expected).
    #[wasm_bindgen(getter, js_name = linearFallbacks)]
    pub fn linear_fallbacks(&self) -> usize {
        self.inner.linear_fallbacks()
    }

    /// sha256 of the model file (server-side embeddings name it).
    #[wasm_bindgen(getter, js_name = modelSha256)]
    pub fn model_sha256(&self) -> String {
        self.inner.model_sha256().into()
    }

    /// "all-MiniLM-L6-v2" or "multilingual-e5-small": which encoder the files were.
    #[wasm_bindgen(getter, js_name = modelName)]
    pub fn model_name(&self) -> String {
        self.inner.family().name().into()
    }

    /// Token ids per text (an array of arrays), as the model sees them in `role` ("query" or
    /// "passage", the default).
    pub fn tokenize(&self, texts: Vec<String>, role: Option<String>) -> Result<JsValue, JsValue> {
        let role = parse_role(role)?;
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let ids = self.inner.tokenize_as(&refs, role).map_err(encoder_error)?;
        to_js(&ids)
    }

    /// Per text, the share of its characters the model's vocabulary cannot read (0 to 1).
    #[wasm_bindgen(js_name = unknownShares)]
    pub fn unknown_shares(
        &self,
        texts: Vec<String>,
        role: Option<String>,
    ) -> Result<Vec<f32>, JsValue> {
        let role = parse_role(role)?;
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        self.inner
            .unknown_shares(&refs, role)
            .map_err(encoder_error)
    }

    /// Embeds texts in `role` ("query" for searches and stated interests, "passage" for items,
    /// the default); resolves to one Float32Array of `texts.length * 384` floats, row-major.
    pub fn embed(&self, texts: Vec<String>, role: Option<String>) -> Promise {
        let inner = Rc::clone(&self.inner);
        wasm_bindgen_futures::future_to_promise(async move {
            let role = parse_role(role)?;
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let embeddings = inner
                .embed_async_as(&refs, role)
                .await
                .map_err(encoder_error)?;
            Ok(Float32Array::from(embeddings.data.as_slice()).into())
        })
    }
}

/// Diagnostics: runs this build's int8 kernel (SIMD128) against the portable reference on
/// fixed inputs; resolves to `{ cases, mismatches, maxRelativeError }` (mismatches must be 0).
#[wasm_bindgen(js_name = int8KernelCheck)]
pub fn int8_kernel_check() -> Result<JsValue, JsValue> {
    let report = crate::encoder::int8_gemm::self_check();
    to_js(&report).map_err(|e| invalid_input("int8 kernel check", format!("{e:?}")))
}

thread_local! {
    /// This instance's int8 kernel: chosen (timed or forced) once, before its first model.
    static KERNEL: std::cell::OnceCell<int8_gemm::KernelChoice> = const { std::cell::OnceCell::new() };
}

/// The CPU path's int8 kernel, chosen once per instance before its first model: in the
/// relaxed-SIMD build by timing both kernels (about 40 ms), elsewhere the SIMD128 kernel.
/// Resolves to `{ kernel, simd128, relaxedDot }`: the fastest timing of each in ms, `null`
/// where nothing was timed (a forced kernel, a build with one).
#[wasm_bindgen(js_name = int8KernelChoice)]
pub fn int8_kernel_choice() -> JsValue {
    let choice = KERNEL.with(|k| {
        k.get_or_init(|| {
            int8_gemm::choose_digit_kernel(&now_ms).unwrap_or(int8_gemm::KernelChoice {
                kernel: int8_gemm::kernel_name(),
                simd128: None,
                relaxed_dot: None,
            })
        })
        .clone()
    });
    to_js(&choice).unwrap_or(JsValue::NULL)
}

/// Forces this instance's int8 kernel before its first model loads: 'simd128', or
/// 'relaxed-dot' in the relaxed-SIMD build (tests, benchmarks, and a pool's extra workers,
/// which take the first worker's choice). An unknown name, a kernel this build lacks, or a
/// different kernel already chosen is an `InvalidInputError`; the same one again is fine.
#[wasm_bindgen(js_name = setInt8Kernel)]
pub fn set_int8_kernel(kernel: String) -> Result<(), JsValue> {
    let name = match kernel.as_str() {
        "simd128" => "simd128",
        "relaxed-dot" if int8_gemm::has_digit_kernel() => "relaxed-dot",
        "relaxed-dot" => {
            return Err(invalid_input(
                "int8 kernel",
                "this build has no relaxed SIMD: load the cpu-relaxed build",
            ))
        }
        other => {
            return Err(invalid_input(
                "int8 kernel",
                format!("{other:?}: expected 'simd128' or 'relaxed-dot'"),
            ))
        }
    };
    let chosen = KERNEL.with(|k| {
        k.get_or_init(|| {
            int8_gemm::allow_digit_kernel(name == "relaxed-dot");
            int8_gemm::KernelChoice {
                kernel: name,
                simd128: None,
                relaxed_dot: None,
            }
        })
        .kernel
    });
    if chosen == name {
        Ok(())
    } else {
        Err(invalid_input(
            "int8 kernel",
            format!("this instance already runs {chosen:?}: set it before the first model loads"),
        ))
    }
}

/// `performance.now()` in a window or worker, else `Date.now()` (milliseconds).
fn now_ms() -> f64 {
    let global = js_sys::global();
    js_sys::Reflect::get(&global, &"performance".into())
        .ok()
        .and_then(|p| p.dyn_into::<web_sys::Performance>().ok())
        .map(|p| p.now())
        .unwrap_or_else(js_sys::Date::now)
}

fn parse_role(role: Option<String>) -> Result<TextRole, JsValue> {
    match role.as_deref() {
        None | Some("passage") => Ok(TextRole::Passage),
        Some("query") => Ok(TextRole::Query),
        Some(other) => Err(invalid_input(
            "role",
            format!("{other:?}: expected 'query' or 'passage'"),
        )),
    }
}

//! The browser edge: wasm-bindgen types over the core. It converts types, picks and awaits the
//! device, and maps errors to JS errors with a stable `kind`; nothing else lives here.

use std::cell::RefCell;
use std::rc::Rc;

use burn::tensor::Device;
use js_sys::{Float32Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::encoder::device::cpu_device;
use crate::encoder::{Backend, Encoder};
use crate::error::EncoderError;

#[wasm_bindgen(start)]
pub fn start() {
    // A panic kills the instance; at least say why in the console.
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&format!("cloister panicked: {info}").into());
    }));
}

/// JS error class names by kind; the JS layer re-throws them as its own classes.
fn error_name(kind: &str) -> &'static str {
    match kind {
        "model_format" | "model_corrupt" | "wrong_model" => "ModelFormatError",
        "webgpu_unavailable" => "WebGPUUnavailableError",
        "empty_batch" | "invalid_option" => "InvalidInputError",
        "tokenizer" => "TokenizerError",
        _ => "BackendError",
    }
}

fn js_error(error: EncoderError) -> JsValue {
    let kind = error.kind();
    let js = js_sys::Error::new(&error.to_string());
    js.set_name(error_name(kind));
    let _ = Reflect::set(&js, &"kind".into(), &kind.into());
    js.into()
}

/// What the browser said about WebGPU.
struct AdapterProbe {
    fallback: bool,
    description: String,
}

fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// Asks `navigator.gpu` for an adapter without touching burn, so "no WebGPU" is an answer,
/// not an exception. Works in windows and workers.
async fn probe_webgpu() -> Result<AdapterProbe, String> {
    let navigator = get(&js_sys::global(), "navigator");
    let gpu = get(&navigator, "gpu");
    if gpu.is_undefined() || gpu.is_null() {
        return Err("navigator.gpu is missing (no WebGPU in this browser or context)".into());
    }
    let request: Function = get(&gpu, "requestAdapter")
        .dyn_into()
        .map_err(|_| "navigator.gpu.requestAdapter is not a function".to_string())?;
    let promise: Promise = request
        .call0(&gpu)
        .map_err(|e| format!("requestAdapter threw: {e:?}"))?
        .dyn_into()
        .map_err(|_| "requestAdapter did not return a promise".to_string())?;
    let adapter = JsFuture::from(promise)
        .await
        .map_err(|e| format!("requestAdapter failed: {e:?}"))?;
    if adapter.is_null() || adapter.is_undefined() {
        return Err("requestAdapter() returned no adapter".into());
    }
    let info = get(&adapter, "info");
    let fallback = get(&info, "isFallbackAdapter")
        .as_bool()
        .or_else(|| get(&adapter, "isFallbackAdapter").as_bool())
        .unwrap_or(false);
    let field = |name: &str| get(&info, name).as_string().unwrap_or_default();
    Ok(AdapterProbe {
        fallback,
        description: format!(
            "{} {} {}",
            field("vendor"),
            field("architecture"),
            field("description")
        )
        .trim()
        .to_string(),
    })
}

thread_local! {
    // burn's wgpu runtime initialises once per page; later loads reuse its device.
    static WGPU_DEVICE: RefCell<Option<Device>> = const { RefCell::new(None) };
}

async fn webgpu_device() -> Result<Device, String> {
    if let Some(device) = WGPU_DEVICE.with(|d| d.borrow().clone()) {
        return Ok(device);
    }
    let device = Device::wgpu_options()
        .init_async()
        .await
        .map_err(|e| format!("WebGPU device init failed: {e}"))?;
    WGPU_DEVICE.with(|d| *d.borrow_mut() = Some(device.clone()));
    Ok(device)
}

/// Picks the device for a request: `webgpu` (forced), `cpu` (forced) or `auto`.
/// `auto` takes a hardware WebGPU adapter and falls back to the CPU when there is none, when
/// init fails, or when the adapter is software (SwiftShader runs ~30x slower than flex-in-wasm).
async fn select_device(request: &str) -> Result<(Device, Backend, String), EncoderError> {
    match request {
        "cpu" => Ok((cpu_device(), Backend::Cpu, "cpu requested".into())),
        "webgpu" => {
            let probe = probe_webgpu()
                .await
                .map_err(EncoderError::WebGpuUnavailable)?;
            let device = webgpu_device()
                .await
                .map_err(EncoderError::WebGpuUnavailable)?;
            Ok((
                device,
                Backend::WebGpu,
                format!("webgpu requested; adapter {}", probe.description),
            ))
        }
        "auto" => match probe_webgpu().await {
            Err(why) => Ok((cpu_device(), Backend::Cpu, format!("auto: {why}"))),
            Ok(probe) if probe.fallback => Ok((
                cpu_device(),
                Backend::Cpu,
                format!(
                    "auto: WebGPU adapter is a software fallback ({}), slower than the CPU path",
                    probe.description
                ),
            )),
            Ok(probe) => match webgpu_device().await {
                Ok(device) => Ok((
                    device,
                    Backend::WebGpu,
                    format!("auto: hardware adapter {}", probe.description),
                )),
                Err(why) => Ok((cpu_device(), Backend::Cpu, format!("auto: {why}"))),
            },
        },
        other => Err(EncoderError::InvalidOption(format!(
            "backend must be 'auto', 'webgpu' or 'cpu', got '{other}'"
        ))),
    }
}

/// The sentence encoder in the browser.
#[wasm_bindgen]
pub struct WasmEncoder {
    inner: Rc<Encoder>,
    reason: String,
}

#[wasm_bindgen]
impl WasmEncoder {
    /// Loads the model (int8 .bpk or fp32 .safetensors bytes) and tokenizer.json bytes.
    /// `backend`: "auto" | "webgpu" | "cpu".
    pub async fn load(
        model: Vec<u8>,
        tokenizer: Vec<u8>,
        backend: String,
    ) -> Result<WasmEncoder, JsValue> {
        let (device, chosen, reason) = select_device(&backend).await.map_err(js_error)?;
        let encoder = Encoder::load(model, &tokenizer, device, chosen).map_err(js_error)?;
        Ok(WasmEncoder {
            inner: Rc::new(encoder),
            reason,
        })
    }

    /// "webgpu" or "cpu": the backend in use.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.inner.backend().as_str().into()
    }

    /// Why that backend was chosen.
    #[wasm_bindgen(getter, js_name = backendReason)]
    pub fn backend_reason(&self) -> String {
        self.reason.clone()
    }

    /// "int8" or "fp32": the precision of the loaded file.
    #[wasm_bindgen(getter)]
    pub fn precision(&self) -> String {
        self.inner.precision().as_str().into()
    }

    /// Token ids per text (an array of arrays), as the model sees them.
    pub fn tokenize(&self, texts: Vec<String>) -> Result<JsValue, JsValue> {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let ids = self.inner.tokenize(&refs).map_err(js_error)?;
        serde_wasm_bindgen::to_value(&ids).map_err(|e| JsValue::from(e.to_string()))
    }

    /// Embeds texts; resolves to one Float32Array of `texts.length * 384` floats, row-major.
    pub fn embed(&self, texts: Vec<String>) -> Promise {
        let inner = Rc::clone(&self.inner);
        wasm_bindgen_futures::future_to_promise(async move {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let embeddings = inner.embed_async(&refs).await.map_err(js_error)?;
            Ok(Float32Array::from(embeddings.data.as_slice()).into())
        })
    }
}

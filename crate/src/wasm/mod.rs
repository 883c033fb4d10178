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

#[cfg(feature = "webgpu")]
thread_local! {
    // burn's wgpu runtime initialises once per page; later loads reuse its device.
    static WGPU_DEVICE: RefCell<Option<Device>> = const { RefCell::new(None) };
}

/// The CPU-only build (no `webgpu` feature) has no WebGPU backend to start.
#[cfg(not(feature = "webgpu"))]
async fn webgpu_device() -> Result<Device, String> {
    Err(
        "this is the CPU-only build of the wasm, which has no WebGPU backend \
         (the package loads the WebGPU build when WebGPU is asked for)"
            .into(),
    )
}

#[cfg(feature = "webgpu")]
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
    pub(crate) inner: Rc<Encoder>,
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

/// One user's recommender in the browser: the core `Recommender` plus the encoder that fills
/// its embedding cache. Methods that may need new embeddings return promises.
#[wasm_bindgen]
pub struct WasmRecommender {
    rec: Rc<RefCell<crate::Recommender>>,
    encoder: Rc<Encoder>,
}

fn input_error(e: crate::InputError) -> JsValue {
    let js = js_sys::Error::new(&e.message);
    js.set_name("InvalidInputError");
    let _ = Reflect::set(&js, &"kind".into(), &e.kind.into());
    js.into()
}

fn store_error(e: crate::StoreError) -> JsValue {
    let js = js_sys::Error::new(&e.to_string());
    js.set_name("StorageError");
    let _ = Reflect::set(&js, &"kind".into(), &e.kind().into());
    js.into()
}

fn from_js<T: serde::de::DeserializeOwned>(value: JsValue, what: &str) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(value).map_err(|e| {
        input_error(crate::InputError::new(
            "invalid_input",
            format!("{what}: {e}"),
        ))
    })
}

fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsValue::from(e.to_string()))
}

/// Encodes the texts the recommender lacks, without holding its borrow across the await.
async fn fill_cache(
    rec: &RefCell<crate::Recommender>,
    encoder: &Encoder,
    texts: Vec<String>,
) -> Result<(), JsValue> {
    let texts: Vec<String> = texts.into_iter().filter(|t| !t.trim().is_empty()).collect();
    if texts.is_empty() {
        return Ok(());
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let embeddings = encoder.embed_async(&refs).await.map_err(js_error)?;
    rec.borrow_mut()
        .put_embeddings(&texts, &embeddings)
        .map_err(input_error)
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct JsRerankOptions {
    k: Option<usize>,
    #[serde(default)]
    diversity: f32,
    explore: Option<JsExplore>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum JsExplore {
    Flag(bool),
    Settings {
        seed: Option<u64>,
        scale: Option<f32>,
    },
}

#[wasm_bindgen]
impl WasmRecommender {
    /// `prior_json`: the site's PRIOR.json text, or undefined for the built-in prior.
    #[wasm_bindgen(constructor)]
    pub fn new(
        encoder: &WasmEncoder,
        prior_json: Option<String>,
    ) -> Result<WasmRecommender, JsValue> {
        let prior = match prior_json {
            Some(text) => crate::Prior::from_json(&text).map_err(input_error)?,
            None => crate::Prior::default(),
        };
        let rec = crate::Recommender::new(&prior, encoder.inner.model_sha256());
        Ok(WasmRecommender {
            rec: Rc::new(RefCell::new(rec)),
            encoder: Rc::clone(&encoder.inner),
        })
    }

    /// Swaps the encoder (the WebGPU device was lost: the JS layer loads a CPU one). Profile,
    /// weights and cached embeddings stay; the model must be the same file.
    #[wasm_bindgen(js_name = setEncoder)]
    pub fn set_encoder(&mut self, encoder: &WasmEncoder) -> Result<(), JsValue> {
        if encoder.inner.model_sha256() != self.encoder.model_sha256() {
            return Err(js_error(EncoderError::InvalidOption(
                "setEncoder needs an encoder of the same model file".into(),
            )));
        }
        self.encoder = Rc::clone(&encoder.inner);
        Ok(())
    }

    /// Records one event (validated; its text is embedded if new).
    pub fn record(&self, event: JsValue) -> Promise {
        let (rec, encoder) = (Rc::clone(&self.rec), Rc::clone(&self.encoder));
        wasm_bindgen_futures::future_to_promise(async move {
            let event: crate::Event = from_js(event, "event")?;
            let event = event.validate().map_err(input_error)?;
            let texts = rec.borrow().missing_texts([event.item.text.as_str()]);
            fill_cache(&rec, &encoder, texts).await?;
            rec.borrow_mut().record(event).map_err(input_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Adds a stated interest; resolves to its id.
    #[wasm_bindgen(js_name = stateInterest)]
    pub fn state_interest(&self, text: String, weight: f32) -> Promise {
        let (rec, encoder) = (Rc::clone(&self.rec), Rc::clone(&self.encoder));
        wasm_bindgen_futures::future_to_promise(async move {
            let trimmed = text.trim().to_string();
            let texts = rec.borrow().missing_texts([trimmed.as_str()]);
            fill_cache(&rec, &encoder, texts).await?;
            let id = rec
                .borrow_mut()
                .state_interest(&trimmed, weight)
                .map_err(input_error)?;
            Ok(JsValue::from_f64(id as f64))
        })
    }

    pub fn interests(&self) -> Result<JsValue, JsValue> {
        let rec = self.rec.borrow();
        let list: Vec<serde_json::Value> = rec
            .profile()
            .interests
            .iter()
            .map(|i| serde_json::json!({"id": i.id, "text": i.text, "weight": i.weight}))
            .collect();
        to_js(&list)
    }

    #[wasm_bindgen(js_name = removeInterest)]
    pub fn remove_interest(&self, id: f64) -> bool {
        self.rec.borrow_mut().remove_interest(id as u64)
    }

    /// Ranks candidates; resolves to `{ impressionId, items: [{ id, score, contributions, explanation }] }`
    /// with the top `k` items (all when `k` is not set).
    pub fn rerank(&self, candidates: JsValue, options: JsValue) -> Promise {
        let (rec, encoder) = (Rc::clone(&self.rec), Rc::clone(&self.encoder));
        wasm_bindgen_futures::future_to_promise(async move {
            let candidates: Vec<crate::Candidate> = from_js(candidates, "candidates")?;
            let candidates =
                crate::rank::candidate::validate_candidates(candidates).map_err(input_error)?;
            let options: JsRerankOptions = if options.is_undefined() || options.is_null() {
                JsRerankOptions::default()
            } else {
                from_js(options, "options")?
            };
            let explore = match options.explore {
                None | Some(JsExplore::Flag(false)) => None,
                Some(JsExplore::Flag(true)) => Some(crate::rank::Explore {
                    seed: js_sys::Date::now() as u64,
                    scale: 0.3,
                }),
                Some(JsExplore::Settings { seed, scale }) => Some(crate::rank::Explore {
                    seed: seed.unwrap_or(js_sys::Date::now() as u64),
                    scale: scale.unwrap_or(0.3),
                }),
            };
            let texts = rec.borrow().texts_for_candidates(&candidates);
            fill_cache(&rec, &encoder, texts).await?;
            let opts = crate::RerankOptions {
                k: options.k,
                diversity: options.diversity,
                explore,
            };
            let ranked = rec
                .borrow_mut()
                .rerank(candidates, &opts)
                .map_err(input_error)?;
            let take = options.k.unwrap_or(usize::MAX);
            let items: Vec<serde_json::Value> = ranked
                .ranking
                .items
                .iter()
                .take(take)
                .map(|i| {
                    let contributions: serde_json::Map<String, serde_json::Value> =
                        i.contributions.iter().map(|(n, v)| (n.clone(), serde_json::json!(v))).collect();
                    serde_json::json!({"id": i.id, "score": i.score, "contributions": contributions, "explanation": i.explanation})
                })
                .collect();
            to_js(&serde_json::json!({"impressionId": ranked.impression_id, "items": items}))
        })
    }

    /// The user chose `chosen` among the items shown for `impression_id`; returns the weight changes.
    pub fn feedback(&self, impression_id: String, chosen: Vec<String>) -> Result<JsValue, JsValue> {
        let delta = self
            .rec
            .borrow_mut()
            .feedback(&impression_id, &chosen)
            .map_err(input_error)?;
        to_js(&delta)
    }

    /// `{ current, prior, steps }`.
    pub fn weights(&self) -> Result<JsValue, JsValue> {
        let rec = self.rec.borrow();
        let w = rec.weights();
        to_js(&serde_json::json!({"current": w.current, "prior": w.prior, "steps": w.steps}))
    }

    /// Profile and weights as one checksummed record (what IndexedDB stores).
    #[wasm_bindgen(js_name = saveState)]
    pub fn save_state(&self) -> Vec<u8> {
        self.rec.borrow().to_bytes()
    }

    /// Replaces profile and weights with a saved record; a bad record changes nothing.
    #[wasm_bindgen(js_name = restoreState)]
    pub fn restore_state(&self, bytes: Vec<u8>) -> Result<(), JsValue> {
        self.rec.borrow_mut().restore(&bytes).map_err(store_error)
    }

    /// Everything the device holds about the user, as JSON a person can read.
    #[wasm_bindgen(js_name = exportProfile)]
    pub fn export_profile(&self) -> Result<String, JsValue> {
        let state = self.rec.borrow().saved_state();
        serde_json::to_string_pretty(&serde_json::json!({
            "format": "cloister-profile",
            "version": crate::store::RECORD_VERSION,
            "state": state,
        }))
        .map_err(|e| JsValue::from(e.to_string()))
    }

    /// Loads an `exportProfile` document; a bad document changes nothing.
    #[wasm_bindgen(js_name = importProfile)]
    pub fn import_profile(&self, json: String) -> Result<(), JsValue> {
        #[derive(serde::Deserialize)]
        struct Doc {
            format: String,
            state: crate::recommender::SavedState,
        }
        let doc: Doc = serde_json::from_str(&json)
            .map_err(|e| store_error(crate::StoreError::Corrupt(format!("profile JSON: {e}"))))?;
        if doc.format != "cloister-profile" {
            return Err(store_error(crate::StoreError::Corrupt(
                "not a cloister-profile document".into(),
            )));
        }
        let payload = serde_json::to_vec(&doc.state).map_err(|e| JsValue::from(e.to_string()))?;
        let bytes = crate::store::encode_record(crate::store::RecordKind::State, &payload);
        self.rec.borrow_mut().restore(&bytes).map_err(store_error)
    }

    /// Wipes profile, adapted weights, embedding cache and impressions.
    pub fn forget(&self) {
        self.rec.borrow_mut().forget();
    }

    /// Points for the "inside my profile" map: the recent history, the stated interests and the
    /// given candidate ids' cached embeddings, projected to 2D (top two principal axes).
    #[wasm_bindgen(js_name = profileMap)]
    pub fn profile_map(&self, candidates: JsValue) -> Result<JsValue, JsValue> {
        let candidates: Vec<(String, String)> = if candidates.is_undefined() {
            vec![]
        } else {
            from_js(candidates, "candidates")?
        };
        let rec = self.rec.borrow();
        let mut labels = Vec::new();
        let mut vectors: Vec<Vec<f32>> = Vec::new();
        for e in &rec.profile().recent {
            labels.push(serde_json::json!({"kind": "history", "id": e.id, "label": e.title}));
            vectors.push(e.embedding.clone());
        }
        for i in &rec.profile().interests {
            labels.push(serde_json::json!({"kind": "interest", "id": i.id, "label": i.text}));
            vectors.push(i.embedding.clone());
        }
        for (id, text) in &candidates {
            if let Some(v) = rec.cached_embedding(text) {
                labels.push(serde_json::json!({"kind": "candidate", "id": id, "label": text.chars().take(60).collect::<String>()}));
                vectors.push(v.to_vec());
            }
        }
        let points = crate::vector::project_2d(&vectors);
        let out: Vec<serde_json::Value> = labels
            .into_iter()
            .zip(points)
            .map(|(mut l, (x, y))| {
                l["x"] = serde_json::json!(x);
                l["y"] = serde_json::json!(y);
                l
            })
            .collect();
        to_js(&out)
    }
}

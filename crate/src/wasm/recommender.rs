//! `WasmRecommender`: one user's recommender for JS. Converts JS values to core types and back,
//! and encodes the texts a request lacks (awaiting the GPU) between the core's steps. The
//! ranking-only build has the same class without the encoder's constructor and `setEncoder`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::Promise;
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[cfg(feature = "encoder")]
use super::encoder::WasmEncoder;
use super::errors::{encoder_error, input_error, store_error};
use super::text_encoding::{with_texts, TextEncoder};
use super::{from_js, to_js};
use crate::embedding::Embeddings;
use crate::encoder::config::ModelFamily;
use crate::error::{EncoderError, InputError, InputErrorKind};
use crate::limits::{MAX_CANDIDATES, MAX_HISTORY};
use crate::rank::candidate::validate_candidates;
use crate::rank::{RankedItem, RerankSettings};
use crate::{Candidate, Event, Prior, Recommender};

#[wasm_bindgen]
pub struct WasmRecommender {
    rec: Rc<RefCell<Recommender>>,
    /// None until the page hands one over (`withoutEncoder`, then `setEncoder`, or
    /// `setEmbedder` in the ranking-only build): meanwhile rankings use what is embedded and
    /// events whose text is not wait in the core.
    encoder: Option<Rc<TextEncoder>>,
    /// Texts this recommender has encoded (each once): what server embeddings saved.
    encoded: Rc<Cell<u64>>,
    /// The interest model's weights on a device `interestScores` was asked for, kept for the
    /// next call: (file sha256, backend, model).
    #[cfg(feature = "encoder")]
    interest_on_device: Rc<RefCell<Option<DeviceModel>>>,
}

#[cfg(feature = "encoder")]
type DeviceModel = (String, String, Rc<crate::interest_model::InterestModel>);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RerankReply<'a> {
    impression_id: &'a str,
    items: &'a [RankedItem],
    /// What the ranking lacked: `["embedding"]` when items were ranked without one (the
    /// encoder is not there yet), with their count.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pending: Vec<&'static str>,
    #[serde(skip_serializing_if = "is_zero")]
    unembedded: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn no_encoder(what: &str) -> JsValue {
    input_error(InputError::new(
        InputErrorKind::InvalidInput,
        format!("{what} needs the encoder, which is not loaded yet"),
    ))
}

/// An event of a `recordMany` batch that was not recorded, and why.
#[derive(Serialize)]
struct Rejected {
    index: usize,
    kind: &'static str,
    message: String,
}

impl Rejected {
    fn new(index: usize, e: InputError) -> Self {
        Self {
            index,
            kind: e.kind.as_str(),
            message: e.message,
        }
    }
}

/// A `recordMany` batch parsed and validated: the events that may be recorded, with their
/// indices, and those that may not.
fn parse_events(events: &js_sys::Array, now: i64) -> (Vec<(usize, Event)>, Vec<Rejected>) {
    let mut valid = Vec::with_capacity(events.length() as usize);
    let mut rejected = Vec::new();
    for (index, value) in events.iter().enumerate() {
        let parsed = serde_wasm_bindgen::from_value::<Event>(value)
            .map_err(|e| InputError::new(InputErrorKind::InvalidInput, format!("event: {e}")));
        match parsed.and_then(|e| e.validate(now)) {
            Ok(event) => valid.push((index, event)),
            Err(e) => rejected.push(Rejected::new(index, e)),
        }
    }
    (valid, rejected)
}

#[derive(Serialize)]
struct RecordManyReply {
    recorded: usize,
    /// Kept until the encoder arrives (their texts are not embedded yet).
    deferred: usize,
    rejected: Vec<Rejected>,
}

#[derive(Serialize)]
struct InterestReply<'a> {
    id: u64,
    text: &'a str,
    weight: f32,
}

/// What an async method takes into its future: the recommender, the encoder if loaded, and
/// the count of texts encoded.
type Parts = (
    Rc<RefCell<Recommender>>,
    Option<Rc<TextEncoder>>,
    Rc<Cell<u64>>,
);

impl WasmRecommender {
    fn parts(&self) -> Parts {
        (
            Rc::clone(&self.rec),
            self.encoder.clone(),
            Rc::clone(&self.encoded),
        )
    }
}

/// The constructor with an encoder, and the hand-over of one: the builds with the encoder.
#[cfg(feature = "encoder")]
#[wasm_bindgen]
impl WasmRecommender {
    /// `prior_json`: the site's PRIOR.json text, or undefined for the built-in prior.
    #[wasm_bindgen(constructor)]
    pub fn new(
        encoder: &WasmEncoder,
        prior_json: Option<String>,
    ) -> Result<WasmRecommender, JsValue> {
        let prior = match prior_json {
            Some(text) => Prior::from_json(&text).map_err(input_error)?,
            None => Prior::default(),
        };
        let mut rec = Recommender::new(&prior, encoder.inner.model_sha256());
        rec.set_model_family(encoder.inner.family());
        Ok(WasmRecommender {
            rec: Rc::new(RefCell::new(rec)),
            encoder: Some(Rc::new(TextEncoder::Loaded(Rc::clone(&encoder.inner)))),
            encoded: Rc::new(Cell::new(0)),
            #[cfg(feature = "encoder")]
            interest_on_device: Rc::default(),
        })
    }

    /// Hands over the encoder: the first one (it arrived after `withoutEncoder`), or a
    /// replacement (the WebGPU device was lost: the JS layer loads a CPU one). Profile, weights
    /// and cached embeddings stay; the model must be the file the recommender was made for.
    #[wasm_bindgen(js_name = setEncoder)]
    pub fn set_encoder(&mut self, encoder: &WasmEncoder) -> Result<(), JsValue> {
        let rec = self.rec.borrow();
        if encoder.inner.model_sha256() != rec.model() {
            return Err(encoder_error(EncoderError::InvalidOption(format!(
                "setEncoder needs an encoder of the model file this recommender reads \
                 (sha256 {}), got {}",
                rec.model(),
                encoder.inner.model_sha256()
            ))));
        }
        if encoder.inner.family() != rec.model_family() {
            return Err(encoder_error(EncoderError::InvalidOption(
                "setEncoder needs an encoder of the same model".into(),
            )));
        }
        drop(rec);
        self.encoder = Some(Rc::new(TextEncoder::Loaded(Rc::clone(&encoder.inner))));
        Ok(())
    }
}

#[wasm_bindgen]
impl WasmRecommender {
    /// A recommender for the model file `model_sha256` of `model_name` ('all-MiniLM-L6-v2' or
    /// 'multilingual-e5-small') before its encoder has loaded: ranking works on server
    /// embeddings at once; `setEncoder` (or `setEmbedder`) hands the encoder over when it
    /// arrives.
    #[wasm_bindgen(js_name = withoutEncoder)]
    pub fn without_encoder(
        model_sha256: String,
        model_name: String,
        prior_json: Option<String>,
    ) -> Result<WasmRecommender, JsValue> {
        let family = ModelFamily::from_name(&model_name).ok_or_else(|| {
            encoder_error(EncoderError::InvalidOption(format!(
                "unknown model name '{model_name}': all-MiniLM-L6-v2 or multilingual-e5-small"
            )))
        })?;
        let prior = match prior_json {
            Some(text) => Prior::from_json(&text).map_err(input_error)?,
            None => Prior::default(),
        };
        let mut rec = Recommender::new(&prior, model_sha256);
        rec.set_model_family(family);
        Ok(WasmRecommender {
            rec: Rc::new(RefCell::new(rec)),
            encoder: None,
            encoded: Rc::new(Cell::new(0)),
            #[cfg(feature = "encoder")]
            interest_on_device: Rc::default(),
        })
    }

    /// Hands over an encoder that lives elsewhere (the encoder build's instance, next to this
    /// ranking-only one) as `embed(texts, role)`, resolving to `{ embeddings: Float32Array,
    /// unknownShares }`. Checked like `setEncoder`: the model file and family it names must be
    /// the ones this recommender was made for.
    #[wasm_bindgen(js_name = setEmbedder)]
    pub fn set_embedder(
        &mut self,
        embed: js_sys::Function,
        model_sha256: String,
        model_name: String,
    ) -> Result<(), JsValue> {
        let rec = self.rec.borrow();
        if model_sha256 != rec.model() || model_name != rec.model_family().name() {
            return Err(encoder_error(EncoderError::InvalidOption(format!(
                "setEmbedder needs an encoder of the model file this recommender reads \
                 ({}, sha256 {}), got {model_name}, {model_sha256}",
                rec.model_family().name(),
                rec.model()
            ))));
        }
        drop(rec);
        self.encoder = Some(Rc::new(TextEncoder::Function(embed)));
        Ok(())
    }

    /// Whether an encoder is loaded.
    #[wasm_bindgen(js_name = hasEncoder)]
    pub fn has_encoder(&self) -> bool {
        self.encoder.is_some()
    }

    /// Events waiting for the encoder (recorded before it arrived, saved with the state).
    #[wasm_bindgen(js_name = deferredEvents)]
    pub fn deferred_events(&self) -> f64 {
        self.rec.borrow().deferred_events() as f64
    }

    /// Stated interests waiting for the encoder (carried from another model's profile).
    #[wasm_bindgen(js_name = deferredInterests)]
    pub fn deferred_interests(&self) -> f64 {
        self.rec.borrow().deferred_interests() as f64
    }

    /// Encodes the waiting events' and interests' texts and records them, in order; resolves
    /// to how many were recorded.
    #[wasm_bindgen(js_name = foldDeferred)]
    pub fn fold_deferred(&self) -> Promise {
        let (rec, encoder, encoded) = self.parts();
        wasm_bindgen_futures::future_to_promise(async move {
            let encoder = encoder.ok_or_else(|| no_encoder("folding the waiting events"))?;
            let now = js_sys::Date::now() as i64;
            let pending = rec.borrow_mut().hold_deferred();
            let folded = with_texts(&rec, &encoder, &encoded, pending, |r| {
                Ok(r.fold_deferred(now))
            })
            .await?;
            Ok(JsValue::from_f64(folded as f64))
        })
    }

    /// Records one event (validated; its text is embedded if new).
    pub fn record(&self, event: JsValue) -> Promise {
        let (rec, encoder, encoded) = self.parts();
        wasm_bindgen_futures::future_to_promise(async move {
            let event: Event = from_js(event, "event")?;
            let now = js_sys::Date::now() as i64;
            let event = event.validate(now).map_err(input_error)?;
            let Some(encoder) = encoder else {
                // No encoder yet: recorded if its text is embedded, else kept until it is.
                rec.borrow_mut()
                    .record_or_defer(event, now)
                    .map_err(input_error)?;
                return Ok(JsValue::UNDEFINED);
            };
            let pending = rec
                .borrow_mut()
                .hold_request(std::slice::from_ref(&event), &[]);
            with_texts(&rec, &encoder, &encoded, pending, |r| r.record(event, now)).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Records a batch of events in one step: their new texts are encoded together (one batch
    /// on the encoder) and the caller saves once. Resolves to `{ recorded, rejected: [{ index,
    /// kind, message }] }`: an event that fails validation is reported and the others are
    /// recorded. At most `MAX_HISTORY` events per call.
    #[wasm_bindgen(js_name = recordMany)]
    pub fn record_many(&self, events: js_sys::Array) -> Promise {
        let (rec, encoder, encoded) = self.parts();
        wasm_bindgen_futures::future_to_promise(async move {
            if events.length() as usize > MAX_HISTORY {
                return Err(input_error(InputError::new(
                    InputErrorKind::TooManyEvents,
                    format!(
                        "{} events; at most {MAX_HISTORY} per recordMany call",
                        events.length()
                    ),
                )));
            }
            let now = js_sys::Date::now() as i64;
            let (valid, mut rejected) = parse_events(&events, now);
            let Some(encoder) = encoder else {
                let mut r = rec.borrow_mut();
                let (mut recorded, mut deferred) = (0, 0);
                for (index, event) in valid {
                    match r.record_or_defer(event, now) {
                        Ok(true) => deferred += 1,
                        Ok(false) => recorded += 1,
                        Err(e) => rejected.push(Rejected::new(index, e)),
                    }
                }
                rejected.sort_by_key(|r| r.index);
                return to_js(&RecordManyReply {
                    recorded,
                    deferred,
                    rejected,
                });
            };
            let batch: Vec<Event> = valid.iter().map(|(_, e)| e.clone()).collect();
            let pending = rec.borrow_mut().hold_request(&batch, &[]);
            let recorded = with_texts(&rec, &encoder, &encoded, pending, |r| {
                let mut recorded = 0;
                for (index, event) in valid {
                    match r.record(event, now) {
                        Ok(()) => recorded += 1,
                        Err(e) => rejected.push(Rejected::new(index, e)),
                    }
                }
                Ok(recorded)
            })
            .await?;
            rejected.sort_by_key(|r| r.index);
            to_js(&RecordManyReply {
                recorded,
                deferred: 0,
                rejected,
            })
        })
    }

    /// The item texts a `recordMany` of `events` would encode now
    /// (`Recommender::uncached_event_texts`), for the package's pool to encode first; events
    /// that `recordMany` would reject are left out (it reports them).
    #[wasm_bindgen(js_name = uncachedEventTexts)]
    pub fn uncached_event_texts(&self, events: js_sys::Array) -> Result<Vec<String>, JsValue> {
        if events.length() as usize > MAX_HISTORY {
            return Ok(Vec::new());
        }
        let (valid, _) = parse_events(&events, js_sys::Date::now() as i64);
        let valid: Vec<Event> = valid.into_iter().map(|(_, e)| e).collect();
        Ok(self.rec.borrow().uncached_event_texts(&valid))
    }

    /// The texts a ranking of `candidates` would encode now
    /// (`Recommender::uncached_candidate_texts`): what the package's pool of encoder workers
    /// encodes first, for a large list. A bad list is the same error `rerank` gives, before
    /// anything is encoded.
    #[wasm_bindgen(js_name = uncachedCandidateTexts)]
    pub fn uncached_candidate_texts(&self, candidates: JsValue) -> Result<Vec<String>, JsValue> {
        let candidates: Vec<Candidate> = from_js(candidates, "candidates")?;
        let candidates = validate_candidates(candidates).map_err(input_error)?;
        Ok(self.rec.borrow().uncached_candidate_texts(&candidates))
    }

    /// Caches passage embeddings that encoders of this recommender's model file encoded
    /// elsewhere (the pool's workers): 384 floats per text, row-major, and per text the share
    /// the model cannot read. They count as encoded on the device.
    #[wasm_bindgen(js_name = cachePassages)]
    pub fn cache_passages(
        &self,
        texts: Vec<String>,
        embeddings: Vec<f32>,
        unknown_shares: Vec<f32>,
    ) -> Result<(), JsValue> {
        if texts.len() > MAX_CANDIDATES || unknown_shares.len() != texts.len() {
            return Err(input_error(InputError::new(
                InputErrorKind::InvalidEmbedding,
                format!(
                    "cachePassages takes at most {MAX_CANDIDATES} texts with one unknown share \
                     each, got {} texts and {} shares",
                    texts.len(),
                    unknown_shares.len()
                ),
            )));
        }
        let mut rec = self.rec.borrow_mut();
        rec.put_embeddings(&texts, &Embeddings { data: embeddings })
            .map_err(input_error)?;
        let family = rec.model_family().name();
        rec.note_unreadable(&texts, &unknown_shares, family);
        self.encoded.set(self.encoded.get() + texts.len() as u64);
        Ok(())
    }

    /// Texts encoded on the device so far by this recommender (items with a usable server
    /// embedding and texts already cached cost none).
    #[wasm_bindgen(js_name = encodedTexts)]
    pub fn encoded_texts(&self) -> f64 {
        self.encoded.get() as f64
    }

    /// Adds a stated interest; resolves to its id.
    #[wasm_bindgen(js_name = stateInterest)]
    pub fn state_interest(&self, text: String, weight: f32) -> Promise {
        let (rec, encoder, encoded) = self.parts();
        wasm_bindgen_futures::future_to_promise(async move {
            let encoder = encoder.ok_or_else(|| no_encoder("stating an interest"))?;
            let pending = rec.borrow_mut().hold_queries([text.trim()]);
            let id = with_texts(&rec, &encoder, &encoded, pending, |r| {
                r.state_interest(&text, weight)
            })
            .await?;
            Ok(JsValue::from_f64(id as f64))
        })
    }

    /// `[{ id, text, weight }]`.
    pub fn interests(&self) -> Result<JsValue, JsValue> {
        let rec = self.rec.borrow();
        let list: Vec<InterestReply> = rec
            .profile()
            .interests
            .iter()
            .map(|i| InterestReply {
                id: i.id,
                text: &i.text,
                weight: i.weight,
            })
            .collect();
        to_js(&list)
    }

    /// Warnings noted since the last call (texts the loaded model could not read), as strings.
    #[wasm_bindgen(js_name = takeWarnings)]
    pub fn take_warnings(&self) -> Vec<String> {
        self.rec.borrow_mut().take_warnings()
    }

    #[wasm_bindgen(js_name = removeInterest)]
    pub fn remove_interest(&self, id: f64) -> bool {
        self.rec.borrow_mut().remove_interest(id as u64)
    }

    /// Ranks candidates; resolves to `{ impressionId, items: [{ id, score, contributions,
    /// explanation }] }` with the top `k` items (all when `k` is not set).
    pub fn rerank(&self, candidates: JsValue, options: JsValue) -> Promise {
        let (rec, encoder, encoded) = self.parts();
        wasm_bindgen_futures::future_to_promise(async move {
            // Checked before anything is encoded: a bad list or option costs nothing.
            let candidates: Vec<Candidate> = from_js(candidates, "candidates")?;
            let candidates = validate_candidates(candidates).map_err(input_error)?;
            let settings: RerankSettings = if options.is_undefined() || options.is_null() {
                RerankSettings::default()
            } else {
                from_js(options, "options")?
            };
            let options = settings.resolve(js_sys::Date::now() as u64);
            options.validate().map_err(input_error)?;
            let pending = rec.borrow_mut().hold_request(&[], &candidates);
            let ranked = match encoder {
                Some(encoder) => {
                    with_texts(&rec, &encoder, &encoded, pending, |r| {
                        r.rerank(candidates, &options)
                    })
                    .await?
                }
                None => {
                    let mut r = rec.borrow_mut();
                    let ranked = r.rerank_available(candidates, &options);
                    r.release(pending.hold);
                    ranked.map_err(input_error)?
                }
            };
            to_js(&RerankReply {
                impression_id: &ranked.impression_id,
                items: ranked.shown(),
                pending: if ranked.unembedded > 0 {
                    vec!["embedding"]
                } else {
                    vec![]
                },
                unembedded: ranked.unembedded,
            })
        })
    }

    /// Feedback on the items shown for `impression_id`: those the user chose, and those they
    /// dismissed (optional); returns the weight changes.
    pub fn feedback(
        &self,
        impression_id: String,
        chosen: Vec<String>,
        dismissed: Option<Vec<String>>,
    ) -> Result<JsValue, JsValue> {
        let delta = self
            .rec
            .borrow_mut()
            .feedback(&impression_id, &chosen, &dismissed.unwrap_or_default())
            .map_err(input_error)?;
        to_js(&delta)
    }

    /// `{ current, prior, config, steps }`.
    pub fn weights(&self) -> Result<JsValue, JsValue> {
        to_js(self.rec.borrow().weights())
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

    /// Starts this model's profile from a record another model saved: its kept texts wait to
    /// be embedded by this model (`foldDeferred`). `{ events, interests, withoutText }`; a bad
    /// record, or one of this model, changes nothing.
    #[wasm_bindgen(js_name = carryFromOtherModel)]
    pub fn carry_from_other_model(&self, bytes: Vec<u8>) -> Result<JsValue, JsValue> {
        let now = js_sys::Date::now() as i64;
        let carried = self
            .rec
            .borrow_mut()
            .carry_from_other_model(&bytes, now)
            .map_err(store_error)?;
        to_js(&carried)
    }

    /// Everything the device holds about the user, as JSON a person can read.
    #[wasm_bindgen(js_name = exportProfile)]
    pub fn export_profile(&self) -> String {
        self.rec.borrow().export_document()
    }

    /// Loads an `exportProfile` document; a bad document changes nothing.
    #[wasm_bindgen(js_name = importProfile)]
    pub fn import_profile(&self, json: String) -> Result<(), JsValue> {
        self.rec
            .borrow_mut()
            .import_document(&json)
            .map_err(store_error)
    }

    /// Wipes profile, adapted weights, embedding cache and impressions.
    pub fn forget(&self) {
        self.rec.borrow_mut().forget();
    }

    /// Points for the "inside my profile" map, from `[[id, text], ...]` candidates:
    /// `[{ kind, id, label, x, y }]`.
    #[wasm_bindgen(js_name = profileMap)]
    pub fn profile_map(&self, candidates: JsValue) -> Result<JsValue, JsValue> {
        let candidates: Vec<(String, String)> = if candidates.is_undefined() {
            vec![]
        } else {
            from_js(candidates, "candidates")?
        };
        to_js(&self.rec.borrow().profile_map(&candidates))
    }
}

/// What `interestModel()` says of the loaded interest model.
#[cfg(feature = "encoder")]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InterestModelReply<'a> {
    sha256: &'a str,
    hidden: usize,
    source: &'a str,
    /// Whether this user's choices have moved the gate from the file's.
    adapted: bool,
    /// How far they moved it (Euclidean), bounded by the adaptation's pull-back.
    gate_shift: f32,
}

/// The learned interest model (`cloister train`): the builds with the encoder.
#[cfg(feature = "encoder")]
#[wasm_bindgen]
impl WasmRecommender {
    /// Loads an interest model file; returns its sha256. A bad file is an error with an
    /// `interest_model_*` kind, and the ranking goes on as before (without a model, or with
    /// the one loaded earlier).
    #[wasm_bindgen(js_name = setInterestModel)]
    pub fn set_interest_model(&self, bytes: &[u8]) -> Result<String, JsValue> {
        let sha256 = self
            .rec
            .borrow_mut()
            .set_interest_model(bytes)
            .map_err(super::errors::interest_model_error)?;
        self.interest_on_device.borrow_mut().take();
        Ok(sha256)
    }

    /// Ranks without the interest model again (the user's adapted gate is kept).
    #[wasm_bindgen(js_name = clearInterestModel)]
    pub fn clear_interest_model(&self) {
        self.rec.borrow_mut().clear_interest_model();
        self.interest_on_device.borrow_mut().take();
    }

    /// `{ sha256, hidden, source, adapted, gateShift }`, or null without a model.
    #[wasm_bindgen(js_name = interestModel)]
    pub fn interest_model(&self) -> Result<JsValue, JsValue> {
        let rec = self.rec.borrow();
        let Some((params, sha256)) = rec.interest_model() else {
            return Ok(JsValue::NULL);
        };
        let gate = rec.interest_gate().filter(|g| g.model == sha256);
        let gate_shift = gate.map_or(0.0, |g| {
            g.gate
                .iter()
                .zip(&params.gate)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f32>()
                .sqrt()
        });
        to_js(&InterestModelReply {
            sha256,
            hidden: params.hidden,
            source: &params.source,
            adapted: gate.is_some(),
            gate_shift,
        })
    }

    /// The interest model's scores (under this user's gate) and readouts for `candidates`,
    /// run on `backend` ('cpu' or 'webgpu'): what the ranking adds, computed on a device of the
    /// caller's choice, to check one against the other. Resolves to `{ scores: Float32Array,
    /// readouts: Float32Array }` (`hidden` readouts per candidate), or null without a model or
    /// history.
    #[wasm_bindgen(js_name = interestScores)]
    pub fn interest_scores(&self, candidates: JsValue, backend: String) -> Promise {
        let (rec, encoder, encoded) = self.parts();
        let cached = Rc::clone(&self.interest_on_device);
        wasm_bindgen_futures::future_to_promise(async move {
            let candidates: Vec<Candidate> = from_js(candidates, "candidates")?;
            let candidates = validate_candidates(candidates).map_err(input_error)?;
            let encoder = encoder.ok_or_else(|| no_encoder("interestScores"))?;
            let pending = rec.borrow_mut().hold_request(&[], &candidates);
            let Some((inputs, gate)) = with_texts(&rec, &encoder, &encoded, pending, |r| {
                r.interest_inputs(candidates)
            })
            .await?
            else {
                return Ok(JsValue::NULL);
            };
            let model = model_on(&rec, &cached, &backend).await?;
            let pass = match model
                .start_pass(&inputs.batch)
                .map_err(super::errors::interest_model_error)?
            {
                Some(pending) => Some(
                    pending
                        .read_async()
                        .await
                        .map_err(super::errors::interest_model_error)?,
                ),
                None => None,
            };
            let signal = inputs.finish(pass, &gate);
            let readouts: Vec<f32> = signal.phi.concat();
            let reply = js_sys::Object::new();
            let set = |key: &str, values: &[f32]| {
                js_sys::Reflect::set(&reply, &key.into(), &js_sys::Float32Array::from(values))
            };
            set("scores", &signal.scores)?;
            set("readouts", &readouts)?;
            Ok(reply.into())
        })
    }
}

/// The loaded interest model's weights on `backend`'s device: the kept copy when it is of the
/// same file and backend, else a new one (kept for the next call).
#[cfg(feature = "encoder")]
async fn model_on(
    rec: &Rc<RefCell<Recommender>>,
    cached: &Rc<RefCell<Option<DeviceModel>>>,
    backend: &str,
) -> Result<Rc<crate::interest_model::InterestModel>, JsValue> {
    let params = {
        let r = rec.borrow();
        let (params, sha256) = r.interest_model().ok_or_else(|| {
            super::errors::interest_model_error(crate::interest_model::InterestModelError::Backend(
                "no interest model is loaded".into(),
            ))
        })?;
        if let Some((sha, b, model)) = cached.borrow().as_ref() {
            if sha == sha256 && b == backend {
                return Ok(Rc::clone(model));
            }
        }
        (params.clone(), sha256.to_string())
    };
    let (device, _) = super::device::start(backend).await.map_err(encoder_error)?;
    let model = Rc::new(crate::interest_model::InterestModel::new(params.0, device));
    *cached.borrow_mut() = Some((params.1, backend.to_string(), Rc::clone(&model)));
    Ok(model)
}

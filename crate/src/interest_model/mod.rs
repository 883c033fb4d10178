//! The learned interest model: attention from each candidate to the user's recent history, read
//! as the encoder's text embeddings with each event's kind, strength, age and position.
//!
//! It reads text embeddings, not item ids, so one trained model serves any catalogue. It is
//! fitted natively (`train`, burn's autodiff, a first-order MAML objective over users) and runs
//! through burn on the device (`forward`); a user's feedback adapts only its readout, the
//! `gate` vector (`adapt`), in closed form and pulled back to the shipped weights.

pub mod adapt;
pub mod forward;
pub mod history;
pub mod params;
pub mod signal;
#[cfg(not(target_arch = "wasm32"))]
pub mod train;

pub use adapt::{adapt_gate, replay_choices, GateAdaptation, GateStep, DEVICE_ADAPTATION};
pub use forward::{
    InterestModel, ModelBatch, Pair, PassReadouts, PendingPass, ProjectedTable, Readouts,
};
pub use history::{event_features, recent_window, EVENT_FEATURES, MAX_HISTORY};
pub use params::{InterestModelError, InterestModelParams, HIDDEN};
pub use signal::{signal, Signal, SignalInputs};

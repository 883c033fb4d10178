//! The profile-import path (an `exportProfile` document's state, as JSON) and the prior/weights
//! JSON decoder: decoded or refused, never a panic; an accepted state is within bounds.
#![no_main]
use cloister::recommender::SavedState;
use cloister::store::{encode_record, RecordKind};
use cloister::{Prior, Recommender};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(prior) = Prior::from_json(text) {
            let _ = Recommender::new(&prior, "fuzz").to_bytes();
        }
    }
    let Ok(state) = serde_json::from_slice::<SavedState>(data) else {
        return;
    };
    let payload = serde_json::to_vec(&state).expect("serialisable");
    let mut rec = Recommender::new(&Prior::default(), "fuzz");
    if rec
        .restore(&encode_record(RecordKind::State, &payload))
        .is_ok()
    {
        assert!(rec.weights().current.values().all(|w| w.is_finite()));
    }
});

//! The event JSON decoder and the profile update: any bytes give events or a decode error;
//! any decoded event is recorded or refused with a typed error; the state still round-trips.
#![no_main]
use cloister::{Event, Prior, Recommender};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(events) = serde_json::from_slice::<Vec<Event>>(data) else {
        return;
    };
    let mut rec = Recommender::new(&Prior::default(), "fuzz");
    let pending = rec.hold_request(&events, &[]);
    rec.put_embeddings(&pending.missing, &common::fake_embeddings(&pending.missing))
        .expect("valid embeddings");
    for event in events {
        let _ = rec.record(event, i64::MAX);
    }
    let bytes = rec.to_bytes();
    let mut back = Recommender::new(&Prior::default(), "fuzz");
    back.restore(&bytes)
        .expect("a state this build wrote must read back");
    assert_eq!(back.to_bytes(), bytes, "state round trip");
});

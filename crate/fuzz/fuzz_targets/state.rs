//! The saved-state byte decoder (CLST record: profile + weights): any bytes are restored or
//! refused with a typed error, and a refused restore leaves the current state unchanged.
#![no_main]
use cloister::{Prior, Recommender};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rec = Recommender::new(&Prior::default(), "fuzz");
    let before = rec.to_bytes();
    match rec.restore(data) {
        Ok(()) => {
            let bytes = rec.to_bytes();
            let mut again = Recommender::new(&Prior::default(), "fuzz");
            again
                .restore(&bytes)
                .expect("re-encoded state must read back");
        }
        Err(_) => assert_eq!(rec.to_bytes(), before, "a refused restore changes nothing"),
    }
});

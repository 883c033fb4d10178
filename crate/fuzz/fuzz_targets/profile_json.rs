//! The profile-import path (`importProfile`: `Recommender::import_document`, format and version
//! checks included) and the prior JSON decoder: decoded or refused, never a panic; an accepted
//! document is within bounds and reads back; a refused one changes nothing.
#![no_main]
use cloister::{Prior, Recommender};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(prior) = Prior::from_json(text) {
        let _ = Recommender::new(&prior, "fuzz").to_bytes();
    }
    let mut rec = Recommender::new(&Prior::default(), "fuzz");
    let before = rec.to_bytes();
    match rec.import_document(text) {
        Ok(()) => {
            assert!(rec.weights().current.values().all(|w| w.is_finite()));
            let mut again = Recommender::new(&Prior::default(), "fuzz");
            again
                .import_document(&rec.export_document())
                .expect("an exported document must import");
            assert_eq!(again.to_bytes(), rec.to_bytes(), "document round trip");
        }
        Err(_) => assert_eq!(rec.to_bytes(), before, "a refused import changes nothing"),
    }
});

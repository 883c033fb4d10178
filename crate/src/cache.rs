//! The embedding cache: item texts to their vectors, bounded, least recently used first out,
//! with the texts of requests in flight held so that nothing a request needs is evicted while
//! it runs.

use std::collections::{HashMap, VecDeque};

use sha2::{Digest, Sha256};

type Key = [u8; 16];

fn key(text: &str) -> Key {
    let digest = Sha256::digest(text.as_bytes());
    digest[..16].try_into().expect("16 bytes")
}

/// Holds open at once; opening one more releases the oldest. The edges release every hold
/// they open; this bounds what a hold leaked by a bug can pin (8 x 10,000 texts, about 120 MB
/// of vectors, against a normal capacity of 12,288 texts).
pub const MAX_HOLDS: usize = 8;

/// A request's claim on its texts, returned by [`EmbeddingCache::hold`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HoldId(u64);

#[derive(Debug, Clone)]
struct Entry {
    vector: Vec<f32>,
    /// Tick of the last insert, read or hold: the smallest is the least recently used.
    used: u64,
}

/// Least-recently-used eviction in batches: when a new text does not fit, the least recently
/// used tenth of the capacity goes, held texts excepted. While holds cover more than the
/// capacity, the cache grows past it; it shrinks back on the next insert after they end.
#[derive(Debug, Clone)]
pub struct EmbeddingCache {
    entries: HashMap<Key, Entry>,
    capacity: usize,
    tick: u64,
    /// How many open holds name each key (a key can be held before it is inserted).
    held: HashMap<Key, u32>,
    holds: VecDeque<(HoldId, Vec<Key>)>,
    next_hold: u64,
}

impl EmbeddingCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            capacity: capacity.max(1),
            tick: 0,
            held: HashMap::new(),
            holds: VecDeque::new(),
            next_hold: 1,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains(&self, text: &str) -> bool {
        self.entries.contains_key(&key(text))
    }

    /// The vector of `text`, marking it as just used.
    pub fn get(&mut self, text: &str) -> Option<&[f32]> {
        self.tick += 1;
        let tick = self.tick;
        self.entries.get_mut(&key(text)).map(|entry| {
            entry.used = tick;
            entry.vector.as_slice()
        })
    }

    /// The vector of `text` without touching its recency (for read-only views).
    pub fn peek(&self, text: &str) -> Option<&[f32]> {
        self.entries.get(&key(text)).map(|e| e.vector.as_slice())
    }

    pub fn insert(&mut self, text: &str, vector: Vec<f32>) {
        let k = key(text);
        self.tick += 1;
        if !self.entries.contains_key(&k) && self.entries.len() >= self.capacity {
            self.evict();
        }
        self.entries.insert(
            k,
            Entry {
                vector,
                used: self.tick,
            },
        );
    }

    /// Removes the least recently used unheld entries, down to 90% of the capacity (or as far
    /// as holds allow). Batches keep the cost of sorting ages off most inserts.
    fn evict(&mut self) {
        let target = self.capacity - self.capacity / 10;
        let excess = (self.entries.len() + 1).saturating_sub(target);
        let mut ages: Vec<u64> = self
            .entries
            .iter()
            .filter(|(k, _)| !self.held.contains_key(*k))
            .map(|(_, e)| e.used)
            .collect();
        if ages.is_empty() || excess == 0 {
            return;
        }
        let n = excess.min(ages.len());
        // Ticks are unique, so exactly the `n` oldest are at or below the cutoff.
        let cutoff = *ages.select_nth_unstable(n - 1).1;
        let held = &self.held;
        self.entries
            .retain(|k, e| e.used > cutoff || held.contains_key(k));
    }

    /// Holds `texts` for a request: those present are marked as just used, and none of them
    /// (present now or inserted later) is evicted until [`EmbeddingCache::release`].
    pub fn hold<'a>(&mut self, texts: impl IntoIterator<Item = &'a str>) -> HoldId {
        if self.holds.len() >= MAX_HOLDS {
            if let Some(oldest) = self.holds.front().map(|(id, _)| *id) {
                self.release(oldest);
            }
        }
        let mut keys = Vec::new();
        for text in texts {
            let k = key(text);
            self.tick += 1;
            if let Some(entry) = self.entries.get_mut(&k) {
                entry.used = self.tick;
            }
            keys.push(k);
        }
        keys.sort_unstable();
        keys.dedup();
        for k in &keys {
            *self.held.entry(*k).or_insert(0) += 1;
        }
        let id = HoldId(self.next_hold);
        self.next_hold += 1;
        self.holds.push_back((id, keys));
        id
    }

    /// Ends a hold; its texts become ordinary entries again. Releasing twice does nothing.
    pub fn release(&mut self, id: HoldId) {
        let Some(at) = self.holds.iter().position(|(h, _)| *h == id) else {
            return;
        };
        let (_, keys) = self.holds.remove(at).expect("position is in range");
        for k in keys {
            if let Some(count) = self.held.get_mut(&k) {
                *count -= 1;
                if *count == 0 {
                    self.held.remove(&k);
                }
            }
        }
    }

    /// Drops every vector. Open holds stay open (their requests will find their texts gone
    /// and say so), so that a later release balances them.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(i: usize) -> Vec<f32> {
        vec![i as f32]
    }

    #[test]
    fn reads_keep_an_entry_alive_and_the_size_stays_bounded() {
        let mut cache = EmbeddingCache::new(100);
        for i in 0..1000 {
            cache.insert(&format!("text {i}"), v(i));
            assert!(
                cache.get("text 0").is_some(),
                "read at every step: never evicted"
            );
            assert!(cache.len() <= 100);
        }
        assert!(cache.peek("text 999").is_some());
        assert!(cache.peek("text 1").is_none(), "never read again: evicted");
    }

    #[test]
    fn peek_does_not_refresh() {
        let mut cache = EmbeddingCache::new(10);
        cache.insert("old", v(0));
        for i in 0..20 {
            assert!(i > 8 || cache.peek("old").is_some());
            cache.insert(&format!("t{i}"), v(i));
        }
        assert!(cache.peek("old").is_none());
    }

    #[test]
    fn held_texts_survive_any_number_of_inserts_and_the_cache_shrinks_after_release() {
        let mut cache = EmbeddingCache::new(50);
        for i in 0..50 {
            cache.insert(&format!("a{i}"), v(i));
        }
        // A request holds 40 present texts and 40 not yet encoded: 80 > capacity.
        let names: Vec<String> = (10..50)
            .map(|i| format!("a{i}"))
            .chain((0..40).map(|i| format!("b{i}")))
            .collect();
        let hold = cache.hold(names.iter().map(String::as_str));
        for i in 0..40 {
            cache.insert(&format!("b{i}"), v(i));
        }
        assert!(
            names.iter().all(|n| cache.contains(n)),
            "nothing held was evicted"
        );
        assert!(cache.len() >= 80);
        cache.release(hold);
        cache.release(hold); // twice: harmless
        cache.insert("c", v(0));
        assert!(cache.len() <= 50, "back within capacity: {}", cache.len());
        assert!(cache.contains("c"));
    }

    #[test]
    fn a_text_held_before_it_is_inserted_is_kept_once_inserted() {
        let mut cache = EmbeddingCache::new(4);
        let hold = cache.hold(["new"]);
        cache.insert("new", v(1));
        for i in 0..20 {
            cache.insert(&format!("x{i}"), v(i));
        }
        assert!(cache.contains("new"));
        cache.release(hold);
    }

    #[test]
    fn at_most_max_holds_stay_open() {
        let mut cache = EmbeddingCache::new(4);
        let first = cache.hold(["first"]);
        for i in 0..MAX_HOLDS {
            cache.hold([format!("t{i}").as_str()]);
        }
        assert_eq!(cache.holds.len(), MAX_HOLDS);
        assert!(
            !cache.holds.iter().any(|(h, _)| *h == first),
            "the oldest hold was released"
        );
        assert!(!cache.held.contains_key(&key("first")));
    }
}

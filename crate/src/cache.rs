//! A bounded embedding cache keyed by text, so an item seen again is not encoded again.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

fn key(text: &str) -> [u8; 16] {
    let digest = Sha256::digest(text.as_bytes());
    digest[..16].try_into().expect("16 bytes")
}

/// Least-recently-used eviction, in batches: when full, the oldest tenth goes.
#[derive(Debug, Clone)]
pub struct EmbeddingCache {
    entries: HashMap<[u8; 16], (Vec<f32>, u64)>,
    capacity: usize,
    tick: u64,
}

impl EmbeddingCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            capacity: capacity.max(1),
            tick: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn contains(&self, text: &str) -> bool {
        self.entries.contains_key(&key(text))
    }

    pub fn get(&mut self, text: &str) -> Option<&[f32]> {
        self.tick += 1;
        let tick = self.tick;
        self.entries.get_mut(&key(text)).map(|(v, used)| {
            *used = tick;
            v.as_slice()
        })
    }

    pub fn peek(&self, text: &str) -> Option<&[f32]> {
        self.entries.get(&key(text)).map(|(v, _)| v.as_slice())
    }

    pub fn insert(&mut self, text: &str, embedding: Vec<f32>) {
        self.tick += 1;
        if self.entries.len() >= self.capacity && !self.contains(text) {
            let mut ages: Vec<u64> = self.entries.values().map(|(_, t)| *t).collect();
            ages.sort_unstable();
            let cutoff = ages[(ages.len() / 10).min(ages.len() - 1)];
            self.entries.retain(|_, (_, t)| *t > cutoff);
        }
        self.entries.insert(key(text), (embedding, self.tick));
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_capacity_and_keeps_recent_entries() {
        let mut cache = EmbeddingCache::new(100);
        for i in 0..1000 {
            cache.insert(&format!("text {i}"), vec![i as f32]);
            let _ = cache.get("text 0"); // keep one hot
            assert!(cache.len() <= 100);
        }
        assert!(cache.peek("text 0").is_some());
        assert!(cache.peek("text 999").is_some());
        assert!(cache.peek("text 1").is_none());
    }
}

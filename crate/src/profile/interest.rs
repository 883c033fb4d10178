//! `InterestProfile`: what the device knows of the user's tastes, in bounded memory.
//!
//! Positive events feed a short-term vector decayed by event position and by time, the
//! long-term mean, a window of recent items (for nearest-neighbour and sequence matching) and a
//! few interests (online clusters, each with its own recency and strength, fading with time
//! when abandoned); negative ones (dismissals, low ratings) feed a negative vector. Items that
//! fall out of the recent window stay folded into the long-term mean and the interests, so
//! memory does not grow with the number of events. Time is the events' `at`: an event that
//! arrives late is placed where its time puts it.

use crate::similarity::SimilarityScale;
use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::event::{Event, EventKind};
use crate::embedding::EMBEDDING_DIM;
use crate::error::{InputError, InputErrorKind};
use crate::vector::{cosine, decay_add, is_unit_embedding};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProfileConfig {
    /// Half-life of the short-term vector, in positive events.
    pub short_half_life: f32,
    /// Half-life of the short-term vector in time (days), on top of `short_half_life`: a
    /// taste from last month weighs less than this morning's. `None`: events only.
    #[serde(default = "default_short_half_life_days")]
    pub short_half_life_days: Option<f32>,
    /// Recent positive items kept with their embeddings.
    pub recent_len: usize,
    /// How many of those the nearest-neighbour feature looks at.
    pub nn_window: usize,
    /// Most interests kept (online clusters); how many form is up to the data.
    pub centroids: usize,
    /// Half-life of an interest's strength in days since an item last joined it: an abandoned
    /// interest fades. `None`: never.
    #[serde(default = "default_interest_half_life_days")]
    pub interest_half_life_days: Option<f32>,
    /// Half-life of category affinity and of the negative vector, in events.
    pub category_half_life: f32,
    pub negative_half_life: f32,
    pub max_categories: usize,
    pub max_interests: usize,
    pub max_dismissed: usize,
    /// A gap between two positive events longer than this (ms) starts a new session.
    #[serde(default = "default_session_gap_ms")]
    pub session_gap_ms: i64,
    /// What cosines mean for the loaded encoder: when an item joins an interest, and when
    /// an explanation may call two things alike. The recommender sets it for its model.
    #[serde(default)]
    pub similarity: SimilarityScale,
}

/// 30 minutes of inactivity end a session (the usual web-analytics rule; on ml-100k, where
/// users rate in bursts, 44% of consecutive ratings share a second).
pub const SESSION_GAP_MS: i64 = 30 * 60 * 1000;

fn default_session_gap_ms() -> i64 {
    SESSION_GAP_MS
}

/// Short-term taste halves every 30 days of time (and every 5 events); an interest no item
/// joined for 14 days weighs half as much. `cloister eval` picks both per fold on validation
/// from {none, 1, 7, 30} and {none, 14, 60} days: 30 and 14 are what most folds of its main
/// protocol chose in the 2026-11-30 run, where every choice scored within 0.003 NDCG@10 of the
/// others (MovieLens times are rating sessions, not when a film was watched).
pub const SHORT_HALF_LIFE_DAYS: f32 = 30.0;
pub const INTEREST_HALF_LIFE_DAYS: f32 = 14.0;
/// An item at least this similar (cosine) to an interest joins it; one less similar to every
/// interest starts a new one while there is room. 0.48 is where two demo items are in one
/// category 60% of the time (`rank::explain::SIMILAR_MIN`).
pub const JOIN_INTEREST_MIN: f32 = SimilarityScale::MINILM.similar;

fn default_short_half_life_days() -> Option<f32> {
    Some(SHORT_HALF_LIFE_DAYS)
}

fn default_interest_half_life_days() -> Option<f32> {
    Some(INTEREST_HALF_LIFE_DAYS)
}

const DAY_MS: f64 = 86_400_000.0;

/// The factor a weight keeps after `ms` milliseconds at a half-life of `days` (1 when `None`).
fn time_keep(ms: i64, days: Option<f32>) -> f32 {
    match days {
        Some(d) if d > 0.0 => 0.5f64.powf(ms.max(0) as f64 / (d as f64 * DAY_MS)) as f32,
        _ => 1.0,
    }
}

impl Default for ProfileConfig {
    fn default() -> Self {
        Self {
            short_half_life: 5.0,
            short_half_life_days: Some(SHORT_HALF_LIFE_DAYS),
            recent_len: 50,
            nn_window: 20,
            centroids: 4,
            interest_half_life_days: Some(INTEREST_HALF_LIFE_DAYS),
            category_half_life: 20.0,
            negative_half_life: 20.0,
            max_categories: 64,
            max_interests: 32,
            max_dismissed: 256,
            session_gap_ms: SESSION_GAP_MS,
            similarity: SimilarityScale::MINILM,
        }
    }
}

/// A recent positive item, kept with its embedding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub id: String,
    /// The start of the item text, for explanations.
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    pub kind: EventKind,
    pub signal: f32,
    /// Position in the user's event stream (0 = first event ever).
    pub seq: u64,
    pub at: i64,
    #[serde(with = "f32_base64")]
    pub embedding: Vec<f32>,
    /// The item text as embedded (at most `MAX_TEXT_BYTES`) and the event's value: what
    /// another model needs to embed it again (`Recommender::carry_from_other_model`). Empty in
    /// states saved before they were kept.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

/// One of the user's interests: a cluster of the items they took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Centroid {
    #[serde(with = "f32_base64")]
    pub mean: Vec<f32>,
    /// Signal that joined it, faded to `last_at`.
    pub mass: f32,
    /// Title of the item that joined it last, for explanations.
    pub label: String,
    /// Id of that item.
    #[serde(default)]
    pub label_id: String,
    /// `at` of the newest item in it (`None` in states saved before interests had times).
    #[serde(default)]
    pub last_at: Option<i64>,
}

/// A free-text interest the user stated ("hard sci-fi with political intrigue").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatedInterest {
    pub id: u64,
    pub text: String,
    pub weight: f32,
    #[serde(with = "f32_base64")]
    pub embedding: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterestProfile {
    pub config: ProfileConfig,
    /// Events folded in, of any kind.
    pub events: u64,
    #[serde(with = "f32_base64")]
    pub short_term: Vec<f32>,
    /// The newest `at` folded into `short_term` (`None` before any, and in older states).
    #[serde(default)]
    pub short_term_at: Option<i64>,
    #[serde(with = "f32_base64")]
    pub long_term_sum: Vec<f32>,
    pub long_term_mass: f64,
    pub recent: VecDeque<HistoryEntry>,
    pub centroids: Vec<Centroid>,
    #[serde(with = "f32_base64")]
    pub negative: Vec<f32>,
    pub negative_mass: f32,
    pub interests: Vec<StatedInterest>,
    pub next_interest_id: u64,
    /// Decayed affinity per category, largest kept.
    pub categories: Vec<(String, f32)>,
    /// Ids the user dismissed, newest last.
    pub dismissed: VecDeque<String>,
    /// Ids the user bought (or read, in a reading app), newest last.
    #[serde(default)]
    pub consumed: VecDeque<String>,
    /// How many times each item was on screen without being chosen, most recently shown last.
    #[serde(default)]
    pub exposures: VecDeque<(String, u32)>,
}

/// Items whose unanswered exposures are counted: a few pages' worth of a store's catalogue.
pub const MAX_EXPOSED: usize = 512;

/// Appends an id to a bounded most-recent-last list (moving it to the end if present).
fn remember(list: &mut VecDeque<String>, id: &str, max: usize) {
    list.retain(|x| x != id);
    list.push_back(id.to_string());
    while list.len() > max {
        list.pop_front();
    }
}

fn zeros() -> Vec<f32> {
    vec![0.0; EMBEDDING_DIM]
}

fn half_life_keep(half_life: f32) -> f32 {
    0.5f32.powf(1.0 / half_life.max(1e-3))
}

fn title_of(text: &str) -> String {
    let mut title: String = text.chars().take(80).collect();
    if title.len() < text.len() {
        title.push('…');
    }
    title
}

impl Default for InterestProfile {
    fn default() -> Self {
        Self::new(ProfileConfig::default())
    }
}

impl InterestProfile {
    pub fn new(config: ProfileConfig) -> Self {
        Self {
            config,
            events: 0,
            short_term: zeros(),
            short_term_at: None,
            long_term_sum: zeros(),
            long_term_mass: 0.0,
            recent: VecDeque::new(),
            centroids: Vec::new(),
            negative: zeros(),
            negative_mass: 0.0,
            interests: Vec::new(),
            next_interest_id: 1,
            categories: Vec::new(),
            dismissed: VecDeque::new(),
            consumed: VecDeque::new(),
            exposures: VecDeque::new(),
        }
    }

    /// The items were on screen: one more unanswered exposure each.
    pub fn note_shown<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) {
        for id in ids {
            let count = match self.exposures.iter().position(|(x, _)| x == id) {
                Some(i) => self.exposures.remove(i).map_or(0, |(_, n)| n),
                None => 0,
            };
            self.exposures
                .push_back((id.to_string(), count.saturating_add(1)));
        }
        while self.exposures.len() > MAX_EXPOSED {
            self.exposures.pop_front();
        }
    }

    /// The user took the item: its exposures no longer count against it.
    pub fn note_chosen(&mut self, id: &str) {
        self.exposures.retain(|(x, _)| x != id);
    }

    /// Unanswered exposures of an item.
    pub fn exposure(&self, id: &str) -> u32 {
        self.exposures
            .iter()
            .find(|(x, _)| x == id)
            .map_or(0, |(_, n)| *n)
    }

    /// True when nothing was recorded or stated yet (cold start).
    pub fn is_empty(&self) -> bool {
        self.events == 0 && self.interests.is_empty()
    }

    /// Folds one validated event with the embedding of its item text into the profile.
    pub fn observe(&mut self, event: &Event, embedding: &[f32]) -> Result<(), InputError> {
        if !is_unit_embedding(embedding, EMBEDDING_DIM) {
            return Err(InputError::new(
                InputErrorKind::InvalidEmbedding,
                "an event's embedding must be 384 finite floats of unit length",
            ));
        }
        let seq = self.events;
        self.events += 1;
        let signal = event.signal();
        if let Some(category) = &event.item.category {
            self.touch_category(category, signal);
        }
        if event.kind == EventKind::Dismiss {
            remember(
                &mut self.dismissed,
                &event.item.id,
                self.config.max_dismissed,
            );
        }
        if event.kind == EventKind::Purchase {
            remember(
                &mut self.consumed,
                &event.item.id,
                self.config.max_dismissed,
            );
        }
        if signal < 0.0 {
            let keep = half_life_keep(self.config.negative_half_life);
            decay_add(&mut self.negative, keep, -signal, embedding);
            self.negative_mass = self.negative_mass * keep - signal;
            return Ok(());
        }
        if signal == 0.0 {
            return Ok(());
        }
        self.note_chosen(&event.item.id);
        // In time order: a newer event decays what is there by the time between; a late one
        // joins decayed by how much older it is.
        let keep = half_life_keep(self.config.short_half_life);
        let days = self.config.short_half_life_days;
        match self.short_term_at {
            Some(t) if event.at < t => {
                for v in &mut self.short_term {
                    *v *= keep;
                }
                decay_add(
                    &mut self.short_term,
                    1.0,
                    signal * time_keep(t - event.at, days),
                    embedding,
                );
            }
            last => {
                let elapsed = last.map_or(0, |t| event.at - t);
                decay_add(
                    &mut self.short_term,
                    keep * time_keep(elapsed, days),
                    signal,
                    embedding,
                );
                self.short_term_at = Some(event.at);
            }
        }
        decay_add(&mut self.long_term_sum, 1.0, signal, embedding);
        self.long_term_mass += signal as f64;
        let title = title_of(&event.item.text);
        self.update_centroids(embedding, signal, &title, &event.item.id, event.at);
        self.recent.push_back(HistoryEntry {
            id: event.item.id.clone(),
            title,
            category: event.item.category.clone(),
            kind: event.kind,
            signal,
            seq,
            at: event.at,
            embedding: embedding.to_vec(),
            text: event.item.text.clone(),
            value: event.value,
        });
        while self.recent.len() > self.config.recent_len {
            // Already in the long-term mean and the centroids: dropping it loses no state.
            self.recent.pop_front();
        }
        Ok(())
    }

    fn touch_category(&mut self, category: &str, signal: f32) {
        let keep = half_life_keep(self.config.category_half_life);
        for (_, affinity) in &mut self.categories {
            *affinity *= keep;
        }
        match self.categories.iter_mut().find(|(c, _)| c == category) {
            Some((_, affinity)) => *affinity += signal,
            None => self.categories.push((category.to_string(), signal)),
        }
        if self.categories.len() > self.config.max_categories {
            // Drop the weakest (by magnitude).
            let weakest = self
                .categories
                .iter()
                .enumerate()
                .min_by(|a, b| a.1 .1.abs().total_cmp(&b.1 .1.abs()))
                .map(|(i, _)| i)
                .unwrap_or(0);
            self.categories.swap_remove(weakest);
        }
    }

    /// An interest's strength at time `now`: its mass, faded by the time since an item last
    /// joined it.
    pub fn interest_strength(&self, c: &Centroid, now: i64) -> f32 {
        let since = c.last_at.map_or(0, |t| now.saturating_sub(t));
        c.mass * time_keep(since, self.config.interest_half_life_days)
    }

    /// The profile's clock: the newest `at` among its recent items and interests.
    pub fn latest_at(&self) -> Option<i64> {
        self.recent
            .iter()
            .map(|e| e.at)
            .chain(self.centroids.iter().filter_map(|c| c.last_at))
            .max()
    }

    /// Each interest's weight now (strength over the strongest's, 0..1), in `centroids` order.
    pub fn interest_weights(&self) -> Vec<f32> {
        let now = self.latest_at().unwrap_or(0);
        let strength: Vec<f32> = self
            .centroids
            .iter()
            .map(|c| self.interest_strength(c, now))
            .collect();
        let max = strength.iter().copied().fold(0.0f32, f32::max);
        strength
            .iter()
            .map(|s| if max > 0.0 { s / max } else { 0.0 })
            .collect()
    }

    /// Online clustering: the item joins its nearest interest when similar enough (the mean
    /// moves by its share of the faded mass); otherwise it starts a new interest while there is
    /// room, or takes the place of one that has faded below it; failing both it joins the
    /// nearest.
    fn update_centroids(&mut self, embedding: &[f32], signal: f32, title: &str, id: &str, at: i64) {
        let nearest = self
            .centroids
            .iter()
            .enumerate()
            .map(|(i, c)| (i, cosine(&c.mean, embedding)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let fresh = Centroid {
            mean: embedding.to_vec(),
            mass: signal,
            label: title.to_string(),
            label_id: id.to_string(),
            last_at: Some(at),
        };
        let target = match nearest {
            None => None,
            Some((i, sim)) if sim >= self.config.similarity.similar_for(title) => Some(i),
            Some(_) if self.centroids.len() < self.config.centroids => None,
            Some((i, _)) => {
                let weakest = self
                    .centroids
                    .iter()
                    .enumerate()
                    .map(|(j, c)| (j, self.interest_strength(c, at)))
                    .min_by(|a, b| a.1.total_cmp(&b.1));
                match weakest {
                    Some((j, strength)) if strength < signal => {
                        self.centroids[j] = fresh;
                        return;
                    }
                    _ => Some(i),
                }
            }
        };
        let Some(i) = target else {
            self.centroids.push(fresh);
            return;
        };
        let days = self.config.interest_half_life_days;
        let c = &mut self.centroids[i];
        // Fade to the newer of the two times; a late item joins faded by its own age.
        let last = c.last_at.unwrap_or(at);
        let (faded, joining) = if at >= last {
            (c.mass * time_keep(at - last, days), signal)
        } else {
            (c.mass, signal * time_keep(last - at, days))
        };
        let rate = joining / (faded + joining).max(1e-12);
        for (m, x) in c.mean.iter_mut().zip(embedding) {
            *m += rate * (x - *m);
        }
        c.mass = faded + joining;
        if at >= last {
            c.last_at = Some(at);
            c.label = title.to_string();
            c.label_id = id.to_string();
        }
    }

    /// Adds a stated interest; returns its id.
    pub fn add_interest(
        &mut self,
        text: &str,
        weight: f32,
        embedding: &[f32],
    ) -> Result<u64, InputError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(InputError::new(
                InputErrorKind::InvalidInterest,
                "an interest needs some text",
            ));
        }
        if !weight.is_finite() || !(0.0..=10.0).contains(&weight) {
            return Err(InputError::new(
                InputErrorKind::InvalidInterest,
                format!("interest weight must be between 0 and 10, got {weight}"),
            ));
        }
        if !is_unit_embedding(embedding, EMBEDDING_DIM) {
            return Err(InputError::new(
                InputErrorKind::InvalidEmbedding,
                "bad interest embedding",
            ));
        }
        if self.interests.len() >= self.config.max_interests {
            return Err(InputError::new(
                InputErrorKind::TooManyInterests,
                format!(
                    "at most {} stated interests; remove one first",
                    self.config.max_interests
                ),
            ));
        }
        let id = self.next_interest_id;
        self.next_interest_id += 1;
        let mut text = text.to_string();
        super::event::truncate_utf8(&mut text, 1024);
        self.interests.push(StatedInterest {
            id,
            text,
            weight,
            embedding: embedding.to_vec(),
        });
        Ok(id)
    }

    pub fn remove_interest(&mut self, id: u64) -> bool {
        let before = self.interests.len();
        self.interests.retain(|i| i.id != id);
        self.interests.len() != before
    }

    /// The long-term mean (zero vector before any positive event).
    pub fn long_term(&self) -> Vec<f32> {
        if self.long_term_mass <= 0.0 {
            return zeros();
        }
        self.long_term_sum
            .iter()
            .map(|x| (*x as f64 / self.long_term_mass) as f32)
            .collect()
    }

    /// The sum of the current session's items: the recent positive items placed by `at` (an
    /// event that arrives late goes where its time puts it), from the latest back to the first
    /// gap longer than `session_gap_ms`. Zero before any.
    pub fn session(&self) -> Vec<f32> {
        let mut by_time: Vec<&HistoryEntry> = self.recent.iter().collect();
        by_time.sort_by_key(|e| e.at);
        let mut sum = zeros();
        let mut later: Option<i64> = None;
        for e in by_time.into_iter().rev() {
            if later.is_some_and(|t| t.saturating_sub(e.at) > self.config.session_gap_ms) {
                break;
            }
            later = Some(e.at);
            for (s, x) in sum.iter_mut().zip(&e.embedding) {
                *s += e.signal * x;
            }
        }
        sum
    }

    pub fn category_affinity(&self, category: &str) -> f32 {
        let total: f32 = self.categories.iter().map(|(_, a)| a.abs()).sum();
        if total <= 0.0 {
            return 0.0;
        }
        self.categories
            .iter()
            .find(|(c, _)| c == category)
            .map(|(_, a)| a / total)
            .unwrap_or(0.0)
    }

    /// Rough heap size in bytes, for the bounded-memory checks.
    pub fn approx_bytes(&self) -> usize {
        let v = EMBEDDING_DIM * 4;
        3 * v
            + self
                .recent
                .iter()
                .map(|e| v + e.title.len() + e.id.len() + 64)
                .sum::<usize>()
            + self
                .centroids
                .iter()
                .map(|c| v + c.label.len())
                .sum::<usize>()
            + self
                .interests
                .iter()
                .map(|i| v + i.text.len())
                .sum::<usize>()
            + self
                .categories
                .iter()
                .map(|(c, _)| c.len() + 8)
                .sum::<usize>()
            + self
                .dismissed
                .iter()
                .chain(&self.consumed)
                .map(|d| d.len() + 24)
                .sum::<usize>()
    }
}

/// Embeddings as base64 of little-endian f32: exact, and a third of the size of JSON numbers.
pub mod f32_base64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[f32], s: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)?;
        if bytes.len() % 4 != 0 {
            return Err(serde::de::Error::custom(
                "vector byte length is not a multiple of 4",
            ));
        }
        let v: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if v.iter().any(|x| !x.is_finite()) {
            return Err(serde::de::Error::custom("vector holds a non-finite value"));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::event::Item;

    fn axis(i: usize) -> Vec<f32> {
        let mut v = zeros();
        v[i] = 1.0;
        v
    }

    fn click(id: &str, at: i64) -> Event {
        Event {
            item: Item {
                id: id.into(),
                text: id.into(),
                category: None,
            },
            kind: EventKind::Click,
            value: None,
            at,
        }
    }

    #[test]
    fn a_gap_longer_than_the_session_gap_starts_a_new_session() {
        let mut p = InterestProfile::new(ProfileConfig::default());
        assert!(p.session().iter().all(|x| *x == 0.0));
        let minute = 60_000;
        p.observe(&click("a", 0), &axis(0)).unwrap();
        p.observe(&click("b", minute), &axis(1)).unwrap();
        // Two hours later: a new session of c and d.
        p.observe(&click("c", 121 * minute), &axis(2)).unwrap();
        p.observe(&click("d", 150 * minute), &axis(3)).unwrap();
        let s = p.session();
        assert_eq!((s[0], s[1]), (0.0, 0.0));
        assert!(s[2] > 0.0 && s[3] > 0.0, "{:?}", &s[..4]);
        // An event that arrives late is placed by its time: in the first session, not this one.
        p.observe(&click("e", 10 * minute), &axis(4)).unwrap();
        let s = p.session();
        assert!(s[4] == 0.0 && s[3] > 0.0, "{:?}", &s[..5]);
        // One that arrives late but belongs to the current session joins it.
        p.observe(&click("f", 140 * minute), &axis(5)).unwrap();
        assert!(p.session()[5] > 0.0);
    }

    #[test]
    fn the_short_term_taste_decays_with_time_and_a_late_event_joins_by_its_age() {
        let day = 86_400_000;
        let mut p = InterestProfile::new(ProfileConfig::default());
        p.observe(&click("a", 60 * day), &axis(0)).unwrap();
        p.observe(&click("b", 90 * day), &axis(1)).unwrap();
        // 30 days at a 30-day half-life (and one event at 5): a keeps 0.87 * 0.5.
        let (a, b) = (p.short_term[0], p.short_term[1]);
        assert!((a - 0.5f32.powf(0.2) * 0.5).abs() < 1e-4, "{a}");
        assert_eq!(b, 1.0);
        // An event from 60 days before the newest arrives late: it joins at a quarter.
        p.observe(&click("c", 30 * day), &axis(2)).unwrap();
        assert!((p.short_term[2] - 0.25).abs() < 1e-4, "{}", p.short_term[2]);
        assert_eq!(p.short_term_at, Some(90 * day));
        // Without a time half-life only events count.
        let mut q = InterestProfile::new(ProfileConfig {
            short_half_life_days: None,
            ..ProfileConfig::default()
        });
        q.observe(&click("a", 0), &axis(0)).unwrap();
        q.observe(&click("b", 30 * day), &axis(1)).unwrap();
        assert!((q.short_term[0] - 0.5f32.powf(0.2)).abs() < 1e-6);
    }

    #[test]
    fn an_interest_fades_with_time_since_an_item_last_joined_it() {
        let day = 86_400_000;
        let mut p = InterestProfile::new(ProfileConfig::default());
        p.observe(&click("a", 0), &axis(0)).unwrap();
        p.observe(&click("b", 0), &axis(1)).unwrap();
        assert_eq!(p.interest_weights(), vec![1.0, 1.0]);
        // 28 days of only b: a is two half-lives (14 days) behind.
        p.observe(&click("b2", 28 * day), &axis(1)).unwrap();
        let w = p.interest_weights();
        assert!((w[0] - 0.25 / 1.25).abs() < 1e-4, "{w:?}");
        assert_eq!(w[1], 1.0);
        // At the bound, a new unlike item takes the place of a faded interest.
        let mut q = InterestProfile::new(ProfileConfig {
            centroids: 2,
            ..ProfileConfig::default()
        });
        q.observe(&click("a", 0), &axis(0)).unwrap();
        q.observe(&click("b", 0), &axis(1)).unwrap();
        q.observe(&click("c", 60 * day), &axis(2)).unwrap();
        let labels: Vec<&str> = q.centroids.iter().map(|c| c.label_id.as_str()).collect();
        assert_eq!(labels, vec!["c", "b"]);
    }
}

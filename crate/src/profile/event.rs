//! What the user did: the `Event` type, its JSON form, and validation at the edge.

use serde::{Deserialize, Serialize};

use crate::error::{InputError, InputErrorKind};
use crate::limits::{fits_f32, MAX_FUTURE_MS, MAX_HISTORY};

pub use crate::limits::{MAX_ID_BYTES, MAX_TEXT_BYTES};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub id: String,
    #[serde(default)]
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    View,
    Click,
    /// `value` = seconds spent.
    Dwell,
    Cart,
    Purchase,
    /// `value` = stars, 1 to 5.
    Rate,
    Like,
    Dismiss,
    /// `item.text` = the query.
    Search,
}

impl EventKind {
    pub const ALL: [EventKind; 9] = [
        Self::View,
        Self::Click,
        Self::Dwell,
        Self::Cart,
        Self::Purchase,
        Self::Rate,
        Self::Like,
        Self::Dismiss,
        Self::Search,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::Click => "click",
            Self::Dwell => "dwell",
            Self::Cart => "cart",
            Self::Purchase => "purchase",
            Self::Rate => "rate",
            Self::Like => "like",
            Self::Dismiss => "dismiss",
            Self::Search => "search",
        }
    }

    /// The past-tense verb for explanations ("similar to X you bought").
    pub fn verb(self) -> &'static str {
        match self {
            Self::View | Self::Click | Self::Dwell => "looked at",
            Self::Cart => "put in your cart",
            Self::Purchase => "bought",
            Self::Rate => "rated",
            Self::Like => "liked",
            Self::Dismiss => "dismissed",
            Self::Search => "searched for",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub item: Item,
    pub kind: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Milliseconds since the epoch, a whole number (a fraction is refused when parsed).
    #[serde(deserialize_with = "whole_millis")]
    pub at: i64,
}

/// Reads `at` from any JSON number that is a whole number of milliseconds (JS sends every
/// number as a double: `1.7e12` is fine, `1.5` is not).
fn whole_millis<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let x = f64::deserialize(d)?;
    // 2^53: the largest whole number a double holds exactly.
    if x.fract() != 0.0 || !x.is_finite() || x.abs() > 9_007_199_254_740_992.0 {
        return Err(serde::de::Error::custom(format!(
            "at must be a whole number of milliseconds since the epoch, got {x}"
        )));
    }
    Ok(x as i64)
}

impl Event {
    /// How strongly this event says "more like this" (positive) or "less like this" (negative).
    /// Purchases and likes count most; a rating of 3 says nothing; 1-2 stars are negative.
    pub fn signal(&self) -> f32 {
        let value = self.value.unwrap_or(0.0);
        match self.kind {
            EventKind::View => 0.3,
            EventKind::Click => 1.0,
            // 0.3 for a glance up to 1.5 after two minutes or more.
            EventKind::Dwell => 0.3 + 1.2 * (value / 120.0).clamp(0.0, 1.0) as f32,
            EventKind::Cart => 2.0,
            EventKind::Purchase => 3.0,
            EventKind::Rate => (value as f32 - 3.0).clamp(-2.0, 2.0),
            EventKind::Like => 2.0,
            EventKind::Dismiss => -2.0,
            EventKind::Search => 1.0,
        }
    }

    /// Checks and normalises an event from outside: ids present and short, values finite and
    /// in range, `at` not negative and at most `MAX_FUTURE_MS` after `now_ms` (the caller's
    /// clock; replays of old logs are fine), text cut to `MAX_TEXT_BYTES`.
    pub fn validate(mut self, now_ms: i64) -> Result<Self, InputError> {
        if self.at < 0 {
            return Err(InputError::new(
                InputErrorKind::InvalidTime,
                format!("at must be milliseconds since 1970, got {}", self.at),
            ));
        }
        if self.at > now_ms.saturating_add(MAX_FUTURE_MS) {
            return Err(InputError::new(
                InputErrorKind::InvalidTime,
                format!(
                    "at {} is more than a day after the clock ({now_ms}): a clock in seconds, or a wrong clock?",
                    self.at
                ),
            ));
        }
        self.item = self.item.validate()?;
        if self.kind == EventKind::Search && self.item.text.trim().is_empty() {
            return Err(InputError::new(
                InputErrorKind::InvalidEvent,
                "a search event needs item.text (the query)",
            ));
        }
        match (self.kind, self.value) {
            (_, Some(v)) if !fits_f32(v) => {
                return Err(InputError::new(
                    InputErrorKind::InvalidEvent,
                    format!(
                        "value must be finite and at most {:e} in size, got {v}",
                        f32::MAX
                    ),
                ))
            }
            (EventKind::Rate, None) => {
                return Err(InputError::new(
                    InputErrorKind::InvalidEvent,
                    "a rate event needs value 1 to 5",
                ))
            }
            (EventKind::Rate, Some(v)) if !(1.0..=5.0).contains(&v) => {
                return Err(InputError::new(
                    InputErrorKind::InvalidEvent,
                    format!("rate value must be 1 to 5, got {v}"),
                ))
            }
            (EventKind::Dwell, Some(v)) if v < 0.0 => {
                return Err(InputError::new(
                    InputErrorKind::InvalidEvent,
                    format!("dwell seconds must be >= 0, got {v}"),
                ))
            }
            _ => {}
        }
        Ok(self)
    }
}

/// Checks a history sent with one request: at most `MAX_HISTORY` events, each valid at `now_ms`.
pub fn validate_events(events: Vec<Event>, now_ms: i64) -> Result<Vec<Event>, InputError> {
    if events.len() > MAX_HISTORY {
        return Err(InputError::new(
            InputErrorKind::TooManyEvents,
            format!(
                "{} history events; at most {MAX_HISTORY} per request",
                events.len()
            ),
        ));
    }
    events.into_iter().map(|e| e.validate(now_ms)).collect()
}

impl Item {
    pub fn validate(mut self) -> Result<Self, InputError> {
        if self.id.is_empty() {
            return Err(InputError::new(
                InputErrorKind::InvalidItem,
                "item.id must not be empty",
            ));
        }
        if self.id.len() > MAX_ID_BYTES {
            return Err(InputError::new(
                InputErrorKind::InvalidItem,
                format!("item.id is {} bytes; at most {MAX_ID_BYTES}", self.id.len()),
            ));
        }
        if let Some(category) = &mut self.category {
            truncate_utf8(category, MAX_ID_BYTES);
        }
        truncate_utf8(&mut self.text, MAX_TEXT_BYTES);
        Ok(self)
    }
}

/// Cuts a string to at most `max` bytes at a character boundary.
pub fn truncate_utf8(text: &mut String, max: usize) {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-29, as milliseconds.
    const NOW: i64 = 1_796_000_000_000;

    fn event(json: &str) -> Result<Event, String> {
        serde_json::from_str::<Event>(json)
            .map_err(|e| e.to_string())
            .and_then(|e| e.validate(NOW).map_err(|e| e.to_string()))
    }

    #[test]
    fn parses_every_kind() {
        for kind in EventKind::ALL {
            let value = match kind {
                EventKind::Rate => ",\"value\":4",
                EventKind::Dwell => ",\"value\":30",
                _ => "",
            };
            let json = format!(
                r#"{{"item":{{"id":"a","text":"t"}},"kind":"{}"{value},"at":1}}"#,
                kind.as_str()
            );
            assert_eq!(event(&json).unwrap().kind, kind);
        }
    }

    #[test]
    fn rejects_unknown_kinds_and_bad_values() {
        assert!(event(r#"{"item":{"id":"a"},"kind":"teleport","at":1}"#).is_err());
        assert!(event(r#"{"item":{"id":"a"},"kind":"rate","value":7,"at":1}"#).is_err());
        assert!(event(r#"{"item":{"id":"a"},"kind":"rate","at":1}"#).is_err());
        assert!(event(r#"{"item":{"id":"a"},"kind":"dwell","value":-1,"at":1}"#).is_err());
        assert!(event(r#"{"item":{"id":""},"kind":"view","at":1}"#).is_err());
        assert!(event(r#"{"item":{"id":"a","text":""},"kind":"search","at":1}"#).is_err());
    }

    #[test]
    fn times_are_whole_past_milliseconds() {
        // A 1997 replay, a double that is whole, and a few seconds of clock skew are fine.
        assert!(event(r#"{"item":{"id":"a"},"kind":"view","at":874965758000}"#).is_ok());
        assert!(event(r#"{"item":{"id":"a"},"kind":"view","at":1.796e12}"#).is_ok());
        let skewed = format!(
            r#"{{"item":{{"id":"a"}},"kind":"view","at":{}}}"#,
            NOW + 5_000
        );
        assert!(event(&skewed).is_ok());
        let kind = |at: i64| {
            Event {
                item: Item {
                    id: "a".into(),
                    text: String::new(),
                    category: None,
                },
                kind: EventKind::View,
                value: None,
                at,
            }
            .validate(NOW)
            .map_err(|e| e.kind)
        };
        assert_eq!(kind(-1).unwrap_err(), InputErrorKind::InvalidTime);
        assert_eq!(
            kind(NOW + MAX_FUTURE_MS + 1).unwrap_err(),
            InputErrorKind::InvalidTime
        );
        assert!(kind(NOW + MAX_FUTURE_MS).is_ok());
        let fraction = event(r#"{"item":{"id":"a"},"kind":"view","at":1.5}"#).unwrap_err();
        assert!(
            fraction.contains("whole number of milliseconds"),
            "{fraction}"
        );
    }

    #[test]
    fn signal_orders_intent() {
        let mk = |kind, value| Event {
            item: Item {
                id: "a".into(),
                text: String::new(),
                category: None,
            },
            kind,
            value,
            at: 0,
        };
        assert!(mk(EventKind::Purchase, None).signal() > mk(EventKind::Click, None).signal());
        assert!(mk(EventKind::Click, None).signal() > mk(EventKind::View, None).signal());
        assert!(mk(EventKind::Dismiss, None).signal() < 0.0);
        assert!(mk(EventKind::Rate, Some(1.0)).signal() < 0.0);
        assert_eq!(mk(EventKind::Rate, Some(3.0)).signal(), 0.0);
    }

    #[test]
    fn huge_text_is_cut_on_a_char_boundary() {
        let text = "é".repeat(MAX_TEXT_BYTES);
        let e = Event {
            item: Item {
                id: "a".into(),
                text,
                category: None,
            },
            kind: EventKind::View,
            value: None,
            at: 0,
        }
        .validate(NOW)
        .unwrap();
        assert!(e.item.text.len() <= MAX_TEXT_BYTES);
    }
}

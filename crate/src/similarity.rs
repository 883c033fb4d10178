//! What a cosine means for each encoder: the thresholds above which two things are called
//! alike, calibrated per model. MiniLM puts unrelated texts near 0; multilingual-e5-small puts
//! nearly everything above 0.7, so a threshold made for one model is noise for the other.

use serde::{Deserialize, Serialize};

use crate::encoder::config::ModelFamily;

/// Both thresholds come from `rank::explain::calibrate_threshold` at `CLAIM_PRECISION` (0.6)
/// on categories the project labelled: the demo catalogue (English; crate/tests/explanations.rs)
/// and the Chinese relevance fixture (crate/tests/chinese_relevance.rs), which check them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SimilarityScale {
    /// From this cosine an item "matches your interest" (a stated interest, read as a query).
    pub stated_match: f32,
    /// From this cosine two items are "similar", and an item joins an interest cluster.
    pub similar: f32,
    /// The same two for text written mostly in Chinese characters: multilingual-e5-small puts
    /// Chinese pairs higher (0.88 and 0.93 against 0.82 and 0.85 in English, at the same
    /// precision), and no single threshold serves both (0.88 leaves 2 of 50 English interests
    /// with a claim).
    #[serde(default = "minilm_stated")]
    pub stated_match_han: f32,
    #[serde(default = "minilm_similar")]
    pub similar_han: f32,
}

fn minilm_stated() -> f32 {
    SimilarityScale::MINILM.stated_match
}

fn minilm_similar() -> f32 {
    SimilarityScale::MINILM.similar
}

impl SimilarityScale {
    /// all-MiniLM-L6-v2: 0.310 and 0.481 as calibrated. It cannot read Chinese (the encoder
    /// warns); its thresholds are the same whatever the script.
    pub const MINILM: SimilarityScale = SimilarityScale {
        stated_match: 0.31,
        similar: 0.48,
        stated_match_han: 0.31,
        similar_han: 0.48,
    };
    /// multilingual-e5-small: 0.824 and 0.853 in English, 0.882 and 0.932 in Chinese, as
    /// calibrated (queries with the "query: " prefix against passages).
    pub const E5: SimilarityScale = SimilarityScale {
        stated_match: 0.82,
        similar: 0.85,
        stated_match_han: 0.88,
        similar_han: 0.93,
    };

    pub fn for_family(family: ModelFamily) -> Self {
        match family {
            ModelFamily::MiniLm => Self::MINILM,
            ModelFamily::E5 => Self::E5,
        }
    }

    /// The "matches your interest" threshold for an interest stated as `text`.
    pub fn stated_for(&self, text: &str) -> f32 {
        if mostly_han(text) {
            self.stated_match_han
        } else {
            self.stated_match
        }
    }

    /// The "similar" threshold for a pair in which the item being judged reads `text`.
    pub fn similar_for(&self, text: &str) -> f32 {
        if mostly_han(text) {
            self.similar_han
        } else {
            self.similar
        }
    }
}

/// Whether more than half of `text`'s letters (spaces, digits and punctuation aside) are
/// Chinese characters.
pub fn mostly_han(text: &str) -> bool {
    let (mut han, mut letters) = (0usize, 0usize);
    for ch in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        let cp = ch as u32;
        han += usize::from(
            (0x4E00..0xA000).contains(&cp)
                || (0x3400..0x4DC0).contains(&cp)
                || (0x20000..0x2FA20).contains(&cp)
                || (0xF900..0xFB00).contains(&cp),
        );
    }
    han * 2 > letters
}

impl Default for SimilarityScale {
    fn default() -> Self {
        Self::MINILM
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_follows_the_script_of_the_text() {
        assert!(mostly_han("适合初学者的铸铁锅料理"));
        assert!(mostly_han("新款 running 跑步鞋限时八折优惠"));
        assert!(!mostly_han("cast iron skillet 铸铁"));
        assert!(!mostly_han("4.5/5 ★"));
        assert_eq!(SimilarityScale::E5.stated_for("铸铁煎锅"), 0.88);
        assert_eq!(SimilarityScale::E5.stated_for("cast iron"), 0.82);
        assert_eq!(SimilarityScale::MINILM.similar_for("铸铁煎锅"), 0.48);
    }
}

//! Which characters the shipped multilingual vocabulary serves: Chinese, English and the other
//! Latin-script languages, with the punctuation, digits and symbols any of them use.
//!
//! A vocabulary piece is kept when every character in it is served. A text made only of served
//! characters can be segmented only into pieces made of served characters, so the unigram
//! search sees the same candidates and gives the same tokens as with the full vocabulary
//! (`crate/tests/multilingual.rs` checks it on the project's corpus). Pieces of other scripts
//! (Cyrillic, Greek, Arabic, Hebrew, the Indic scripts, Thai, Hangul, kana, ...) are dropped:
//! their text becomes `<unk>`, and the encoder says so.

/// Half-open codepoint ranges.
const SERVED: &[(u32, u32)] = &[
    // Latin: Basic Latin, Latin-1, Extended-A/B, IPA, spacing modifiers, combining marks.
    (0x0000, 0x0370),
    (0x1E00, 0x1F00), // Latin Extended Additional (Vietnamese)
    (0x2C60, 0x2C80), // Latin Extended-C
    (0xA720, 0xA800), // Latin Extended-D
    (0xAB30, 0xAB70), // Latin Extended-E
    (0xFB00, 0xFB07), // Latin ligatures
    // Common: punctuation, super/subscripts, currency, letterlike, number forms, arrows,
    // mathematical and technical symbols, box drawing, shapes, dingbats.
    (0x2000, 0x2C00),
    (0x2E00, 0x2E80),   // Supplemental Punctuation
    (0xFE00, 0xFE10),   // variation selectors
    (0x1F000, 0x1FB00), // emoji and other pictographs
    // Chinese: radicals, CJK punctuation, Bopomofo, strokes, enclosed and compatibility
    // forms, the unified ideographs (extension A and the supplementary planes included),
    // vertical and full-width forms.
    (0x2E80, 0x2FE0),
    (0x3000, 0x3040),
    (0x3100, 0x3130),
    (0x31A0, 0x31F0),
    (0x3200, 0x3400),
    (0x3400, 0x4DC0),
    (0x4E00, 0xA000),
    (0xF900, 0xFB00),
    (0xFE30, 0xFE50),
    (0xFF00, 0xFFF0),
    (0x20000, 0x2FA20),
];

/// SentencePiece's word-boundary marker, part of most pieces.
pub const METASPACE: char = '\u{2581}';

pub fn is_served(ch: char) -> bool {
    let cp = ch as u32;
    ch == METASPACE
        || SERVED
            .iter()
            .any(|&(start, end)| (start..end).contains(&cp))
}

/// Whether the pruned vocabulary keeps `piece`.
pub fn keeps_piece(piece: &str) -> bool {
    piece.chars().all(is_served)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_chinese_and_punctuation_are_served_and_other_scripts_not() {
        for piece in [
            "▁the",
            "▁café",
            "▁Straße",
            "铸铁",
            "▁煎锅",
            "，",
            "—",
            "€",
            "ệ",
            "１",
        ] {
            assert!(keeps_piece(piece), "{piece}");
        }
        for piece in [
            "▁привет",
            "▁γεια",
            "שלום",
            "▁नमस्ते",
            "한국",
            "ひらがな",
            "▁مرحبا",
        ] {
            assert!(!keeps_piece(piece), "{piece}");
        }
    }
}

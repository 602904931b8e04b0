//! How long a post may be on a network, and how the network counts its text.

use unicode_segmentation::UnicodeSegmentation;

mod mastodon;
mod x;

pub use mastodon::{MASTODON_CHARACTERS_PER_URL, count_mastodon, shorten_mentions};
pub use x::{X_WEIGHT_PER_URL, count_x};

/// How a network counts the length of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// Unicode characters (code points).
    Characters,
    /// UTF-16 code units: a character outside the Basic Multilingual Plane (most emoji)
    /// counts twice (Telegram).
    Utf16,
    /// What a reader sees as one character: `👍🏽` and `é` written as `e` + U+0301 are one.
    Graphemes,
    /// Mastodon's way: graphemes, every `http(s)://` link counting as
    /// [`MASTODON_CHARACTERS_PER_URL`] (a server may say otherwise), a mention
    /// `@user@domain` as `@user`.
    Mastodon,
    /// X's weighted count: most scripts 1 a character, CJK and symbols 2, an emoji 2, every
    /// link [`X_WEIGHT_PER_URL`].
    XWeighted,
}

impl Counting {
    /// The length of `text` counted this way.
    pub fn count(self, text: &str) -> usize {
        match self {
            Counting::Characters => text.chars().count(),
            Counting::Graphemes => text.graphemes(true).count(),
            Counting::Mastodon => count_mastodon(text, MASTODON_CHARACTERS_PER_URL),
            Counting::Utf16 => text.encode_utf16().count(),
            Counting::XWeighted => count_x(text),
        }
    }

    /// What one counted unit is called in messages.
    pub const fn unit(self) -> &'static str {
        match self {
            Counting::Characters | Counting::Mastodon => "characters",
            Counting::Graphemes => "graphemes",
            Counting::Utf16 => "UTF-16 code units",
            Counting::XWeighted => "weighted characters",
        }
    }
}

/// A network's text rules: how it counts, and how long a post and a caption may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRules {
    pub counting: Counting,
    /// The longest post; `None` where the network sets no limit crier knows.
    pub max: Option<usize>,
    /// The longest caption of a post with images, where it differs from `max`.
    pub caption_max: Option<usize>,
}

impl TextRules {
    pub const fn limited(counting: Counting, max: usize) -> TextRules {
        TextRules {
            counting,
            max: Some(max),
            caption_max: None,
        }
    }

    pub const fn unlimited(counting: Counting) -> TextRules {
        TextRules {
            counting,
            max: None,
            caption_max: None,
        }
    }

    pub const fn with_caption(mut self, caption_max: usize) -> TextRules {
        self.caption_max = Some(caption_max);
        self
    }

    /// The longest post and its unit, if there is a limit.
    pub const fn limit(self) -> Option<TextLimit> {
        match self.max {
            Some(max) => Some(TextLimit {
                max,
                unit: self.counting.unit(),
            }),
            None => None,
        }
    }
}

/// A network's text limit, and the unit it counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextLimit {
    pub max: usize,
    pub unit: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_and_graphemes_differ_on_emoji_and_combining_marks() {
        let text = "👨‍👩‍👧‍👦🇺🇦e\u{301}";
        assert_eq!(Counting::Graphemes.count(text), 3);
        assert_eq!(Counting::Characters.count(text), 7 + 2 + 2);
        // Each of the four people and both regional indicators is two UTF-16 units.
        assert_eq!(Counting::Utf16.count(text), (4 * 2 + 3) + 2 * 2 + 2);
    }
}

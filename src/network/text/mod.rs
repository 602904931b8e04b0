//! How long a post may be on a network, and how the network counts its text.

use unicode_segmentation::UnicodeSegmentation;

mod mastodon;

pub use mastodon::{MASTODON_CHARACTERS_PER_URL, count_mastodon, shorten_mentions};

/// How a network counts the length of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// Unicode characters (code points).
    Characters,
    /// What a reader sees as one character: `👍🏽` and `é` written as `e` + U+0301 are one.
    Graphemes,
    /// Mastodon's way: graphemes, every `http(s)://` link counting as
    /// [`MASTODON_CHARACTERS_PER_URL`] (a server may say otherwise), a mention
    /// `@user@domain` as `@user`.
    Mastodon,
}

impl Counting {
    /// The length of `text` counted this way.
    pub fn count(self, text: &str) -> usize {
        match self {
            Counting::Characters => text.chars().count(),
            Counting::Graphemes => text.graphemes(true).count(),
            Counting::Mastodon => count_mastodon(text, MASTODON_CHARACTERS_PER_URL),
        }
    }

    /// What one counted unit is called in messages.
    pub const fn unit(self) -> &'static str {
        match self {
            Counting::Characters | Counting::Mastodon => "characters",
            Counting::Graphemes => "graphemes",
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
    }
}

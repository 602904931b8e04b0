//! X's weighted count (twitter-text, configuration version 3): a post may weigh 280. Code
//! points in Latin, Greek, Cyrillic and the other scripts up to U+10FF, and a few
//! punctuation ranges, weigh 1; everything else (CJK, most symbols) weighs 2; an emoji,
//! however many code points it is made of, weighs 2; and every `http(s)://` link weighs 23
//! whatever its length, as X shortens it to a `t.co` link.
//!
//! Links written without a scheme (`example.com`) X also recognises by their top-level
//! domain; they are counted here as the text they are, which can only undercount them.

use unicode_segmentation::UnicodeSegmentation;

use super::mastodon::link_len;

/// What one link weighs, whatever its length.
pub const X_WEIGHT_PER_URL: usize = 23;

/// The code point ranges that weigh 1 (twitter-text's `ranges`).
const LIGHT: [(u32, u32); 4] = [
    (0x0000, 0x10FF),
    (0x2000, 0x200D),
    (0x2010, 0x201F),
    (0x2032, 0x2037),
];

/// The weight of `text` as X counts it.
pub fn count_x(text: &str) -> usize {
    let mut weight = 0;
    let mut index = 0;
    while index < text.len() {
        let rest = &text[index..];
        let previous = text[..index].chars().next_back();
        if let Some(len) = link_len(rest, previous) {
            weight += X_WEIGHT_PER_URL;
            index += len;
            continue;
        }
        let grapheme = rest.graphemes(true).next().unwrap_or(rest);
        weight += grapheme_weight(grapheme);
        index += grapheme.len();
    }
    weight
}

fn grapheme_weight(grapheme: &str) -> usize {
    if is_emoji(grapheme) {
        return 2;
    }
    grapheme
        .chars()
        .map(|c| {
            let code = u32::from(c);
            if LIGHT
                .iter()
                .any(|(start, end)| (*start..=*end).contains(&code))
            {
                1
            } else {
                2
            }
        })
        .sum()
}

/// An emoji: a grapheme holding a pictograph from the supplementary planes (skin tones,
/// families and flags included) or asking for emoji presentation (U+FE0F).
fn is_emoji(grapheme: &str) -> bool {
    grapheme
        .chars()
        .any(|c| (0x1F000..=0x1FAFF).contains(&u32::from(c)) || c == '\u{FE0F}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_and_cyrillic_weigh_one_cjk_two() {
        assert_eq!(count_x("hello"), 5);
        assert_eq!(count_x("привіт"), 6);
        assert_eq!(count_x("你好"), 4);
        assert_eq!(count_x(&"a".repeat(280)), 280);
        assert_eq!(count_x(&"字".repeat(140)), 280);
    }

    #[test]
    fn an_emoji_weighs_two_however_it_is_built() {
        assert_eq!(count_x("🙂"), 2);
        assert_eq!(count_x("👍🏽"), 2);
        assert_eq!(count_x("👨‍👩‍👧‍👦"), 2);
        assert_eq!(count_x("🇺🇦"), 2);
        assert_eq!(count_x("❤️"), 2);
    }

    #[test]
    fn every_link_weighs_23() {
        let long = format!("https://shop.example/{}", "x".repeat(200));
        assert_eq!(count_x(&format!("Go {long}")), 3 + 23);
        assert_eq!(count_x("see http://a.b."), 4 + 23 + 1);
        assert_eq!(count_x("https://"), 8);
    }
}

//! Rich-text facets: Bluesky marks links, mentions and hashtags not with markup but with
//! `app.bsky.richtext.facet` entries that point at UTF-8 **byte** ranges of the text
//! (`byteStart` inclusive, `byteEnd` exclusive). Detection follows the Bluesky app's own
//! (`detectFacets` in `@atproto/api`): the same patterns for mentions, links and hashtags, the
//! same trimming of trailing punctuation, the same 64-character cap on tags.
//!
//! One difference: the app accepts a bare domain (`example.com`) or a handle only when it
//! ends in a top-level domain from the full IANA list; crier knows the common generic ones and
//! takes any two letters as a country code. Mentions are resolved to DIDs by the caller; a
//! handle that does not resolve stays plain text.

use std::sync::LazyLock;

use regex::Regex;

/// What a facet marks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feature {
    /// `@handle`, to resolve to a DID.
    Mention(String),
    Link(String),
    /// The tag without `#`.
    Tag(String),
}

/// A detected facet: a byte range of the text and what it marks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    pub byte_start: usize,
    pub byte_end: usize,
    pub feature: Feature,
}

static MENTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|\s|\()@([a-zA-Z0-9.-]+)(?-u:\b)").expect("mention"));
static LINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?im)(?:^|\s|\()(https?://\S+|(?P<domain>[a-z][a-z0-9]*(?:\.[a-z0-9]+)+)\S*)")
        .expect("link")
});
const NOT_IN_TAG: &str = r"\s\x{AD}\x{2060}\x{200A}\x{200B}\x{200C}\x{200D}\x{20E2}";
static TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?:^|\s)[#＃]([^{NOT_IN_TAG}]*[^0-9\p{{P}}{NOT_IN_TAG}]+[^{NOT_IN_TAG}]*)?"
    ))
    .expect("tag")
});
static TRAILING_PUNCTUATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\p{P}+$").expect("punctuation"));

/// Generic top-level domains accepted in bare links and handles, besides any two letters.
const GENERIC_TLDS: &[&str] = &[
    "com",
    "org",
    "net",
    "edu",
    "gov",
    "mil",
    "int",
    "info",
    "biz",
    "name",
    "pro",
    "app",
    "dev",
    "page",
    "social",
    "blog",
    "art",
    "xyz",
    "online",
    "site",
    "shop",
    "store",
    "tech",
    "cloud",
    "news",
    "live",
    "media",
    "studio",
    "design",
    "network",
    "systems",
    "space",
    "world",
    "today",
    "email",
    "link",
    "club",
    "top",
    "fun",
    "life",
    "zone",
    "agency",
    "company",
    "digital",
    "global",
    "group",
    "team",
    "works",
    "tools",
    "events",
    "games",
    "music",
    "photo",
    "photos",
    "video",
    "travel",
    "green",
    "eco",
    "bio",
    "moe",
    "lol",
    "wtf",
    "gay",
    "dog",
    "cat",
    "one",
    "ink",
    "land",
    "city",
    "run",
    "bar",
    "pub",
    "wiki",
    "codes",
    "software",
    "services",
    "solutions",
    "academy",
    "school",
    "university",
    "health",
    "care",
    "church",
    "foundation",
    "institute",
    "museum",
    "coop",
    "aero",
    "jobs",
    "mobi",
    "tel",
    "travel",
    "asia",
    "africa",
    "berlin",
    "london",
    "nyc",
    "paris",
    "tokyo",
    "eu",
    "bsky",
];

fn is_valid_domain(domain: &str) -> bool {
    let Some((_, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    let tld = tld.to_ascii_lowercase();
    (tld.len() == 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()))
        || GENERIC_TLDS.contains(&tld.as_str())
}

/// The facets of `text`: mentions, then links, then tags, each in text order.
pub fn detect(text: &str) -> Vec<Detected> {
    let mut found = Vec::new();
    for captures in MENTION.captures_iter(text) {
        let handle = captures.get(1).expect("group 1");
        if !is_valid_domain(handle.as_str()) && !handle.as_str().ends_with(".test") {
            continue;
        }
        found.push(Detected {
            byte_start: handle.start() - 1,
            byte_end: handle.end(),
            feature: Feature::Mention(handle.as_str().to_owned()),
        });
    }
    for captures in LINK.captures_iter(text) {
        let link = captures.get(1).expect("group 1");
        let mut uri = link.as_str().to_owned();
        if !uri.to_ascii_lowercase().starts_with("http") {
            match captures.name("domain") {
                Some(domain) if is_valid_domain(domain.as_str()) => {}
                _ => continue,
            }
            uri = format!("https://{uri}");
        }
        let mut end = link.end();
        if uri.ends_with(['.', ',', ';', ':', '!', '?']) {
            uri.pop();
            end -= 1;
        }
        if uri.ends_with(')') && !uri.contains('(') {
            uri.pop();
            end -= 1;
        }
        found.push(Detected {
            byte_start: link.start(),
            byte_end: end,
            feature: Feature::Link(uri),
        });
    }
    for captures in TAG.captures_iter(text) {
        let Some(tag) = captures.get(1) else {
            continue;
        };
        // The app's pattern refuses a tag that starts with an emoji variation selector.
        if tag.as_str().starts_with('\u{fe0f}') {
            continue;
        }
        let trimmed = TRAILING_PUNCTUATION.replace(tag.as_str().trim(), "");
        let utf16_len = trimmed.encode_utf16().count();
        if utf16_len == 0 || utf16_len > 64 {
            continue;
        }
        let hash_start = text[..tag.start()]
            .char_indices()
            .next_back()
            .map(|(at, _)| at)
            .expect("a tag follows its #");
        found.push(Detected {
            byte_start: hash_start,
            byte_end: tag.start() + trimmed.len(),
            feature: Feature::Tag(trimmed.into_owned()),
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(text: &str) -> Vec<(&str, Feature)> {
        detect(text)
            .into_iter()
            .map(|d| (&text[d.byte_start..d.byte_end], d.feature))
            .collect()
    }

    #[test]
    fn mentions_links_and_tags_with_byte_offsets() {
        let text = "Привіт @ann.bsky.social! See https://example.com/a?b=1. #Зима2026 🎉";
        assert_eq!(
            spans(text),
            [
                (
                    "@ann.bsky.social",
                    Feature::Mention("ann.bsky.social".into())
                ),
                (
                    "https://example.com/a?b=1",
                    Feature::Link("https://example.com/a?b=1".into())
                ),
                ("#Зима2026", Feature::Tag("Зима2026".into())),
            ]
        );
        let found = detect(text);
        // "Привіт " is 13 bytes: six two-byte letters and a space.
        assert_eq!((found[0].byte_start, found[0].byte_end), (13, 29));
    }

    #[test]
    fn bare_domains_get_https_and_trailing_punctuation_is_dropped() {
        assert_eq!(
            spans("(see crier.dev/docs) or example.com."),
            [
                (
                    "crier.dev/docs",
                    Feature::Link("https://crier.dev/docs".into())
                ),
                ("example.com", Feature::Link("https://example.com".into())),
            ]
        );
        assert_eq!(spans("file.jpgx or e.g. this"), []);
    }

    #[test]
    fn not_mentions_or_tags() {
        assert_eq!(spans("mail me@example.com"), []);
        assert_eq!(spans("@nodot and @x.notatld"), []);
        assert_eq!(spans("#123 is a number, a#b is not a tag, #! neither"), []);
        assert_eq!(
            spans("wide ＃タグ and end #tag..."),
            [
                ("＃タグ", Feature::Tag("タグ".into())),
                ("#tag", Feature::Tag("tag".into()))
            ]
        );
        assert_eq!(spans(&format!("#{}", "a".repeat(65))), []);
    }

    #[test]
    fn handle_ends_at_a_word_boundary() {
        assert_eq!(
            spans("thanks @bo.example.com."),
            [("@bo.example.com", Feature::Mention("bo.example.com".into()))]
        );
        assert_eq!(
            spans("@alice.test"),
            [("@alice.test", Feature::Mention("alice.test".into()))]
        );
    }
}

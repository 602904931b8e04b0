//! Mastodon's way of counting a status: every `http(s)://` link counts as the server's
//! `characters_reserved_per_url`, a mention `@user@domain` as `@user`, everything else by
//! grapheme.

use unicode_segmentation::UnicodeSegmentation;

/// How many characters a link counts for when the server does not say (Mastodon's default).
pub const MASTODON_CHARACTERS_PER_URL: usize = 23;

/// The number of characters Mastodon counts for `text`.
pub fn count_mastodon(text: &str, characters_per_url: usize) -> usize {
    let mut count = 0;
    for piece in split_entities(text) {
        count += match piece {
            Piece::Plain(plain) => plain.graphemes(true).count(),
            Piece::Url(_) => characters_per_url,
            Piece::Mention { user, .. } => 1 + user.graphemes(true).count(),
        };
    }
    count
}

/// `text` with every mention `@user@domain` shortened to `@user`, as Mastodon shows it.
pub fn shorten_mentions(text: &str) -> String {
    split_entities(text)
        .into_iter()
        .map(|piece| match piece {
            Piece::Plain(plain) | Piece::Url(plain) => plain.to_owned(),
            Piece::Mention { user, .. } => format!("@{user}"),
        })
        .collect()
}

#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Plain(&'a str),
    Url(&'a str),
    Mention { user: &'a str, whole: &'a str },
}

/// The length of the `http(s)://` link at the start of `text`, if one starts there (`previous`
/// is the character before it: a link does not start inside a word).
pub(super) fn link_len(text: &str, previous: Option<char>) -> Option<usize> {
    if starts_url(text) && !previous.is_some_and(is_word_char) {
        url_len(text)
    } else {
        None
    }
}

fn split_entities(text: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut plain_start = 0;
    let mut index = 0;
    while index < text.len() {
        let rest = &text[index..];
        let previous = text[..index].chars().next_back();
        let entity = if starts_url(rest) && !previous.is_some_and(is_word_char) {
            url_len(rest).map(|len| Piece::Url(&rest[..len]))
        } else if rest.starts_with('@')
            && !previous.is_some_and(|c| is_word_char(c) || c == '/' || c == '=')
        {
            mention(rest)
        } else {
            None
        };
        match entity {
            Some(entity) => {
                if plain_start < index {
                    pieces.push(Piece::Plain(&text[plain_start..index]));
                }
                let len = match &entity {
                    Piece::Url(url) => url.len(),
                    Piece::Mention { whole, .. } => whole.len(),
                    Piece::Plain(plain) => plain.len(),
                };
                pieces.push(entity);
                index += len;
                plain_start = index;
            }
            None => index += rest.chars().next().map_or(1, char::len_utf8),
        }
    }
    if plain_start < text.len() {
        pieces.push(Piece::Plain(&text[plain_start..]));
    }
    pieces
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn starts_url(text: &str) -> bool {
    let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// The length of the link at the start of `text`: up to whitespace, without trailing
/// punctuation (and without a closing parenthesis the link did not open). `None` when no
/// host follows the scheme.
fn url_len(text: &str) -> Option<usize> {
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    let mut url = &text[..end];
    loop {
        let trimmed = url.trim_end_matches(['.', ',', ':', ';', '!', '?', '\'', '"']);
        let trimmed = match trimmed.strip_suffix(')') {
            Some(inner) if !inner.contains('(') => inner,
            _ => trimmed,
        };
        if trimmed.len() == url.len() {
            break;
        }
        url = trimmed;
    }
    let host = url.split_once("://").map_or("", |(_, rest)| rest);
    host.chars()
        .next()
        .is_some_and(char::is_alphanumeric)
        .then_some(url.len())
}

/// A mention at the start of `text` (which starts with `@`): `@user` or `@user@domain`.
fn mention(text: &str) -> Option<Piece<'_>> {
    let user_len = name_len(&text[1..], |c| c.is_ascii_alphanumeric() || c == '_', "._-")?;
    let user = &text[1..1 + user_len];
    let after_user = &text[1 + user_len..];
    let domain_len = after_user
        .strip_prefix('@')
        .and_then(|domain| name_len(domain, is_word_char, ".-"));
    let whole_len = 1 + user_len + domain_len.map_or(0, |len| len + 1);
    Some(Piece::Mention {
        user,
        whole: &text[..whole_len],
    })
}

/// The length of a name made of `core` characters, with `inner` characters allowed between
/// them (never first or last).
fn name_len(text: &str, core: impl Fn(char) -> bool, inner: &str) -> Option<usize> {
    let mut last_core_end = 0;
    for (at, c) in text.char_indices() {
        if core(c) {
            last_core_end = at + c.len_utf8();
        } else if !(inner.contains(c) && at > 0) {
            break;
        }
    }
    (last_core_end > 0).then_some(last_core_end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_count_as_reserved_characters() {
        assert_eq!(count_mastodon("hello", 23), 5);
        let long = format!("see https://example.com/{} now", "a".repeat(100));
        assert_eq!(count_mastodon(&long, 23), 4 + 23 + 4);
        assert_eq!(count_mastodon("(https://example.com/x).", 23), 1 + 23 + 2);
        assert_eq!(count_mastodon("https://", 23), 8);
        assert_eq!(count_mastodon("example.com", 23), 11);
    }

    #[test]
    fn mentions_count_without_their_domain() {
        assert_eq!(count_mastodon("@bo@fosstodon.org hi", 23), 3 + 3);
        assert_eq!(count_mastodon("@ann hi", 23), 7);
        assert_eq!(count_mastodon("mail me@example.org", 23), 19);
        assert_eq!(count_mastodon("hi @bo@fosstodon.org.", 23), 3 + 3 + 1);
    }

    #[test]
    fn graphemes_count_once() {
        assert_eq!(count_mastodon("👍🏽é", 23), 2);
    }
}

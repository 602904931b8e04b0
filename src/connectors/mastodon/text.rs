//! Mastodon's text as it comes back: the plain text of the HTML it sends, and a form of a
//! text to compare a sent one with (counting lives in `network::text`).

use crate::network::text::shorten_mentions;

/// The plain text of a status's HTML `content`: paragraphs separated by a blank line, `<br>`
/// as a line break, other tags dropped, entities decoded.
pub fn html_to_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find(['<', '&']) {
        text.push_str(&rest[..at]);
        rest = &rest[at..];
        if rest.starts_with('<') {
            let Some(end) = rest.find('>') else {
                text.push_str(rest);
                rest = "";
                break;
            };
            let tag = rest[1..end].trim().to_ascii_lowercase();
            let name: String = tag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '/')
                .collect();
            match name.as_str() {
                "br" => text.push('\n'),
                "/p" => text.push_str("\n\n"),
                "p" if !text.is_empty() && !text.ends_with("\n\n") => text.push_str("\n\n"),
                _ => {}
            }
            rest = &rest[end + 1..];
        } else {
            let decoded = rest
                .get(1..)
                .and_then(|after| after.find(';').filter(|end| *end <= 10))
                .and_then(|end| decode_entity(&rest[1..1 + end]).map(|c| (c, end + 2)));
            match decoded {
                Some((c, len)) => {
                    text.push(c);
                    rest = &rest[len..];
                }
                None => {
                    text.push('&');
                    rest = &rest[1..];
                }
            }
        }
    }
    text.push_str(rest);
    text.trim_end().to_owned()
}

fn decode_entity(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        _ => return None,
    })
}

/// `text` reduced to what survives Mastodon's formatting, to compare a sent text with the
/// plain text of a status: mentions shortened, whitespace collapsed.
pub fn comparable(text: &str) -> String {
    shorten_mentions(text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_to_plain_text() {
        assert_eq!(
            html_to_text(
                "<p><span class=\"h-card\"><a href=\"https://x/@brand\" class=\"u-url mention\">@<span>brand</span></a></span> is it &quot;down&quot;?<br />R&amp;D</p><p>2 &lt; 3 &#39;ok&#x27;</p>"
            ),
            "@brand is it \"down\"?\nR&D\n\n2 < 3 'ok'"
        );
        assert_eq!(html_to_text("a & b &bogus; c"), "a & b &bogus; c");
    }

    #[test]
    fn comparable_texts() {
        assert_eq!(
            comparable("@bo@fosstodon.org  thanks!\n\nsee you"),
            "@bo thanks! see you"
        );
    }
}

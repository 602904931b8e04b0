//! What crier puts in a Matrix event: the message content, its transaction id, the size
//! check, and image facts (`m.image` needs a MIME type, a size and, when known, the
//! dimensions).

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::connectors::SendError;

/// The custom content field that carries crier's idempotency key, so `lookup` can find a
/// post after an outcome-unknown send.
pub const KEY_FIELD: &str = "dev.crier.idempotency_key";
/// Which part of a post an event is (`0` for the text, `1…` for further images).
pub const PART_FIELD: &str = "dev.crier.part";
/// A Matrix event, envelope included, holds at most this many bytes (the spec's PDU limit).
pub const MAX_EVENT_BYTES: usize = 65_536;
/// What the homeserver adds around the content (ids, hashes, signatures, the sender and the
/// room): about 600 bytes on a short server name; room is kept for long names.
pub const ENVELOPE_BYTES: usize = 2_048;
/// The most the encoded content may take.
pub const MAX_CONTENT_BYTES: usize = MAX_EVENT_BYTES - ENVELOPE_BYTES;

/// A transaction id for `key`: letters, digits, `-`, `_` and `.` kept, every other byte as
/// `~XX` (hex). One key always gives the same id, and two keys never share one.
pub fn transaction_id(key: &str) -> String {
    let mut id = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.') {
            id.push(byte as char);
        } else {
            id.push_str(&format!("~{byte:02X}"));
        }
    }
    id
}

/// The transaction id of part `part` of a post (part 0 is the key's own id).
pub fn part_transaction_id(key: &str, part: usize) -> String {
    match part {
        0 => transaction_id(key),
        n => format!("{}~part{n}", transaction_id(key)),
    }
}

/// An `m.text` message.
pub fn text_content(text: &str, key: &str, reply_to: Option<&str>) -> Map<String, Value> {
    let mut content = Map::new();
    content.insert("msgtype".into(), json!("m.text"));
    content.insert("body".into(), json!(text));
    finish(&mut content, key, 0, reply_to);
    content
}

/// An uploaded image as an `m.image` message; `caption`, if any, is its `body` (the spec
/// reads `body` as a caption when it differs from `filename`).
pub fn image_content(
    image: &UploadedImage,
    caption: Option<&str>,
    key: &str,
    part: usize,
    reply_to: Option<&str>,
) -> Map<String, Value> {
    let mut info = Map::new();
    info.insert("mimetype".into(), json!(image.mimetype));
    info.insert("size".into(), json!(image.size));
    if let Some((w, h)) = image.dimensions {
        info.insert("w".into(), json!(w));
        info.insert("h".into(), json!(h));
    }
    let mut content = Map::new();
    content.insert("msgtype".into(), json!("m.image"));
    content.insert(
        "body".into(),
        json!(
            caption
                .filter(|c| !c.trim().is_empty())
                .unwrap_or(&image.filename)
        ),
    );
    content.insert("filename".into(), json!(image.filename));
    content.insert("url".into(), json!(image.mxc));
    content.insert("info".into(), Value::Object(info));
    finish(&mut content, key, part, reply_to);
    content
}

fn finish(content: &mut Map<String, Value>, key: &str, part: usize, reply_to: Option<&str>) {
    content.insert(KEY_FIELD.into(), json!(key));
    if part > 0 {
        content.insert(PART_FIELD.into(), json!(part));
    }
    if let Some(event_id) = reply_to {
        content.insert(
            "m.relates_to".into(),
            json!({ "m.in_reply_to": { "event_id": event_id } }),
        );
    }
}

/// Refuses content that could not fit in one event.
pub fn check_size(content: &Map<String, Value>, text: &str) -> Result<(), SendError> {
    let encoded = serde_json::to_vec(content)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if encoded <= MAX_CONTENT_BYTES {
        return Ok(());
    }
    let overhead = encoded.saturating_sub(serde_json::to_vec(text).map_or(0, |v| v.len()));
    Err(SendError::Permanent {
        reason: format!(
            "the text is too long for Matrix: it takes {} bytes, and a Matrix event holds at \
             most {MAX_EVENT_BYTES} bytes, about {} of them for the text",
            text.len(),
            MAX_CONTENT_BYTES.saturating_sub(overhead)
        ),
    })
}

/// An image uploaded to the media repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedImage {
    pub mxc: String,
    pub filename: String,
    pub mimetype: &'static str,
    pub size: u64,
    pub dimensions: Option<(u32, u32)>,
}

/// The MIME type of an image file, by its extension.
pub fn image_mimetype(path: &Path) -> Option<&'static str> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => return None,
    })
}

/// Width and height from a PNG or GIF header, or a JPEG's first frame header.
pub fn image_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let be32 = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let le16 = |at: usize| -> Option<u32> {
        Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?) as u32)
    };
    let be16 = |at: usize| -> Option<u32> {
        Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?) as u32)
    };
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.get(12..16) == Some(b"IHDR") {
        return Some((be32(16)?, be32(20)?));
    }
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        return Some((le16(6)?, le16(8)?));
    }
    if bytes.starts_with(&[0xFF, 0xD8]) {
        let mut at = 2;
        while at + 9 < bytes.len() {
            if bytes[at] != 0xFF {
                return None;
            }
            let marker = bytes[at + 1];
            let length = be16(at + 2)? as usize;
            // SOF0…SOF15, except DHT (C4), JPG (C8) and DAC (CC).
            if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
                return Some((be16(at + 7)?, be16(at + 5)?));
            }
            at += 2 + length;
        }
    }
    None
}

/// A message's text without the reply fallback older clients put first (`> <@user> …`
/// lines, then a blank line).
pub fn strip_reply_fallback(body: &str) -> &str {
    if !body.starts_with("> ") {
        return body;
    }
    let mut rest = body;
    while let Some(line_end) = rest.find('\n') {
        let line = &rest[..line_end];
        if line.starts_with('>') {
            rest = &rest[line_end + 1..];
        } else {
            break;
        }
    }
    if rest.starts_with('>') {
        return body;
    }
    rest.strip_prefix('\n')
        .unwrap_or(rest)
        .trim_start_matches('\n')
}

/// A link to an event that any Matrix client opens.
pub fn event_link(room_id: &str, event_id: &str) -> String {
    format!("https://matrix.to/#/{room_id}/{event_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_are_url_safe_and_distinct() {
        assert_eq!(transaction_id("run-1/step.2_x"), "run-1~2Fstep.2_x");
        assert_eq!(transaction_id("a~2F"), "a~7E2F");
        assert_ne!(transaction_id("a/"), transaction_id("a~2F"));
        assert_eq!(part_transaction_id("k", 0), "k");
        assert_eq!(part_transaction_id("k", 2), "k~part2");
    }

    #[test]
    fn size_refused_with_counts() {
        let content = text_content(&"x".repeat(70_000), "k", None);
        let err = check_size(&content, &"x".repeat(70_000)).unwrap_err();
        assert!(err.reason().contains("it takes 70000 bytes"), "{err}");
        assert!(err.reason().contains("65536"), "{err}");
        assert!(check_size(&text_content("hi", "k", None), "hi").is_ok());
    }

    #[test]
    fn dimensions_of_png_gif_and_jpeg() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&640u32.to_be_bytes());
        png.extend_from_slice(&480u32.to_be_bytes());
        assert_eq!(image_dimensions(&png), Some((640, 480)));
        let gif = b"GIF89a\x20\x00\x10\x00";
        assert_eq!(image_dimensions(gif), Some((32, 16)));
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00,
            0x30, 0x00, 0x40, 0x03,
        ];
        assert_eq!(image_dimensions(&jpeg), Some((64, 48)));
        assert_eq!(image_dimensions(b"plain"), None);
    }

    #[test]
    fn reply_fallback_removed() {
        assert_eq!(
            strip_reply_fallback("> <@bot:x> We launch today\n> second\n\nCongrats!"),
            "Congrats!"
        );
        assert_eq!(strip_reply_fallback("> quoted only"), "> quoted only");
        assert_eq!(strip_reply_fallback("plain"), "plain");
    }
}

//! What an email says: the subject, the headers that identify and thread it, the text and
//! the attached images.

use std::path::Path;

use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use sha2::{Digest, Sha256};

use crate::connectors::http::USER_AGENT;
use crate::connectors::{OutgoingPost, SendError};

/// The domain of every Message-ID crier makes.
pub const MESSAGE_ID_DOMAIN: &str = "crier.local";
/// The longest subject, in characters (RFC 5322's recommended line length).
pub const MAX_SUBJECT_CHARS: usize = 78;
/// Longer keys are shortened, with a hash of the whole key, to keep the header readable.
const MAX_ID_LOCAL_CHARS: usize = 160;

/// `<KEY@crier.local>`: the same key always gives the same id, so a resend after an
/// outcome-unknown failure carries the id of the first attempt and mail clients can thread
/// or drop the copy. Characters a Message-ID cannot hold become `=XX` (their UTF-8 bytes
/// in hex), and `=` itself becomes `=3D`, so different keys never share an id.
pub fn message_id(idempotency_key: &str) -> String {
    let mut local = String::with_capacity(idempotency_key.len());
    let mut previous = None;
    let count = idempotency_key.chars().count();
    for (index, c) in idempotency_key.chars().enumerate() {
        let dot_allowed = index > 0 && index + 1 < count && previous != Some('.');
        let keep = c.is_ascii_alphanumeric()
            || "!#$%&'*+-/?^_`{|}~".contains(c)
            || (c == '.' && dot_allowed);
        if keep {
            local.push(c);
        } else {
            let mut bytes = [0; 4];
            for byte in c.encode_utf8(&mut bytes).bytes() {
                local.push_str(&format!("={byte:02X}"));
            }
        }
        previous = Some(c);
    }
    if local.is_empty() {
        local.push_str("=00");
    }
    if local.chars().count() > MAX_ID_LOCAL_CHARS {
        let digest = hex::encode(Sha256::digest(idempotency_key.as_bytes()));
        let cut: String = local.chars().take(MAX_ID_LOCAL_CHARS - 33).collect();
        local = format!("{}-{}", cut.trim_end_matches('.'), &digest[..32]);
    }
    format!("<{local}@{MESSAGE_ID_DOMAIN}>")
}

/// The first non-blank line of the text, cut to `MAX_SUBJECT_CHARS` with `…`; when the
/// text is blank, `crier: PLAYBOOK/ITEM`.
pub fn subject(post: &OutgoingPost) -> String {
    let line = post
        .text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty());
    let Some(line) = line else {
        return format!("crier: {}/{}", post.playbook, post.item);
    };
    if line.chars().count() <= MAX_SUBJECT_CHARS {
        return line.to_owned();
    }
    let cut: String = line.chars().take(MAX_SUBJECT_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

/// The Message-ID to answer, as the header needs it: `<…>` around a network id given
/// without them.
fn reply_target(remote_id: &str) -> Result<String, SendError> {
    let id = remote_id.trim();
    let inner = id.trim_start_matches('<').trim_end_matches('>');
    let well_formed = !inner.is_empty()
        && inner.contains('@')
        && inner
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '<' && c != '>');
    if !well_formed {
        return Err(SendError::Permanent {
            reason: format!("`{remote_id}` is not the Message-ID of an email to reply to"),
        });
    }
    Ok(format!("<{inner}>"))
}

/// The email for `post`, to `to`, and its Message-ID. Images are read from disk and
/// attached; one that cannot be read fails the post (nothing is sent).
pub async fn compose(
    from: &Mailbox,
    to: &[Mailbox],
    post: &OutgoingPost,
) -> Result<(Message, String), SendError> {
    let id = message_id(&post.idempotency_key);
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(subject(post))
        .message_id(Some(id.clone()))
        .user_agent(USER_AGENT.to_owned())
        .raw_header(header("X-Crier-Idempotency-Key", &post.idempotency_key))
        // RFC 3834: no vacation replies or other auto-answers to a notification.
        .raw_header(header("Auto-Submitted", "auto-generated"));
    for recipient in to {
        builder = builder.to(recipient.clone());
    }
    if let Some(remote_id) = &post.reply_to {
        let target = reply_target(remote_id)?;
        builder = builder.in_reply_to(target.clone()).references(target);
    }
    let text = SinglePart::plain(post.text.clone());
    let built = if post.media.is_empty() {
        builder.singlepart(text)
    } else {
        let mut parts = MultiPart::mixed().singlepart(text);
        for path in &post.media {
            parts = parts.singlepart(attachment(path).await?);
        }
        builder.multipart(parts)
    };
    let message = built.map_err(|err| SendError::Permanent {
        reason: format!("could not put the email together: {err}"),
    })?;
    Ok((message, id))
}

fn header(name: &'static str, value: &str) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value.to_owned())
}

async fn attachment(path: &Path) -> Result<SinglePart, SendError> {
    let owned = path.to_path_buf();
    let read = tokio::task::spawn_blocking(move || std::fs::read(owned))
        .await
        .unwrap_or_else(|err| Err(std::io::Error::other(err)));
    let bytes = read.map_err(|err| SendError::Permanent {
        reason: format!("cannot read the image `{}`: {err}", path.display()),
    })?;
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let content_type =
        ContentType::parse(media_type(path)).map_err(|err| SendError::Permanent {
            reason: format!("cannot attach `{}`: {err}", path.display()),
        })?;
    Ok(Attachment::new(name).body(bytes, content_type))
}

/// The media type of an image, by its file extension.
fn media_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "heic" => "image/heic",
        "svg" => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

//! Image uploads: a `multipart/form-data` body with one `file` part, built here (the
//! shared client is built without reqwest's multipart support), and the content type
//! Mastodon expects for each image file name.

use std::path::Path;

use rand::Rng;

/// A multipart body carrying `bytes` as the `file` field.
#[derive(Debug, Clone)]
pub struct MultipartFile {
    pub content_type: String,
    pub body: Vec<u8>,
}

impl MultipartFile {
    pub fn new(path: &Path, bytes: &[u8]) -> MultipartFile {
        let boundary = format!(
            "crier-{:016x}{:016x}",
            rand::thread_rng().r#gen::<u64>(),
            rand::thread_rng().r#gen::<u64>()
        );
        let file_name: String = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into())
            .chars()
            .map(|c| if c == '"' || c.is_control() { '_' } else { c })
            .collect();
        let mut body = Vec::with_capacity(bytes.len() + 256);
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"{file_name}\"\r\nContent-Type: {}\r\n\r\n",
                image_type(path)
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        MultipartFile {
            content_type: format!("multipart/form-data; boundary={boundary}"),
            body,
        }
    }
}

/// The media type of an image file, from its extension; Mastodon checks the content
/// itself, so an unknown extension goes as `application/octet-stream`.
pub fn image_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "avif" => "image/avif",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_part() {
        let part = MultipartFile::new(Path::new("img/Te\"aser.PNG"), b"\x89PNG");
        let boundary = part.content_type.split("boundary=").nth(1).unwrap();
        let body = String::from_utf8_lossy(&part.body);
        assert!(body.starts_with(&format!("--{boundary}\r\n")));
        assert!(body.contains("name=\"file\"; filename=\"Te_aser.PNG\"\r\n"));
        assert!(body.contains("Content-Type: image/png\r\n\r\n"));
        assert!(body.ends_with(&format!("PNG\r\n--{boundary}--\r\n")));
    }
}

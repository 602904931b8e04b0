//! Image files read for uploads (their bytes as a multipart part, their MIME type by
//! extension), shared by the connectors that upload them.

use std::path::{Path, PathBuf};

use reqwest::multipart::Part;

use super::SendError;

/// An image file as a multipart part, named after the file.
pub(crate) async fn image_part(path: &Path) -> Result<Part, SendError> {
    let owned: PathBuf = path.to_owned();
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(&owned))
        .await
        .map_err(|err| SendError::Permanent {
            reason: format!("could not read the image `{}`: {err}", path.display()),
        })?
        .map_err(|err| SendError::Permanent {
            reason: format!("could not read the image `{}`: {err}", path.display()),
        })?;
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let part = Part::bytes(bytes).file_name(file_name);
    Ok(match image_type(path) {
        Some(mime) => part.mime_str(mime).expect("a valid MIME type"),
        None => part,
    })
}

/// The MIME type of an image file, by its extension.
pub(crate) fn image_type(path: &Path) -> Option<&'static str> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match extension.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => return None,
    })
}

//! A post's images, served to the people signed in: `/calendar/image?playbook=&item=&n=`
//! answers the `n`th file of that campaign post's `media:` and nothing else, so no address
//! names a file the playbooks do not. A file the playbook names outside its folder (`../`,
//! an absolute path, a symbolic link leading out) is refused, as is one that is no image.

use std::path::{Path, PathBuf};

use axum::extract::Query;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Viewer, query};
use crate::connectors::upload::image_type;
use crate::playbook::plan::Plan;

/// The largest image served; a larger file is no thumbnail.
const MAX_BYTES: u64 = 20 * 1024 * 1024;

#[derive(Deserialize)]
pub struct ImageQuery {
    playbook: String,
    item: String,
    n: usize,
}

/// The media of a campaign's post, as the playbook names them.
pub(super) fn media<'a>(plan: &'a Plan, playbook: &str, item: &str) -> &'a [String] {
    plan.campaigns
        .iter()
        .find(|c| c.name == playbook)
        .and_then(|c| c.posts.iter().find(|p| p.id == item))
        .map_or(&[], |p| &p.media[..])
}

/// The address of a post's `n`th image.
pub(super) fn address(playbook: &str, item: &str, n: usize) -> String {
    format!(
        "/calendar/image{}",
        query(&[
            ("playbook", playbook),
            ("item", item),
            ("n", &n.to_string())
        ])
    )
}

/// Why an image is not served.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refused {
    Outside(String),
    NotAnImage(String),
    Unreadable(String),
}

/// The file `name` of the folder `root`, if it is inside the folder once every link is
/// followed, is an image, and can be read.
pub(super) fn file_in(root: &Path, name: &str) -> Result<(PathBuf, &'static str), Refused> {
    let unreadable = |error: std::io::Error| Refused::Unreadable(format!("`{name}`: {error}"));
    let root = root.canonicalize().map_err(unreadable)?;
    let path = root.join(name).canonicalize().map_err(unreadable)?;
    if !path.starts_with(&root) {
        return Err(Refused::Outside(name.to_string()));
    }
    let mime = image_type(&path).ok_or_else(|| Refused::NotAnImage(name.to_string()))?;
    let size = path.metadata().map_err(unreadable)?.len();
    if !path.is_file() || size > MAX_BYTES {
        return Err(Refused::NotAnImage(name.to_string()));
    }
    Ok((path, mime))
}

pub async fn image(viewer: Viewer, Query(q): Query<ImageQuery>) -> Response {
    let plan = viewer.desk.plan.clone();
    let Some(name) = media(&plan, &q.playbook, &q.item).get(q.n).cloned() else {
        return viewer.frame.fail(
            StatusCode::NOT_FOUND,
            format!("{}/{} has no image {}", q.playbook, q.item, q.n),
        );
    };
    let root = plan.root.clone();
    let read = tokio::task::spawn_blocking(move || {
        let (path, mime) = file_in(&root, &name)?;
        std::fs::read(&path)
            .map(|bytes| (bytes, mime))
            .map_err(|e| Refused::Unreadable(format!("`{name}`: {e}")))
    })
    .await;
    match read {
        Ok(Ok((bytes, mime))) => (
            [
                (header::CONTENT_TYPE, mime),
                (header::CACHE_CONTROL, "private, max-age=300"),
            ],
            bytes,
        )
            .into_response(),
        Ok(Err(Refused::Outside(name))) => viewer.frame.fail(
            StatusCode::FORBIDDEN,
            format!("`{name}` is outside the playbook folder: it is not served"),
        ),
        Ok(Err(Refused::NotAnImage(name))) => viewer.frame.fail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("`{name}` is not a JPEG, PNG, GIF or WebP image of at most 20 MB"),
        ),
        Ok(Err(Refused::Unreadable(why))) => viewer
            .frame
            .fail(StatusCode::NOT_FOUND, format!("cannot read {why}")),
        Err(error) => viewer.frame.fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reading an image: {error}"),
        ),
    }
}

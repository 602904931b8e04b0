//! The resumable upload protocol: a session opened with the video's metadata, the file sent
//! in chunks from where the server says it holds, and the state of a kept session asked
//! again (`Content-Range: bytes */TOTAL`).

use std::path::Path;

use chrono::Utc;
use reqwest::Url;
use serde_json::json;

use super::YoutubeConnector;
use super::post::title_and_description;
use super::wire::{Video, refusal};
use crate::connectors::OutgoingPost;
use crate::connectors::SendError;
use crate::connectors::http::{self, Reply};
use crate::connectors::resume::Resume;

/// How many times one `post` resumes a broken upload before giving up for now.
const RESUMES: usize = 3;

/// Where an upload stands.
pub(super) enum Progress {
    Done(String),
    /// The bytes the server holds.
    Partial(u64),
    /// The session is gone (expired or never known): start again.
    Lost,
}

impl YoutubeConnector {
    /// Opens an upload session for `video` with the post's title and description.
    pub(super) async fn open_session(
        &self,
        post: &OutgoingPost,
        video: &Path,
        size: u64,
    ) -> Result<Url, SendError> {
        let (title, description) = title_and_description(&post.text);
        let url = http::with_path(&self.server, &["upload", "youtube", "v3", "videos"]);
        let body = json!({
            "snippet": { "title": title, "description": description, "categoryId": "22" },
            "status": { "privacyStatus": self.privacy, "selfDeclaredMadeForKids": false },
        });
        let reply = self
            .send(|| {
                self.client
                    .post(url.clone())
                    .query(&[("uploadType", "resumable"), ("part", "snippet,status")])
                    .header("X-Upload-Content-Length", size.to_string())
                    .header("X-Upload-Content-Type", video_type(video))
                    .json(&body)
            })
            .await
            .map_err(before_upload)?;
        if !reply.status.is_success() {
            return Err(refusal(&reply, "the upload", Utc::now()));
        }
        reply
            .headers
            .get("location")
            .and_then(|l| l.to_str().ok())
            .and_then(|l| Url::parse(l).ok())
            .ok_or_else(|| SendError::Transient {
                reason: "YouTube opened no upload session".into(),
            })
    }

    /// How far the session got.
    pub(super) async fn progress(&self, session: &Url, size: u64) -> Result<Progress, SendError> {
        let reply = self
            .send(|| {
                self.client
                    .put(session.clone())
                    .header("Content-Range", format!("bytes */{size}"))
                    .header("Content-Length", "0")
            })
            .await?;
        match reply.status.as_u16() {
            200 | 201 => Ok(Progress::Done(video_id(&reply)?)),
            308 => Ok(Progress::Partial(held(&reply).unwrap_or(0))),
            404 | 410 => Ok(Progress::Lost),
            _ => Err(refusal(&reply, "the upload", Utc::now())),
        }
    }

    /// Sends the file from byte `from` on, a chunk per request; the video's id once the
    /// server has them all.
    async fn send_from(
        &self,
        session: &Url,
        video: &Path,
        size: u64,
        mut from: u64,
    ) -> Result<String, SendError> {
        // Each pass sends one chunk and the server's answer moves `from` forward; one that
        // does not is an error, so the loop ends.
        for _ in 0..=size.div_ceil(self.chunk) {
            let end = (from + self.chunk).min(size);
            let bytes = read_range(video, from, end).await?;
            let range = if size == 0 {
                "bytes */0".to_owned()
            } else {
                format!("bytes {from}-{}/{size}", end - 1)
            };
            let reply = self
                .send(|| {
                    self.client
                        .put(session.clone())
                        .header("Content-Range", range.clone())
                        .body(bytes.clone())
                })
                .await?;
            match reply.status.as_u16() {
                200 | 201 => return video_id(&reply),
                308 => {
                    let held = held(&reply).unwrap_or(end);
                    if held <= from {
                        break;
                    }
                    from = held;
                }
                _ => return Err(refusal(&reply, "the upload", Utc::now())),
            }
        }
        Err(SendError::OutcomeUnknown {
            reason: "YouTube holds part of the video; the upload continues".into(),
        })
    }

    /// Uploads through `session`, resuming after a broken connection a few times.
    pub(super) async fn upload(
        &self,
        session: &Url,
        video: &Path,
        size: u64,
        mut from: u64,
    ) -> Result<String, SendError> {
        let mut last = None;
        for _ in 0..=RESUMES {
            match self.send_from(session, video, size, from).await {
                Ok(id) => return Ok(id),
                Err(err @ SendError::OutcomeUnknown { .. }) => {
                    last = Some(err);
                    match self.progress(session, size).await? {
                        Progress::Done(id) => return Ok(id),
                        Progress::Partial(held) => from = held.min(size),
                        Progress::Lost => {
                            return Err(SendError::Transient {
                                reason: "YouTube dropped the upload session; it starts again"
                                    .into(),
                            });
                        }
                    }
                }
                Err(err) => return Err(err),
            }
        }
        Err(last.unwrap_or(SendError::OutcomeUnknown {
            reason: "the upload did not finish".into(),
        }))
    }

    /// The upload session an earlier attempt kept, if it is still an address.
    pub(super) async fn kept_session(&self, resume: &dyn Resume) -> Result<Option<Url>, SendError> {
        Ok(resume.kept().await?.and_then(|kept| Url::parse(&kept).ok()))
    }
}

/// One past the last byte a 308 answer's `Range: bytes=0-N` says the server holds.
fn held(reply: &Reply) -> Option<u64> {
    reply
        .headers
        .get("range")
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.rsplit('-').next())
        .and_then(|last| last.trim().parse::<u64>().ok())
        .map(|last| last + 1)
}

/// Bytes `start..end` of the video file.
async fn read_range(video: &Path, start: u64, end: u64) -> Result<Vec<u8>, SendError> {
    use std::io::{Read as _, Seek as _};
    let owned = video.to_owned();
    let failed = |err: String| SendError::Permanent {
        reason: format!("could not read the video `{}`: {err}", video.display()),
    };
    tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut file = std::fs::File::open(owned)?;
        file.seek(std::io::SeekFrom::Start(start))?;
        let mut bytes = vec![0; usize::try_from(end - start).unwrap_or(0)];
        file.read_exact(&mut bytes)?;
        Ok(bytes)
    })
    .await
    .map_err(|err| failed(err.to_string()))?
    .map_err(|err| failed(err.to_string()))
}

fn video_id(reply: &Reply) -> Result<String, SendError> {
    serde_json::from_str::<Video>(&reply.body)
        .map(|v| v.id)
        .map_err(|_| SendError::OutcomeUnknown {
            reason: "YouTube finished the upload but named no video id".into(),
        })
}

fn video_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("mp4" | "m4v") => "video/mp4",
        Some("mov") => "video/quicktime",
        Some("webm") => "video/webm",
        _ => "video/*",
    }
}

pub(super) fn before_upload(err: SendError) -> SendError {
    match err {
        SendError::OutcomeUnknown { reason } => SendError::Transient { reason },
        other => other,
    }
}

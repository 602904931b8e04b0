//! Posting on the community's wall: the text and images checked against VK's limits, photos
//! uploaded to the wall's server first, `wall.post` (or `wall.createComment` for a reply) with
//! the `guid` VK deduplicates by, `lookup` among recent posts and comments, and deleting.

use std::path::Path;

use chrono::{TimeDelta, Utc};
use reqwest::Url;
use reqwest::multipart::Form;
use sha2::{Digest, Sha256};

use super::api::{Created, SavedPhoto, UploadServer, Uploaded};
use super::{Target, VkConnector, already_gone, http, time};
use crate::connectors::{Delivered, Lookup, OutgoingPost, SendError};
use crate::network::Network;

/// The longest post, in characters.
const TEXT_LIMIT: usize = Network::Vk.profile().text.max.expect("VK has a limit");
/// The most images on one post.
const MAX_IMAGES: usize = Network::Vk.profile().max_images.expect("VK has a limit");
/// How far back `lookup` looks.
const LOOKUP_WINDOW: TimeDelta = TimeDelta::hours(6);

impl VkConnector {
    pub(super) async fn create_post(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        check(post)?;
        let reply_to = post.reply_to.as_deref().map(Target::parse).transpose()?;
        let mut attachments = Vec::new();
        for image in &post.media {
            attachments.push(self.upload_photo(image).await?);
        }
        let mut params = vec![
            ("owner_id", self.owner_id()),
            ("message", post.text.clone()),
            ("guid", guid(&post.idempotency_key)),
        ];
        if !attachments.is_empty() {
            params.push(("attachments", attachments.join(",")));
        }
        match reply_to {
            None => {
                params.push(("from_group", "1".into()));
                let created: Created = self.call("wall.post", &params, "the post").await?;
                let id = created.post_id.ok_or_else(|| SendError::OutcomeUnknown {
                    reason: "VK accepted the post but named no post id".into(),
                })?;
                Ok(Delivered {
                    remote_id: id.to_string(),
                    url: Some(self.post_url(id)),
                })
            }
            Some(target) => {
                let (post_id, comment) = match target {
                    Target::Post(post) => (post, None),
                    Target::Comment { post, comment } => (post, Some(comment)),
                };
                params.push(("post_id", post_id.to_string()));
                params.push(("from_group", self.group.to_string()));
                if let Some(comment) = comment {
                    params.push(("reply_to_comment", comment.to_string()));
                }
                let created: Created = self
                    .call("wall.createComment", &params, "the reply")
                    .await?;
                let id = created
                    .comment_id
                    .ok_or_else(|| SendError::OutcomeUnknown {
                        reason: "VK accepted the reply but named no comment id".into(),
                    })?;
                Ok(Delivered {
                    remote_id: format!("{post_id}_{id}"),
                    url: Some(format!("{}?reply={id}", self.post_url(post_id))),
                })
            }
        }
    }

    /// The same text among the wall's recent posts (or the post's comments by the
    /// community) from the last six hours.
    pub(super) async fn find_sent(&self, post: &OutgoingPost) -> Result<Lookup, SendError> {
        let wanted = comparable(&post.text);
        let since = Utc::now() - LOOKUP_WINDOW;
        match post.reply_to.as_deref().map(Target::parse).transpose()? {
            None => {
                let found = self
                    .recent_posts("looking the post up")
                    .await?
                    .into_iter()
                    .find(|p| {
                        time(p.date) >= since
                            && comparable(&p.text) == wanted
                            && p.attachments.len() == post.media.len()
                    });
                Ok(match found {
                    Some(p) => Lookup::Found(Delivered {
                        remote_id: p.id.to_string(),
                        url: Some(self.post_url(p.id)),
                    }),
                    None => Lookup::NotFound,
                })
            }
            Some(Target::Post(post_id) | Target::Comment { post: post_id, .. }) => {
                let (comments, _) = self.comments(post_id).await?;
                let found = comments.into_iter().find(|c| {
                    c.from_id == -self.group
                        && time(c.date) >= since
                        && comparable(&c.text) == wanted
                });
                Ok(match found {
                    Some(c) => Lookup::Found(Delivered {
                        remote_id: format!("{post_id}_{}", c.id),
                        url: Some(format!("{}?reply={}", self.post_url(post_id), c.id)),
                    }),
                    None => Lookup::NotFound,
                })
            }
        }
    }

    pub(super) async fn delete_post(&self, remote_id: &str) -> Result<(), SendError> {
        let result = match Target::parse(remote_id)? {
            Target::Post(post) => {
                self.call::<serde_json::Value>(
                    "wall.delete",
                    &[("owner_id", self.owner_id()), ("post_id", post.to_string())],
                    "the deletion",
                )
                .await
            }
            Target::Comment { comment, .. } => {
                self.call::<serde_json::Value>(
                    "wall.deleteComment",
                    &[
                        ("owner_id", self.owner_id()),
                        ("comment_id", comment.to_string()),
                    ],
                    "the deletion",
                )
                .await
            }
        };
        match result {
            Ok(_) => Ok(()),
            Err(err) if already_gone(&err) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Uploads `path` to the wall's upload server; the attachment `photo{owner}_{id}`.
    async fn upload_photo(&self, path: &Path) -> Result<String, SendError> {
        let server: UploadServer = self
            .call(
                "photos.getWallUploadServer",
                &[("group_id", self.group.to_string())],
                "asking where to upload an image",
            )
            .await
            .map_err(before_post)?;
        let upload_url = Url::parse(&server.upload_url).map_err(|_| SendError::Permanent {
            reason: "VK named an upload server that is not a URL".into(),
        })?;
        let form = Form::new().part("photo", crate::connectors::upload::image_part(path).await?);
        let reply = http::execute(self.client.post(upload_url).multipart(form))
            .await
            .map_err(before_post)?;
        let uploaded: Uploaded =
            serde_json::from_str(&reply.body).map_err(|_| SendError::Transient {
                reason: format!(
                    "VK's upload server did not take the image `{}`",
                    path.display()
                ),
            })?;
        if uploaded.photo.trim().is_empty() || uploaded.photo == "[]" {
            return Err(SendError::Permanent {
                reason: format!("VK did not accept `{}` as an image", path.display()),
            });
        }
        let saved: Vec<SavedPhoto> = self
            .call(
                "photos.saveWallPhoto",
                &[
                    ("group_id", self.group.to_string()),
                    ("server", uploaded.server.to_string()),
                    ("photo", uploaded.photo),
                    ("hash", uploaded.hash),
                ],
                "saving an image",
            )
            .await
            .map_err(before_post)?;
        let photo = saved.first().ok_or_else(|| SendError::Transient {
            reason: "VK saved no image".into(),
        })?;
        Ok(format!("photo{}_{}", photo.owner_id, photo.id))
    }
}

/// A failure before `wall.post` was sent cannot have published anything.
fn before_post(err: SendError) -> SendError {
    match err {
        SendError::OutcomeUnknown { reason } => SendError::Transient { reason },
        other => other,
    }
}

/// The `guid` VK deduplicates by: a digest of the idempotency key (VK limits its length).
pub fn guid(idempotency_key: &str) -> String {
    let digest = Sha256::digest(idempotency_key.as_bytes());
    format!("crier-{}", &hex::encode(digest)[..32])
}

/// Refuses what VK would refuse, before anything is sent.
fn check(post: &OutgoingPost) -> Result<(), SendError> {
    let count = Network::Vk.count(&post.text);
    if count > TEXT_LIMIT {
        return Err(SendError::Permanent {
            reason: format!("the text has {count} characters and VK allows {TEXT_LIMIT} in a post"),
        });
    }
    if post.media.len() > MAX_IMAGES {
        return Err(SendError::Permanent {
            reason: format!(
                "the post has {} images and VK takes at most {MAX_IMAGES} in one post",
                post.media.len()
            ),
        });
    }
    if post.text.trim().is_empty() && post.media.is_empty() {
        return Err(SendError::Permanent {
            reason: "the post has no text and no image".into(),
        });
    }
    Ok(())
}

/// Whitespace collapsed, to compare a sent text with what VK shows.
fn comparable(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

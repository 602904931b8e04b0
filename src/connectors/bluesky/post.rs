//! Posting as the account: the text and images checked against Bluesky's limits, facets with
//! mentions resolved, reply references, image blobs, `createRecord` under the record key of
//! the post's idempotency key (so `lookup` asks for that record), and deleting.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use unicode_segmentation::UnicodeSegmentation;

use super::BlueskyConnector;
use super::facets::{self, Feature};
use super::rkey::{AtUri, POST_COLLECTION, record_key};
use super::session::Session;
use super::wire::{BlobAnswer, CreatedAnswer, PostsAnswer, RecordAnswer, ResolveAnswer};
use super::xrpc::Call;
use crate::connectors::{Delivered, Lookup, OutgoingPost, SendError};
use crate::network::Network;

/// Bluesky's limit on a post's text, in graphemes (what people see as characters).
const MAX_GRAPHEMES: usize = Network::Bluesky
    .profile()
    .text
    .max
    .expect("Bluesky has a limit");
/// The record's limit on a post's text, in UTF-8 bytes.
const MAX_TEXT_BYTES: usize = 3000;
const MAX_IMAGES: usize = Network::Bluesky
    .profile()
    .max_images
    .expect("Bluesky has a limit");
/// The largest image `app.bsky.embed.images` takes.
const MAX_IMAGE_BYTES: usize = 1_000_000;

/// An image read from disk, ready to upload.
struct Image {
    bytes: Vec<u8>,
    mime: &'static str,
    alt: String,
}

impl BlueskyConnector {
    pub(super) async fn find_sent(&self, post: &OutgoingPost) -> Result<Lookup, SendError> {
        let session = self.session().await?;
        Ok(
            match self
                .find(&session, &record_key(&post.idempotency_key))
                .await?
            {
                Some(found) => Lookup::Found(found),
                None => Lookup::NotFound,
            },
        )
    }

    pub(super) async fn delete_post(&self, remote_id: &str) -> Result<(), SendError> {
        let session = self.session().await?;
        let target = AtUri::parse(remote_id)
            .filter(|uri| uri.collection == POST_COLLECTION)
            .ok_or_else(|| SendError::Permanent {
                reason: format!("`{remote_id}` is not a Bluesky post id"),
            })?;
        let own = [
            session.did.as_str(),
            session.handle.as_str(),
            self.handle.as_str(),
        ];
        if !own.contains(&target.repo.as_str()) {
            return Err(SendError::Permanent {
                reason: format!(
                    "`{remote_id}` is not a post of `{}`; crier deletes only the account's own posts",
                    session.handle
                ),
            });
        }
        let call = Call::post(
            "com.atproto.repo.deleteRecord",
            "the delete",
            json!({ "repo": session.did, "collection": POST_COLLECTION, "rkey": target.rkey }),
        );
        self.call::<Value>(&call).await?;
        Ok(())
    }
}

impl BlueskyConnector {
    pub(super) async fn create(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        check_text(&post.text)?;
        let images = read_images(&post.media)?;
        let session = self.session().await.map_err(not_created)?;
        let record = self.record(post, images).await.map_err(not_created)?;
        let rkey = record_key(&post.idempotency_key);
        let call = Call::post(
            "com.atproto.repo.createRecord",
            "the post",
            json!({
                "repo": session.did,
                "collection": POST_COLLECTION,
                "rkey": rkey,
                "record": record,
            }),
        );
        match self.call::<CreatedAnswer>(&call).await {
            Ok(created) => {
                let uri = AtUri::parse(&created.uri).unwrap_or(AtUri::post(&session.did, &rkey));
                Ok(Delivered {
                    remote_id: uri.to_string(),
                    url: Some(uri.web_url(&session.handle)),
                })
            }
            Err(failure) => {
                // A record under this key may exist from an earlier try: the PDS refuses the
                // repeat (today with a 500, soon with an explicit error), and that refusal means
                // the post is out.
                let maybe_repeat = matches!(failure.error, SendError::Transient { .. })
                    || failure
                        .error
                        .reason()
                        .to_lowercase()
                        .contains("already exist");
                if maybe_repeat && let Ok(Some(existing)) = self.find(&session, &rkey).await {
                    return Ok(existing);
                }
                Err(failure.error)
            }
        }
    }

    /// Everything up to `createRecord`; nothing here can create the post.
    async fn record(&self, post: &OutgoingPost, images: Vec<Image>) -> Result<Value, SendError> {
        let mut record = json!({
            "$type": POST_COLLECTION,
            "text": post.text,
            "createdAt": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        let facets = self.facets(&post.text).await?;
        if !facets.is_empty() {
            record["facets"] = Value::Array(facets);
        }
        if let Some(reply_to) = &post.reply_to {
            record["reply"] = self.reply_refs(reply_to).await?;
        }
        if !images.is_empty() {
            let mut embedded = Vec::with_capacity(images.len());
            for image in images {
                embedded.push(self.upload(image).await?);
            }
            record["embed"] = json!({ "$type": "app.bsky.embed.images", "images": embedded });
        }
        Ok(record)
    }

    /// The post under `rkey` in the account's repository, if there is one.
    pub(super) async fn find(
        &self,
        session: &Session,
        rkey: &str,
    ) -> Result<Option<Delivered>, SendError> {
        let call = Call::get("com.atproto.repo.getRecord", "the post lookup")
            .param("repo", &session.did)
            .param("collection", POST_COLLECTION)
            .param("rkey", rkey);
        match self.call::<RecordAnswer>(&call).await {
            Ok(record) => {
                let uri = AtUri::parse(&record.uri).unwrap_or(AtUri::post(&session.did, rkey));
                Ok(Some(Delivered {
                    remote_id: uri.to_string(),
                    url: Some(uri.web_url(&session.handle)),
                }))
            }
            Err(failure) if failure.is_code("RecordNotFound") => Ok(None),
            Err(failure) if failure.status.is_some_and(|s| s.as_u16() == 404) => Ok(None),
            Err(failure) => Err(failure.error),
        }
    }

    /// The DID of `handle`, or `None` when it does not resolve.
    async fn resolve_handle(&self, handle: &str) -> Result<Option<String>, SendError> {
        let call = Call::get("com.atproto.identity.resolveHandle", "the handle lookup")
            .param("handle", handle);
        match self.xrpc.send::<ResolveAnswer>(&call, None).await {
            Ok(answer) => Ok(Some(answer.did)),
            // The PDS answers 400 "Unable to resolve handle"; only a rate limit is not a "no".
            Err(failure)
                if failure
                    .status
                    .is_some_and(|s| s.is_client_error() && s.as_u16() != 429) =>
            {
                Ok(None)
            }
            Err(failure) => Err(failure.error),
        }
    }

    /// The facets of `text`, mentions resolved; unresolvable mentions are left out.
    async fn facets(&self, text: &str) -> Result<Vec<Value>, SendError> {
        let mut resolved: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut facets = Vec::new();
        for detected in facets::detect(text) {
            let feature = match detected.feature {
                Feature::Mention(handle) => {
                    let did = match resolved.get(&handle) {
                        Some(did) => did.clone(),
                        None => {
                            let did = self.resolve_handle(&handle).await?;
                            resolved.insert(handle, did.clone());
                            did
                        }
                    };
                    let Some(did) = did else { continue };
                    json!({ "$type": "app.bsky.richtext.facet#mention", "did": did })
                }
                Feature::Link(uri) => {
                    json!({ "$type": "app.bsky.richtext.facet#link", "uri": uri })
                }
                Feature::Tag(tag) => json!({ "$type": "app.bsky.richtext.facet#tag", "tag": tag }),
            };
            facets.push(json!({
                "index": { "byteStart": detected.byte_start, "byteEnd": detected.byte_end },
                "features": [feature],
            }));
        }
        Ok(facets)
    }

    /// `{root, parent}` of a reply to `reply_to`.
    async fn reply_refs(&self, reply_to: &str) -> Result<Value, SendError> {
        let not_a_post = || SendError::Permanent {
            reason: format!(
                "`{reply_to}` is not a Bluesky post to reply to (expected an at:// URI or a bsky.app post address)"
            ),
        };
        let mut target = AtUri::parse(reply_to).ok_or_else(not_a_post)?;
        if target.collection != POST_COLLECTION {
            return Err(not_a_post());
        }
        if !target.repo.starts_with("did:") {
            target.repo =
                self.resolve_handle(&target.repo)
                    .await?
                    .ok_or_else(|| SendError::Permanent {
                        reason: format!(
                            "cannot reply to `{reply_to}`: Bluesky does not know the handle `{}`",
                            target.repo
                        ),
                    })?;
        }
        let call = Call::get("app.bsky.feed.getPosts", "the post to reply to")
            .param("uris", target.to_string());
        let answer: PostsAnswer = self.call(&call).await?;
        let parent = answer
            .posts
            .into_iter()
            .next()
            .ok_or_else(|| SendError::Permanent {
                reason: format!(
                    "cannot reply to `{reply_to}`: the post does not exist (it may have been deleted)"
                ),
            })?;
        let parent_ref = json!({ "uri": parent.uri, "cid": parent.cid });
        let root = parent
            .record
            .pointer("/reply/root")
            .filter(|root| root.get("uri").is_some() && root.get("cid").is_some())
            .cloned()
            .unwrap_or_else(|| parent_ref.clone());
        Ok(json!({ "root": root, "parent": parent_ref }))
    }

    async fn upload(&self, image: Image) -> Result<Value, SendError> {
        let call = Call::upload(
            "com.atproto.repo.uploadBlob",
            "the image upload",
            image.bytes,
            image.mime,
        );
        let answer: BlobAnswer = self.call(&call).await?;
        Ok(json!({ "alt": image.alt, "image": answer.blob }))
    }
}

/// Before `createRecord` nothing can have created the post: an unknown outcome there (a
/// timeout while uploading an image) is only worth a retry.
fn not_created(error: SendError) -> SendError {
    match error {
        SendError::OutcomeUnknown { reason } => SendError::Transient { reason },
        other => other,
    }
}

/// Refuses text Bluesky would refuse, before anything is sent.
fn check_text(text: &str) -> Result<(), SendError> {
    let graphemes = text.graphemes(true).count();
    if graphemes > MAX_GRAPHEMES {
        return Err(SendError::Permanent {
            reason: format!(
                "the post is {graphemes} characters long; Bluesky allows {MAX_GRAPHEMES}"
            ),
        });
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(SendError::Permanent {
            reason: format!(
                "the post is {} bytes long; Bluesky allows {MAX_TEXT_BYTES} bytes of text",
                text.len()
            ),
        });
    }
    Ok(())
}

/// Reads the images of a post, refusing what Bluesky would refuse.
fn read_images(paths: &[PathBuf]) -> Result<Vec<Image>, SendError> {
    if paths.len() > MAX_IMAGES {
        return Err(SendError::Permanent {
            reason: format!(
                "the post has {} images; Bluesky allows {MAX_IMAGES}",
                paths.len()
            ),
        });
    }
    paths
        .iter()
        .map(|path| {
            let shown = path.display();
            let mime = crate::connectors::upload::image_type(path).ok_or_else(|| SendError::Permanent {
                reason: format!(
                    "`{shown}` is not an image Bluesky takes (JPEG, PNG, GIF or WebP)"
                ),
            })?;
            let bytes = std::fs::read(path).map_err(|err| SendError::Permanent {
                reason: format!("cannot read the image `{shown}`: {err}"),
            })?;
            if bytes.len() > MAX_IMAGE_BYTES {
                return Err(SendError::Permanent {
                    reason: format!(
                        "the image `{shown}` is {} bytes; Bluesky takes images up to {MAX_IMAGE_BYTES} bytes",
                        bytes.len()
                    ),
                });
            }
            let mut alt_path = path.clone().into_os_string();
            alt_path.push(".alt.txt");
            let alt = std::fs::read_to_string(&alt_path)
                .map(|alt| alt.trim().to_owned())
                .unwrap_or_default();
            Ok(Image { bytes, mime, alt })
        })
        .collect()
}

//! The account's followers and its posts' likes, reposts and replies (`getProfile`,
//! `getPosts`).

use std::collections::BTreeMap;

use super::rkey::{AtUri, POST_COLLECTION};
use super::wire::{PostsAnswer, Profile};
use super::xrpc::Call;
use super::{BATCH, BlueskyConnector};
use crate::connectors::{MetricsSnapshot, PostMetrics, SendError};

impl BlueskyConnector {
    pub(super) async fn read_metrics(
        &self,
        posts: &[String],
    ) -> Result<MetricsSnapshot, SendError> {
        let session = self.session().await?;
        let call = Call::get("app.bsky.actor.getProfile", "the follower count")
            .param("actor", &session.did);
        let profile: Profile = self.call(&call).await?;
        let mut uris = Vec::with_capacity(posts.len());
        for id in posts {
            let mut uri = AtUri::parse(id)
                .filter(|uri| uri.collection == POST_COLLECTION)
                .ok_or_else(|| SendError::Permanent {
                    reason: format!("`{id}` is not a Bluesky post id"),
                })?;
            if uri.repo == session.handle || uri.repo == self.handle {
                uri.repo = session.did.clone();
            }
            uris.push((id.clone(), uri.to_string()));
        }
        let mut counts = BTreeMap::new();
        for chunk in uris.chunks(BATCH) {
            let mut call = Call::get("app.bsky.feed.getPosts", "the post metrics");
            for (_, uri) in chunk {
                call = call.param("uris", uri.clone());
            }
            let answer: PostsAnswer = self.call(&call).await?;
            counts.extend(answer.posts.into_iter().map(|p| (p.uri.clone(), p)));
        }
        let posts = uris
            .into_iter()
            .filter_map(|(id, uri)| {
                counts.get(&uri).map(|post| PostMetrics {
                    remote_id: id,
                    likes: post.like_count.unwrap_or(0),
                    reposts: post.repost_count.unwrap_or(0),
                    replies: post.reply_count.unwrap_or(0),
                    views: None,
                })
            })
            .collect();
        Ok(MetricsSnapshot {
            followers: profile.followers_count,
            posts,
        })
    }
}

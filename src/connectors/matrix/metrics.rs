//! The room's members (as followers) and each post's reactions and replies.

use reqwest::Method;

use super::{MAX_PAGES, MatrixConnector, first_event_id, mentions};
use crate::connectors::{MetricsSnapshot, PostMetrics, SendError};

/// How many of the room's latest messages metrics search for replies.
const REPLY_WINDOW: u32 = 100;

impl MatrixConnector {
    pub(super) async fn read_metrics(
        &self,
        posts: &[String],
    ) -> Result<MetricsSnapshot, SendError> {
        let room_id = self.room_id().await?;
        let me = self.user_id().await?;
        let url = self
            .api
            .client_v3(&["rooms", room_id, "joined_members"], &[]);
        let members = self
            .api
            .json(Method::GET, url, None, "the member count")
            .await?;
        let followers = members["joined"]
            .as_object()
            .map(|joined| joined.keys().filter(|user| *user != me).count() as u64);
        let mut snapshot = MetricsSnapshot {
            followers,
            posts: Vec::new(),
        };
        if posts.is_empty() {
            return Ok(snapshot);
        }
        let limit = REPLY_WINDOW.to_string();
        let filter = mentions::messages_filter().to_string();
        let url = self.api.client_v3(
            &["rooms", room_id, "messages"],
            &[("dir", "b"), ("limit", &limit), ("filter", &filter)],
        );
        let recent = self
            .api
            .json(Method::GET, url, None, "the replies count")
            .await?;
        let recent = recent["chunk"].as_array().cloned().unwrap_or_default();
        for remote_id in posts {
            let event_id = first_event_id(remote_id);
            let likes = self
                .count_relations(room_id, event_id, "m.annotation")
                .await?;
            let in_thread = self.count_relations(room_id, event_id, "m.thread").await?;
            let direct_replies = recent
                .iter()
                .filter(|event| {
                    let relates = &event["content"]["m.relates_to"];
                    relates["rel_type"] != "m.thread"
                        && relates["m.in_reply_to"]["event_id"] == event_id
                })
                .count() as u64;
            snapshot.posts.push(PostMetrics {
                remote_id: remote_id.clone(),
                likes,
                reposts: 0,
                replies: in_thread + direct_replies,
                views: None,
            });
        }
        Ok(snapshot)
    }

    /// All pages of one relation type of an event, counted (bounded by `MAX_PAGES`).
    async fn count_relations(
        &self,
        room_id: &str,
        event_id: &str,
        rel_type: &str,
    ) -> Result<u64, SendError> {
        let mut count = 0;
        let mut from: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![("limit", "100")];
            if let Some(from) = &from {
                query.push(("from", from));
            }
            let url = self.api.url(
                &[
                    "_matrix",
                    "client",
                    "v1",
                    "rooms",
                    room_id,
                    "relations",
                    event_id,
                    rel_type,
                ],
                &query,
            );
            let answer = self
                .api
                .json(Method::GET, url, None, "the reactions count")
                .await?;
            count += answer["chunk"].as_array().map_or(0, Vec::len) as u64;
            match answer["next_batch"].as_str() {
                Some(next) => from = Some(next.to_owned()),
                None => break,
            }
        }
        Ok(count)
    }
}

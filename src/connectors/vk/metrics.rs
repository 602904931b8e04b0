//! The community's members and its posts' likes, reposts, comments and views.

use super::api::{Groups, Items, WallPost};
use super::{Target, VkConnector};
use crate::connectors::{MetricsSnapshot, PostMetrics, SendError};

impl VkConnector {
    /// Likes, reposts, comments and views of `posts` (`wall.getById`), and the community's
    /// members (`groups.getById`).
    pub(super) async fn read_metrics(
        &self,
        posts: &[String],
    ) -> Result<MetricsSnapshot, SendError> {
        let groups: Groups = self
            .call(
                "groups.getById",
                &[
                    ("group_id", self.group.to_string()),
                    ("fields", "members_count".into()),
                ],
                "reading the community's members",
            )
            .await?;
        let followers = groups.groups.first().and_then(|g| g.members_count);
        let mut wall_ids = Vec::new();
        for remote_id in posts {
            if let Target::Post(id) = Target::parse(remote_id)? {
                wall_ids.push(format!("-{}_{id}", self.group));
            }
        }
        let mut metrics = Vec::new();
        if !wall_ids.is_empty() {
            let read: Items<WallPost> = self
                .call(
                    "wall.getById",
                    &[("posts", wall_ids.join(",")), ("extended", "1".into())],
                    "reading the posts' counts",
                )
                .await?;
            metrics = read
                .items
                .into_iter()
                .map(|p| PostMetrics {
                    remote_id: p.id.to_string(),
                    likes: p.likes.count,
                    reposts: p.reposts.count,
                    replies: p.comments.count,
                    views: Some(p.views.count),
                })
                .collect();
        }
        Ok(MetricsSnapshot {
            followers,
            posts: metrics,
        })
    }
}

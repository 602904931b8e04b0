//! Reading what others post: mentions from the notifications, public posts of a hashtag,
//! a post read again, each paged forward with `min_id`, with their authors' facts.

use std::collections::HashMap;

use chrono::Utc;
use reqwest::{RequestBuilder, StatusCode};

use super::api::{self, Notification, Relationship, Status, parse, reworded};
use super::{MastodonConnector, http, path_segment, text};
use crate::connectors::{Author, Mention, MentionPage, SendError};

/// Notifications asked for per page (Mastodon's default page size).
const PAGE_SIZE: usize = 40;
/// The most pages of mentions read in one call; the cursor lets the next call go on.
const MAX_MENTION_PAGES: usize = 10;

impl MastodonConnector {
    pub(super) async fn read_mentions(
        &self,
        cursor: Option<&str>,
    ) -> Result<MentionPage, SendError> {
        let request = self
            .get("/api/v1/notifications")
            .query(&[("types[]", "mention")]);
        let (notifications, newest): (Vec<Notification>, _) = self
            .read_after(
                request,
                cursor,
                |n: &Notification| &n.id,
                "the request for mentions",
            )
            .await?;
        let statuses = notifications
            .into_iter()
            .filter(|n| n.kind == "mention")
            .filter_map(|n| n.status)
            .collect();
        self.mention_page(statuses, cursor, newest).await
    }

    /// The public statuses of `#tag` this server knows (its own and those federated to it),
    /// from `GET /api/v1/timelines/tag/:hashtag`, paged forward with `min_id` like mentions.
    pub(super) async fn read_hashtag(
        &self,
        tag: &str,
        cursor: Option<&str>,
    ) -> Result<MentionPage, SendError> {
        let tag = tag.trim().trim_start_matches('#');
        if tag.is_empty() {
            return Err(SendError::Permanent {
                reason: "an empty hashtag cannot be searched".into(),
            });
        }
        let own = self.own_account_id().await?;
        let request = self.get(&format!("/api/v1/timelines/tag/{}", path_segment(tag)));
        let (statuses, newest): (Vec<Status>, _) = self
            .read_after(request, cursor, |s: &Status| &s.id, "the hashtag search")
            .await?;
        let others = statuses
            .into_iter()
            .filter(|status| status.account.id != own)
            .collect();
        self.mention_page(others, cursor, newest).await
    }

    /// `GET /api/v1/statuses/:id`; a 404 means the status was deleted.
    pub(super) async fn read_status(&self, id: &str) -> Result<Option<Mention>, SendError> {
        let what = "reading a post again";
        let request = self.get(&format!("/api/v1/statuses/{}", path_segment(id)));
        let reply = self.send(request, what).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        http::classify_status(reply.status, &reply.headers, &reply.body, Utc::now())
            .map_err(|class| reworded(class, reply.status, &reply.body, what))?;
        let status: Status = parse(&reply.body, what)?;
        let page = self.mention_page(vec![status], None, None).await?;
        Ok(page.mentions.into_iter().next())
    }

    /// The items of a paged list (notifications, a timeline) after `cursor`, oldest first,
    /// and the id of the newest. Mastodon answers newest first; `min_id` gives the page just
    /// after an id. Without a cursor only the most recent page is read; with one, up to
    /// `MAX_MENTION_PAGES` pages (the next call goes on from the newest).
    async fn read_after<T: serde::de::DeserializeOwned>(
        &self,
        request: RequestBuilder,
        cursor: Option<&str>,
        id_of: fn(&T) -> &String,
        what: &str,
    ) -> Result<(Vec<T>, Option<String>), SendError> {
        let mut items: Vec<T> = Vec::new();
        let mut after = cursor.map(str::to_owned);
        let mut newest = cursor.map(str::to_owned);
        for _ in 0..MAX_MENTION_PAGES {
            let mut request = request
                .try_clone()
                .expect("a GET without a streamed body clones")
                .query(&[("limit", &PAGE_SIZE.to_string())]);
            if let Some(after) = &after {
                request = request.query(&[("min_id", after)]);
            }
            let (mut page, reply): (Vec<T>, _) = self.call_json(request, what).await?;
            page.sort_by(|a, b| compare_ids(id_of(a), id_of(b)));
            let full = page.len() >= PAGE_SIZE;
            let Some(last) = page.last() else { break };
            let last = id_of(last).clone();
            let next = reply
                .headers
                .get("link")
                .and_then(|link| link.to_str().ok())
                .and_then(api::link_min_id)
                .unwrap_or_else(|| last.clone());
            newest = Some(last);
            items.extend(page);
            if cursor.is_none() || !full {
                break;
            }
            after = Some(next);
        }
        Ok((items, newest))
    }

    /// `statuses` as mentions, with whether their authors follow the account; the cursor
    /// moves to `newest` when it is not `cursor`.
    async fn mention_page(
        &self,
        statuses: Vec<Status>,
        cursor: Option<&str>,
        newest: Option<String>,
    ) -> Result<MentionPage, SendError> {
        let domain = self.server_limits().await.limits.domain;
        let mut author_ids: Vec<String> = statuses.iter().map(|s| s.account.id.clone()).collect();
        author_ids.sort();
        author_ids.dedup();
        let follows = self.followers_among(&author_ids).await?;
        let mentions = statuses
            .into_iter()
            .map(|status| self.mention_of(status, domain.as_deref(), &follows))
            .collect();
        Ok(MentionPage {
            mentions,
            cursor: newest.filter(|newest| Some(newest.as_str()) != cursor),
        })
    }

    fn mention_of(
        &self,
        status: Status,
        domain: Option<&str>,
        follows: &HashMap<String, bool>,
    ) -> Mention {
        let account = status.account;
        let author = Author {
            handle: self.qualified_handle(&account.acct, domain),
            display_name: account.display_name.filter(|name| !name.trim().is_empty()),
            followers: account.followers_count,
            created_at: account.created_at.as_deref().and_then(http::parse_iso8601),
            follows_account: follows.get(&account.id).copied(),
            bot: account.bot,
            id: account.id,
        };
        Mention {
            id: status.id,
            author,
            text: text::html_to_text(&status.content),
            created_at: status.created_at,
            in_reply_to: status.in_reply_to_id,
            url: status.url.or(status.uri),
            edited_at: status.edited_at,
        }
    }

    /// The handle of `account` with its domain (a local account's `acct` has none).
    fn qualified_handle(&self, acct: &str, domain: Option<&str>) -> String {
        if acct.contains('@') {
            return format!("@{acct}");
        }
        match domain.or(self.server.host_str()) {
            Some(domain) => format!("@{acct}@{domain}"),
            None => format!("@{acct}"),
        }
    }

    /// Which of `ids` follow the account.
    async fn followers_among(&self, ids: &[String]) -> Result<HashMap<String, bool>, SendError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let query: Vec<(&str, &str)> = ids.iter().map(|id| ("id[]", id.as_str())).collect();
        let request = self.get("/api/v1/accounts/relationships").query(&query);
        let relationships: Vec<Relationship> = match self
            .call_json(request, "the request for who follows the account")
            .await
        {
            Ok((relationships, _)) => relationships,
            // A token without `read:follows` still reads mentions; who follows stays unknown.
            Err(SendError::Permanent { .. }) => return Ok(HashMap::new()),
            Err(err) => return Err(err),
        };
        Ok(relationships
            .into_iter()
            .filter_map(|r| r.followed_by.map(|follows| (r.id, follows)))
            .collect())
    }
}

/// Mastodon's ids are numbers in strings: longer is newer.
fn compare_ids(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

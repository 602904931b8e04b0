//! Reading mentions from `/sync`: the filter that limits it to the account's room and its
//! messages, and which messages count as mentions of the bot (its user id in
//! `m.mentions.user_ids`, in the body or in a `matrix.to` link of the formatted body, its
//! display name in the body, or a reply or thread reply to one of its messages).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::content::{event_link, strip_reply_fallback};
use crate::connectors::{Author, Mention};

/// How many messages one sync returns at most; more since the cursor are paged in with
/// `/messages`.
pub const TIMELINE_LIMIT: u64 = 100;

/// The `/sync` filter: only `room_id`, only its messages, the senders' member events (for
/// display names), nothing else.
pub fn sync_filter(room_id: &str) -> Value {
    json!({
        "account_data": { "types": [] },
        "presence": { "types": [] },
        "room": {
            "rooms": [room_id],
            "account_data": { "types": [] },
            "ephemeral": { "types": [] },
            "state": { "lazy_load_members": true, "include_redundant_members": true,
                       "types": ["m.room.member"] },
            "timeline": { "types": ["m.room.message"], "limit": TIMELINE_LIMIT },
        },
    })
}

/// The `/messages` filter for messages only.
pub fn messages_filter() -> Value {
    json!({ "types": ["m.room.message"] })
}

/// The room's part of a `/sync` answer.
#[derive(Debug, Default)]
pub struct RoomSync {
    pub events: Vec<Value>,
    pub limited: bool,
    pub prev_batch: Option<String>,
    /// User id → display name, from the member events sent along.
    pub display_names: BTreeMap<String, String>,
}

pub fn room_sync(sync: &Value, room_id: &str) -> RoomSync {
    let room = &sync["rooms"]["join"][room_id];
    let timeline = &room["timeline"];
    let events: Vec<Value> = timeline["events"].as_array().cloned().unwrap_or_default();
    let mut display_names = BTreeMap::new();
    let members = room["state"]["events"].as_array().into_iter().flatten();
    for event in members.chain(events.iter()) {
        if event["type"] == "m.room.member"
            && let (Some(user), Some(name)) = (
                event["state_key"].as_str(),
                event["content"]["displayname"].as_str(),
            )
        {
            display_names.insert(user.to_owned(), name.to_owned());
        }
    }
    RoomSync {
        events,
        limited: timeline["limited"].as_bool().unwrap_or(false),
        prev_batch: timeline["prev_batch"].as_str().map(str::to_owned),
        display_names,
    }
}

/// Who the bot is, as mentions name it.
#[derive(Debug, Clone)]
pub struct Me<'a> {
    pub user_id: &'a str,
    pub display_name: Option<&'a str>,
}

/// The event a message replies to: `m.in_reply_to`, or the thread root of a thread reply.
pub fn replied_to(event: &Value) -> Option<&str> {
    let relates = &event["content"]["m.relates_to"];
    relates["m.in_reply_to"]["event_id"].as_str().or_else(|| {
        (relates["rel_type"] == "m.thread")
            .then(|| relates["event_id"].as_str())
            .flatten()
    })
}

/// Whether a message names the bot (replies are decided separately, by their parent).
pub fn names_me(event: &Value, me: &Me<'_>) -> bool {
    let content = &event["content"];
    let listed = content["m.mentions"]["user_ids"]
        .as_array()
        .is_some_and(|ids| ids.iter().any(|id| id == me.user_id));
    let body = content["body"]
        .as_str()
        .map(strip_reply_fallback)
        .unwrap_or("");
    let formatted = content["formatted_body"].as_str().unwrap_or("");
    let by_name = me.display_name.is_some_and(|name| {
        !name.trim().is_empty() && body.to_lowercase().contains(&name.to_lowercase())
    });
    listed
        || body.contains(me.user_id)
        || formatted.contains(&format!("matrix.to/#/{}", me.user_id))
        || by_name
}

/// The mentions among `events` (oldest first), given the senders of the events they reply
/// to (`senders`, by event id). The bot's own messages, and redacted ones, are skipped.
pub fn mentions(
    events: &[Value],
    me: &Me<'_>,
    room_id: &str,
    senders: &BTreeMap<String, String>,
    display_names: &BTreeMap<String, String>,
) -> Vec<Mention> {
    let mut seen = BTreeSet::new();
    let mut found = Vec::new();
    for event in events {
        let (Some(id), Some(sender)) = (event["event_id"].as_str(), event["sender"].as_str())
        else {
            continue;
        };
        if sender == me.user_id || event["type"] != "m.room.message" || !seen.insert(id) {
            continue;
        }
        let Some(body) = event["content"]["body"].as_str() else {
            continue; // redacted
        };
        let parent = replied_to(event);
        let replies_to_me = parent
            .is_some_and(|parent| senders.get(parent).map(String::as_str) == Some(me.user_id));
        if !replies_to_me && !names_me(event, me) {
            continue;
        }
        let created_at = event["origin_server_ts"]
            .as_i64()
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or_else(Utc::now);
        found.push(Mention {
            id: id.to_owned(),
            author: Author {
                id: sender.to_owned(),
                handle: sender.to_owned(),
                display_name: display_names.get(sender).cloned(),
                ..Author::default()
            },
            text: strip_reply_fallback(body).to_owned(),
            created_at,
            in_reply_to: parent.map(str::to_owned),
            url: Some(event_link(room_id, id)),
            edited_at: None,
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, sender: &str, content: Value) -> Value {
        json!({ "event_id": id, "sender": sender, "type": "m.room.message",
                "origin_server_ts": 1_700_000_000_000i64, "content": content })
    }

    #[test]
    fn mentions_by_id_name_pill_list_and_reply() {
        let me = Me {
            user_id: "@bot:x",
            display_name: Some("Brand Bot"),
        };
        let events = vec![
            message(
                "$own",
                "@bot:x",
                json!({"msgtype": "m.text", "body": "Launch!"}),
            ),
            message(
                "$a",
                "@fan:x",
                json!({"msgtype": "m.text", "body": "hey @bot:x"}),
            ),
            message(
                "$b",
                "@fan:x",
                json!({"msgtype": "m.text", "body": "hi brand bot"}),
            ),
            message(
                "$c",
                "@fan:x",
                json!({"msgtype": "m.text", "body": "Bot",
                "formatted_body": "<a href=\"https://matrix.to/#/@bot:x\">Bot</a>"}),
            ),
            message(
                "$d",
                "@fan:x",
                json!({"msgtype": "m.text", "body": "x",
                "m.mentions": {"user_ids": ["@bot:x"]}}),
            ),
            message(
                "$e",
                "@fan:x",
                json!({"msgtype": "m.text", "body": "> <@bot:x> Launch!\n\nyay",
                "m.relates_to": {"m.in_reply_to": {"event_id": "$own"}}}),
            ),
            message(
                "$f",
                "@fan:x",
                json!({"msgtype": "m.text", "body": "unrelated"}),
            ),
            message(
                "$g",
                "@fan:x",
                json!({"msgtype": "m.text", "body": "reply to other",
                "m.relates_to": {"m.in_reply_to": {"event_id": "$f"}}}),
            ),
            message("$h", "@fan:x", json!({})),
        ];
        let senders = BTreeMap::from([
            ("$own".to_owned(), "@bot:x".to_owned()),
            ("$f".to_owned(), "@fan:x".to_owned()),
        ]);
        let names = BTreeMap::from([("@fan:x".to_owned(), "Fan".to_owned())]);
        let found = mentions(&events, &me, "!r:x", &senders, &names);
        let ids: Vec<&str> = found.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["$a", "$b", "$c", "$d", "$e"]);
        let reply = &found[4];
        assert_eq!(reply.text, "yay");
        assert_eq!(reply.in_reply_to.as_deref(), Some("$own"));
        assert_eq!(reply.author.display_name.as_deref(), Some("Fan"));
        assert_eq!(reply.url.as_deref(), Some("https://matrix.to/#/!r:x/$e"));
    }
}

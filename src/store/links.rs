//! What deciding from a notice keeps: the key the server signs decision links with (made
//! once per store, so links already sent stay valid across restarts), where reading each
//! notify account's replies stopped, and the feeds several readers share
//! (`store::shared_feed`): their items and where reading each from its network stopped.

use super::{Millis, StoreResult};

/// Decision links' keys and reply cursors. Every method is one transaction.
pub trait LinkStore: Send + Sync {
    /// The key stored as `name`; `fresh` is stored first when there is none, so every caller
    /// gets the first one stored.
    fn server_key(&self, name: &str, fresh: &[u8], now: Millis) -> StoreResult<Vec<u8>>;
    /// Where reading the replies to `account`'s notices stopped.
    fn reply_cursor(&self, account: &str) -> StoreResult<Option<String>>;
    fn put_reply_cursor(&self, account: &str, cursor: &str, now: Millis) -> StoreResult<()>;
    /// Where reading the shared feed `feed` from its network stopped.
    fn feed_cursor(&self, feed: &str) -> StoreResult<Option<String>>;
    /// Keeps `items` (key, item) of `feed` read at `now`, each key once however often it is
    /// read, with the network's `cursor` after them; forgets the items stored before
    /// `forget_before`. Answers how many items were new.
    fn add_feed_items(
        &self,
        feed: &str,
        items: &[(String, String)],
        cursor: Option<&str>,
        now: Millis,
        forget_before: Millis,
    ) -> StoreResult<usize>;
    /// At most `limit` items of `feed` kept after position `after`, oldest first, each with
    /// its position (positions only grow).
    fn feed_items_after(
        &self,
        feed: &str,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<(i64, String)>>;
}

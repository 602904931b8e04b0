//! What deciding from a notice keeps: the key the server signs decision links with (made
//! once per store, so links already sent stay valid across restarts), and where reading each
//! notify account's replies stopped.

use super::{Millis, StoreResult};

/// Decision links' keys and reply cursors. Every method is one transaction.
pub trait LinkStore: Send + Sync {
    /// The key stored as `name`; `fresh` is stored first when there is none, so every caller
    /// gets the first one stored.
    fn server_key(&self, name: &str, fresh: &[u8], now: Millis) -> StoreResult<Vec<u8>>;
    /// Where reading the replies to `account`'s notices stopped.
    fn reply_cursor(&self, account: &str) -> StoreResult<Option<String>>;
    fn put_reply_cursor(&self, account: &str, cursor: &str, now: Millis) -> StoreResult<()>;
}

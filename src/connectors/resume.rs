//! A send's handle: what a connector that makes a post in several requests keeps between
//! them (an Instagram or Threads media container's id, a YouTube upload session's address),
//! so that after an unknown outcome the handle says whether the post went out and a retry
//! continues from it instead of making a second post.
//!
//! The dispatcher keeps each send's handle with its outbox row (`RunStore::keep_send_handle`),
//! so a retry after a crash, in another process, finds it. A connector called directly (no
//! store behind it) keeps handles in memory by idempotency key ([`LocalHandles`]).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::SendError;

/// The handle of one send, kept where its later attempts will find it.
#[async_trait]
pub trait Resume: Send + Sync {
    /// What an earlier attempt of this send kept, if anything.
    async fn kept(&self) -> Result<Option<String>, SendError>;
    /// Keeps `handle` for later attempts (`None` forgets it), and returns once it is kept. A
    /// connector keeps a handle before the request that would publish; when it cannot be kept
    /// (a `Transient` error, or `Permanent` when the send is no longer this process's), the
    /// send stops there.
    async fn keep(&self, handle: Option<&str>) -> Result<(), SendError>;
}

/// Handles kept in this process only, by idempotency key.
#[derive(Debug, Default)]
pub struct LocalHandles {
    handles: Mutex<HashMap<String, String>>,
}

impl LocalHandles {
    /// The handle of the send with idempotency key `key`.
    pub fn of<'a>(&'a self, key: &'a str) -> LocalHandle<'a> {
        LocalHandle { handles: self, key }
    }

    fn get(&self, key: &str) -> Option<String> {
        self.handles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    fn set(&self, key: &str, handle: Option<&str>) {
        let mut handles = self.handles.lock().unwrap_or_else(|e| e.into_inner());
        match handle {
            Some(handle) => handles.insert(key.to_owned(), handle.to_owned()),
            None => handles.remove(key),
        };
    }
}

/// One send's handle among [`LocalHandles`].
#[derive(Debug, Clone, Copy)]
pub struct LocalHandle<'a> {
    handles: &'a LocalHandles,
    key: &'a str,
}

#[async_trait]
impl Resume for LocalHandle<'_> {
    async fn kept(&self) -> Result<Option<String>, SendError> {
        Ok(self.handles.get(self.key))
    }

    async fn keep(&self, handle: Option<&str>) -> Result<(), SendError> {
        self.handles.set(self.key, handle);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_handles_are_kept_per_key() {
        let handles = LocalHandles::default();
        handles.of("a").keep(Some("container-1")).await.unwrap();
        assert_eq!(
            handles.of("a").kept().await.unwrap().as_deref(),
            Some("container-1")
        );
        assert_eq!(handles.of("b").kept().await.unwrap(), None);
        handles.of("a").keep(None).await.unwrap();
        assert_eq!(handles.of("a").kept().await.unwrap(), None);
    }
}

//! The store from async code. A store call blocks its thread (SQLite does its work, and may
//! wait for a lock, on the caller's thread); on an async worker that would stall every task
//! sharing the worker. `StoreHandle::call` runs the call on tokio's blocking pool instead
//! and awaits its answer.

use std::sync::Arc;

use super::{Store, StoreError, StoreResult};

/// A store for async code: each `call` runs off the async workers.
#[derive(Clone)]
pub struct StoreHandle {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreHandle")
    }
}

impl StoreHandle {
    pub fn new(store: Arc<dyn Store>) -> StoreHandle {
        StoreHandle { store }
    }

    /// The store itself, for code that is not async.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Runs `work` with the store on the blocking pool and returns its answer. A panic in
    /// `work` is raised again here.
    pub async fn call<T, F>(&self, work: F) -> StoreResult<T>
    where
        F: FnOnce(&dyn Store) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || work(store.as_ref())).await {
            Ok(answer) => answer,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => Err(StoreError::Backend(format!(
                "a store call did not finish: {error}"
            ))),
        }
    }
}

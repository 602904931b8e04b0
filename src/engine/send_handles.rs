//! Where the dispatcher keeps a send's handle (`connectors::resume`): on the send's outbox
//! row, written only while this dispatcher holds its claim, so a retry after a crash (in any
//! process) continues the media container or upload session an earlier attempt made.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;

use crate::connectors::SendError;
use crate::connectors::resume::Resume;
use crate::store::{OutboxId, Store, StoreHandle, to_millis};

/// The handle of send `id`, claimed by `owner`.
pub(super) struct KeptOnRow {
    store: StoreHandle,
    owner: Arc<str>,
    id: OutboxId,
}

impl KeptOnRow {
    pub(super) fn new(store: &Arc<dyn Store>, owner: Arc<str>, id: OutboxId) -> KeptOnRow {
        KeptOnRow {
            store: StoreHandle::new(store.clone()),
            owner,
            id,
        }
    }
}

#[async_trait]
impl Resume for KeptOnRow {
    async fn kept(&self) -> Result<Option<String>, SendError> {
        let id = self.id;
        self.store
            .call(move |store| store.send_handle(id))
            .await
            .map_err(|error| SendError::Transient {
                reason: format!("crier could not read what an earlier attempt kept: {error}"),
            })
    }

    async fn keep(&self, handle: Option<&str>) -> Result<(), SendError> {
        let (id, owner) = (self.id, self.owner.clone());
        let handle = handle.map(str::to_owned);
        let kept = self
            .store
            .call(move |store| {
                store.keep_send_handle(&owner, id, handle.as_deref(), to_millis(Utc::now()))
            })
            .await
            .map_err(|error| SendError::Transient {
                reason: format!("crier could not keep the send's progress in the store: {error}"),
            })?;
        if kept {
            Ok(())
        } else {
            // Its claim passed its lease and another dispatcher holds it now: going on
            // could post it twice. This attempt's result is not recorded anyway.
            Err(SendError::Transient {
                reason: "the send was taken back by another dispatcher while in flight".into(),
            })
        }
    }
}

//! The engine: one engine, two clocks. `core` turns fires into durable runs and moves them
//! through their steps; `dispatch` sends what they commit, exactly once; `service` drives
//! them on the system clock (`crier run`), `rehearse` on a virtual one.

pub mod approvals;
pub mod clock;
pub mod core;
mod crisis;
pub mod dispatch;
pub mod events;
pub mod gate;
pub mod hooks;
pub mod metrics;
pub mod rehearse;
mod rehearse_crises;
pub mod service;
pub mod timeline;

pub use self::core::{Engine, EngineParts, TriggerError};
// The key belongs to the store's model; re-exported for code written against it here.
pub use crate::store::idempotency_key;
pub use clock::{Clock, SystemClock, VirtualClock};
pub use dispatch::{Dispatcher, RetryPolicy};

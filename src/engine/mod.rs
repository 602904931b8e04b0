//! The engine: one engine, two clocks. `core` turns fires into durable runs and moves them
//! through their steps; `dispatch` sends what they commit, exactly once; `service` drives
//! them on the system clock (`crier run`), `rehearse` on a virtual one.

mod approval_requests;
pub mod approvals;
pub mod clock;
pub mod core;
mod crisis;
pub mod dispatch;
mod dispatch_rehearsal;
pub mod events;
mod fire;
pub mod gate;
mod held;
pub mod hooks;
pub mod links;
pub mod metrics;
mod missed;
pub mod rehearse;
mod rehearse_crises;
mod send_handles;
pub mod service;
mod steps;
pub mod timeline;

pub use self::core::{Engine, EngineParts, TriggerError};
pub use fire::FIRE_CHUNK;
pub use missed::LATE_GRACE;
// The key belongs to the store's model; re-exported for code written against it here.
pub use crate::store::idempotency_key;
pub use clock::{Clock, SystemClock, VirtualClock};
pub use dispatch::{Dispatcher, RetryPolicy};

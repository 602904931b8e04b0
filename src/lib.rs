//! crier: a workflow engine for social-media teams. Playbooks (YAML) describe campaigns,
//! contests, crisis plans and posting rules; crier validates them, previews them, rehearses
//! them on a virtual clock and runs them. See `src/README.md` for the map of folders.
#![forbid(unsafe_code)]
// Diagnostics are built on the cold path of a failed validation; boxing them buys nothing.
#![allow(clippy::result_large_err)]

pub mod cli;
pub mod connectors;
pub mod contest;
pub mod crisis;
pub mod diagnostic;
pub mod engine;
pub mod init;
pub mod memory;
pub mod network;
pub mod ops;
pub mod playbook;
pub mod preview;
pub mod rules;
pub mod schedule;
pub mod script;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod text;

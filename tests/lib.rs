//! The one integration test binary: each module tests one area of crier.
mod accounts;
mod cli;
mod connectors;
mod diagnostics;
mod dispatch;
mod engine;
mod schedule;
mod script;
mod store;
mod support;

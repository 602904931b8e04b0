//! The one integration test binary: each module tests one area of crier.
mod cli;
mod connectors;
mod diagnostics;
mod dispatch;
mod email;
mod engine;
mod schedule;
mod script;
mod support;

//! The one integration test binary: each module tests one area of crier.
mod accounts;
mod bluesky;
mod cli;
mod connectors;
mod diagnostics;
mod discord;
mod dispatch;
mod email;
mod engine;
mod examples;
mod mastodon;
mod matrix;
mod schedule;
mod script;
mod slack;
mod support;
mod telegram;

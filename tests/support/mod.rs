//! Helpers shared by the integration tests: fake network servers.
// Each test module uses a part of the support code.
#![allow(dead_code)]

pub mod chat_server;
pub mod fake_bluesky;
pub mod fake_discord;
pub mod fake_mastodon;
pub mod fake_matrix;
pub mod fake_network;
pub mod fake_slack;
pub mod fake_smtp;
pub mod fake_telegram;
pub mod synapse;

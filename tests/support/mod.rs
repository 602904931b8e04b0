//! Helpers shared by the integration tests: fake network servers, playbook folders, and
//! `crier run` as a child process.
// Each test module uses a part of the support code.
#![allow(dead_code)]

pub mod chat_server;
pub mod connect;
pub mod crisis;
pub mod fake_bluesky;
pub mod fake_discord;
pub mod fake_linkedin;
pub mod fake_mastodon;
pub mod fake_matrix;
pub mod fake_meta;
pub mod fake_network;
pub mod fake_slack;
pub mod fake_smtp;
pub mod fake_telegram;
pub mod fake_vk;
pub mod fake_x;
pub mod fake_youtube;
pub mod pages;
pub mod playbooks;
pub mod service;
pub mod synapse;

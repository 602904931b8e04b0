//! Helpers shared by the integration tests: fake network servers.
// Each test module uses a part of the support code.
#![allow(dead_code)]

pub mod fake_network;
pub mod fake_smtp;

//! Playbooks: reading `crier.yaml` and the playbook files, validating them with precise
//! diagnostics, and building the validated `Plan` that every later stage runs on.

pub mod cache;
pub mod load;
pub mod plan;
pub mod raw;
pub mod schema;
pub mod sources;
pub mod tls;
pub mod validate;
pub mod yaml;
